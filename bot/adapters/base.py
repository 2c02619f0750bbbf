"""What every platform adapter offers the runner, and helpers they share."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

from starlette.routing import BaseRoute

from bot.core.contract import Reply


class DeliveryFailed(Exception):
    """An unprompted message could not be delivered. Permanent failures (the user
    blocked the bot, an invalid user) are not retried."""

    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


class Adapter(Protocol):
    platform: str

    def routes(self) -> list[BaseRoute]:
        """HTTP routes this adapter serves on the project's web app (webhooks)."""

    async def start(self, receive: bool = True) -> None:
        """Connect; with `receive`, also take updates (a scheduler-only process just sends)."""

    async def stop(self) -> None: ...

    async def deliver(self, user_id: str, replies: list[Reply]) -> None:
        """Send replies to a user unprompted (reminders, notices); raises DeliveryFailed."""


def valid_position(latitude: float, longitude: float) -> bool:
    """A place on the globe (finite, in range): anything else is not a location."""
    return (math.isfinite(latitude) and math.isfinite(longitude)
            and -90 <= latitude <= 90 and -180 <= longitude <= 180)


def split_text(text: str, limit: int, size: Callable[[str], int] = len) -> list[str]:
    """Cut text into pieces of at most `limit` (as measured by `size`), at line
    breaks where possible, so no platform rejects a long message."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while size(line) > limit:  # a single line too long: cut it hard
            cut = _longest_prefix(line, limit, size)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:]
        if size(current + line) > limit:
            pieces.append(current)
            current = ""
        current += line
    if current or not pieces:
        pieces.append(current)
    return [p.rstrip("\n") or p for p in pieces]


def _longest_prefix(line: str, limit: int, size: Callable[[str], int]) -> int:
    lo, hi = 1, len(line)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if size(line[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))
