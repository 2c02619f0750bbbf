"""行为安全之星 end to end, as the people on a site live it over a month: members star
workers, a worker's named report and an anonymous one are confirmed 属实, the ranking
shows it, on the 1st the union confirms the month's star, the star agrees to be named,
every member hears of it with the 奖状, and the anonymous reporter's code is redeemed
once. On SQLite and PostgreSQL (the `db` fixture)."""
from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage

from bot.core.contract import Image
from handlers.stars import monthly
from storage.models import StarAward, StarEntry, StarReward
from tests import factories as f
from tests.test_violation import RECEIPT, report_as

SH = ZoneInfo("Asia/Shanghai")
NAMED = "实名举报（可获行为安全之星积分）"


def sh(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH).astimezone(dt.UTC)


@pytest.fixture
async def site(db):
    """One project: the secretary, the union, the safety officer, a Party member, and two
    workers of the 钢筋班: 马强 with an account, 黄志明 without. Ids by key."""
    people = {}
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1")
        a = await f.zone(s, p, "施工现场A区")
        for key, name, roles, crew, uid in (
                ("secretary", "王书记", ("member", "secretary"), None, "sec"),
                ("union", "孙工会", ("union",), None, "uni"),
                ("officer", "李安监", ("member", "safety_officer"), None, "o1"),
                ("member", "陈静", ("member",), None, "m1"),
                ("ma", "马强", ("worker",), "钢筋班", "w1"),
                ("huang", "黄志明", ("worker",), "钢筋班", None)):
            m = await f.member(s, p, name, roles=roles, crew=crew,
                               zones=[a] if key == "member" else [])
            if uid:
                await f.bind(s, m, external_id=uid)
            people[key] = m.id
    return people


async def run(app, clock, job: str, at: dt.datetime) -> None:
    clock.now = at
    await app.scheduler.run_once(job, app.scheduler.jobs[job].work)


async def points_of(db, worker_id: int) -> int:
    async with db.sessions() as s:
        total = await s.scalar(sa.select(sa.func.sum(StarEntry.points))
                               .where(StarEntry.worker_id == worker_id))
    return int(total or 0)


async def test_a_month_of_stars_from_the_first_tap_to_the_certificate(chat, app, clock, db, site):
    clock.now = sh(2026, 11, 10, 9, 30)
    member, officer, union = chat.user("m1"), chat.user("o1"), chat.user("uni")
    ma = chat.user("w1")

    # 点赞: a name and two taps
    said = await member.say("/star 马强")
    assert "正确佩戴安全帽/系挂安全带 +2" in said.buttons and "取消" in said.buttons
    await member.tap("正确佩戴安全帽/系挂安全带 +2")
    said = await member.say("不拍照，直接提交")
    assert "✅ 已为 马强（钢筋班）点赞" in said and "+2" in said
    assert "为您点赞" in chat.notices(site["ma"])  # he has an account: he hears of it
    # the same again today is refused; another behaviour is fine
    said = await member.say("/star 马强")
    assert "正确佩戴安全帽/系挂安全带 +2" not in said.buttons
    await member.tap("制止违章 +3")
    await member.say("不拍照，直接提交")

    # a worker not yet in the directory, added while starring him
    said = await member.say("/star")
    said = await member.tap("➕ 添加新工友")
    said = await member.say("刘大壮")
    said = await member.say("钢筋")  # part of a known 班组: that one, not a new 班组
    assert "文明施工 +1" in said.buttons
    await member.tap("文明施工 +1")
    assert "刘大壮（钢筋班）" in await member.say("不拍照，直接提交")

    # the bot's own events: 马强's named report confirmed 属实, and an anonymous one
    clock.now = sh(2026, 11, 12, 15, 0)
    await report_as(ma, submit=NAMED)
    await officer.say("/violations 1 confirmed")
    assert "+5" in chat.notices(site["ma"])
    phone = chat.user("13900001111")  # a worker's phone, in no directory
    code = RECEIPT.search((await report_as(phone, description="塔吊下有人逗留")).text).group()
    await officer.say("/violations 2 confirmed")
    assert "🎁 举报属实，可凭此查询码到工会领取奖励（5 分）。" in await phone.say(f"/track {code}")
    assert await points_of(db, site["ma"]) == 2 + 3 + 5

    # a deduction for 黄志明, then the ranking as the union sees it
    clock.now = sh(2026, 11, 20, 10, 0)
    await officer.say("/deduct 黄志明")
    await officer.tap("未戴安全帽")
    await officer.tap("5 分")
    await officer.say("在3号楼5层未戴安全帽，经现场核实")
    ranking = (await union.say("/stars")).text
    assert ranking.index("马强") < ranking.index("刘大壮")
    assert "10 分" in ranking and "黄志明" not in ranking.split("本年")[0]  # below zero: unranked

    # the 1st: the month's stars proposed to the union and the secretary
    await run(app, clock, monthly.PROPOSE_JOB, sh(2026, 12, 1, 9, 0))
    proposal = chat.notices(site["union"])
    assert proposal.text.index("马强") < proposal.text.index("刘大壮")
    assert "马强" in chat.notices(site["secretary"])
    assert chat.notices(site["member"]).replies == []  # not for everyone yet
    said = await union.tap("✅ 马强", proposal.choices)
    assert "马强" in said
    said = await union.tap("⏭ 跳过：刘大壮", proposal.choices)
    consent = chat.notices(site["ma"])
    assert "是否显示您的姓名" in consent
    await ma.tap("同意公开姓名", consent.choices)

    # the announcement: everyone with an account, once, by name, with the 奖状
    await run(app, clock, monthly.ANNOUNCE_JOB, sh(2026, 12, 1, 9, 15))
    for key in ("member", "officer", "secretary"):
        told = chat.notices(site[key])
        assert "2026年11月 行为安全之星：马强（钢筋班）" in told, key
        [certificate] = [r for r in told.replies if isinstance(r, Image)]
        with PILImage.open(io.BytesIO(certificate.data)) as picture:
            assert (picture.format, picture.size) == ("PNG", (1754, 1240))
    assert any(isinstance(r, Image) for r in chat.notices(site["ma"]).replies)
    await run(app, clock, monthly.ANNOUNCE_JOB, sh(2026, 12, 1, 9, 30))
    assert chat.notices(site["member"]).replies == []  # never twice
    async with db.sessions() as s:
        awards = {a.worker_id: a for a in (await s.execute(sa.select(StarAward))).scalars()}
    assert awards[site["ma"]].status == "confirmed" and awards[site["ma"]].public is True
    assert awards[site["ma"]].announced_at is not None

    assert "🌟 11月之星：马强（钢筋班）" in await member.say("/stars")
    # November is closed: its points stay as its stars were chosen by, even for an officer.
    assert "已结束的月份" in await officer.say("/star undo 1")

    # the anonymous reporter shows the code to the union: claimed once, never by whom
    clock.now = sh(2026, 12, 2, 16, 42)
    said = await union.say(f"/redeem {code}")
    assert "✅ 已兑奖" in said and "5 分" in said
    assert "不能重复领取" in await union.say(f"/redeem {code}")
    assert "奖励已领取" in await phone.say(f"/track {code}")
    async with db.sessions() as s:
        [reward] = (await s.execute(sa.select(StarReward))).scalars()
    assert reward.claimed_at == sh(2026, 12, 2, 16, 0)  # to the hour
