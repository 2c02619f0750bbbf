"""红盾课堂 lessons: loading one, who is in its audience, what is coming and what is past,
who checked in. Times are UTC here; the handlers put them on the project's clock."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Lesson, LessonAttendance, Member, MemberRole

# Lesson.audience values.
MANAGERS, WORKERS, ALL, CREWS = "managers", "workers", "all", "crews"
AUDIENCES = (MANAGERS, WORKERS, ALL, CREWS)
# Who counts as a worker for an audience (handlers/roles.py NOT_MANAGERS: RULINGS 13 says
# 管理人员 are everyone else). Spelled out here: storage does not import handlers.
WORKER_ROLES = ("worker", "assignee")


def _at(moment: dt.datetime):
    return sa.bindparam(None, moment, type_=Lesson.starts_at.type)


async def get(session: AsyncSession, lesson_id: int) -> Lesson | None:
    """A lesson with its files loaded (None when there is none)."""
    stmt = sa.select(Lesson).where(Lesson.id == lesson_id).options(selectinload(Lesson.files))
    return (await session.execute(stmt)).scalar_one_or_none()


def _in_audience(audience: str, crews):
    """The condition on Member that says who an audience is (None: everyone)."""
    is_worker = Member.roles.any(MemberRole.role.in_(WORKER_ROLES))
    if audience == MANAGERS:
        return ~is_worker
    if audience == WORKERS:
        return is_worker
    if audience == CREWS:
        return Member.crew.in_(list(crews or ())) if crews else sa.false()
    return None


async def audience_members(session: AsyncSession, lesson: Lesson) -> list[Member]:
    """Active members of the lesson's project in its audience, by id: 管理人员 (no worker
    or assignee role), 劳务班组 (a worker or assignee role), 全体, or the chosen 班组."""
    stmt = (sa.select(Member).where(Member.project_id == lesson.project_id, Member.active.is_(True))
            .options(selectinload(Member.roles)).order_by(Member.id))
    condition = _in_audience(lesson.audience, lesson.crews)
    if condition is not None:
        stmt = stmt.where(condition)
    return list((await session.execute(stmt)).scalars())


async def in_audience(session: AsyncSession, lesson: Lesson, member_id: int) -> bool:
    stmt = sa.select(Member.id).where(Member.id == member_id, Member.project_id == lesson.project_id,
                                      Member.active.is_(True))
    condition = _in_audience(lesson.audience, lesson.crews)
    if condition is not None:
        stmt = stmt.where(condition)
    return (await session.execute(stmt)).first() is not None


def _live(project_id: int):
    return sa.and_(Lesson.project_id == project_id, Lesson.cancelled_at.is_(None))


async def upcoming(session: AsyncSession, project_id: int, now: dt.datetime,
                   limit: int | None = None) -> list[Lesson]:
    """Lessons not cancelled and not over yet (one under way included), soonest first."""
    stmt = (sa.select(Lesson).where(_live(project_id), Lesson.ends_at > _at(now))
            .options(selectinload(Lesson.files)).order_by(Lesson.starts_at, Lesson.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())


async def past(session: AsyncSession, project_id: int, now: dt.datetime,
               limit: int | None = None) -> list[Lesson]:
    """Lessons not cancelled that are over, latest first."""
    stmt = (sa.select(Lesson).where(_live(project_id), Lesson.ends_at <= _at(now))
            .options(selectinload(Lesson.files)).order_by(Lesson.starts_at.desc(), Lesson.id.desc()))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())


async def of_project(session: AsyncSession, project_id: int) -> list[Lesson]:
    """Every lesson of a project, cancelled ones too, by start."""
    stmt = (sa.select(Lesson).where(Lesson.project_id == project_id)
            .options(selectinload(Lesson.files)).order_by(Lesson.starts_at, Lesson.id))
    return list((await session.execute(stmt)).scalars())


async def starting_between(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> list[Lesson]:
    """Lessons of every project, not cancelled and not reminded yet, starting in [start, end]."""
    stmt = (sa.select(Lesson).where(Lesson.cancelled_at.is_(None), Lesson.reminded_at.is_(None),
                                    Lesson.starts_at >= _at(start), Lesson.starts_at <= _at(end))
            .order_by(Lesson.starts_at, Lesson.id))
    return list((await session.execute(stmt)).scalars())


async def attendance(session: AsyncSession, lesson_id: int) -> list[tuple[Member, dt.datetime]]:
    """Who checked in to a lesson, and when, in the order they came."""
    stmt = (sa.select(Member, LessonAttendance.checked_in_at)
            .join(LessonAttendance, LessonAttendance.member_id == Member.id)
            .where(LessonAttendance.lesson_id == lesson_id)
            .options(selectinload(Member.roles))
            .order_by(LessonAttendance.checked_in_at, Member.id))
    return [(m, at) for m, at in (await session.execute(stmt)).all()]


async def attendance_counts(session: AsyncSession, lesson_ids) -> dict[int, int]:
    """lesson id -> members checked in (lessons without any left out)."""
    ids = list(lesson_ids)
    if not ids:
        return {}
    stmt = (sa.select(LessonAttendance.lesson_id, sa.func.count())
            .where(LessonAttendance.lesson_id.in_(ids)).group_by(LessonAttendance.lesson_id))
    return dict((await session.execute(stmt)).all())


async def checked_in(session: AsyncSession, lesson_id: int, member_id: int) -> bool:
    stmt = sa.select(LessonAttendance.member_id).where(LessonAttendance.lesson_id == lesson_id,
                                                       LessonAttendance.member_id == member_id)
    return (await session.execute(stmt)).first() is not None


async def attended_count(session: AsyncSession, member_id: int, start: dt.datetime,
                         end: dt.datetime) -> int:
    """Lessons (not cancelled) starting in [start, end) the member checked in to."""
    stmt = (sa.select(sa.func.count()).select_from(LessonAttendance)
            .join(Lesson, Lesson.id == LessonAttendance.lesson_id)
            .where(LessonAttendance.member_id == member_id, Lesson.cancelled_at.is_(None),
                   Lesson.starts_at >= _at(start), Lesson.starts_at < _at(end)))
    return (await session.execute(stmt)).scalar_one()


async def attendance_by_member(session: AsyncSession, project_id: int, start: dt.datetime,
                               end: dt.datetime) -> list[tuple[Member, list[int]]]:
    """Members who checked in to the project's lessons (not cancelled) starting in
    [start, end), each with those lessons' ids by start; most lessons first, then by id."""
    stmt = (sa.select(LessonAttendance.member_id, Lesson.id)
            .join(Lesson, Lesson.id == LessonAttendance.lesson_id)
            .where(_live(project_id), Lesson.starts_at >= _at(start), Lesson.starts_at < _at(end))
            .order_by(Lesson.starts_at, Lesson.id))
    lessons: dict[int, list[int]] = {}
    for member_id, lesson_id in (await session.execute(stmt)).all():
        lessons.setdefault(member_id, []).append(lesson_id)
    if not lessons:
        return []
    members = {m.id: m for m in (await session.execute(
        sa.select(Member).where(Member.id.in_(list(lessons))))).scalars()}
    order = sorted(lessons, key=lambda i: (-len(lessons[i]), i))
    return [(members[i], lessons[i]) for i in order]


async def names(session: AsyncSession, member_ids) -> dict[int, str]:
    """member id -> name, for organisers and planners."""
    ids = [i for i in set(member_ids) if i is not None]
    if not ids:
        return {}
    rows = await session.execute(sa.select(Member.id, Member.name).where(Member.id.in_(ids)))
    return dict(rows.all())
