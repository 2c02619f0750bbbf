"""One asyncio lock per key: what keeps one chat's messages in order while different
chats' run at the same time."""
from __future__ import annotations

import asyncio
import contextlib


class KeyedLocks:
    """One asyncio lock per key (FIFO, so one chat's messages are handled in arrival
    order), forgotten when nobody holds or waits for it."""

    def __init__(self):
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str):
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
