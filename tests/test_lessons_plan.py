"""红盾课堂 planning (/lesson), who hears of a lesson (RULINGS 13), the reminder before it,
cancelling it, /lessons in a private chat and in a group, and `redshield lessons`."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.bootstrap import bootstrap, load_plugins
from bot.core.registry import CliError, Registry
from handlers.lessons import plan
from storage import lessons as store
from storage.models import Lesson, LessonAttendance, LessonFile, Member
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")  # the tests' clock: Mon 2026-11-23 10:00 here


def sh(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH).astimezone(dt.UTC)


ANNOUNCED = ("📚 红盾课堂：《高处作业防坠落》（党课）\n周二 11-24 14:00–15:00 · 项目部三楼会议室\n"
             "组织人：王书记\n到场后发送组织人出示的签到码即可签到。")


@pytest.fixture
async def site(db) -> dict[str, int]:
    """P1 (zones 施工现场A区, 生活区). Managers: 王书记 (secretary) u1, 张三 u2, 李安监 u3,
    孙工会 (no account). Workers: 赵强 (assignee, 钢筋班) u4, 马强 (钢筋班) u5, 周小兵 (架子班) u6,
    何立新 (电工班, no account). 陈党员 (member and assignee) u8: a worker by RULINGS 13.
    旧人 u7 left (inactive). P2: 外人 u9."""
    ids = {}
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1", name="江湾项目")
        await f.zone(s, p, "施工现场A区")
        await f.zone(s, p, "生活区", kind="生活区")
        for name, roles, crew, uid, extra in (
                ("王书记", ("member", "secretary"), None, "u1", {}),
                ("张三", ("member",), None, "u2", {}),
                ("李安监", ("member", "safety_officer"), None, "u3", {}),
                ("孙工会", ("union",), None, None, {}),
                ("赵强", ("assignee",), "钢筋班", "u4", {}),
                ("马强", ("worker",), "钢筋班", "u5", {}),
                ("周小兵", ("worker",), "架子班", "u6", {}),
                ("何立新", ("worker",), "电工班", None, {}),
                ("旧人", ("member",), None, "u7", {"active": False}),
                ("陈党员", ("member", "assignee"), None, "u8", {})):
            m = await f.member(s, p, name, roles=roles, crew=crew, **extra)
            if uid:
                await f.bind(s, m, external_id=uid)
            ids[name] = m.id
        other = await f.project(s, code="P2", name="别的项目")
        stranger = await f.member(s, other, "外人", roles=("member", "secretary"))
        await f.bind(s, stranger, external_id="u9")
        ids["外人"], ids["P1"] = stranger.id, p.id
    return ids


async def answer(user, value: str):
    """Tap the button with this label if the last question has one, else type it."""
    if value in user.last.buttons:
        return await user.tap(value)
    return await user.say(value)


async def plan_until_confirm(user, *, title="高处作业防坠落", form="党课", day="明天", start="14:00",
                             duration="1 小时", place="项目部三楼会议室", audience="管理人员",
                             crews=(), organiser="我自己"):
    """Answer /lesson up to its confirm question; that reply."""
    said = await user.say("/lesson")
    assert "课堂主题" in said
    for value in (title, form, day, start, duration, place, audience):
        said = await answer(user, value)
    if audience == "选择班组":
        for crew in crews:
            said = await answer(user, crew)
        said = await user.tap("完成")
    said = await answer(user, organiser)
    assert "请确认红盾课堂" in said, said
    return said


async def lessons_in(db) -> list[Lesson]:
    async with db.sessions() as s:
        return list((await s.execute(sa.select(Lesson).order_by(Lesson.id))).scalars())


def told(chat, site, *names) -> dict[str, str]:
    """What each named member was sent unprompted (and clear it)."""
    return {n: chat.notices(site[n]).text for n in names}


# ---- planning


async def test_planned_by_taps_the_managers_hear_of_it(chat, db, site):
    secretary = chat.user("u1")
    confirm = await plan_until_confirm(secretary)
    assert confirm.text.splitlines() == [
        "请确认红盾课堂：", "《高处作业防坠落》（党课）", "周二 11-24 14:00–15:00", "地点：项目部三楼会议室",
        "听众：管理人员（4 人，1 人收不到消息）", "组织人：王书记"]
    assert confirm.buttons == ["确认发布", "取消"]
    assert await lessons_in(db) == []  # nothing saved before the confirmation

    done = await secretary.tap("确认发布")
    assert "✅ 已发布红盾课堂 #1：《高处作业防坠落》，周二 11-24 14:00–15:00。" in done
    assert "已通知 3 人。" in done and "另有 1 人收不到消息" in done
    assert "开始时发送“签到码 1”查看签到码" in done  # the planner organises it
    [lesson] = await lessons_in(db)
    assert (lesson.title, lesson.form, lesson.place, lesson.audience, lesson.crews) == (
        "高处作业防坠落", "党课", "项目部三楼会议室", "managers", [])
    assert lesson.starts_at == sh(2026, 11, 24, 14, 0) == dt.datetime(2026, 11, 24, 6, tzinfo=dt.UTC)
    assert lesson.ends_at == sh(2026, 11, 24, 15, 0)
    assert lesson.organiser_id == lesson.planned_by_id == site["王书记"]
    assert lesson.cancelled_at is None and lesson.reminded_at is None

    heard = told(chat, site, "王书记", "张三", "李安监", "赵强", "马强", "周小兵", "陈党员", "旧人", "外人")
    assert heard["张三"] == heard["李安监"] == heard["王书记"] == ANNOUNCED
    # Workers, assignees (a Party member who is one too: RULINGS 13), the inactive and
    # another project hear nothing.
    assert [n for n, text in heard.items() if text] == ["王书记", "张三", "李安监"]


async def test_the_announcement_carries_no_check_in_code(chat, db, site):
    secretary = chat.user("u1")
    await plan_until_confirm(secretary)
    await secretary.tap("确认发布")
    async with db.sessions() as s, s.begin():
        lesson = (await s.execute(sa.select(Lesson))).scalar_one()
        lesson.checkin_code = "K7MQX4"  # whenever the organiser shows one, the notice had none
    text = chat.notices(site["张三"]).text
    assert "K7MQX4" not in text and "/checkin" not in text and "t.me" not in text
    assert "签到码" in text  # it says how check-in works, not what the code is


async def test_typed_answers_and_what_is_refused(chat, db, site):
    secretary = chat.user("u1")
    await secretary.say("/lesson")
    assert "主题至少 2 个字" in await secretary.say("安")
    assert "太长了" in await secretary.say("安" * 101)
    assert "课堂形式" in await secretary.say("冬季施工用电安全")
    said = await secretary.say("小品")  # a typed label is the tap
    assert "哪天上课" in said and said.buttons == ["今天", "明天", "后天", "取消"]
    assert "不能安排在过去的日期" in await secretary.say("昨天")
    assert "没看懂这个日期" in await secretary.say("找个时间")
    assert "只能安排 90 天内的课堂" in await secretary.say("2027-06-01")
    said = await secretary.tap("今天")
    assert said.buttons == ["12:30", "14:00", "19:00", "取消"]  # 08:00 is past
    assert "09:30 已经过了" in await secretary.say("9:30")
    assert "没看懂这个时间" in await secretary.say("25点")
    said = await secretary.say("下午3点")
    assert "多长时间" in said
    assert "请点按钮，或输入 10–600 分钟" in await secretary.say("5分钟")
    said = await secretary.say("45分钟")
    assert "在哪里上课" in said and said.buttons == ["施工现场A区", "生活区", "取消"]
    assert "地点至少 2 个字" in await secretary.say("A")
    assert "听众是谁" in await secretary.tap("生活区")
    said = await secretary.tap("全体")
    assert "谁组织这次课堂" in said
    said = await secretary.say("张 三")  # spaces ignored
    assert "组织人：张三" in said and "听众：全体（9 人，2 人收不到消息）" in said
    done = await secretary.tap("确认发布")
    assert "已通知 7 人。" in done and "另有 2 人收不到消息" in done
    assert "已通知组织人 张三。" in done and "签到码 1" not in done

    [lesson] = await lessons_in(db)
    assert (lesson.title, lesson.form, lesson.place, lesson.audience) == (
        "冬季施工用电安全", "小品", "生活区", "all")
    assert (lesson.starts_at, lesson.ends_at) == (sh(2026, 11, 23, 15, 0), sh(2026, 11, 23, 15, 45))
    assert lesson.organiser_id == site["张三"]
    heard = told(chat, site, "张三", "马强", "陈党员", "旧人", "外人")
    assert "请您组织红盾课堂 #1：《冬季施工用电安全》" in heard["张三"]
    assert "开始时发送“签到码 1”查看签到码" in heard["张三"]
    assert "📚 红盾课堂：《冬季施工用电安全》（小品）\n周一 11-23 15:00–15:45 · 生活区" in heard["张三"]
    assert heard["马强"].startswith("📚 红盾课堂：《冬季施工用电安全》") and heard["陈党员"]
    assert heard["旧人"] == heard["外人"] == ""


async def test_workers_are_the_labour_crews_and_assignees(chat, db, site):
    secretary = chat.user("u1")
    said = await plan_until_confirm(secretary, audience="劳务班组", form="安全培训")
    assert "听众：劳务班组（5 人，1 人收不到消息）" in said
    assert "已通知 4 人。" in await secretary.tap("确认发布")
    heard = told(chat, site, "王书记", "张三", "李安监", "赵强", "马强", "周小兵", "陈党员")
    # The planner organises it but is not in the audience: nothing unprompted for them.
    assert [n for n, text in heard.items() if text] == ["赵强", "马强", "周小兵", "陈党员"]
    assert heard["马强"].startswith("📚 红盾课堂：《高处作业防坠落》（安全培训）")


async def test_crews_are_tapped_several_and_untapped(chat, db, site):
    secretary = chat.user("u1")
    await secretary.say("/lesson")
    for value in ("班组安全交底", "学习会", "明天", "19:00", "2 小时", "工人生活区夜校", "选择班组"):
        said = await answer(secretary, value)
    assert "选择班组（可多选）" in said
    assert "请至少选择一个班组" in await secretary.tap("完成")
    await secretary.tap("架子班")
    said = await secretary.tap("钢筋班")
    assert "已选：架子班、钢筋班" in said and "✅ 钢筋班" in said.buttons
    said = await secretary.tap("✅ 架子班")  # tapped again: out
    assert "已选：钢筋班" in said and "架子班" in said.buttons
    await secretary.tap("完成")
    said = await secretary.tap("我自己")
    assert "听众：钢筋班（2 人）" in said
    assert "已通知 2 人。" in await secretary.tap("确认发布")
    [lesson] = await lessons_in(db)
    assert (lesson.audience, lesson.crews) == ("crews", ["钢筋班"])
    heard = told(chat, site, "王书记", "张三", "赵强", "马强", "周小兵")
    assert [n for n, text in heard.items() if text] == ["赵强", "马强"]


async def test_no_crew_in_the_directory_means_choose_another_audience(chat, db):
    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        await f.bind(s, await f.member(s, p, "王书记", roles=("secretary",)), external_id="u1")
    secretary = chat.user("u1")
    await secretary.say("/lesson")
    for value in ("消防安全", "党课", "明天", "14:00", "1 小时", "会议室"):
        await answer(secretary, value)
    said = await secretary.tap("选择班组")
    assert "名册里还没有班组" in said and "听众是谁" in said


async def test_an_organiser_typed_by_a_part_of_the_name(chat, db, site):
    secretary = chat.user("u1")
    await plan_until_confirm(secretary)
    await secretary.tap("确认发布")  # lesson #1; the one below is #2
    chat.notices(site["王书记"])
    await secretary.say("/lesson")
    for value in ("基坑安全", "视频", "后天", "08:00", "30 分钟", "项目部会议室", "管理人员"):
        said = await answer(secretary, value)
    said = await secretary.say("不存在的人")
    assert "本项目没有“不存在的人”，请重新输入组织人的姓名" in said
    said = await secretary.say("李")
    assert "本项目没有“李”。您是指 李安监 吗？" in said and "李安监" in said.buttons
    assert "外人" not in said  # another project's people are never offered
    said = await secretary.tap("李安监")
    assert "组织人：李安监" in said
    done = await secretary.tap("确认发布")
    assert "已通知组织人 李安监。" in done
    organiser = chat.notices(site["李安监"]).text
    assert "王书记 请您组织红盾课堂 #2：《基坑安全》" in organiser
    assert "开始时发送“签到码 2”查看签到码" in organiser


async def test_only_the_secretary_plans(chat, site):
    said = await chat.user("u5").say("/lesson")
    assert "红盾课堂由党支部书记安排" in said
    said = await chat.user("u2").say("红盾课堂")
    assert "红盾课堂由党支部书记安排" in said
    said = await chat.user("u1", chat_id="g1", group=True).say("/lesson")
    assert "此功能请在与我的私聊中使用" in said


async def test_a_start_that_passed_while_confirming_is_asked_again(chat, db, clock, site):
    secretary = chat.user("u1")
    await plan_until_confirm(secretary, day="今天", start="10:15")
    clock.advance(minutes=20)  # within the dialog's 30 minutes
    said = await secretary.tap("确认发布")
    assert "开始时间已经过了" in said and "哪天上课" in said
    assert await lessons_in(db) == []
    said = await secretary.tap("明天")
    assert "周二 11-24 几点开始" in said


# ---- the reminder


async def run(app, clock, at: dt.datetime) -> int:
    clock.now = at
    return await app.scheduler.run_once(plan.REMINDER_JOB, app.scheduler.jobs[plan.REMINDER_JOB].work)


async def test_the_audience_is_reminded_once(app, chat, clock, db, site):
    secretary = chat.user("u1")
    await plan_until_confirm(secretary, organiser="张三")
    await secretary.tap("确认发布")
    for name in ("王书记", "张三", "李安监"):
        chat.notices(site[name])
    assert await run(app, clock, sh(2026, 11, 24, 12, 55)) == 0  # 65 minutes before
    assert await run(app, clock, sh(2026, 11, 24, 13, 5)) == 3
    heard = told(chat, site, "王书记", "张三", "李安监", "马强")
    assert heard["李安监"] == "⏰ 14:00 红盾课堂《高处作业防坠落》，地点：项目部三楼会议室。"
    assert heard["王书记"] == heard["李安监"]
    assert heard["张三"].startswith(heard["李安监"]) and "您是组织人" in heard["张三"]
    assert "签到码 1" in heard["张三"] and heard["马强"] == ""
    assert await run(app, clock, sh(2026, 11, 24, 13, 10)) == 0  # once
    assert told(chat, site, "李安监")["李安监"] == ""
    [lesson] = await lessons_in(db)
    assert lesson.reminded_at == sh(2026, 11, 24, 13, 5)


async def test_a_reminder_before_midnight_names_the_day(app, chat, clock, db, site):
    secretary = chat.user("u1")
    await plan_until_confirm(secretary, start="00:30")  # Tuesday 00:30
    await secretary.tap("确认发布")
    chat.notices(site["李安监"])
    assert await run(app, clock, sh(2026, 11, 23, 23, 35)) == 3  # Monday evening
    assert told(chat, site, "李安监")["李安监"] == \
        "⏰ 11-24 00:30 红盾课堂《高处作业防坠落》，地点：项目部三楼会议室。"


async def test_a_lesson_soon_is_not_reminded_after_its_announcement(app, chat, clock, db, site):
    secretary = chat.user("u1")
    await plan_until_confirm(secretary, day="今天", start="10:30")
    await secretary.tap("确认发布")
    assert await run(app, clock, sh(2026, 11, 23, 10, 5)) == 0
    [lesson] = await lessons_in(db)
    assert lesson.reminded_at is not None


# ---- cancelling


async def test_the_organiser_cancels_and_the_audience_is_told(app, chat, clock, db, site):
    secretary = chat.user("u1")
    await plan_until_confirm(secretary, organiser="张三")
    await secretary.tap("确认发布")
    for name in ("王书记", "张三", "李安监"):
        chat.notices(site[name])
    assert "只能由安排人或组织人取消" in await chat.user("u3").say("/lesson cancel 1")
    assert "本项目没有这个课堂" in await chat.user("u9").say("/lesson cancel 1")
    assert "本项目没有这个课堂" in await chat.user("u2").say("/lesson cancel 99")
    assert "本项目没有这个课堂" in await chat.user("u2").say("/lesson cancel abc")
    said = await chat.user("u2").say("/lesson cancel 1")
    assert "已取消红盾课堂 #1《高处作业防坠落》，已通知 2 人。" in said
    [lesson] = await lessons_in(db)
    assert lesson.cancelled_at == clock.now
    heard = told(chat, site, "王书记", "张三", "李安监", "马强")
    assert heard["李安监"] == "❌ 红盾课堂《高处作业防坠落》（周二 11-24 14:00）已取消。"
    assert heard["王书记"] == heard["李安监"] and heard["张三"] == heard["马强"] == ""
    assert "已经取消过了" in await secretary.say("/lesson cancel 1")
    assert await run(app, clock, sh(2026, 11, 24, 13, 5)) == 0  # no reminder for it


async def test_a_lesson_over_is_not_cancelled(chat, clock, db, site):
    secretary = chat.user("u1")
    await plan_until_confirm(secretary)
    await secretary.tap("确认发布")
    clock.now = sh(2026, 11, 24, 15, 1)
    assert "已经结束，不能取消" in await secretary.say("红盾课堂 取消 1")


# ---- who is in an audience (RULINGS 13), on the database


async def test_audience_members_by_audience(db, site):
    def lesson(audience, crews=()):
        return Lesson(project_id=site["P1"], audience=audience, crews=list(crews))

    async with db.sessions() as s:
        async def names(audience, crews=()):
            return {m.name for m in await store.audience_members(s, lesson(audience, crews))}

        assert await names("managers") == {"王书记", "张三", "李安监", "孙工会"}
        assert await names("workers") == {"赵强", "马强", "周小兵", "何立新", "陈党员"}
        assert await names("all") == await names("managers") | await names("workers")
        assert await names("crews", ["钢筋班", "电工班"]) == {"赵强", "马强", "何立新"}
        assert await names("crews", []) == set()
        assert await store.in_audience(s, lesson("workers"), site["陈党员"])
        assert not await store.in_audience(s, lesson("managers"), site["陈党员"])
        assert not await store.in_audience(s, lesson("all"), site["外人"])


# ---- /lessons


@pytest.fixture
async def lessons(db, site) -> dict[str, int]:
    """Past: a complete 党课 for managers on 11-20 (王书记, 张三 checked in; 25 on paper, files),
    a 小品 for workers on 11-10 (马强 checked in; record not complete), last year's lesson
    (张三), a cancelled one. Coming: today 15:00 for workers, 11-30 for 钢筋班 (with a code)."""
    ids = {}
    async with db.sessions() as s, s.begin():
        def add(title, form, start, minutes, audience, crews=(), **extra):
            lesson = Lesson(project_id=site["P1"], title=title, form=form, starts_at=start,
                            ends_at=start + dt.timedelta(minutes=minutes), place=extra.pop("place", "会议室"),
                            audience=audience, crews=list(crews), organiser_id=site["王书记"],
                            planned_by_id=site["王书记"], created_at=sh(2026, 11, 1, 9, 0), **extra)
            s.add(lesson)
            return lesson

        party = add("高处作业防坠落", "党课", sh(2026, 11, 20, 14, 0), 60, "managers", headcount=25,
                    summary="讲了安全带的挂法。\n看了事故视频。", completed_at=sh(2026, 11, 20, 16, 0))
        sketch = add("安全帽的故事", "小品", sh(2026, 11, 10, 19, 0), 30, "workers")
        old = add("去年的课", "党课", sh(2025, 12, 10, 14, 0), 60, "all")
        add("取消的课", "学习会", sh(2026, 11, 21, 14, 0), 60, "all", cancelled_at=sh(2026, 11, 20, 9, 0))
        soon = add("冬季用电", "安全培训", sh(2026, 11, 23, 15, 0), 60, "workers", place="生活区")
        crew = add("钢筋绑扎安全", "视频", sh(2026, 11, 30, 8, 0), 30, "crews", ["钢筋班"],
                   place="钢筋加工棚", checkin_code="K7MQX4")
        await s.flush()
        for lesson, name, at in ((party, "王书记", sh(2026, 11, 20, 14, 1)),
                                 (party, "张三", sh(2026, 11, 20, 14, 3)),
                                 (sketch, "马强", sh(2026, 11, 10, 19, 2)),
                                 (old, "张三", sh(2025, 12, 10, 14, 2))):
            s.add(LessonAttendance(lesson_id=lesson.id, member_id=site[name], checked_in_at=at))
        for kind, extra in (("photo", {"media_name": "a.jpg"}), ("photo", {"media_name": "b.jpg"}),
                            ("signin", {"media_name": "sheet.jpg"}),
                            ("document", {"media_name": "ppt.pdf", "title": "课件.pdf"}),
                            ("link", {"url": "https://example.com/video", "title": "事故视频"})):
            s.add(LessonFile(lesson_id=party.id, kind=kind, added_at=sh(2026, 11, 20, 16, 0), **extra))
        ids.update(party=party.id, sketch=sketch.id, old=old.id, soon=soon.id, crew=crew.id)
    return ids


async def test_lessons_for_a_worker(chat, site, lessons):
    said = await chat.user("u5").say("/lessons")
    numbered = [line for line in said.text.splitlines() if line.startswith("#")]
    assert len(numbered) == 5  # each lesson shows the number /lessoncode and /record take
    lines = [re.sub(r"^#\d+ ", "", line) for line in said.text.splitlines()]
    assert lines[0] == "📚 红盾课堂 · 江湾项目"
    assert lines[1:4] == ["【即将开始】",
                          "周一 11-23 15:00–16:00《冬季用电》· 生活区（安全培训，劳务班组） · 请参加",
                          "周一 11-30 08:00–08:30《钢筋绑扎安全》· 钢筋加工棚（视频，钢筋班） · 请参加"]
    assert lines[4:8] == ["【往期记录】",
                          "11-20《高处作业防坠落》（党课）签到 2 人，纸质签到 25 人，记录完整",
                          "11-10《安全帽的故事》（小品）签到 1 人，记录未完成",
                          "2025-12-10《去年的课》（党课）签到 1 人，记录未完成"]
    assert lines[-1] == "本年签到 1 次"
    assert "取消的课" not in said and "K7MQX4" not in said
    assert said.buttons == []


async def test_lessons_for_the_secretary_and_a_manager(chat, site, lessons):
    said = await chat.user("u1").say("课堂")
    assert "《冬季用电》· 生活区（安全培训，劳务班组） · 我组织" in said
    assert said.text.splitlines()[-1] == "本年签到 1 次"
    assert said.buttons == ["安排红盾课堂"]
    said = await chat.user("u2").say("/lessons")
    assert "《冬季用电》· 生活区（安全培训，劳务班组）\n" in said.text + "\n"  # not their audience
    assert said.text.splitlines()[-1] == "本年签到 1 次"  # last year's does not count


async def test_lessons_in_a_group_show_only_times_and_places(chat, site, lessons):
    said = await chat.user("u1", chat_id="g1", group=True).say("/lessons")
    assert said.text.splitlines() == ["📚 红盾课堂 · 江湾项目", "【即将开始】",
                                      "周一 11-23 15:00–16:00《冬季用电》· 生活区",
                                      "周一 11-30 08:00–08:30《钢筋绑扎安全》· 钢筋加工棚"]
    assert "K7MQX4" not in said and said.buttons == []


async def test_no_lessons_yet(chat, site):
    said = await chat.user("u2").say("/lessons")
    assert "暂无安排。" in said and "往期记录" not in said and "本年签到 0 次" in said


# ---- redshield lessons


async def run_lessons(config, db, clock, capsys, *argv) -> str:
    registry = load_plugins(Registry(), config.bot.plugins)
    command = registry.cli_commands["lessons"]
    parser = argparse.ArgumentParser()
    command.arguments(parser)
    args = parser.parse_args(list(argv))
    app = bootstrap(config, clock, db=db.engine, registry=registry, targets=[])
    capsys.readouterr()
    try:
        assert await command.run(app, args) == 0
    finally:
        await app.close()
    return capsys.readouterr().out


async def test_cli_text(config, db, clock, site, lessons, capsys):
    out = await run_lessons(config, db, clock, capsys, "--project", "P1")
    lines = out.splitlines()
    assert lines[0] == "江湾项目（P1）· 红盾课堂（6 次）"
    first = lines.index(f"#{lessons['party']} 2026-11-20 14:00–15:00 《高处作业防坠落》 党课 · 会议室")
    assert lines[first + 1:first + 7] == [
        "   听众：管理人员 · 组织人：王书记",
        "   签到 2 人：王书记、张三；纸质签到 25 人",
        "   资料：照片 2 张，签到表 1 张，文件 1 份，链接 1 个",
        "     https://example.com/video",
        "   小结：讲了安全带的挂法。 / 看了事故视频。",
        "   状态：记录完整"]
    assert f"#{lessons['crew']} 2026-11-30 08:00–08:30 《钢筋绑扎安全》 视频 · 钢筋加工棚" in lines
    assert "   听众：钢筋班 · 组织人：王书记" in lines
    assert "   状态：已取消" in lines and "   状态：记录完整" in lines
    assert lines[lines.index("2026年签到（按人）："):] == [
        "2026年签到（按人）：", f"  王书记  1 次（#{lessons['party']}）",
        f"  张三  1 次（#{lessons['party']}）", f"  马强  1 次（#{lessons['sketch']}）"]
    assert "K7MQX4" not in out


async def test_cli_json(config, db, clock, site, lessons, capsys):
    data = json.loads(await run_lessons(config, db, clock, capsys, "--project", "P1", "--json"))
    assert data["project"] == "P1" and len(data["lessons"]) == 6
    party = next(x for x in data["lessons"] if x["id"] == lessons["party"])
    assert party == {
        "id": lessons["party"], "day": "2026-11-20", "start": "14:00", "end": "15:00",
        "title": "高处作业防坠落", "form": "党课", "place": "会议室", "audience": "managers",
        "audience_text": "管理人员", "crews": [], "organiser": "王书记",
        "attendance": {"count": 2, "names": ["王书记", "张三"]}, "headcount": 25,
        "files": {"photos": 2, "signin": 1, "documents": ["课件.pdf"],
                  "links": ["https://example.com/video"]},
        "summary": "讲了安全带的挂法。\n看了事故视频。", "complete": True, "cancelled": False}
    assert [x["title"] for x in data["lessons"]][0] == "去年的课"  # by start
    assert data["attendance"]["year"] == 2026
    members = {m["name"]: (m["count"], m["lessons"]) for m in data["attendance"]["members"]}
    assert members == {"王书记": (1, [lessons["party"]]), "张三": (1, [lessons["party"]]),
                       "马强": (1, [lessons["sketch"]])}
    last_year = json.loads(await run_lessons(config, db, clock, capsys, "--project", "P1", "--json",
                                             "--year", "2025"))
    assert [(m["name"], m["lessons"]) for m in last_year["attendance"]["members"]] == [
        ("张三", [lessons["old"]])]


async def test_cli_unknown_project(config, db, clock, site, capsys):
    with pytest.raises(CliError, match="no project 'NOPE'"):
        await run_lessons(config, db, clock, capsys, "--project", "NOPE")


async def test_members_of_the_other_project_never_count(db, site, lessons):
    async with db.sessions() as s:
        assert await store.upcoming(s, site["P1"], sh(2026, 11, 23, 10, 0), limit=1) != []
        other = (await s.execute(sa.select(Member).where(Member.name == "外人"))).scalar_one()
        assert await store.upcoming(s, other.project_id, sh(2026, 11, 23, 10, 0)) == []
