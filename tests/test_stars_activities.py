"""群星闪耀 activities: the union records one in a few taps (kind, day, place, headcount,
photos, note); bad answers are refused with the reason and nothing is half-saved."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import star_activities
from storage.media import MediaStore
from storage.models import StarActivity, StarActivityPhoto
from tests import factories as f


@pytest.fixture
async def site(db):
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1")
        people = {}
        for key, name, roles, uid in (("union", "刘工会", ("union",), "n1"),
                                      ("member", "陈静", ("member",), "m1"),
                                      ("worker", "孙工友", ("worker",), "w1")):
            m = await f.member(s, p, name, roles=roles)
            await f.bind(s, m, external_id=uid)
            people[key] = m.id
        people["project"] = p.id
    return people


async def saved(db) -> list[StarActivity]:
    async with db.sessions() as s:
        return list((await s.execute(sa.select(StarActivity))).scalars())


async def test_the_whole_flow_with_a_photo_and_a_typed_headcount(chat, site, db, config):
    union = chat.user("n1")
    said = await union.say("群星闪耀")
    assert said.buttons == ["为工友送安全", "安全知识技能竞赛", "青年安全生产示范岗评选", "其他", "取消"]
    said = await union.tap("为工友送安全")
    assert said.buttons == ["今天", "昨天", "取消"]
    assert "不能晚于今天" in await union.say("明天")  # 11-24: not held yet
    assert "60 天内" in await union.say("2026-09-01")
    assert "没看懂这个日期" in await union.say("上上上周")
    assert "在哪里举办" in await union.say("11-20")  # typed, looking back
    assert "至少 2 个字" in await union.say("A")
    said = await union.say("钢筋加工场")
    assert said.buttons == ["10", "20", "50", "取消"]
    for typed in ("0", "6000", "好多人"):
        assert "人数" in await union.say(typed)
    assert "活动照片" in await union.say("35")
    assert "已收到 1 张照片" in await union.photo()
    said = await union.say("完成")
    assert "备注" in said and "跳过" in said.buttons
    said = await union.say("发放安全帽 30 顶，讲解高处作业要点")
    assert said.text == "✅ 已记录：11-20 为工友送安全 · 钢筋加工场 · 35 人 · 照片 1 张"

    async with db.sessions() as s:
        [activity] = await star_activities.activities_in(s, site["project"], dt.date(2026, 11, 1),
                                                         dt.date(2026, 12, 1))
        totals = await star_activities.activity_totals(s, site["project"], dt.date(2026, 11, 1),
                                                       dt.date(2026, 12, 1))
        assert await star_activities.activities_in(s, site["project"], dt.date(2026, 11, 21),
                                                   dt.date(2026, 12, 1)) == []
    assert (activity.kind, activity.day, activity.place, activity.headcount, activity.note,
            activity.recorded_by_id) == ("为工友送安全", dt.date(2026, 11, 20), "钢筋加工场", 35,
                                         "发放安全帽 30 顶，讲解高处作业要点", site["union"])
    assert totals == star_activities.ActivityTotals(1, 35)
    [photo] = activity.photos
    assert await MediaStore(config.media.dir).read(photo.media_name)
    assert len(list(Path(config.media.dir).rglob("*.jpg"))) == 1


async def test_buttons_all_the_way_and_no_photo(chat, site, db):
    member = chat.user("m1")  # a Party member records one too
    await member.say("/activity")
    await member.tap("安全知识技能竞赛")
    await member.tap("昨天")
    await member.say("项目部会议室")
    await member.tap("50")
    await member.say("跳过")
    said = await member.tap("跳过")
    assert said.text == "✅ 已记录：11-22 安全知识技能竞赛 · 项目部会议室 · 50 人"
    [activity] = await saved(db)
    assert activity.note is None and activity.day == dt.date(2026, 11, 22)
    async with db.sessions() as s:
        assert (await s.execute(sa.select(StarActivityPhoto))).first() is None


async def test_nothing_is_saved_until_the_end_and_workers_cannot_record(chat, site, db):
    union = chat.user("n1")
    await union.say("/activity")
    await union.tap("其他")
    await union.tap("今天")
    await union.say("生活区")
    await union.say("取消")
    assert await saved(db) == []
    assert "没有使用此功能的权限" in await chat.user("w1").say("/activity")
    assert "没有使用此功能的权限" in await chat.user("w1").say("群星闪耀")


async def test_a_long_place_or_note_is_refused_with_the_limit(chat, site, db):
    union = chat.user("n1")
    await union.say("/activity")
    await union.tap("其他")
    await union.tap("今天")
    assert "最多 100 字" in await union.say("地" * 101)
    await union.say("生活区")
    await union.say("12")
    await union.say("跳过")
    assert "最多 300 字" in await union.say("注" * 301)
    assert "12 人" in await union.say("注" * 300)
    [activity] = await saved(db)
    assert activity.headcount == 12 and len(activity.note) == 300
