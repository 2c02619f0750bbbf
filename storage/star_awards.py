"""The monthly 行为安全之星 (StarAward): proposals from the month's ranking, the union's or
secretary's decisions, the worker's consent to be named, and the announcement.

Decisions and consent are conditional updates (only a proposed award is decided, only
an unanswered consent is set), so two organisers tapping at once cannot both act."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.directory import MEMBER_LOAD
from storage.models import Member, Project, StarAward, StarEntry
from storage.stars import _at, _live
from storage.upsert import insert_for

PROPOSED, CONFIRMED, REPLACED, SKIPPED = "proposed", "confirmed", "replaced", "skipped"


@dataclass(frozen=True)
class AwardPeople:
    award: StarAward
    worker: Member
    project: Project


async def get(session: AsyncSession, award_id: int) -> StarAward | None:
    return await session.get(StarAward, award_id, populate_existing=True)


async def with_people(session: AsyncSession, award_id: int) -> AwardPeople | None:
    """The award with its worker and project, for what is shown of it."""
    row = (await session.execute(
        sa.select(StarAward, Member, Project)
        .join(Member, Member.id == StarAward.worker_id)
        .join(Project, Project.id == StarAward.project_id)
        .where(StarAward.id == award_id)
        .execution_options(populate_existing=True))).first()
    return AwardPeople(*row) if row is not None else None


async def for_month(session: AsyncSession, project_id: int, month: dt.date) -> list[StarAward]:
    """Every award row of a project-month, by rank."""
    stmt = (sa.select(StarAward).where(StarAward.project_id == project_id, StarAward.month == month)
            .order_by(StarAward.rank, StarAward.id)
            .execution_options(populate_existing=True))  # decisions are updates by statement
    return list((await session.execute(stmt)).scalars())


async def month_started(session: AsyncSession, project_id: int, month: dt.date) -> bool:
    """Whether the month's stars were proposed already (by this run or an earlier one)."""
    stmt = sa.select(StarAward.id).where(StarAward.project_id == project_id,
                                         StarAward.month == month).limit(1)
    return (await session.execute(stmt)).first() is not None


async def propose(session: AsyncSession, *, project_id: int, month: dt.date, worker_id: int,
                  rank: int, points: int, now: dt.datetime) -> StarAward:
    award = StarAward(project_id=project_id, month=month, worker_id=worker_id, rank=rank,
                      points=points, status=PROPOSED, created_at=now)
    session.add(award)
    await session.flush()
    return award


async def propose_if_free(session: AsyncSession, *, project_id: int, month: dt.date, worker_id: int,
                          rank: int, points: int, now: dt.datetime) -> bool:
    """Propose a worker unless they have an award row that month already (another
    organiser's replacement got there first); whether this one was written."""
    stmt = (insert_for(session, StarAward)
            .values(project_id=project_id, month=month, worker_id=worker_id, rank=rank,
                    points=points, status=PROPOSED, created_at=now)
            .on_conflict_do_nothing(index_elements=["project_id", "month", "worker_id"]))
    return (await session.execute(stmt)).rowcount == 1


async def decide(session: AsyncSession, award_id: int, status: str, by_id: int,
                 at: dt.datetime) -> bool:
    """A proposed award becomes `status`; False when it was not proposed any more (someone
    decided first). A confirmation also starts the wait for the worker's consent."""
    values = {"status": status, "decided_by_id": by_id, "decided_at": at}
    if status == CONFIRMED:
        values["consent_asked_at"] = at
    result = await session.execute(
        sa.update(StarAward).where(StarAward.id == award_id, StarAward.status == PROPOSED)
        .values(**values).execution_options(synchronize_session=False))
    return result.rowcount == 1


async def set_public(session: AsyncSession, award_id: int, public: bool) -> bool:
    """Record the worker's answer once; False when it was answered already."""
    result = await session.execute(
        sa.update(StarAward).where(StarAward.id == award_id, StarAward.public.is_(None))
        .values(public=public).execution_options(synchronize_session=False))
    return result.rowcount == 1


