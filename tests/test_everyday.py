"""Everyday habits on site (issue 13): commands without their number, a second /start,
impossible places, who sees what, everyone in their own language, and following a
report up with more than one line."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from bot.adapters.console import parse
from bot.core.contract import Document
from storage.models import Member, ViolationEntry
from tests import factories as f
from tests.chatbot import hazard_until
from tests.test_violation import RECEIPT, report_as


@pytest.fixture
async def site(db):
    return await f.hazard_site(db)


async def a_hazard_for_the_crew(finder, number_expected: int = 1):
    assert f"〔2026〕000{number_expected}号" in await hazard_until(finder)


async def test_rectify_without_a_number_lists_my_hazards(chat, site):
    finder, crew = chat.user("u1"), chat.user("u2")
    assert "您没有待整改的隐患" in await crew.say("/rectify")
    await a_hazard_for_the_crew(finder, 1)
    await a_hazard_for_the_crew(finder, 2)
    said = await crew.say("整改")
    assert "待您整改的隐患 2 项" in said and said.buttons[:2] == ["2026-1", "2026-2"]
    assert "整改后的照片" in await crew.tap("2026-2")


async def test_start_again_says_who_the_account_is(chat, site):
    said = await chat.user("u1").say("/start K7MQ-X4PD")
    assert "您的账号已绑定为 张三（示例项目）" in said and "邀请码已经用过了" not in said


def test_the_console_refuses_impossible_places():
    assert parse("/location 999 999", "u") == "no such place: latitude -90..90, longitude -180..180"
    assert parse("/location nan 121", "u").startswith("no such place")
    assert parse("/location 31.23 121.47", "u").latitude == 31.23


async def test_a_crew_lead_sees_their_hazards_not_the_two_hours(chat, site):
    crew = chat.user("u2")  # 赵强: assignee, not a Party member
    said = await crew.say("/help")
    assert "/rectify" in said and "/report" in said and "/track" in said
    assert "/patrol" not in said and "/team" not in said and "/leave" not in said
    assert "巡查" not in said.buttons and "整改" in said.buttons
    assert "没有使用此功能的权限" in await crew.say("/patrol")
    assert "没有使用此功能的权限" in await crew.say("请假")
    me = await crew.say("/me")
    assert "赵强" in me and "本周" not in me and "2小时" not in me


async def test_a_worker_with_an_account_can_report_and_track(chat, db):
    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        await f.zone(s, p)
        worker = await f.member(s, p, "孙工友", roles=("worker",))  # no zones: imported so
        await f.bind(s, worker, external_id="w1")
    said = await chat.user("w1").say("帮助")
    assert said.buttons == ["我的", "举报", "查询"]


async def test_english_help_buttons_are_english(chat, site, db):
    async with db.sessions() as s, s.begin():
        zhang = await s.get(Member, site["finder"])
        zhang.locale = "en"
    said = await chat.user("u1").say("/help")
    assert said.buttons[:3] == ["Patrol", "Hazard", "Me"]
    assert all(not any("\u4e00" <= ch <= "\u9fff" for ch in b) for b in said.buttons)


async def test_the_notice_for_a_chinese_assignee_is_chinese_whoever_reported(chat, site, db):
    async with db.sessions() as s, s.begin():
        (await s.get(Member, site["finder"])).locale = "en"
    finder = chat.user("u1")
    await finder.say("/hazard")
    await finder.photo()
    await finder.say("Done")
    await finder.tap("施工现场A区")
    await finder.tap("Scaffolding")
    await finder.tap("General hazard")
    await finder.say("missing couplers")
    await finder.tap("Skip")
    await finder.tap("赵强")
    await finder.tap("3 days")
    mine = await finder.tap("Confirm")
    assert "Hazard Rectification Notice" in pdf(mine)
    theirs = chat.notices(site["crew"])
    assert "您有一份隐患整改通知书" in theirs and "隐患整改通知书" in pdf(theirs)
    assert theirs.buttons == ["开始整改", "提交整改"]


def pdf(said) -> str:
    doc = next(r for r in said.replies if isinstance(r, Document))
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(doc.data)).pages)


async def test_a_supplement_takes_text_and_photos_until_done_and_reaches_the_officer(
        chat, db, clock):
    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        await f.zone(s, p)
        officer = await f.member(s, p, "李安监", roles=("member", "safety_officer"))
        await f.bind(s, officer, external_id="o1")
    worker = chat.user("w9")
    code = RECEIPT.search((await report_as(worker)).text).group()
    await chat.user("o1").say("/violations 1 confirmed")  # settled: not in the officer's list

    await worker.say(f"/track {code}")
    await worker.tap("补充说明或照片")
    assert "已补充 1 条" in await worker.say("第二天又看到了")
    assert "已补充 2 条" in await worker.photo()
    said = await worker.say("完成")
    assert "✅ 已补充 2 条。" in said
    async with db.sessions() as s:
        entries = (await s.execute(sa.select(ViolationEntry).where(
            ViolationEntry.author == "reporter"))).scalars().all()
    assert [e.text for e in entries if e.text] == ["第二天又看到了"]
    assert chat.notices(officer.id).replies == []  # held back past the hour, a random while
    clock.advance(minutes=91)
    await chat.deliver()
    told = chat.notices(officer.id)
    assert "举报 #1 有新的补充（2 条）。" in told and told.buttons == ["查看"]


async def test_numbers_out_of_range_are_no_such_number(chat, site):
    secretary, zhang = chat.user("u4"), chat.user("u1")
    for typed in ("/leave approve 99999999999999999999", "/leave approve ²", "/leave approve 0"):
        assert "没有这个请假申请" in await secretary.say(typed)
    for typed in ("/patrol fix 99999999999999999999", "/patrol fix ٣"):
        assert "没有需要更正的巡查" in await zhang.say(typed)
    for typed in ("/violations 99999999999", "/violations ²"):
        assert "本项目没有这个编号的举报" in await secretary.say(typed)
    assert "没有找到这个隐患" in await chat.user("u2").say("/rectify 99999999999999")


async def test_dates_as_people_type_them(chat, site, clock, db):
    """The deadline as typed on a phone: 明天, 周五, 12月3日 (Monday 2026-11-23 here)."""
    from storage.models import Hazard

    finder = chat.user("u1")
    for typed, expected in (("明天", "2026-11-24"), ("周五", "2026-11-27"), ("12月3日", "2026-12-03")):
        await hazard_until(finder, "assignee")
        said = await finder.say(typed)
        assert f"整改期限：{expected}" in said, typed
        await finder.tap("确认提交")
    async with db.sessions() as s:
        deadlines = [h.deadline.isoformat() for h in (await s.execute(sa.select(Hazard))).scalars()]
    assert deadlines == ["2026-11-24", "2026-11-27", "2026-12-03"]


async def test_a_patrol_logged_afterwards_as_typed(chat, site, db, clock):
    from storage.models import Patrol

    zhang = chat.user("u1")  # Monday 2026-11-23 10:00 in Shanghai
    await zhang.say("补记")
    assert "几点开始" in await zhang.say("上周五")
    assert "多长时间" in await zhang.say("早上九点")
    assert "哪个区域" in await zhang.say("一个半小时")
    await zhang.say("生活")  # the zone by a part of its name
    said = await zhang.tap("无")
    assert "已补记：周五 11-20 09:00，生活区，1小时30分" in said
    async with db.sessions() as s:
        [p] = (await s.execute(sa.select(Patrol))).scalars().all()
    assert p.logged_afterwards and (p.ended_at - p.started_at).total_seconds() == 5400


# ---- voice notes and videos (ruling 21)


async def test_a_voice_note_is_kept_beside_the_photos_and_listed_in_the_notice(chat, site, config):
    from pathlib import Path

    finder = chat.user("u1")
    await finder.say("/hazard")
    await finder.photo()
    said = await finder.voice()
    assert "已收到 1 张照片、附语音 1 条" in said
    await finder.say("完成")
    await finder.tap("施工现场A区")
    await finder.tap("脚手架")
    await finder.tap("一般隐患")
    said = await finder.voice(video=True)  # at the description: kept, and the text asked again
    assert "已保存为证据（附视频 1 条）" in said and "请简要描述隐患" in said
    await finder.say("缺少扣件")
    await finder.tap("跳过")
    await finder.tap("赵强")
    said = await finder.tap("3天")
    assert "照片 1 张" in said and "附语音 1 条、附视频 1 条" in said
    said = await finder.tap("确认提交")
    assert "附语音 1 条、附视频 1 条" in pdf(said)
    kept = sorted(p.suffix for p in Path(config.media.dir).rglob("*")
                  if p.is_file() and p.suffix != ".pdf")  # PDFs: the notices in the outbox
    assert kept == [".amr", ".jpg", ".mp4"]


async def test_an_anonymous_report_refuses_a_voice_note_unheard(chat, site, config):
    from pathlib import Path

    heard = []

    async def read() -> bytes:
        heard.append(True)
        return b"voice"

    worker = chat.user("w1")
    await worker.say("/start report-P1")
    from bot.core.contract import Kind, Photo
    said = await worker.send(Kind.voice, media=Photo(ref="v", read=read, filename="v.amr"))
    assert "匿名举报不收语音和视频（声音和画面能认出人），没有保存" in said
    assert heard == [] and not any(Path(config.media.dir).rglob("*.amr"))


async def test_a_voice_note_elsewhere_gets_an_answer(chat, site):
    zhang = chat.user("u1")
    said = await zhang.voice()
    assert "语音和视频没有保存" in said
    await zhang.say("补记")
    said = await zhang.voice()
    assert "这一步不收语音和视频，没有保存。" in said and "哪一天" in said
