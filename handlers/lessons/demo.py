"""红盾课堂 for the console demo, after the directory's and the stars' demo data: the
question bank (questions_demo.toml), three past lessons of the last five weeks with
check-ins, headcounts and records (the latest one's record left incomplete, so the
organiser's reminder has something to say), one lesson next week, this month's
安全知识竞赛 with finished attempts, and a month of 责任区教育 by the members who own
the zones. Made from a fixed seed: the same demo every time for one day."""
from __future__ import annotations

import datetime as dt
import io
import logging
import random
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from bot.core.registry import Registry
from handlers.directory import UNBOUND
from handlers.directory.importer import ImportProblems
from storage import lessons as lesson_store
from storage.directory import project_by_code
from storage.media import MediaStore
from storage.models import (
    EduRecord,
    Lesson,
    LessonAttendance,
    LessonFile,
    Member,
    Question,
    Quiz,
    QuizAttempt,
)

log = logging.getLogger("redshield.lessons")

PROJECT = "DEMO-01"  # handlers/directory/demo.toml
SEED = 17
QUESTIONS_FILE = Path(__file__).with_name("questions_demo.toml")
SECRETARY = "王红梅"
QUIZ_QUESTIONS = 10
ABSENT_SHARE = 0.2  # of a lesson's audience with an account, about this many did not come

# Past lessons: (days ago, start, minutes, form, title, organiser, place, audience, headcount
# on the paper sheet, summary and material link (url, title), or None for a record not
# finished yet). A record is complete only with a material (issue 17), so each finished
# one has its link.
PAST = (
    (26, dt.time(14, 30), 90, "党课", "冬季施工安全", "王红梅", "项目部会议室", lesson_store.MANAGERS,
     14, "结合近期冬季施工事故案例，讲解防冻、防滑、防火、防中毒要点。\n"
         "各责任区党员认领冬季施工检查重点，每周巡查时对照落实。",
     ("https://pan.example.com/s/winter-safety", "冬季施工安全课件")),
    (12, dt.time(9, 0), 90, "安全培训", "临时用电三级配电", "李建国", "工人生活区活动室",
     lesson_store.ALL, 46, "讲解三级配电、两级保护和“一机一闸一漏一箱”，现场演示漏电保护器试跳。\n"
                           "电工班、木工班代表上台操作，发放临时用电安全口袋书 40 本。",
     ("https://pan.example.com/s/temp-power", "临时用电三级配电演示视频")),
    (2, dt.time(19, 0), 60, "小品", "安全帽的故事", "张伟", "工人生活区", lesson_store.WORKERS,
     58, None, None),
)
# Next week: (weekday, start, minutes, form, title, organiser, place, audience).
UPCOMING = (2, dt.time(14, 30), 90, "主题党日", "责任区安全经验交流", "王红梅", "项目部会议室",
            lesson_store.ALL)

# Who tried this month's competition, with the share of answers they get right.
CONTESTANTS = {"李建国": 0.95, "张伟": 0.8, "刘洋": 0.7, "马强": 0.75, "周小兵": 0.6}

# A month of 责任区教育: (member, zone, kind, topic, 班组, headcount, days ago).
EDUCATION = (
    ("王红梅", "项目办公区", "专题培训", "办公区消防器材使用", None, 9, 0),
    ("李建国", "施工现场A区", "班前讲话", "高处作业系挂安全带", "架子班", 12, 1),
    ("张伟", "施工现场A区", "晨会", "冬季防滑防冻", "钢筋班", 18, 3),
    ("刘洋", "工人生活区", "晨会", "宿舍用电安全", "木工班", 15, 5),
    ("陈静", "工人生活区", "谈心谈话", "节后返岗安全提醒", "电工班", 2, 6),
    ("李建国", "施工现场A区", "专题培训", "临边洞口防护", "架子班", 24, 8),
    ("张伟", "施工现场A区", "班前讲话", "钢筋吊装指挥信号", "钢筋班", 10, 10),
    ("王红梅", "项目办公区", "谈心谈话", "安全情绪疏导", "木工班", 1, 13),
    ("陈静", "项目办公区", "晨会", "办公区用电与防火", None, 8, 16),
    ("刘洋", "工人生活区", "专题培训", "生活区防火与疏散", "电工班", 30, 20),
    ("李建国", "施工现场A区", "晨会", "塔吊作业区域警戒", "钢筋班", 16, 24),
    ("张伟", "施工现场A区", "谈心谈话", "连续夜班后的疲劳作业风险", "架子班", 1, 27),
)


def register(registry: Registry) -> None:
    registry.demo(demo_lessons)


def _at(day: dt.date, time: dt.time, tz) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(dt.UTC)


def _working_day(day: dt.date) -> dt.date:
    """Sites work Monday to Saturday: a Sunday is moved to the Saturday before."""
    return day - dt.timedelta(days=1) if day.weekday() == 6 else day


