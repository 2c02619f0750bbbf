"""Queries on hazards: numbering, lookups, the open and overdue lists."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Hazard, HazardCounter, HazardEvent, HazardStatus, Member
from storage.upsert import insert_for

# People come with their roles: who may act on a hazard depends on them.
HAZARD_LOAD = (
    selectinload(Hazard.photos), selectinload(Hazard.zone), selectinload(Hazard.project),
    selectinload(Hazard.reporter).selectinload(Member.roles),
    selectinload(Hazard.assignee).selectinload(Member.roles),
    selectinload(Hazard.rectified_by).selectinload(Member.roles),
    selectinload(Hazard.rechecked_by),
)
OPEN_STATUSES = (HazardStatus.open, HazardStatus.rectifying, HazardStatus.review)


async def next_number(session: AsyncSession, project_id: int, year: int) -> int:
    """The next notice number of a project's year. One atomic statement, so two
    reports confirmed at the same instant never get the same number."""
    stmt = (
        insert_for(session, HazardCounter)
        .values(project_id=project_id, year=year, last=1)
        .on_conflict_do_update(index_elements=["project_id", "year"],
                               set_={"last": HazardCounter.last + 1})
        .returning(HazardCounter.last)
    )
    return (await session.execute(stmt)).scalar_one()


async def by_number(session: AsyncSession, project_id: int, year: int, number: int) -> Hazard | None:
    stmt = sa.select(Hazard).where(Hazard.project_id == project_id, Hazard.year == year,
                                   Hazard.number == number).options(*HAZARD_LOAD)
    return (await session.execute(stmt)).scalar_one_or_none()


async def load(session: AsyncSession, hazard_id: int) -> Hazard | None:
    stmt = sa.select(Hazard).where(Hazard.id == hazard_id).options(*HAZARD_LOAD)
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


async def record(session: AsyncSession, hazard: Hazard, actor_id: int | None, action: str,
                 at: dt.datetime, note: str | None = None) -> HazardEvent:
    event = HazardEvent(hazard_id=hazard.id, at=at, actor_id=actor_id, action=action,
                        status=hazard.status, note=note)
    session.add(event)
    await session.flush()
    return event


async def history(session: AsyncSession, hazard_id: int) -> list[HazardEvent]:
    stmt = sa.select(HazardEvent).where(HazardEvent.hazard_id == hazard_id).order_by(HazardEvent.id)
    return list((await session.execute(stmt)).scalars())


async def open_for(session: AsyncSession, member_id: int) -> tuple[list[Hazard], list[Hazard]]:
    """(open hazards assigned to the member, open hazards they reported)."""
    stmt = sa.select(Hazard).where(
        Hazard.status.in_(OPEN_STATUSES),
        sa.or_(Hazard.assignee_id == member_id, Hazard.reporter_id == member_id),
    ).order_by(Hazard.deadline, Hazard.id)
    rows = list((await session.execute(stmt)).scalars())
    return ([h for h in rows if h.assignee_id == member_id],
            [h for h in rows if h.reporter_id == member_id])


async def overdue(session: AsyncSession, today: dt.date, project_id: int | None = None) -> list[Hazard]:
    """Open hazards whose deadline has passed, most overdue first."""
    stmt = sa.select(Hazard).where(Hazard.status.in_(OPEN_STATUSES), Hazard.deadline < today)
    if project_id is not None:
        stmt = stmt.where(Hazard.project_id == project_id)
    stmt = stmt.options(*HAZARD_LOAD).order_by(Hazard.deadline, Hazard.id)
    return list((await session.execute(stmt)).scalars())


async def listing(session: AsyncSession, project_id: int, statuses: list[str] | None = None):
    stmt = sa.select(Hazard).where(Hazard.project_id == project_id)
    if statuses:
        stmt = stmt.where(Hazard.status.in_(statuses))
    stmt = stmt.options(*HAZARD_LOAD).order_by(Hazard.year, Hazard.number)
    return list((await session.execute(stmt)).scalars())
