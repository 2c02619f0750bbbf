"""Messages that reach no one (issue 25, item 4): a member the bot cannot reach (never
bound, blocked the bot, left the WeCom app) is shown as such in /week, `remind --dry-run`
and the hazard views; a 重大隐患 that reaches no safety officer or secretary goes up to
the committee, and the reporter is told who got it, or to phone."""
from __future__ import annotations

import argparse
import json

import pytest
import sqlalchemy as sa

from bot.bootstrap import bootstrap
from bot.scheduler import lock_key
from storage.directory import BLOCKED, NEVER_BOUND, mark_reachable, mark_unreachable, unreachable_members
from storage.models import Member, OutboxMessage
from tests import factories as f
from tests.chatbot import Inbox, hazard_until


@pytest.fixture
async def site(db):
    """P1: a finder (u1), a member who never bound, a crew lead who never bound, the only
    safety officer (u3), no secretary; the committee member sits in another project (u5)."""
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1")
        a = await f.zone(s, p, "施工现场A区")
        people = {}
        for name, roles, uid in (("张三", ("member", "vanguard"), "u1"),
                                 ("李四", ("member",), None),
                                 ("赵强", ("assignee",), None),
                                 ("李安监", ("member", "safety_officer"), "u3")):
            m = await f.member(s, p, name, roles=roles, zones=[a])
            if uid:
                await f.bind(s, m, external_id=uid)
            people[name] = m.id
        head = await f.project(s, code="HQ", name="分公司机关", branch="分公司党委")
        boss = await f.member(s, head, "刘委员", roles=("committee",))
        await f.bind(s, boss, external_id="u5")
        people["刘委员"] = boss.id
    return people


async def block(db, user_id: str, platform: str = "test") -> None:
    """The platform said this account can no longer be written to."""
    async with db.sessions() as s, s.begin():
        assert await mark_unreachable(s, platform, user_id, f.NOW)


async def report_major(user, assignee: str = "赵强"):
    await hazard_until(user, "category")
    await user.tap("重大隐患")
    await user.say("基坑边坡出现裂缝")
    await user.tap("跳过")
    await user.tap(assignee)
    await user.tap("3天")
    return await user.tap("确认提交")


async def run_cli(app, capsys, name: str, **args) -> str:
    capsys.readouterr()
    assert await app.registry.cli_commands[name].run(app, argparse.Namespace(**args)) == 0
    return capsys.readouterr().out


# ---- who is unreachable, one query


async def test_who_cannot_be_reached_and_why(db, site):
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P3")
        both = await f.member(s, p, "两个号")
        await f.bind(s, both, platform="telegram", external_id="100")
        await f.bind(s, both, platform="test", external_id="u7")
        wecom = await f.member(s, p, "企微", wecom_userid="qiwei")  # imported, never wrote
        ids = {both.id, wecom.id, site["李四"], site["张三"], site["李安监"]}
        assert await unreachable_members(s, ids) == {site["李四"]: NEVER_BOUND}
        await mark_unreachable(s, "telegram", "100", f.NOW)  # one of two accounts blocked
        await mark_unreachable(s, "wecom", "qiwei", f.NOW)  # WeCom: not in the app's range
        await mark_unreachable(s, "test", "u1", f.NOW)
        assert await unreachable_members(s, ids) == {
            site["李四"]: NEVER_BOUND, site["张三"]: BLOCKED, wecom.id: BLOCKED}
        await mark_reachable(s, "wecom", "qiwei")  # wrote to the bot again
        assert wecom.id not in await unreachable_members(s, ids)
        assert await unreachable_members(s, set()) == {}


# ---- /week and `redshield week`


async def test_week_marks_who_the_bot_cannot_reach(chat, app, db, site, capsys):
    await block(db, "u1")
    said = await chat.user("u3").say("/week")
    lines = said.text.splitlines()
    assert any(line.startswith("❌ 张三📵 ") for line in lines)  # blocked the bot
    assert any(line.startswith("❌ 李四📵 ") for line in lines)  # never bound
    assert any(line.startswith("❌ 李安监 ") for line in lines)  # reachable: no mark
    assert lines[-1] == "📵 收不到消息（未绑定/已屏蔽）"

    data = json.loads(await run_cli(app, capsys, "week", project="P1", week=None, json=True))
    assert {m["name"]: m["unreachable"] for m in data["members"]} == {
        "张三": "blocked", "李四": "never_bound", "李安监": None}
    text = await run_cli(app, capsys, "week", project="P1", week=None, json=False)
    assert "李四📵" in text and "📵 收不到消息" in text


async def test_week_without_anyone_unreachable_has_no_legend(chat, db, site):
    async with db.sessions() as s, s.begin():
        await f.bind(s, await s.get(Member, site["李四"]), external_id="u2")
    said = await chat.user("u3").say("/week")
    assert "📵" not in said


# ---- redshield remind --dry-run


