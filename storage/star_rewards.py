"""Rewards for the bot's own events: the points side (has an event credited a worker
already?) and the anonymous side (StarReward: a report's receipt credited, claimed once).

A StarReward names no one: not the reporter, not who entered the code; both of its
times are to the hour (the caller rounds them)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import StarEntry, StarReward


def _moment(column, moment: dt.datetime):
    return sa.bindparam(None, moment, type_=column.type)


async def event_credited(session: AsyncSession, worker_id: int, ref: str) -> bool:
    """Whether an entry for this event (`ref`, "violation:12") exists for the worker:
    asked before adding one, so the unique (worker_id, ref) never fails the step."""
    stmt = sa.select(StarEntry.id).where(StarEntry.worker_id == worker_id, StarEntry.ref == ref)
    return (await session.execute(stmt.limit(1))).first() is not None


async def for_report(session: AsyncSession, report_id: int) -> StarReward | None:
    stmt = sa.select(StarReward).where(StarReward.report_id == report_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def credit(session: AsyncSession, *, project_id: int, report_id: int, points: int,
                 reason: str, credited_at: dt.datetime) -> StarReward:
    reward = StarReward(project_id=project_id, report_id=report_id, points=points, reason=reason,
                        credited_at=credited_at)
    session.add(reward)
    await session.flush()
    return reward


async def claim(session: AsyncSession, reward_id: int, at: dt.datetime) -> bool:
    """Mark it claimed at `at` unless it already is; False when someone was first (one
    statement, so two organisers entering the same code at once cannot both claim it)."""
    result = await session.execute(
        sa.update(StarReward)
        .where(StarReward.id == reward_id, StarReward.claimed_at.is_(None))
        .values(claimed_at=at)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


@dataclass(frozen=True)
class RewardCounts:
    credited: int  # rewards credited in the period (by credited_at)
    claimed: int  # rewards claimed in the period (by claimed_at), whenever credited
    points_credited: int  # the points of those credited


async def rewards_in(session: AsyncSession, project_id: int, start: dt.datetime,
                     end: dt.datetime) -> RewardCounts:
    """A project's anonymous rewards in [start, end)."""
    credited = (await session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(StarReward.points), 0))
        .where(StarReward.project_id == project_id,
               StarReward.credited_at >= _moment(StarReward.credited_at, start),
               StarReward.credited_at < _moment(StarReward.credited_at, end)))).one()
    claimed = (await session.execute(
        sa.select(sa.func.count()).select_from(StarReward)
        .where(StarReward.project_id == project_id,
               StarReward.claimed_at >= _moment(StarReward.claimed_at, start),
               StarReward.claimed_at < _moment(StarReward.claimed_at, end)))).scalar_one()
    return RewardCounts(credited=int(credited[0]), claimed=int(claimed),
                        points_credited=int(credited[1]))
