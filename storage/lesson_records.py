"""A lesson's check-in and its record: the code shown during the lesson, who checked in,
and what the organiser adds afterwards (photos, the paper sign-in sheet, materials, the
summary). Check-in windows are passed in as margins (config), never stored."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Lesson, LessonAttendance, LessonFile
from storage.upsert import insert_for

PHOTO, SIGNIN, DOCUMENT, LINK = "photo", "signin", "document", "link"


async def lesson(session: AsyncSession, lesson_id: int, *, lock: bool = False) -> Lesson | None:
    """A lesson with its files loaded (locked for update when asked)."""
    stmt = sa.select(Lesson).where(Lesson.id == lesson_id).options(selectinload(Lesson.files))
    if lock:  # and read again: the session may hold the row as it was before the lock
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def with_code(session: AsyncSession, project_id: int, code: str) -> list[Lesson]:
    """The project's lessons given this check-in code, latest first: cancelled ones too, so
    a code shown before the lesson was cancelled is answered as such, not as a guess."""
    stmt = (sa.select(Lesson)
            .where(Lesson.project_id == project_id, Lesson.checkin_code == code)
            .order_by(Lesson.starts_at.desc(), Lesson.id.desc()))
    return list((await session.execute(stmt)).scalars())


async def code_in_use(session: AsyncSession, project_id: int, code: str, starts_at: dt.datetime,
                      ends_at: dt.datetime, margin: dt.timedelta) -> bool:
    """Whether another lesson of the project whose check-in window overlaps this one's
    holds `code` (windows are the lessons widened by the same early + late `margin`)."""
    stmt = sa.select(Lesson.id).where(
        Lesson.project_id == project_id, Lesson.checkin_code == code,
        Lesson.starts_at < ends_at + margin, Lesson.ends_at > starts_at - margin).limit(1)
    return (await session.execute(stmt)).first() is not None


async def set_code(session: AsyncSession, lesson_id: int, code: str) -> bool:
    """Give the lesson its code unless it has one already (another ask got there first)."""
    result = await session.execute(
        sa.update(Lesson).where(Lesson.id == lesson_id, Lesson.checkin_code.is_(None))
        .values(checkin_code=code))
    return result.rowcount > 0


async def attend(session: AsyncSession, lesson_id: int, member_id: int,
                 now: dt.datetime) -> tuple[bool, dt.datetime]:
    """Check a member in once: (new, when they checked in). Two check-ins at once leave
    one row (the primary key), and the second learns the first one's time."""
    stmt = insert_for(session, LessonAttendance.__table__).values(
        lesson_id=lesson_id, member_id=member_id, checked_in_at=now
    ).on_conflict_do_nothing(index_elements=["lesson_id", "member_id"])
    result = await session.execute(stmt)
    if result.rowcount > 0:
        return True, now
    when = (await session.execute(sa.select(LessonAttendance.checked_in_at).where(
        LessonAttendance.lesson_id == lesson_id, LessonAttendance.member_id == member_id))).scalar_one()
    return False, when


async def attendance_count(session: AsyncSession, lesson_id: int) -> int:
    return int((await session.execute(sa.select(sa.func.count()).select_from(LessonAttendance)
                                      .where(LessonAttendance.lesson_id == lesson_id))).scalar_one())


async def open_windows(session: AsyncSession, now: dt.datetime, early: dt.timedelta,
                       late: dt.timedelta, *, project_id: int | None = None) -> list[Lesson]:
    """Lessons (not cancelled) whose check-in window holds `now`, earliest first."""
    stmt = (sa.select(Lesson)
            .where(Lesson.cancelled_at.is_(None), Lesson.starts_at <= now + early,
                   Lesson.ends_at > now - late)
            .order_by(Lesson.starts_at, Lesson.id))
    if project_id is not None:
        stmt = stmt.where(Lesson.project_id == project_id)
    return list((await session.execute(stmt)).scalars())


