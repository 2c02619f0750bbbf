"""群星闪耀 activities the union or branch records: by day, with their photos."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import StarActivity


async def add(session: AsyncSession, activity: StarActivity) -> StarActivity:
    session.add(activity)
    await session.flush()
    return activity


async def activities_in(session: AsyncSession, project_id: int, start: dt.date,
                        end: dt.date) -> list[StarActivity]:
    """A project's activities held on days in [start, end) (local days, as recorded),
    oldest first, with their photos loaded."""
    stmt = (sa.select(StarActivity)
            .where(StarActivity.project_id == project_id, StarActivity.day >= start,
                   StarActivity.day < end)
            .options(selectinload(StarActivity.photos))
            .order_by(StarActivity.day, StarActivity.id))
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class ActivityTotals:
    activities: int
    headcount: int  # people reached, summed over the activities


async def activity_totals(session: AsyncSession, project_id: int, start: dt.date,
                          end: dt.date) -> ActivityTotals:
    """How many activities were held on days in [start, end) and how many took part:
    the project's monthly and annual figures."""
    count, people = (await session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(StarActivity.headcount), 0))
        .where(StarActivity.project_id == project_id, StarActivity.day >= start,
               StarActivity.day < end))).one()
    return ActivityTotals(int(count), int(people))
