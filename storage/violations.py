"""Violation reports: receipts, daily keys and counts, the officers' lists, retention."""
from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import DailyCount, DailyKey, HazardPhoto, ViolationEntry, ViolationReport, ViolationStatus
from storage.upsert import insert_for

OPEN = (ViolationStatus.new,)


async def daily_secret(session: AsyncSession, day: dt.date) -> str:
    """The day's key, made on first use (two workers racing agree on one)."""
    await session.execute(insert_for(session, DailyKey)
                          .values(day=day, secret=secrets.token_hex(32))
                          .on_conflict_do_nothing())
    return (await session.execute(sa.select(DailyKey.secret).where(DailyKey.day == day))).scalar_one()


async def count_of(session: AsyncSession, day: dt.date, sender: str) -> int:
    row = await session.get(DailyCount, (day, sender))
    return row.count if row else 0


async def add_one(session: AsyncSession, day: dt.date, sender: str) -> None:
    stmt = (insert_for(session, DailyCount).values(day=day, sender=sender, count=1)
            .on_conflict_do_update(index_elements=["day", "sender"],
                                   set_={"count": DailyCount.count + 1}))
    await session.execute(stmt)


async def forget_days_before(session: AsyncSession, day: dt.date) -> None:
    """Drop keys and counts of older days: their hashes then point at no one."""
    await session.execute(sa.delete(DailyCount).where(DailyCount.day < day))
    await session.execute(sa.delete(DailyKey).where(DailyKey.day < day))


REPORT_LOAD = (selectinload(ViolationReport.entries), selectinload(ViolationReport.zone),
               selectinload(ViolationReport.project))


async def by_receipt(session: AsyncSession, receipt_hash: str) -> ViolationReport | None:
    stmt = sa.select(ViolationReport).where(ViolationReport.receipt_hash == receipt_hash)
    return (await session.execute(stmt.options(*REPORT_LOAD))).scalar_one_or_none()


async def load(session: AsyncSession, report_id: int) -> ViolationReport | None:
    stmt = sa.select(ViolationReport).where(ViolationReport.id == report_id).options(*REPORT_LOAD)
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


async def listing(session: AsyncSession, project_id: int, open_only: bool = False):
    stmt = sa.select(ViolationReport).where(ViolationReport.project_id == project_id)
    if open_only:
        stmt = stmt.where(ViolationReport.status.in_(OPEN))
    return list((await session.execute(stmt.options(*REPORT_LOAD).order_by(ViolationReport.id))).scalars())


async def due_for_officers(session: AsyncSession, now: dt.datetime) -> list[ViolationReport]:
    stmt = sa.select(ViolationReport).where(
        ViolationReport.officers_notified_at.is_(None),
        ViolationReport.notify_after <= sa.bindparam("now", now, type_=ViolationReport.notify_after.type),
    ).options(*REPORT_LOAD).with_for_update()
    return list((await session.execute(stmt)).scalars())


async def expired(session: AsyncSession, before: dt.datetime) -> list[ViolationReport]:
    stmt = sa.select(ViolationReport).where(
        ViolationReport.received_at < sa.bindparam("before", before, type_=ViolationReport.received_at.type))
    return list((await session.execute(stmt.options(selectinload(ViolationReport.entries)))).scalars())


async def media_still_used(session: AsyncSession, names: set[str]) -> set[str]:
    """Of these media files, those a hazard (or another report) still shows."""
    if not names:
        return set()
    used = set((await session.execute(
        sa.select(HazardPhoto.media_name).where(HazardPhoto.media_name.in_(names)))).scalars())
    used |= set((await session.execute(
        sa.select(ViolationEntry.media_name).where(ViolationEntry.media_name.in_(names)))).scalars())
    return used
