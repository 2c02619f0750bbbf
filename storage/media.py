"""The media store: photos and files on disk under random names. A name says nothing
of the content (the same photo in an anonymous report and in a named hazard gets
two unrelated names) and a file's time says nothing finer than the hour."""
from __future__ import annotations

import asyncio
import os
import secrets
import time
from pathlib import Path


class MediaStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    async def save(self, data: bytes, suffix: str) -> str:
        """Store bytes; returns the name to keep in the database (relative to the root)."""
        token = secrets.token_hex(16)
        name = f"{token[:2]}/{token}{suffix}"
        await asyncio.to_thread(self._write, self.root / name, data)
        return name

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(data)
        hour = int(time.time()) // 3600 * 3600
        os.utime(partial, (hour, hour))  # access and modification time: to the hour
        partial.replace(path)  # never a half-written file under the final name

    def path(self, name: str) -> Path:
        return self.root / name

    async def read(self, name: str) -> bytes:
        return await asyncio.to_thread(self.path(name).read_bytes)
