"""The rows behind the Excel ledgers (台账, `redshield export` and /export): one query per
ledger, for one project over [start, end) in UTC (a day ledger: [first, last] local days).

Nothing here reads who sent a violation report: the report's ledger selects only the
report's own coarse fields and the officers' replies."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from storage.hazards import HAZARD_LOAD
from storage.models import (
    EduRecord,
    Hazard,
    LeaveRequest,
    Lesson,
    LessonAttendance,
    Member,
    Patrol,
    StarEntry,
    TeamPatrol,
    TeamPatrolMember,
    ViolationEntry,
    ViolationReport,
    Zone,
)


async def patrols(session: AsyncSession, project_id: int, start: dt.datetime, end: dt.datetime):
    """Personal patrols started in the period: (Patrol, member name, zone name)."""
    stmt = (sa.select(Patrol, Member.name, Zone.name)
            .join(Member, Member.id == Patrol.member_id)
            .outerjoin(Zone, Zone.id == Patrol.zone_id)
            .where(Patrol.project_id == project_id, Patrol.started_at >= start,
                   Patrol.started_at < end)
            .order_by(Patrol.started_at, Patrol.id))
    return list((await session.execute(stmt)).all())


async def team_patrols(session: AsyncSession, project_id: int, start: dt.datetime, end: dt.datetime):
    """Team patrols started in the period, each with its leader's name and the names of
    those who took part, in the order they joined: [(TeamPatrol, leader, [names])]."""
    leader = aliased(Member)
    stmt = (sa.select(TeamPatrol, leader.name)
            .join(leader, leader.id == TeamPatrol.leader_id)
            .where(TeamPatrol.project_id == project_id, TeamPatrol.started_at >= start,
                   TeamPatrol.started_at < end)
            .order_by(TeamPatrol.started_at, TeamPatrol.id))
    rows = list((await session.execute(stmt)).all())
    names: dict[int, list[str]] = {}
    if rows:
        people = await session.execute(
            sa.select(TeamPatrolMember.team_patrol_id, Member.name)
            .join(Member, Member.id == TeamPatrolMember.member_id)
            .where(TeamPatrolMember.team_patrol_id.in_([r[0].id for r in rows]))
            .order_by(TeamPatrolMember.joined_at, Member.id))
        for patrol_id, name in people:
            names.setdefault(patrol_id, []).append(name)
    return [(team, leader_name, names.get(team.id, [])) for team, leader_name in rows]


async def hazards(session: AsyncSession, project_id: int, start: dt.datetime, end: dt.datetime
                  ) -> list[Hazard]:
    """Hazards found in the period, with their zone and people loaded."""
    stmt = (sa.select(Hazard)
            .where(Hazard.project_id == project_id, Hazard.created_at >= start,
                   Hazard.created_at < end)
            .options(*HAZARD_LOAD).order_by(Hazard.year, Hazard.number))
    return list((await session.execute(stmt)).scalars().unique())


async def violations(session: AsyncSession, project_id: int, start: dt.datetime, end: dt.datetime):
    """Reports received in the period: (received_at, zone, kind, status, hazard year,
    hazard number, the officers' last reply). Deliberately no named member and no
    description: the ledger is read by many."""
    last_reply = (sa.select(ViolationEntry.text)
                  .where(ViolationEntry.report_id == ViolationReport.id,
                         ViolationEntry.author == "officer", ViolationEntry.text.is_not(None))
                  .order_by(ViolationEntry.id.desc()).limit(1)
                  .correlate(ViolationReport).scalar_subquery())
    stmt = (sa.select(ViolationReport.received_at, Zone.name, ViolationReport.kind,
                      ViolationReport.status, Hazard.year, Hazard.number, last_reply)
            .outerjoin(Zone, Zone.id == ViolationReport.zone_id)
            .outerjoin(Hazard, Hazard.id == ViolationReport.hazard_id)
            .where(ViolationReport.project_id == project_id, ViolationReport.received_at >= start,
                   ViolationReport.received_at < end)
            .order_by(ViolationReport.received_at, ViolationReport.id))
    return list((await session.execute(stmt)).all())


async def leave(session: AsyncSession, project_id: int, first: dt.date, last: dt.date):
    """Leave requests overlapping the days [first, last]: (LeaveRequest, member name)."""
    stmt = (sa.select(LeaveRequest, Member.name)
            .join(Member, Member.id == LeaveRequest.member_id)
            .where(Member.project_id == project_id, LeaveRequest.start <= last,
                   LeaveRequest.until >= first)
            .order_by(LeaveRequest.start, LeaveRequest.id))
    return list((await session.execute(stmt)).all())


async def star_entries(session: AsyncSession, project_id: int, start: dt.datetime, end: dt.datetime):
    """The points ledger in the period: (StarEntry, worker, 班组, giver or None)."""
    worker, giver = aliased(Member), aliased(Member)
    stmt = (sa.select(StarEntry, worker.name, worker.crew, giver.name)
            .join(worker, worker.id == StarEntry.worker_id)
            .outerjoin(giver, giver.id == StarEntry.given_by_id)
            .where(StarEntry.project_id == project_id, StarEntry.at >= start, StarEntry.at < end)
            .order_by(StarEntry.at, StarEntry.id))
    return list((await session.execute(stmt)).all())


async def lessons(session: AsyncSession, project_id: int, start: dt.datetime, end: dt.datetime):
    """Lessons (not cancelled) held in the period: (Lesson, organiser name, check-ins)."""
    organiser = aliased(Member)
    checkins = (sa.select(sa.func.count()).where(LessonAttendance.lesson_id == Lesson.id)
                .correlate(Lesson).scalar_subquery())
    stmt = (sa.select(Lesson, organiser.name, checkins)
            .outerjoin(organiser, organiser.id == Lesson.organiser_id)
            .where(Lesson.project_id == project_id, Lesson.cancelled_at.is_(None),
                   Lesson.starts_at >= start, Lesson.starts_at < end)
            .options(selectinload(Lesson.files))
            .order_by(Lesson.starts_at, Lesson.id))
    return list((await session.execute(stmt)).all())


async def attendance(session: AsyncSession, project_id: int, start: dt.datetime, end: dt.datetime):
    """Check-ins to the period's lessons: (lesson title, lesson start, member, checked in at)."""
    stmt = (sa.select(Lesson.title, Lesson.starts_at, Member.name, LessonAttendance.checked_in_at)
            .join(Lesson, Lesson.id == LessonAttendance.lesson_id)
            .join(Member, Member.id == LessonAttendance.member_id)
            .where(Lesson.project_id == project_id, Lesson.cancelled_at.is_(None),
                   Lesson.starts_at >= start, Lesson.starts_at < end)
            .order_by(Lesson.starts_at, Lesson.id, LessonAttendance.checked_in_at))
    return list((await session.execute(stmt)).all())


async def education(session: AsyncSession, project_id: int, first: dt.date, last: dt.date):
    """Zone education on the days [first, last]: (EduRecord, zone name, member name)."""
    stmt = (sa.select(EduRecord, Zone.name, Member.name)
            .join(Member, Member.id == EduRecord.member_id)
            .outerjoin(Zone, Zone.id == EduRecord.zone_id)
            .where(EduRecord.project_id == project_id, EduRecord.day >= first,
                   EduRecord.day <= last)
            .order_by(EduRecord.day, EduRecord.id))
    return list((await session.execute(stmt)).all())