async def proposed(session: AsyncSession, project_id: int) -> list[AwardPeople]:
    """The project's awards still waiting for a decision, oldest month first, by rank."""
    rows = await session.execute(
        sa.select(StarAward, Member, Project)
        .join(Member, Member.id == StarAward.worker_id)
        .join(Project, Project.id == StarAward.project_id)
        .where(StarAward.project_id == project_id, StarAward.status == PROPOSED)
        .order_by(StarAward.month, StarAward.rank, StarAward.id)
        .execution_options(populate_existing=True))
    return [AwardPeople(*row) for row in rows.all()]


async def awarded_workers(session: AsyncSession, project_id: int, month: dt.date) -> set[int]:
    """Workers with any award row in the month (proposed, decided either way)."""
    stmt = sa.select(StarAward.worker_id).where(StarAward.project_id == project_id,
                                                StarAward.month == month)
    return set((await session.execute(stmt)).scalars())


async def months_to_announce(session: AsyncSession) -> list[tuple[int, dt.date]]:
    """(project id, month) whose awards are all decided, at least one confirmed, and none
    announced yet. Whether the workers' answers are in is for the caller to judge."""
    count = sa.func.count
    stmt = (sa.select(StarAward.project_id, StarAward.month)
            .group_by(StarAward.project_id, StarAward.month)
            .having(sa.and_(
                count().filter(StarAward.status == PROPOSED) == 0,
                count().filter(StarAward.status == CONFIRMED) > 0,
                count(StarAward.announced_at) == 0))
            .order_by(StarAward.month, StarAward.project_id))
    return [(p, m) for p, m in (await session.execute(stmt)).all()]


async def mark_announced(session: AsyncSession, project_id: int, month: dt.date,
                         at: dt.datetime) -> None:
    await session.execute(
        sa.update(StarAward).where(StarAward.project_id == project_id, StarAward.month == month)
        .values(announced_at=at).execution_options(synchronize_session=False))


async def observations(session: AsyncSession, project_id: int, worker_ids: list[int],
                       start: dt.datetime, end: dt.datetime) -> dict[int, Counter]:
    """What the points of each worker in [start, end) were for: counts of the entries that
    count, by (source, reason), e.g. {("star", "制止违章"): 2, ("event", "quiz"): 1}."""
    out: dict[int, Counter] = {w: Counter() for w in worker_ids}
    if not worker_ids:
        return out
    stmt = (sa.select(StarEntry.worker_id, StarEntry.source, StarEntry.reason, sa.func.count(),
                      sa.func.min(StarEntry.id))
            .where(StarEntry.project_id == project_id, StarEntry.worker_id.in_(worker_ids),
                   StarEntry.at >= _at(start), StarEntry.at < _at(end), _live())
            .group_by(StarEntry.worker_id, StarEntry.source, StarEntry.reason)
            .order_by(sa.func.count().desc(), sa.func.min(StarEntry.id)))
    for worker_id, source, reason, n, _first in (await session.execute(stmt)).all():
        out[worker_id][(source, reason)] = n
    return out


async def projects(session: AsyncSession) -> list[Project]:
    return list((await session.execute(sa.select(Project).order_by(Project.id))).scalars())


async def active_members(session: AsyncSession, project_id: int) -> list[Member]:
    stmt = (sa.select(Member).where(Member.project_id == project_id, Member.active.is_(True))
            .options(*MEMBER_LOAD).order_by(Member.id))
    return list((await session.execute(stmt)).scalars())


async def load_members(session: AsyncSession, member_ids) -> dict[int, Member]:
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    stmt = sa.select(Member).where(Member.id.in_(ids)).options(selectinload(Member.roles))
    return {m.id: m for m in (await session.execute(stmt)).scalars()}
