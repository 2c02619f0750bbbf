"""What the 行为安全之星 views read beyond the ranking itself (storage/stars.py): who may
be named in public, a member's own stars with their withdrawals, a month's awards, the
whole ledger of a period by worker and by source (the operator's `redshield stars`)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Member, StarAward, StarEntry

SOURCES = ("star", "event", "deduction", "withdrawal")  # StarEntry.source, in this order


def _at(moment: dt.datetime):
    return sa.bindparam(None, moment, type_=StarEntry.at.type)


def _in(project_id: int, start: dt.datetime, end: dt.datetime):
    return sa.and_(StarEntry.project_id == project_id, StarEntry.at >= _at(start),
                   StarEntry.at < _at(end))


def _counts():
    """What counts in a total: neither a withdrawal nor withdrawn (as storage.stars)."""
    withdrawal = aliased(StarEntry)
    return sa.and_(StarEntry.withdraws_id.is_(None),
                   ~sa.exists().where(withdrawal.withdraws_id == StarEntry.id))


async def public_workers(session: AsyncSession, project_id: int) -> set[int]:
    """Workers of a project who let their name be shown (RULINGS 11): their latest answer
    to "may your name be shown?" was yes; a later no takes it back. Everyone else stays
    工友（未公开） to members who are not organisers."""
    stmt = (sa.select(StarAward.worker_id, StarAward.public)
            .where(StarAward.project_id == project_id, StarAward.public.is_not(None))
            .order_by(StarAward.month, StarAward.id))
    latest = dict((await session.execute(stmt)).all())  # the last answer per worker wins
    return {worker for worker, public in latest.items() if public}


async def open_proposals(session: AsyncSession, project_id: int) -> int:
    """Proposed stars of a project still waiting for the union or secretary."""
    stmt = sa.select(sa.func.count()).select_from(StarAward).where(
        StarAward.project_id == project_id, StarAward.status == "proposed")
    return (await session.execute(stmt)).scalar_one()


@dataclass(frozen=True)
class GivenStar:
    """A star a member gave, as their own list shows it."""

    at: dt.datetime
    worker: str
    crew: str | None
    reason: str
    points: int
    withdrawn: bool
    id: int = 0  # the ledger entry's number (/star undo N)


async def given_stars(session: AsyncSession, project_id: int, member_id: int,
                      start: dt.datetime, end: dt.datetime) -> list[GivenStar]:
    """The stars (点赞) a member gave in [start, end), newest first, each marked if it was
    withdrawn since (by the giver or an officer, whenever)."""
    withdrawal = aliased(StarEntry)
    withdrawn = sa.exists().where(withdrawal.withdraws_id == StarEntry.id)
    stmt = (sa.select(StarEntry.at, Member.name, Member.crew, StarEntry.reason, StarEntry.points,
                      withdrawn, StarEntry.id)
            .join(Member, Member.id == StarEntry.worker_id)
            .where(_in(project_id, start, end), StarEntry.given_by_id == member_id,
                   StarEntry.source == "star")
            .order_by(StarEntry.at.desc(), StarEntry.id.desc()))
    return [GivenStar(at, name, crew, reason, points, bool(gone), entry_id)
            for at, name, crew, reason, points, gone, entry_id in (await session.execute(stmt)).all()]


async def points_of(session: AsyncSession, worker_id: int, start: dt.datetime,
                    end: dt.datetime) -> int:
    """A worker's points in [start, end): what counts, in whatever project it was given."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(StarEntry.points), 0)).where(
        StarEntry.worker_id == worker_id, StarEntry.at >= _at(start), StarEntry.at < _at(end),
        _counts())
    return int((await session.execute(stmt)).scalar_one())


@dataclass(frozen=True)
class WorkerTotal:
    worker_id: int
    name: str
    crew: str | None
    trade: str | None
    active: bool
    points: int
    entries: int  # entries that count


async def worker_totals(session: AsyncSession, project_id: int, start: dt.datetime,
                        end: dt.datetime) -> list[WorkerTotal]:
    """Every worker with an entry that counts in [start, end), whatever their total (an
    operator also sees a worker whose deductions outweigh their stars), highest first."""
    points = sa.func.sum(StarEntry.points)
    stmt = (sa.select(Member.id, Member.name, Member.crew, Member.trade, Member.active, points,
                      sa.func.count())
            .join(Member, Member.id == StarEntry.worker_id)
            .where(_in(project_id, start, end), _counts())
            .group_by(Member.id, Member.name, Member.crew, Member.trade, Member.active)
            .order_by(points.desc(), sa.func.count().desc(), Member.name))
    return [WorkerTotal(wid, name, crew, trade, bool(active), int(total), count)
            for wid, name, crew, trade, active, total, count in (await session.execute(stmt)).all()]


@dataclass(frozen=True)
class SourceTotal:
    points: int
    entries: int


async def ledger_totals(session: AsyncSession, project_id: int, start: dt.datetime,
                        end: dt.datetime) -> dict[str, SourceTotal]:
    """Every entry of [start, end) summed by source (withdrawn ones and withdrawals
    included: together they are the plain sum of the ledger); each source present."""
    stmt = (sa.select(StarEntry.source, sa.func.sum(StarEntry.points), sa.func.count())
            .where(_in(project_id, start, end)).group_by(StarEntry.source))
    found = {source: SourceTotal(int(total), count)
             for source, total, count in (await session.execute(stmt)).all()}
    return {source: found.pop(source, SourceTotal(0, 0)) for source in SOURCES} | found


@dataclass(frozen=True)
class AwardRow:
    award: StarAward
    name: str
    crew: str | None


async def awards_of(session: AsyncSession, project_id: int, month: dt.date) -> list[AwardRow]:
    """A project's stars of one month (`month`: its first day), by rank."""
    stmt = (sa.select(StarAward, Member.name, Member.crew)
            .join(Member, Member.id == StarAward.worker_id)
            .where(StarAward.project_id == project_id, StarAward.month == month)
            .order_by(StarAward.rank, StarAward.id))
    return [AwardRow(award, name, crew) for award, name, crew in (await session.execute(stmt)).all()]
