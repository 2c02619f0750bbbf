"""Short-lived values that must never reach the database: anonymous reporters' drafts
and follow-ups, their rate counters. In process memory when one process runs; in
Redis (run with persistence off) when several workers share them. Values expire on
their own; nothing here survives a restart of the memory store, by design."""
from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Ephemeral(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def incr(self, key: str, ttl: float) -> int:
        """Add one; the first increment starts the ttl, later ones do not extend it."""

    async def close(self) -> None: ...


class MemoryStore:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._values: dict[str, tuple[float, bytes]] = {}
        self._lock = asyncio.Lock()

    def _live(self, key: str) -> bytes | None:
        found = self._values.get(key)
        if found is None:
            return None
        if found[0] <= self.clock():
            del self._values[key]
            return None
        return found[1]

    def _sweep(self) -> None:
        now = self.clock()
        for key in [k for k, (until, _) in self._values.items() if until <= now]:
            del self._values[key]

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        if len(self._values) > 10_000:
            self._sweep()
        self._values[key] = (self.clock() + ttl, value)

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    async def incr(self, key: str, ttl: float) -> int:
        async with self._lock:
            current = self._live(key)
            count = int(current or 0) + 1
            until = self._values[key][0] if current is not None else self.clock() + ttl
            self._values[key] = (until, str(count).encode())
            return count

    async def close(self) -> None:
        self._values.clear()


class RedisStore:
    PREFIX = "redshield:eph:"

    def __init__(self, url: str):
        import redis.asyncio as redis

        self.redis = redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    async def get(self, key: str) -> bytes | None:
        return await self.redis.get(self.PREFIX + key)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self.redis.set(self.PREFIX + key, value, px=max(1, int(ttl * 1000)))

    async def delete(self, key: str) -> None:
        await self.redis.delete(self.PREFIX + key)

    async def incr(self, key: str, ttl: float) -> int:
        name = self.PREFIX + key
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.pexpire(name, max(1, int(ttl * 1000)), nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def close(self) -> None:
        await self.redis.aclose()


def ephemeral_store(redis_url: str) -> Ephemeral:
    return RedisStore(redis_url) if redis_url else MemoryStore()
