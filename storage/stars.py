"""The 行为安全之星 ledger: adding entries, and the sums every view ranks by.

Points are only ever added (StarEntry); a withdrawal is an entry of its own that
cancels another, so a worker's points are always the plain sum of their entries."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.directory import MEMBER_LOAD
from storage.models import Member, MemberRole, StarEntry


def _at(moment: dt.datetime):
    return sa.bindparam(None, moment, type_=StarEntry.at.type)


@dataclass(frozen=True)
class Standing:
    """A worker's (or a 班组's) points over a period."""

    name: str
    points: int
    entries: int  # how many entries, withdrawals and their originals left out
    worker_id: int | None = None  # None for a 班组
    crew: str | None = None


def _workers():
    """Only members holding the worker role are ranked: the stars are the workers'."""
    return sa.exists().where(MemberRole.member_id == StarEntry.worker_id, MemberRole.role == "worker")


def _live():
    """Entries neither withdrawn nor withdrawals: what an observation list shows."""
    withdrawal = aliased(StarEntry)
    return sa.and_(StarEntry.withdraws_id.is_(None),
                   ~sa.exists().where(withdrawal.withdraws_id == StarEntry.id))


async def add(session: AsyncSession, **fields) -> StarEntry:
    entry = StarEntry(**fields)
    session.add(entry)
    await session.flush()
    return entry


async def ranking(session: AsyncSession, project_id: int, start: dt.datetime, end: dt.datetime,
                  *, limit: int | None = None) -> list[Standing]:
    """Workers by their points in [start, end), highest first (ties: more entries, then
    who joined first); only workers with more than zero points, active in the directory."""
    points = sa.func.sum(StarEntry.points)
    stmt = (sa.select(Member.id, Member.name, Member.crew, points, sa.func.count())
            .join(Member, Member.id == StarEntry.worker_id)
            .where(StarEntry.project_id == project_id, StarEntry.at >= _at(start),
                   StarEntry.at < _at(end), Member.active.is_(True), _workers(), _live())
            .group_by(Member.id, Member.name, Member.crew)
            .having(points > 0)
            # Ties by id, not name: SQLite and PostgreSQL sort names differently.
            .order_by(points.desc(), sa.func.count().desc(), Member.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [Standing(name, int(total), count, worker_id=wid, crew=crew)
            for wid, name, crew, total, count in (await session.execute(stmt)).all()]


async def crew_ranking(session: AsyncSession, project_id: int, start: dt.datetime,
                       end: dt.datetime) -> list[Standing]:
    """班组 by the points of their workers in [start, end), highest first; workers without
    a 班组, and inactive ones (as in ranking), are left out."""
    points = sa.func.sum(StarEntry.points)
    stmt = (sa.select(Member.crew, points, sa.func.count())
            .join(Member, Member.id == StarEntry.worker_id)
            .where(StarEntry.project_id == project_id, StarEntry.at >= _at(start),
                   StarEntry.at < _at(end), Member.crew.is_not(None), Member.active.is_(True),
                   _workers(), _live())
            .group_by(Member.crew)
            .having(points > 0)
            .order_by(points.desc(), Member.crew))
    return [Standing(crew, int(total), count, crew=crew)
            for crew, total, count in (await session.execute(stmt)).all()]


async def entries(session: AsyncSession, project_id: int, start: dt.datetime, end: dt.datetime,
                  *, worker_id: int | None = None, given_by_id: int | None = None,
                  live_only: bool = True) -> list[StarEntry]:
    """Ledger entries in [start, end), oldest first; by default those that count (not
    withdrawn, not withdrawals)."""
    stmt = sa.select(StarEntry).where(StarEntry.project_id == project_id,
                                      StarEntry.at >= _at(start), StarEntry.at < _at(end))
    if worker_id is not None:
        stmt = stmt.where(StarEntry.worker_id == worker_id)
    if given_by_id is not None:
        stmt = stmt.where(StarEntry.given_by_id == given_by_id)
    if live_only:
        stmt = stmt.where(_live())
    return list((await session.execute(stmt.order_by(StarEntry.at, StarEntry.id))).scalars())


async def given_count(session: AsyncSession, given_by_id: int, worker_id: int, reason: str,
                      start: dt.datetime, end: dt.datetime) -> int:
    """Stars one member gave one worker for one behaviour in [start, end), not withdrawn."""
    stmt = sa.select(sa.func.count()).select_from(StarEntry).where(
        StarEntry.given_by_id == given_by_id, StarEntry.worker_id == worker_id,
        StarEntry.reason == reason, StarEntry.source == "star",
        StarEntry.at >= _at(start), StarEntry.at < _at(end), _live())
    return (await session.execute(stmt)).scalar_one()


async def event_count(session: AsyncSession, worker_id: int, reason: str, ref_prefix: str,
                      start: dt.datetime, end: dt.datetime) -> int:
    """Entries one kind of event gave a worker in [start, end), not withdrawn."""
    stmt = sa.select(sa.func.count()).select_from(StarEntry).where(
        StarEntry.worker_id == worker_id, StarEntry.source == "event", StarEntry.reason == reason,
        StarEntry.ref.startswith(ref_prefix, autoescape=True),
        StarEntry.at >= _at(start), StarEntry.at < _at(end), _live())
    return (await session.execute(stmt)).scalar_one()


async def is_withdrawn(session: AsyncSession, entry_id: int) -> bool:
    stmt = sa.select(StarEntry.id).where(StarEntry.withdraws_id == entry_id)
    return (await session.execute(stmt)).first() is not None


async def workers(session: AsyncSession, project_id: int, text: str = "", *,
                  limit: int = 8) -> list[Member]:
    """Active workers of a project whose name or 班组 contains `text` (all when empty),
    by name."""
    stmt = (sa.select(Member).join(MemberRole, MemberRole.member_id == Member.id)
            .where(Member.project_id == project_id, Member.active.is_(True),
                   MemberRole.role == "worker"))
    text = text.strip()
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(sa.or_(Member.name.like(like, escape="\\"),
                                 Member.crew.like(like, escape="\\")))
    stmt = stmt.options(*MEMBER_LOAD).order_by(Member.name).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def crews(session: AsyncSession, project_id: int) -> list[str]:
    """The 班组 names a project's directory knows, by name."""
    stmt = (sa.select(Member.crew).where(Member.project_id == project_id, Member.crew.is_not(None))
            .distinct().order_by(Member.crew))
    return list((await session.execute(stmt)).scalars())
