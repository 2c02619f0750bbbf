"""Queries on personal and team patrols, including the week totals.

Totals are computed in SQL: each patrol contributes the minutes it overlaps the
window, so a patrol across a week boundary is split between the weeks. What a
patrol counts (its credit) is decided here too, in the same statement: all of
it; up to `credited_until` (a forgotten patrol: its last sign of life); or
nothing while it was started off site and no safety officer has accepted it.
The week's leave days come with each member's row.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    LeaveRequest,
    LeaveStatus,
    Member,
    Patrol,
    TeamPatrol,
    TeamPatrolMember,
    UTCDateTime,
)

# No patrol is longer than this (the code refuses longer ones), which lets the
# window queries use the (…, started_at) indexes as a bounded range.
LONGEST_PATROL = dt.timedelta(hours=24)

# How off-site patrols count (config [practice] off_site_credit).
ONCE_ACCEPTED, ALWAYS = "accepted", "always"


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


# The week's statements are built once per shape and run with their values as parameters:
# with 100,000 members building and keying a statement this size costs more than running it.


def _bounds():
    return tuple(sa.bindparam(name, type_=UTCDateTime()) for name in ("ws", "we", "earliest"))


def _window_values(start: dt.datetime, end: dt.datetime) -> dict:
    return {"ws": start, "we": end, "earliest": start - LONGEST_PATROL}


def _day_values(days: list[dt.date]) -> dict:
    return {f"day{i}": day for i, day in enumerate(days)}


def _not_below_zero(dialect: str, value):
    return sa.func.greatest(value, 0) if dialect == "postgresql" else sa.func.max(value, 0)


def _credit(dialect: str, off_site_rule: str):
    """(where, minutes counted, minutes not counted because forgotten, because off site, and
    whether it awaits the safety officer) of each patrol in the window ws..we, as SQL."""
    ws, we, earliest = _bounds()
    where = sa.and_(Patrol.started_at < we, Patrol.started_at >= earliest, Patrol.ended_at > ws)
    raw = overlap_minutes(dialect, Patrol.started_at, Patrol.ended_at, ws, we)
    until = sa.func.coalesce(Patrol.credited_until, Patrol.ended_at)
    credited = _not_below_zero(dialect, overlap_minutes(dialect, Patrol.started_at, until, ws, we))
    if off_site_rule == ALWAYS:
        unaccepted, undecided = sa.false(), sa.false()
    else:
        unaccepted = sa.and_(Patrol.off_site, sa.func.coalesce(Patrol.accepted, sa.false())
                             == sa.false())
        undecided = sa.and_(Patrol.off_site, Patrol.accepted.is_(None))
    counted = sa.case((unaccepted, 0), else_=credited)
    forgotten = sa.case((sa.and_(Patrol.credited_until.is_not(None), sa.not_(unaccepted)),
                         raw - credited), else_=0)
    off_site = sa.case((unaccepted, raw), else_=0)
    return where, counted, forgotten, off_site, undecided


def _count_if(condition):
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _leave_mask(n_days: int):
    """SQL: a bit per day (bit i: parameter day{i}) on which the member is on leave, by an
    approved request or by the directory's leave_until (which has no start: every day up
    to it). Evaluated only for members with some leave in the period."""
    lr = LeaveRequest
    days = [sa.bindparam(f"day{i}", type_=sa.Date()) for i in range(n_days)]
    covers = [sa.func.max(sa.case((sa.and_(lr.start <= day, lr.until >= day), 1), else_=0))
              .label(f"d{i}") for i, day in enumerate(days)]
    requests = (sa.select(lr.member_id, *covers)
                .where(lr.status == LeaveStatus.approved, lr.start <= days[-1],
                       lr.until >= days[0])
                .group_by(lr.member_id).subquery("leave_requested"))
    bits = sum(sa.case((sa.or_(Member.leave_until >= day, requests.c[f"d{i}"] == 1), 1 << i),
                       else_=0) for i, day in enumerate(days))
    some = sa.or_(Member.leave_until >= days[0], requests.c.member_id.is_not(None))
    return requests, sa.case((some, bits), else_=0)


@lru_cache(maxsize=32)
def _member_statement(dialect: str, by_project: bool, off_site_rule: str, n_days: int):
    where, counted, forgotten, off_site, undecided = _credit(dialect, off_site_rule)
    per_member = (
        sa.select(
            Patrol.member_id,
            sa.func.sum(counted).label("minutes"),
            _count_if(Patrol.logged_afterwards).label("logged"),
            _count_if(Patrol.off_site).label("off_site"),
            _count_if(undecided).label("undecided"),
            _count_if(Patrol.auto_closed).label("auto_closed"),
            sa.func.sum(forgotten).label("forgotten"),
            sa.func.sum(off_site).label("off_site_lost"),
        )
        .where(where)
        .group_by(Patrol.member_id)
    )
    if by_project:
        per_member = per_member.where(Patrol.project_id == sa.bindparam("project_id"))
    per_member = per_member.subquery()
    leave, mask = _leave_mask(n_days)
    c = per_member.c
    stmt = (
        sa.select(
            Member.id.label("member_id"), Member.project_id, Member.name, Member.joined_at,
            *(sa.func.coalesce(col, 0).label(col.name) for col in (
                c.minutes, c.logged, c.off_site, c.auto_closed, c.undecided, c.off_site_lost,
                c.forgotten)),
            mask.label("leave_mask"),
        )
        .outerjoin(per_member, c.member_id == Member.id)
        .outerjoin(leave, leave.c.member_id == Member.id)
        .where(Member.active.is_(True), Member.roles.any(role="member"),
               Member.joined_at < sa.bindparam("we", type_=UTCDateTime()))
        .order_by(Member.project_id, Member.id)
    )
    if by_project:
        stmt = stmt.where(Member.project_id == sa.bindparam("project_id"))
    return stmt


async def member_minutes(session: AsyncSession, start: dt.datetime, end: dt.datetime,
                         days: list[dt.date], project_id: int | None = None,
                         off_site_rule: str = ONCE_ACCEPTED) -> list[MemberMinutes]:
    """One row per active member (of the project, or of all) who had joined by `end`:
    personal minutes counted in the window, how many of their patrols were logged
    afterwards / off site (and awaiting acceptance) / auto-closed, the minutes not
    counted, and their leave on `days` (the window's days)."""
    stmt = _member_statement(session.bind.dialect.name, project_id is not None, off_site_rule,
                             len(days))
    values = _window_values(start, end) | _day_values(days)
    if project_id is not None:
        values["project_id"] = project_id
    leave_days = _mask_reader(days)
    return [MemberMinutes(member_id, pid, name, joined, round(minutes), int(logged),
                          int(off_site), int(auto), int(undecided), round(off_site_lost),
                          round(forgotten), leave_days(mask))
            for (member_id, pid, name, joined, minutes, logged, off_site, auto, undecided,
                 off_site_lost, forgotten, mask) in (await session.execute(stmt, values)).all()]


def _mask_reader(days: list[dt.date]):
    """mask -> the days it marks; the 128 answers of a week made once."""
    cache: dict[int, tuple[dt.date, ...]] = {0: ()}

    def read(mask) -> tuple[dt.date, ...]:
        mask = int(mask or 0)
        if mask not in cache:
            cache[mask] = tuple(d for i, d in enumerate(days) if mask >> i & 1)
        return cache[mask]

    return read


@dataclass
class MemberMinutes:
    member_id: int
    project_id: int
    name: str
    joined_at: dt.datetime
    minutes: int  # counted
    logged_afterwards: int
    off_site: int
    auto_closed: int
    off_site_undecided: int  # off-site patrols awaiting the safety officer
    off_site_uncounted: int  # minutes of off-site patrols not (yet) accepted
    forgotten_uncounted: int  # minutes of forgotten patrols after the last sign of life
    leave_days: tuple[dt.date, ...]


@lru_cache(maxsize=4)
def _leave_statement(n_days: int):
    leave, mask = _leave_mask(n_days)
    return (sa.select(mask).select_from(Member)
            .outerjoin(leave, leave.c.member_id == Member.id)
            .where(Member.id == sa.bindparam("member_id")))


async def leave_days(session: AsyncSession, member_id: int,
                     days: list[dt.date]) -> tuple[dt.date, ...]:
    """The days of `days` on which one member is on leave (the week table's rule)."""
    found = await session.execute(_leave_statement(len(days)),
                                  _day_values(days) | {"member_id": member_id})
    return _mask_reader(days)(found.scalar_one_or_none())


@dataclass
class TeamPatrolRow:
    id: int
    project_id: int
    started_at: dt.datetime
    ended_at: dt.datetime
    minutes: float  # inside the window (summed before rounding, as team_minutes does)
    joint_with_safety: bool
    auto_closed: bool
    members: list[tuple[int, str]]  # (id, name), in the order they joined


@lru_cache(maxsize=8)
def _team_statement(dialect: str, by_project: bool):
    ws, we, earliest = _bounds()
    where = sa.and_(TeamPatrol.started_at < we, TeamPatrol.started_at >= earliest,
                    TeamPatrol.ended_at > ws)
    minutes = overlap_minutes(dialect, TeamPatrol.started_at, TeamPatrol.ended_at, ws, we)
    stmt = (sa.select(TeamPatrol.id, TeamPatrol.project_id, TeamPatrol.started_at,
                      TeamPatrol.ended_at, minutes.label("minutes"),
                      TeamPatrol.joint_with_safety, TeamPatrol.auto_closed,
                      Member.id.label("member_id"), Member.name)
            .select_from(TeamPatrol)
            .outerjoin(TeamPatrolMember, TeamPatrolMember.team_patrol_id == TeamPatrol.id)
            .outerjoin(Member, Member.id == TeamPatrolMember.member_id)
            .where(where)
            .order_by(TeamPatrol.project_id, TeamPatrol.started_at, TeamPatrol.id,
                      TeamPatrolMember.joined_at, Member.id))
    if by_project:
        stmt = stmt.where(TeamPatrol.project_id == sa.bindparam("project_id"))
    return stmt


async def team_week(session: AsyncSession, start: dt.datetime, end: dt.datetime,
                    project_id: int | None = None) -> list[TeamPatrolRow]:
    """The team patrols in the window with who took part, in one statement (a row per
    patrol and member); ordered by project and start."""
    values = _window_values(start, end)
    if project_id is not None:
        values["project_id"] = project_id
    stmt = _team_statement(session.bind.dialect.name, project_id is not None)
    out: dict[int, TeamPatrolRow] = {}
    for r in (await session.execute(stmt, values)).all():
        row = out.get(r.id)
        if row is None:
            row = out[r.id] = TeamPatrolRow(r.id, r.project_id, r.started_at, r.ended_at,
                                            float(r.minutes), r.joint_with_safety,
                                            r.auto_closed, [])
        if r.member_id is not None:
            row.members.append((r.member_id, r.name))
    return list(out.values())


async def team_minutes(session: AsyncSession, start: dt.datetime, end: dt.datetime,
                       project_id: int | None = None) -> dict[int, int]:
    where, minutes = _window(session, TeamPatrol, start, end)
    stmt = sa.select(TeamPatrol.project_id, sa.func.sum(minutes)).where(where)
    if project_id is not None:
        stmt = stmt.where(TeamPatrol.project_id == project_id)
    stmt = stmt.group_by(TeamPatrol.project_id)
    return {pid: round(m) for pid, m in (await session.execute(stmt)).all()}


@lru_cache(maxsize=8)
def _member_total_statement(dialect: str, off_site_rule: str):
    where, counted, *_ = _credit(dialect, off_site_rule)
    return sa.select(sa.func.coalesce(sa.func.sum(counted), 0)).where(
        where, Patrol.member_id == sa.bindparam("member_id"))


async def minutes_of_member(session: AsyncSession, member_id: int, start: dt.datetime,
                            end: dt.datetime, off_site_rule: str = ONCE_ACCEPTED) -> int:
    """A member's personal minutes counted in the window."""
    stmt = _member_total_statement(session.bind.dialect.name, off_site_rule)
    found = await session.execute(stmt, _window_values(start, end) | {"member_id": member_id})
    return round(found.scalar_one())


async def off_site_awaiting(session: AsyncSession, member_id: int, start: dt.datetime,
                            end: dt.datetime) -> int:
    """Minutes in the window of a member's off-site patrols awaiting the safety officer."""
    where, minutes = _window(session, Patrol, start, end)
    stmt = sa.select(sa.func.coalesce(sa.func.sum(minutes), 0)).where(
        where, Patrol.member_id == member_id, Patrol.off_site, Patrol.accepted.is_(None))
    return round((await session.execute(stmt)).scalar_one())


async def touch_open_patrol(session: AsyncSession, member_id: int, now: dt.datetime) -> None:
    """The member's open patrol (if any) saw a sign of life: one UPDATE, no look-up first."""
    await session.execute(
        sa.update(Patrol)
        .where(Patrol.member_id == member_id, Patrol.ended_at.is_(None))
        .values(last_seen_at=_at(now, "now"))
        .execution_options(synchronize_session=False))


def _undecided():
    # The partial index ix_patrols_off_site_undecided covers exactly these rows.
    return sa.and_(Patrol.off_site, Patrol.accepted.is_(None), Patrol.ended_at.is_not(None))


async def undecided_off_site(session: AsyncSession, project_id: int | None = None,
                             start: dt.datetime | None = None, end: dt.datetime | None = None,
                             ended_since: dt.datetime | None = None,
                             limit: int | None = None) -> list[tuple[Patrol, str]]:
    """Ended off-site patrols awaiting the safety officer, with the member's name, oldest
    first: of a project (and overlapping a window), or of every project (and ended since)."""
    stmt = (sa.select(Patrol, Member.name).join(Member, Member.id == Patrol.member_id)
            .where(_undecided()).order_by(Patrol.started_at, Patrol.id))
    if project_id is not None:
        stmt = stmt.where(Patrol.project_id == project_id)
    if start is not None:
        stmt = stmt.where(Patrol.ended_at > _at(start, "ws"), Patrol.started_at < _at(end, "we"))
    if ended_since is not None:
        stmt = stmt.where(Patrol.ended_at >= _at(ended_since, "since"))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(p, name) for p, name in (await session.execute(stmt)).all()]


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