def _picture(colour: str, label: str) -> bytes:
    """A small stand-in photo, so a record's photos open in the console like real ones
    (`label` in ASCII: the default font has no Chinese)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 320), colour)
    ImageDraw.Draw(image).text((24, 24), label, fill="white")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


async def load_questions(session, now: dt.datetime) -> int:
    """The demo question bank, if its file is there and reads cleanly: questions added."""
    from handlers.lessons.questions import import_questions

    try:
        data = QUESTIONS_FILE.read_bytes()
    except OSError:
        return 0
    try:
        added, _ = await import_questions(session, data, QUESTIONS_FILE.name, now)
    except ImportProblems as problems:  # a broken demo file leaves the demo without a bank
        log.warning("demo questions not loaded: %s", problems)
        return 0
    return added


async def demo_lessons(session, now: dt.datetime, config) -> None:
    project = await project_by_code(session, PROJECT)
    if project is None:
        return None
    members = {m.name: m for m in (await session.execute(
        sa.select(Member).where(Member.project_id == project.id)
        .options(selectinload(Member.roles), selectinload(Member.zones)))).scalars()}
    tz, rng = config.tz, random.Random(SEED)
    today = now.astimezone(tz).date()
    await load_questions(session, now)
    await _lessons(session, project.id, members, now, today, tz, rng, config)
    await _competition(session, project.id, members, now, today, tz, rng, config)
    _education(session, project.id, members, now, today, tz)
    await session.flush()
    return None


async def _lessons(session, project_id, members, now, today, tz, rng, config) -> None:
    media = MediaStore(config.media.dir)
    secretary = members.get(SECRETARY)
    for (ago, start, minutes, form, title, organiser, place, audience, headcount, summary,
         material) in PAST:
        begins = _at(_working_day(today - dt.timedelta(days=ago)), start, tz)
        ends = begins + dt.timedelta(minutes=minutes)
        who = members.get(organiser) or secretary
        lesson = Lesson(project_id=project_id, title=title, form=form, starts_at=begins, ends_at=ends,
                        place=place, audience=audience, crews=[],
                        organiser_id=who.id if who else None,
                        planned_by_id=secretary.id if secretary else None, headcount=headcount,
                        summary=summary, reminded_at=begins - dt.timedelta(hours=1),
                        created_at=begins - dt.timedelta(days=7))
        session.add(lesson)
        await session.flush()
        came = [m for m in await lesson_store.audience_members(session, lesson)
                if m.name != UNBOUND and rng.random() >= ABSENT_SHARE]
        session.add_all(LessonAttendance(lesson_id=lesson.id, member_id=m.id,
                                         checked_in_at=begins + dt.timedelta(minutes=rng.randrange(-10, 12)))
                        for m in came)
        # The latest: its organiser has yet to add photos, a material and the summary.
        if summary is None:
            continue
        done = min(ends + dt.timedelta(hours=20), now)
        session.add_all([
            LessonFile(lesson_id=lesson.id, kind="photo", added_at=done,
                       media_name=await media.save(_picture("#b71c1c", f"lesson {lesson.id}"), ".jpg")),
            LessonFile(lesson_id=lesson.id, kind="signin", added_at=done,
                       media_name=await media.save(_picture("#455a64", f"sign-in {headcount}"), ".jpg")),
            LessonFile(lesson_id=lesson.id, kind="link", added_at=done, url=material[0],
                       title=material[1]),
        ])
        lesson.completed_at = done
    weekday, start, minutes, form, title, organiser, place, audience = UPCOMING
    monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=7)
    begins = _at(monday + dt.timedelta(days=weekday), start, tz)
    who = members.get(organiser) or secretary
    session.add(Lesson(project_id=project_id, title=title, form=form, starts_at=begins,
                       ends_at=begins + dt.timedelta(minutes=minutes), place=place,
                       audience=audience, crews=[], organiser_id=who.id if who else None,
                       planned_by_id=secretary.id if secretary else None,
                       created_at=min(now, begins) - dt.timedelta(days=1)))


async def _competition(session, project_id, members, now, today, tz, rng, config) -> None:
    """This month's 安全知识竞赛, open all month, and the attempts finished so far."""
    bank = list((await session.execute(
        sa.select(Question).where(Question.active.is_(True)).order_by(Question.id))).scalars())
    first = today.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    opened = _at(first, dt.time(0), tz)
    secretary = members.get(SECRETARY)
    count = min(QUIZ_QUESTIONS, len(bank)) or QUIZ_QUESTIONS
    quiz = Quiz(project_id=project_id, title=f"{first.month}月安全知识竞赛", category=None,
                question_count=count, attempts=config.lessons.quiz_attempts, opens_on=first,
                closes_on=last, created_by_id=secretary.id if secretary else None,
                created_at=opened - dt.timedelta(days=1))
    session.add(quiz)
    await session.flush()
    if len(bank) < count:  # no bank to draw from: the competition is there, untried
        return
    span = max((now - opened).total_seconds(), 60.0)
    for name, skill in CONTESTANTS.items():
        member = members.get(name)
        if member is None:
            continue
        drawn = rng.sample(bank, count)
        answers = []
        for q in drawn:
            right = rng.random() < skill
            answers.append(q.answer if right else rng.choice(
                [i for i in range(len(q.options)) if i != q.answer]))
        started = opened + dt.timedelta(seconds=rng.uniform(0, span * 0.9))
        finished = min(started + dt.timedelta(seconds=rng.randrange(150, 480)), now)
        session.add(QuizAttempt(
            quiz_id=quiz.id, member_id=member.id, question_ids=[q.id for q in drawn],
            answers=answers, score=sum(a == q.answer for a, q in zip(answers, drawn)),
            started_at=min(started, finished), finished_at=finished))


def _education(session, project_id, members, now, today, tz) -> None:
    for name, zone_name, kind, topic, crew, headcount, ago in EDUCATION:
        member = members.get(name)
        zone = next((z for z in member.zones if z.name == zone_name), None) if member else None
        if zone is None:  # the directory changed: only a zone's own members record there
            continue
        day = _working_day(today - dt.timedelta(days=ago))
        session.add(EduRecord(project_id=project_id, zone_id=zone.id, member_id=member.id,
                              kind=kind, topic=topic, crew=crew, headcount=headcount, photo=None,
                              day=day, recorded_at=min(_at(day, dt.time(18, 0), tz), now)))