async def test_remind_dry_run_lists_who_the_reminder_cannot_reach(app, db, site, capsys):
    await block(db, "u1")
    text = await run_cli(app, capsys, "remind", dry_run=True, now=False, json=False)
    assert "3 of 3 members would be reminded now; 2 of them cannot be reached" in text
    lines = {line.split()[1]: line for line in text.splitlines()[1:]}
    assert lines["张三"].endswith("short, unreachable (blocked)")
    assert lines["李四"].endswith("short, unreachable (never bound)")
    assert lines["李安监"].endswith("short")
    assert "张三 (P1):" in lines["张三"]  # the project by its code, as operators know it

    data = json.loads(await run_cli(app, capsys, "remind", dry_run=True, now=False, json=True))
    assert {d["name"]: (d["remind"], d["unreachable"]) for d in data} == {
        "张三": (True, "blocked"), "李四": (True, "never_bound"), "李安监": (True, None)}


async def test_remind_now_only_queues_for_the_running_bot_to_send(app, db, site, capsys):
    """Ruling 10: an operator command enqueues; the service's delivery worker sends, so
    every message passes the one outbox and the shared sending limits. The running bot
    leads the scheduler (on PostgreSQL it holds the advisory lock): the command queues all
    the same, without taking the lead."""
    inbox = Inbox(db.sessions)  # a platform the members are on: nothing may reach it now
    as_cli = bootstrap(app.config, app.clock, db=db.engine, registry=app.registry, targets=[inbox])
    service = None
    if db.engine.dialect.name == "postgresql":  # the running service's scheduler
        service = await db.engine.connect()
        await service.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(db.schema)})
    try:
        text = await run_cli(as_cli, capsys, "remind", dry_run=False, now=True, json=False)
        assert not as_cli.scheduler.leader
    finally:
        if service is not None:
            await service.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(db.schema)})
            await service.close()
    assert text.startswith("3 reminders queued: the running bot")
    async with db.sessions() as s:
        rows = (await s.execute(sa.select(OutboxMessage))).scalars().all()
    assert len(rows) == 3 and all(r.sent_at is None and r.attempts == 0 for r in rows)
    assert inbox.received == {}


# ---- the hazard views


async def test_the_hazard_says_its_assignee_cannot_be_reached(chat, app, site, capsys):
    said = await hazard_until(chat.user("u1"))  # 一般隐患, assigned to 赵强, who never bound
    assert "已登记" in said and "📵 赵强 收不到消息（未绑定），请当面告知。" in said
    said = await chat.user("u3").say("/hazard 1")
    assert "整改责任人：赵强" in said and "📵 赵强 收不到消息（未绑定），请当面告知。" in said

    [row] = json.loads(await run_cli(app, capsys, "hazards", project="P1", status=None, json=True))
    assert row["assignee"] == "赵强" and row["assignee_unreachable"] == "never_bound"
    text = await run_cli(app, capsys, "hazards", project="P1", status=None, json=False)
    assert "赵强📵" in text and "tell them in person" in text


async def test_a_reachable_assignee_is_not_flagged(chat, db, site):
    async with db.sessions() as s, s.begin():
        await f.bind(s, await s.get(Member, site["赵强"]), external_id="u2")
    said = await hazard_until(chat.user("u1"))
    assert "已登记" in said and "收不到消息" not in said
    assert "收不到消息" not in await chat.user("u3").say("/hazard 1")


# ---- the escalation of an unreachable 重大隐患 alert


async def test_a_major_hazard_alerts_the_officer_and_says_so(chat, site):
    said = await report_major(chat.user("u1"))
    assert "已通知：李安监" in said and "分公司党委" not in said
    assert "重大隐患：张三 刚刚报告" in chat.notices(site["李安监"])
    assert chat.notices(site["刘委员"]).replies == []  # no need to go up


async def test_a_major_hazard_no_officer_can_get_goes_up_to_the_committee(chat, db, site):
    await block(db, "u3")  # the only safety officer blocked the bot; there is no secretary
    said = await report_major(chat.user("u1"))
    assert "已登记" in said
    assert "⚠️ 本项目的安监和书记都收不到消息，已上报分公司党委：刘委员" in said
    assert "已通知：李安监" not in said
    up = chat.notices(site["刘委员"])
    assert "⚠️ 重大隐患（示例项目）：张三 刚刚报告" in up and "基坑边坡出现裂缝" in up
    assert any(r.__class__.__name__ == "Document" for r in up.replies)  # the 整改通知书
    assert chat.notices(site["李安监"]).replies == []  # blocked: nothing reached them


async def test_a_major_hazard_nobody_can_get_tells_the_reporter_to_phone(chat, db, site):
    await block(db, "u3")
    await block(db, "u5")  # the committee member too
    said = await report_major(chat.user("u1"))
    assert "已登记" in said
    assert "⚠️ 这条重大隐患没有通知到任何人" in said and "请马上打电话告诉 李安监。" in said
    assert "已上报" not in said
    assert chat.notices(site["刘委员"]).replies == []


async def test_an_officer_reporting_it_needs_no_committee(chat, db, site):
    said = await report_major(chat.user("u3"))  # the safety officer found it himself
    assert "已登记" in said and "分公司党委" not in said and "打电话" not in said
    assert chat.notices(site["刘委员"]).replies == []