async def to_record(session: AsyncSession, project_id: int, now: dt.datetime,
                    organiser_id: int | None = None, limit: int = 10) -> list[Lesson]:
    """Started lessons of the project (not cancelled) whose record is not complete, the
    latest first; only the organiser's when named."""
    stmt = (sa.select(Lesson)
            .where(Lesson.project_id == project_id, Lesson.cancelled_at.is_(None),
                   Lesson.completed_at.is_(None), Lesson.starts_at <= now)
            .order_by(Lesson.starts_at.desc(), Lesson.id.desc()).limit(limit))
    if organiser_id is not None:
        stmt = stmt.where(Lesson.organiser_id == organiser_id)
    return list((await session.execute(stmt)).scalars())


async def unreminded_incomplete(session: AsyncSession, ended_before: dt.datetime) -> list[Lesson]:
    """Lessons that ended before `ended_before`, not cancelled, whose record is not complete
    and whose organiser was not reminded yet (files loaded)."""
    stmt = (sa.select(Lesson)
            .where(Lesson.ends_at < ended_before, Lesson.cancelled_at.is_(None),
                   Lesson.completed_at.is_(None), Lesson.record_reminded_at.is_(None))
            .options(selectinload(Lesson.files))
            .order_by(Lesson.id))
    return list((await session.execute(stmt)).scalars())


async def mark_record_reminded(session: AsyncSession, lesson_id: int, now: dt.datetime) -> bool:
    """Once per lesson, even with two schedulers: False if it was marked already."""
    result = await session.execute(
        sa.update(Lesson).where(Lesson.id == lesson_id, Lesson.record_reminded_at.is_(None))
        .values(record_reminded_at=now))
    return result.rowcount > 0


# ---- the record


async def add_files(session: AsyncSession, lesson_id: int, kind: str, now: dt.datetime, *,
                    media_names: list[str] = (), url: str | None = None,
                    title: str | None = None) -> None:
    """Photos or sign-in sheets (one row per media name), or one link."""
    if url is not None:
        session.add(LessonFile(lesson_id=lesson_id, kind=kind, url=url, title=title, added_at=now))
    for name in media_names:
        session.add(LessonFile(lesson_id=lesson_id, kind=kind, media_name=name, title=title,
                               added_at=now))
    await session.flush()


async def set_fields(session: AsyncSession, lesson_id: int, **values) -> None:
    """headcount=, summary=: what the organiser wrote, replacing what was there."""
    await session.execute(sa.update(Lesson).where(Lesson.id == lesson_id).values(**values))


@dataclass(frozen=True)
class RecordState:
    photos: int
    signin_sheets: int
    documents: int
    links: int
    headcount: int | None
    summary: str | None
    attended: int  # members who checked in with the code

    @property
    def missing(self) -> list[str]:
        """What the record still needs: "photo", "material" (a document or a link),
        "summary", "signin" (a sheet or check-ins). Issue 17: complete only once photos,
        materials and the summary are in."""
        out = []
        if not self.photos:
            out.append("photo")
        if not (self.documents or self.links):
            out.append("material")
        if not self.summary:
            out.append("summary")
        if not (self.signin_sheets or self.attended):
            out.append("signin")
        return out

    @property
    def complete(self) -> bool:
        return not self.missing


async def record_state(session: AsyncSession, lesson_id: int) -> RecordState:
    """Counted from the database (not from a loaded lesson, which may be stale)."""
    counts = dict((await session.execute(
        sa.select(LessonFile.kind, sa.func.count()).where(LessonFile.lesson_id == lesson_id)
        .group_by(LessonFile.kind))).all())
    headcount, summary = (await session.execute(
        sa.select(Lesson.headcount, Lesson.summary).where(Lesson.id == lesson_id))).one()
    return RecordState(photos=counts.get(PHOTO, 0), signin_sheets=counts.get(SIGNIN, 0),
                       documents=counts.get(DOCUMENT, 0), links=counts.get(LINK, 0),
                       headcount=headcount, summary=summary,
                       attended=await attendance_count(session, lesson_id))


async def settle_completion(session: AsyncSession, lesson_id: int,
                            now: dt.datetime) -> tuple[RecordState, bool]:
    """The record's state; marks the lesson complete the first time it is. (state, whether
    it became complete just now)."""
    state = await record_state(session, lesson_id)
    if not state.complete:
        return state, False
    result = await session.execute(
        sa.update(Lesson).where(Lesson.id == lesson_id, Lesson.completed_at.is_(None))
        .values(completed_at=now))
    return state, result.rowcount > 0
