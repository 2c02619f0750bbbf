"""Counting failed attempts per key in a fixed window (wrong invite codes and the like).

Keys are chosen by the caller and must not name a person where anonymity matters.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AttemptCounter


async def locked_until(
    session: AsyncSession, key: str, now: dt.datetime, limit: int, window: dt.timedelta
) -> dt.datetime | None:
    """When the key may try again, or None if it may try now."""
    row = await session.get(AttemptCounter, key)
    if row is None or row.window_start + window <= now:
        return None
    return row.window_start + window if row.failures >= limit else None


async def record_failure(
    session: AsyncSession, key: str, now: dt.datetime, window: dt.timedelta
) -> int:
    """Count one failure; returns the failures in the current window."""
    row = await session.get(AttemptCounter, key, with_for_update=True)
    if row is None:
        row = AttemptCounter(key=key, window_start=now, failures=0)
        session.add(row)
    elif row.window_start + window <= now:
        row.window_start, row.failures = now, 0
    row.failures += 1
    await session.flush()
    return row.failures


async def clear(session: AsyncSession, key: str) -> None:
    row = await session.get(AttemptCounter, key)
    if row is not None:
        await session.delete(row)
