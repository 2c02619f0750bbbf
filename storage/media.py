"""The media store: photos and files on disk, named by the hash of their content,
so the same photo delivered twice is stored once."""
from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path


class MediaStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    async def save(self, data: bytes, suffix: str) -> str:
        """Store bytes; returns the name to keep in the database (relative to the root)."""
        digest = hashlib.sha256(data).hexdigest()
        name = f"{digest[:2]}/{digest}{suffix}"
        path = self.root / name
        if not path.exists():
            await asyncio.to_thread(self._write, path, data)
        return name

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(path)  # never a half-written file under the final name

    def path(self, name: str) -> Path:
        return self.root / name

    async def read(self, name: str) -> bytes:
        return await asyncio.to_thread(self.path(name).read_bytes)
