"""责任区教育: the education members record in their zones (晨会, 班前讲话, 专题培训,
谈心谈话), by local day, and what the views count of it. Days are half-open ranges
[start, end), like storage.star_activities."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import EduRecord, Member, Patrol, Zone


async def add(session: AsyncSession, record: EduRecord) -> EduRecord:
    session.add(record)
    await session.flush()
    return record


def _days(stmt, start: dt.date, end: dt.date):
    return stmt.where(EduRecord.day >= start, EduRecord.day < end)


async def member_records(session: AsyncSession, member_id: int, start: dt.date,
                         end: dt.date) -> list[EduRecord]:
    """A member's records of days in [start, end), newest first."""
    stmt = _days(sa.select(EduRecord).where(EduRecord.member_id == member_id), start, end)
    return list((await session.execute(
        stmt.order_by(EduRecord.day.desc(), EduRecord.id.desc()))).scalars())


async def member_count(session: AsyncSession, member_id: int, start: dt.date,
                       end: dt.date) -> int:
    stmt = _days(sa.select(sa.func.count()).select_from(EduRecord)
                 .where(EduRecord.member_id == member_id), start, end)
    return int((await session.execute(stmt)).scalar_one())


@dataclass(frozen=True)
class EduRow:
    record: EduRecord
    member: str  # who held it
    zone: str | None  # None: the zone was removed from the directory since


async def project_records(session: AsyncSession, project_id: int, start: dt.date,
                          end: dt.date) -> list[EduRow]:
    """A project's records of days in [start, end), oldest first, with who and where."""
    stmt = _days(sa.select(EduRecord, Member.name, Zone.name)
                 .join(Member, Member.id == EduRecord.member_id)
                 .outerjoin(Zone, Zone.id == EduRecord.zone_id)
                 .where(EduRecord.project_id == project_id), start, end)
    rows = await session.execute(stmt.order_by(EduRecord.day, EduRecord.id))
    return [EduRow(record, member, zone) for record, member, zone in rows]


@dataclass(frozen=True)
class MemberCount:
    member_id: int
    name: str
    records: int


async def member_counts(session: AsyncSession, project_id: int, start: dt.date,
                        end: dt.date) -> list[MemberCount]:
    """Who held how many in [start, end): most first, then by member id (names would sort
    by each database's collation, so SQLite and PostgreSQL would list ties differently)."""
    n = sa.func.count(EduRecord.id)
    stmt = _days(sa.select(Member.id, Member.name, n)
                 .join(Member, Member.id == EduRecord.member_id)
                 .where(EduRecord.project_id == project_id), start, end)
    rows = await session.execute(stmt.group_by(Member.id, Member.name).order_by(n.desc(), Member.id))
    return [MemberCount(i, name, int(count)) for i, name, count in rows]


async def zone_kind_counts(session: AsyncSession, project_id: int, start: dt.date,
                           end: dt.date) -> dict[tuple[int | None, str], int]:
    """(zone id, kind) -> records in [start, end); zone None for a zone since removed."""
    stmt = _days(sa.select(EduRecord.zone_id, EduRecord.kind, sa.func.count())
                 .where(EduRecord.project_id == project_id), start, end)
    rows = await session.execute(stmt.group_by(EduRecord.zone_id, EduRecord.kind))
    return {(zone_id, kind): int(n) for zone_id, kind, n in rows}


@dataclass(frozen=True)
class ZoneActivity:
    zone_id: int
    name: str
    patrols: int  # personal patrols started in the span
    education: int  # education records of its days


async def zone_activity(session: AsyncSession, start_at: dt.datetime, end_at: dt.datetime, tz,
                        project_id: int | None = None) -> dict[int, list[ZoneActivity]]:
    """Project id -> each of its zones (directory order) with the patrols started in
    [start_at, end_at) and the education held on the days those moments span on the
    clock `tz`. One query, whatever the number of projects and zones."""
    start_at, end_at = start_at.astimezone(tz), end_at.astimezone(tz)
    first = start_at.date()
    # A span ending at midnight ends with the day before; one ending mid-day includes it.
    last = end_at.date() if end_at.timetz().replace(tzinfo=None) != dt.time(0) else \
        end_at.date() - dt.timedelta(days=1)
    patrols = (sa.select(Patrol.zone_id, sa.func.count().label("n"))
               .where(Patrol.zone_id.is_not(None), Patrol.started_at >= start_at,
                      Patrol.started_at < end_at)
               .group_by(Patrol.zone_id).subquery())
    taught = (sa.select(EduRecord.zone_id, sa.func.count().label("n"))
              .where(EduRecord.zone_id.is_not(None), EduRecord.day >= first, EduRecord.day <= last)
              .group_by(EduRecord.zone_id).subquery())
    stmt = (sa.select(Zone.project_id, Zone.id, Zone.name, sa.func.coalesce(patrols.c.n, 0),
                      sa.func.coalesce(taught.c.n, 0))
            .outerjoin(patrols, patrols.c.zone_id == Zone.id)
            .outerjoin(taught, taught.c.zone_id == Zone.id)
            .order_by(Zone.project_id, Zone.id))
    if project_id is not None:
        stmt = stmt.where(Zone.project_id == project_id)
    out: dict[int, list[ZoneActivity]] = {}
    for pid, zone_id, name, n_patrols, n_taught in await session.execute(stmt):
        out.setdefault(pid, []).append(ZoneActivity(zone_id, name, int(n_patrols), int(n_taught)))
    return out
