"""Platform message ids already handled, so a redelivered message is processed once."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedMessage
from storage.upsert import insert_for


async def claim(session: AsyncSession, platform: str, message_id: str, now: dt.datetime) -> bool:
    """Mark the message as processed; False when it already was.

    Runs inside the handling transaction: if handling fails the mark goes with it,
    and a concurrent claim of the same id waits for that outcome.
    """
    stmt = (
        insert_for(session, ProcessedMessage)
        .values(platform=platform, message_id=message_id, processed_at=now)
        .on_conflict_do_nothing()
    )
    result = await session.execute(stmt)
    return result.rowcount == 1


async def forget_before(session: AsyncSession, cutoff: dt.datetime) -> int:
    """Drop marks older than any redelivery could be."""
    result = await session.execute(
        sa.delete(ProcessedMessage).where(ProcessedMessage.processed_at < cutoff)
    )
    return result.rowcount
