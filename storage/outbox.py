"""The outbox table: enqueue once per key, claim what is due, mark the outcome."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, UTCDateTime
from storage.upsert import insert_for

# A claim older than this belongs to a worker that died mid-delivery: take it over.
STALE_CLAIM = dt.timedelta(minutes=5)


def _at(value: dt.datetime, name: str):
    return sa.bindparam(name, value, type_=UTCDateTime())


async def enqueue_many(session: AsyncSession, rows: list[dict], now: dt.datetime) -> int:
    """Add many messages (dicts of key, kind, member_id, payload, and optionally
    next_attempt_at: not before then) in a few statements; those whose key exists
    already are skipped. Returns how many were new."""
    new = 0
    for i in range(0, len(rows), 500):  # 500 rows x 6 values stays under every driver's limit
        chunk = [{**r, "key": r["key"][:200], "created_at": now,
                  "next_attempt_at": r.get("next_attempt_at") or now, "attempts": 0}
                 for r in rows[i:i + 500]]
        stmt = (insert_for(session, OutboxMessage).values(chunk)
                .on_conflict_do_nothing(index_elements=["key"]).returning(OutboxMessage.id))
        new += len((await session.execute(stmt)).all())
    return new


async def claim(session: AsyncSession, now: dt.datetime, limit: int) -> list[OutboxMessage]:
    """Due messages, marked as being sent by this worker (others skip them)."""
    stmt = (sa.select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None),
                   OutboxMessage.next_attempt_at <= _at(now, "now"),
                   sa.or_(OutboxMessage.claimed_at.is_(None),
                          OutboxMessage.claimed_at < _at(now - STALE_CLAIM, "stale")))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True))
    rows = list((await session.execute(stmt)).scalars())
    for row in rows:
        row.claimed_at = now
    await session.flush()
    return rows


async def pending_count(session: AsyncSession) -> int:
    stmt = sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
    return (await session.execute(stmt)).scalar_one()


async def release_claims(session: AsyncSession) -> int:
    """Forget every claim on unsent messages: called by the process that has just become
    the only deliverer, so whatever a dead one was sending goes out again at once."""
    result = await session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None),
               OutboxMessage.claimed_at.is_not(None))
        .values(claimed_at=None))
    return result.rowcount
