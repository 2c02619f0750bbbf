"""Queries on personal and team patrols, including the week totals.

Totals are computed in SQL: each patrol contributes the minutes it overlaps the
window, so a patrol across a week boundary is split between the weeks.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Member, Patrol, TeamPatrol, TeamPatrolMember, UTCDateTime

# No patrol is longer than this (the code refuses longer ones), which lets the
# window queries use the (…, started_at) indexes as a bounded range.
LONGEST_PATROL = dt.timedelta(hours=24)


def _at(value: dt.datetime, name: str):
    return sa.bindparam(name, value, type_=UTCDateTime())


def overlap_minutes(dialect: str, start, end, window_start, window_end):
    """Minutes of [start, end) inside [window_start, window_end), as SQL."""
    if dialect == "postgresql":
        span = sa.func.least(end, window_end) - sa.func.greatest(start, window_start)
        return sa.extract("epoch", span) / 60.0
    # SQLite: two-argument min()/max() are scalar; datetimes are ISO text.
    return (sa.func.julianday(sa.func.min(end, window_end))
            - sa.func.julianday(sa.func.max(start, window_start))) * 1440.0


def _window(session: AsyncSession, cls, start: dt.datetime, end: dt.datetime):
    ws, we = _at(start, "ws"), _at(end, "we")
    earliest = _at(start - LONGEST_PATROL, "earliest")
    dialect = session.bind.dialect.name
    where = sa.and_(cls.started_at < we, cls.started_at >= earliest, cls.ended_at > ws)
    return where, overlap_minutes(dialect, cls.started_at, cls.ended_at, ws, we)


async def member_minutes(session: AsyncSession, start: dt.datetime, end: dt.datetime,
                         project_id: int | None = None):
    """One row per active member (of the project, or of all): personal minutes in the
    window and how many of their patrols were logged afterwards / off site / auto-closed."""
    where, minutes = _window(session, Patrol, start, end)
    per_member = (
        sa.select(
            Patrol.member_id,
            sa.func.sum(minutes).label("minutes"),
            sa.func.sum(sa.case((Patrol.logged_afterwards, 1), else_=0)).label("logged"),
            sa.func.sum(sa.case((Patrol.off_site, 1), else_=0)).label("off_site"),
            sa.func.sum(sa.case((Patrol.auto_closed, 1), else_=0)).label("auto_closed"),
        )
        .where(where)
        .group_by(Patrol.member_id)
    )
    if project_id is not None:
        per_member = per_member.where(Patrol.project_id == project_id)
    per_member = per_member.subquery()
    stmt = (
        sa.select(
            Member.id.label("member_id"), Member.project_id, Member.name, Member.joined_at,
            sa.func.coalesce(per_member.c.minutes, 0).label("minutes"),
            sa.func.coalesce(per_member.c.logged, 0).label("logged_afterwards"),
            sa.func.coalesce(per_member.c.off_site, 0).label("off_site"),
            sa.func.coalesce(per_member.c.auto_closed, 0).label("auto_closed"),
        )
        .outerjoin(per_member, per_member.c.member_id == Member.id)
        .where(Member.active.is_(True), Member.roles.any(role="member"))
        .order_by(Member.project_id, Member.id)
    )
    if project_id is not None:
        stmt = stmt.where(Member.project_id == project_id)
    rows = (await session.execute(stmt)).all()
    return [MemberMinutes(r.member_id, r.project_id, r.name, r.joined_at, round(r.minutes),
                 int(r.logged_afterwards), int(r.off_site), int(r.auto_closed)) for r in rows]


@dataclass
class MemberMinutes:
    member_id: int
    project_id: int
    name: str
    joined_at: dt.datetime
    minutes: int
    logged_afterwards: int
    off_site: int
    auto_closed: int


async def team_minutes(session: AsyncSession, start: dt.datetime, end: dt.datetime,
                       project_id: int | None = None) -> dict[int, int]:
    where, minutes = _window(session, TeamPatrol, start, end)
    stmt = sa.select(TeamPatrol.project_id, sa.func.sum(minutes)).where(where)
    if project_id is not None:
        stmt = stmt.where(TeamPatrol.project_id == project_id)
    stmt = stmt.group_by(TeamPatrol.project_id)
    return {pid: round(m) for pid, m in (await session.execute(stmt)).all()}


async def minutes_of_member(session: AsyncSession, member_id: int, start: dt.datetime,
                            end: dt.datetime) -> int:
    where, minutes = _window(session, Patrol, start, end)
    stmt = sa.select(sa.func.coalesce(sa.func.sum(minutes), 0)).where(
        where, Patrol.member_id == member_id)
    return round((await session.execute(stmt)).scalar_one())


async def open_patrol(session: AsyncSession, member_id: int) -> Patrol | None:
    stmt = sa.select(Patrol).where(Patrol.member_id == member_id, Patrol.ended_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def overlaps(session: AsyncSession, member_id: int, start: dt.datetime,
                   end: dt.datetime, exclude_id: int | None = None) -> bool:
    """Does the member have another patrol (closed, or open) overlapping [start, end)?"""
    stmt = sa.select(Patrol.id).where(
        Patrol.member_id == member_id,
        Patrol.started_at < _at(end, "end"),
        sa.or_(Patrol.ended_at.is_(None), Patrol.ended_at > _at(start, "start")),
    )
    if exclude_id is not None:
        stmt = stmt.where(Patrol.id != exclude_id)
    return (await session.execute(stmt.limit(1))).first() is not None


async def forgotten(session: AsyncSession, started_before: dt.datetime) -> list[Patrol]:
    stmt = sa.select(Patrol).where(Patrol.ended_at.is_(None),
                                   Patrol.started_at < _at(started_before, "before"))
    return list((await session.execute(stmt.with_for_update())).scalars())


async def open_team_patrol(session: AsyncSession, project_id: int) -> TeamPatrol | None:
    stmt = sa.select(TeamPatrol).where(TeamPatrol.project_id == project_id,
                                       TeamPatrol.ended_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def forgotten_team_patrols(session: AsyncSession, started_before: dt.datetime):
    stmt = sa.select(TeamPatrol).where(TeamPatrol.ended_at.is_(None),
                                       TeamPatrol.started_at < _at(started_before, "before"))
    return list((await session.execute(stmt.with_for_update())).scalars())


async def team_member_ids(session: AsyncSession, team_patrol_id: int) -> list[int]:
    stmt = sa.select(TeamPatrolMember.member_id).where(
        TeamPatrolMember.team_patrol_id == team_patrol_id)
    return list((await session.execute(stmt)).scalars())
