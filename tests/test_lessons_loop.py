"""红盾课堂 end to end, as a branch lives a lesson: the secretary plans it, the audience
hears of it, the organiser shows the code, members check in (one with a wrong code, one
too late), the organiser completes the record, a quiz on the lesson is answered and
ranked, and a member records the education they gave in their zone. On SQLite and
PostgreSQL (the `db` fixture)."""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from handlers.lessons.questions import import_questions
from storage.models import EduRecord, Lesson, LessonAttendance, StarEntry
from tests import factories as f
from tests.test_quiz import BANK, key, reply

SH = ZoneInfo("Asia/Shanghai")


def sh(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH).astimezone(dt.UTC)


@pytest.fixture
async def site(db, clock):
    """One project: the secretary, two Party members (张三 owns 施工现场A区), a worker of the
    钢筋班 with an account; the question bank of tests/test_quiz.py."""
    ids = {}
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1", name="江湾项目")
        zone = await f.zone(s, p, "施工现场A区")
        for key_, name, roles, crew, uid in (("secretary", "王书记", ("member", "secretary"), None, "sec"),
                                            ("zhang", "张三", ("member",), None, "zhang"),
                                            ("li", "李四", ("member",), None, "li"),
                                            ("ma", "马强", ("worker",), "钢筋班", "ma")):
            m = await f.member(s, p, name, roles=roles, crew=crew,
                               zones=[zone] if key_ == "zhang" else [])
            await f.bind(s, m, external_id=uid)
            ids[key_] = m.id
        await import_questions(s, BANK.encode(), "bank.toml", clock.now)
    return ids


async def test_a_lesson_from_its_plan_to_its_quiz_and_a_zone_talk(chat, app, clock, db, site):
    clock.now = sh(2026, 11, 23, 9, 0)  # Monday
    secretary, zhang, li, ma = (chat.user(u) for u in ("sec", "zhang", "li", "ma"))

    # planned: tomorrow 14:00, one hour, for everyone, organised by 张三
    await secretary.say("/lesson")
    for typed in ("高处作业防坠落", "党课", "明天", "14:00", "1 小时", "项目部会议室", "全体"):
        said = await (secretary.tap(typed) if typed in secretary.last.buttons else secretary.say(typed))
    said = await secretary.say("张三")
    if "请确认红盾课堂" not in said:
        said = await secretary.tap("张三")
    assert "请确认红盾课堂" in said and "组织人：张三" in said
    await secretary.tap("确认发布")
    announced = chat.notices(site["ma"])
    assert "《高处作业防坠落》（党课）" in announced and "项目部会议室" in announced
    [lesson] = await rows(db, Lesson)

    # the lesson starts: the organiser shows the code, members send it
    clock.now = sh(2026, 11, 24, 13, 55)
    shown = await zhang.say(f"/lessoncode {lesson.id}")
    code = re.search(r"签到码：([A-Z0-9]+)", shown.text).group(1)
    assert len(code) >= 6 and code not in announced.text  # never in the announcement (RULINGS 12)
    assert "签到码不对" in await ma.say("/checkin ZZZZZZ")
    assert "签到成功" in await ma.say(f"/checkin {code.lower()[:3]}-{code.lower()[3:]}")
    assert "已签到" in await ma.say(f"/checkin {code}")
    clock.now = sh(2026, 11, 24, 15, 45)  # the hour's lesson ended 15:00; the window closed 15:30
    assert "签到已结束" in await li.say(f"/checkin {code}")
    assert [a.member_id for a in await rows(db, LessonAttendance)] == [site["ma"]]

    # the record: photos, the paper sheet with its headcount, the summary
    await zhang.say(f"课堂记录 {lesson.id}")
    await zhang.tap("📷 照片")
    await zhang.photo()
    await zhang.say("完成")
    await zhang.tap("🧾 签到表")
    await zhang.photo()
    await zhang.say("完成")
    await zhang.say("28")
    await zhang.tap("📎 资料")
    await zhang.say("课件：https://pan.example.com/s/fall-arrest")
    await zhang.tap("📝 小结")
    said = await zhang.say("讲解安全带高挂低用\n现场演示，28 人参加")
    assert "课堂记录已完整" in said
    await zhang.tap("✅ 完成")
    [lesson] = await rows(db, Lesson)
    assert lesson.completed_at is not None and lesson.headcount == 28

    # a quiz on the lesson, answered by tapping, ranked
    await secretary.say("/quiz new")
    await secretary.say("高处作业小测")
    await secretary.tap("高处作业（3 题）")
    await secretary.tap("5 题")
    said = await secretary.tap(next(b for b in secretary.last.buttons if "高处作业防坠落" in b))
    assert "✅ 已发布答题" in said
    bank = await key(db)
    said = await ma.say("/quiz")
    if not said.choices.prompt.startswith("第 1/"):
        said = await ma.tap(next(b for b in said.buttons if b.startswith("答题 #")))
    for right in (True, True, False):
        said = await reply(ma, said, bank, right=right)
    assert "🏁 答题结束：得分 2/3" in said and "1. 马强 2/3" in said
    assert "已经答过" in await ma.say("/quiz 1")
    async with db.sessions() as s:  # the worker's score became 行为安全之星 points
        assert (await s.execute(sa.select(StarEntry.points).where(StarEntry.reason == "quiz"))).scalar() == 2

    # 张三 records a 谈心谈话 in his zone: who talked with how many and the topic, no more
    await zhang.say("/edu")
    await zhang.tap("谈心谈话")
    await zhang.say("冬季施工注意防滑")
    await zhang.tap("钢筋班")
    await zhang.tap("2")
    said = await zhang.tap("今天")
    assert "✅ 已记录" in said and "谈心谈话" in said and "施工现场A区" in said
    [talk] = await rows(db, EduRecord)
    assert (talk.kind, talk.crew, talk.headcount, talk.photo) == ("谈心谈话", "钢筋班", 2, None)
    assert "本月责任区教育 1 次" in await zhang.say("/me")
    lessons = await secretary.say("/lessons")
    assert "高处作业防坠落" in lessons


async def rows(db, model):
    async with db.sessions() as s:
        return list((await s.execute(sa.select(model))).scalars())
