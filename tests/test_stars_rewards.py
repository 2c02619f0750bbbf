"""行为安全之星 points for the bot's own events, and the anonymous reporter's reward: a
report confirmed 属实 pays its named reporter or credits its receipt, /track tells the
reporter, the union claims it once with /redeem, and nothing ties it to anyone."""
from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from handlers.stars import events
from storage import star_rewards
from storage.models import (
    AttemptCounter,
    DialogState,
    Hazard,
    StarEntry,
    StarReward,
    ViolationReport,
    ViolationStatus,
)
from tests import factories as f
from tests.chatbot import hazard_until
from tests.test_violation import RECEIPT, everything_stored, report_as

NAMED = "实名举报（可获行为安全之星积分）"
NOTHING = "没有可兑的奖励：查询码不对，或举报尚未核实属实。"
REPORTER = "777000999"  # a worker's phone, no account
WAITS = "🎁 举报属实，可凭此查询码到工会领取奖励（5 分）。"


@pytest.fixture
async def site(db):
    """A project with an officer, the secretary, the union, a Party member, a worker with
    an account and a crew lead; another project with its own union member."""
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1")
        a = await f.zone(s, p, "施工现场A区")
        people = {}
        for key, name, roles, uid in (("officer", "李安监", ("member", "safety_officer"), "o1"),
                                      ("secretary", "王书记", ("member", "secretary"), "o2"),
                                      ("union", "刘工会", ("union",), "n1"),
                                      ("union2", "钱工会", ("union",), "n2"),
                                      ("member", "陈静", ("member",), "m1"),
                                      ("worker", "孙工友", ("worker",), "w1"),
                                      ("crew", "赵强", ("assignee",), "c1")):
            m = await f.member(s, p, name, roles=roles, zones=[a] if key == "member" else [],
                               crew="钢筋班组" if key == "worker" else None)
            await f.bind(s, m, external_id=uid)
            people[key] = m.id
        other = await f.project(s, code="P2", name="别的项目")
        await f.zone(s, other, "施工现场B区")
        outsider = await f.member(s, other, "外工会", roles=("union",))
        await f.bind(s, outsider, external_id="x1")
        people["outsider"] = outsider.id
    return people


async def rows(db, model):
    async with db.sessions() as s:
        return list((await s.execute(sa.select(model).order_by(model.id))).scalars())


async def confirmed_anonymous_report(chat, worker=REPORTER, number=1) -> str:
    """An anonymous report from a phone without an account, confirmed 属实; its code."""
    code = RECEIPT.search((await report_as(chat.user(worker))).text).group()
    assert "属实，已处理" in await chat.user("o1").say(f"/violations {number} confirmed")
    return code


async def report_elsewhere(user) -> str:
    """An anonymous report to the other project (its QR code); its code."""
    await user.say("/start report-P2")
    await user.say("跳过")
    await user.tap("施工现场B区")
    await user.tap("违章作业")
    await user.say("别的项目有人违章")
    return RECEIPT.search((await user.tap("匿名提交")).text).group()


# ---- named reports pay their reporter


async def test_a_named_report_confirmed_pays_its_reporter_and_tells_them(chat, site, db):
    await report_as(chat.user("w1"), submit=NAMED)
    await chat.user("o1").say("/violations 1 confirmed")
    [entry] = await rows(db, StarEntry)
    assert (entry.worker_id, entry.points, entry.source, entry.reason, entry.ref, entry.given_by_id) == (
        site["worker"], 5, "event", "violation_confirmed", "violation:1", None)
    told = chat.notices(site["worker"])
    assert "您的实名举报 #1 经核查属实，获得行为安全之星积分 +5。" in told
    assert await rows(db, StarReward) == []  # never both
    assert "已处理" in await chat.user("o1").say("/violations 1 confirmed")  # settled once
    assert len(await rows(db, StarEntry)) == 1


async def test_a_party_members_named_report_earns_no_star_points(chat, site, db):
    """The stars are the workers': a Party member reports as their duty."""
    await report_as(chat.user("m1"), submit=NAMED)
    await chat.user("o1").say("/violations 1 confirmed")
    assert await rows(db, StarEntry) == [] and await rows(db, StarReward) == []
    assert "积分" not in chat.notices(site["member"])


async def test_an_officer_settling_their_own_named_report_earns_nothing(chat, site, db):
    await report_as(chat.user("o1"), submit=NAMED)
    await chat.user("o1").say("/violations 1 confirmed")
    assert await rows(db, StarEntry) == [] and await rows(db, StarReward) == []


async def test_the_same_report_never_pays_twice_whatever_happens_to_it(db, site, config):
    """Events repeated (a report confirmed, then its hazard recorded) pay once, and the
    unique constraints are never hit (the step's transaction stays usable)."""
    async with db.sessions() as s, s.begin():
        named = ViolationReport(project_id=1, kind="违章作业", description="d", status=ViolationStatus.confirmed,
                                receipt_hash="a" * 64, named_member_id=site["worker"],
                                received_at=f.NOW, notify_after=f.NOW)
        anonymous = ViolationReport(project_id=1, kind="违章作业", description="d", status=ViolationStatus.confirmed,
                                    receipt_hash="b" * 64, received_at=f.NOW, notify_after=f.NOW)
        s.add_all([named, anonymous])
        await s.flush()
        told = []
        ctx = SimpleNamespace(session=s, config=config, now=f.NOW + dt.timedelta(minutes=37),
                              notify=told.append, member=None)
        for report in (named, anonymous):
            await events.violation_confirmed(ctx, report=report)
            await events.violation_confirmed(ctx, report=report)
            await events.hazard_recorded(ctx, hazard=SimpleNamespace(id=9, reporter_id=site["officer"],
                                                                    project_id=1), violation=report)
        await s.execute(sa.select(1))  # the transaction is still usable
    entries, rewards = await rows(db, StarEntry), await rows(db, StarReward)
    assert [(e.worker_id, e.ref, e.points) for e in entries] == [(site["worker"], f"violation:{named.id}", 5)]
    assert [(r.report_id, r.points, r.reason) for r in rewards] == [(anonymous.id, 5, "violation_confirmed")]
    assert rewards[0].credited_at == f.NOW  # to the hour
    assert len(told) == 1


async def test_quiz_answers_pay_per_attempt(db, site, config):
    async with db.sessions() as s, s.begin():
        from storage.directory import get_member

        worker = await get_member(s, site["worker"])
        ctx = SimpleNamespace(session=s, config=config, now=f.NOW, notify=lambda n: None, member=worker)
        await events.quiz_scored(ctx, member=worker, correct=4, ref="quiz:1")
        await events.quiz_scored(ctx, member=worker, correct=4, ref="quiz:1")  # the same attempt
        await events.quiz_scored(ctx, member=worker, correct=0, ref="quiz:2")
    [entry] = await rows(db, StarEntry)
    assert (entry.worker_id, entry.points, entry.reason, entry.ref) == (site["worker"], 4, "quiz", "quiz:1")


# ---- hazards


async def officer_turns_into_hazard(officer, number=1):
    await officer.say(f"/violations {number}")
    await officer.tap("转为隐患")
    await officer.tap("施工现场A区")
    await officer.tap("高处作业")
    await officer.tap("一般隐患")
    await officer.say("5楼临边作业未系安全带")
    await officer.tap("跳过")
    await officer.tap("赵强")
    await officer.tap("今天")
    assert "已登记" in await officer.tap("确认提交")


async def test_a_report_turned_into_a_hazard_pays_hazard_reported_once(chat, site, db):
    await report_as(chat.user("w1"), submit=NAMED)
    await report_as(chat.user("w9"))  # anonymous
    officer = chat.user("o1")
    await officer_turns_into_hazard(officer, 1)
    await officer_turns_into_hazard(officer, 2)
    [entry] = await rows(db, StarEntry)
    assert (entry.worker_id, entry.points, entry.reason, entry.ref) == (
        site["worker"], 3, "hazard_reported", "violation:1")
    assert "您的实名举报 #1 已转为隐患整改，获得行为安全之星积分 +3。" in chat.notices(site["worker"])
    [reward] = await rows(db, StarReward)
    assert (reward.report_id, reward.points, reward.reason) == (2, 3, "hazard_reported")
    assert "已处理" in await officer.say("/violations 2 confirmed")  # no second payment
    assert len(await rows(db, StarReward)) == 1 and len(await rows(db, StarEntry)) == 1


async def test_a_hazard_a_worker_reports_pays_them_and_a_members_does_not(chat, site, db):
    await hazard_until(chat.user("w1"))
    await hazard_until(chat.user("m1"))  # a Party member's patrol duty: no points
    hazards = await rows(db, Hazard)
    [entry] = await rows(db, StarEntry)
    assert (entry.worker_id, entry.points, entry.reason, entry.ref) == (
        site["worker"], 3, "hazard_reported", f"hazard:{hazards[0].id}")
    assert "您报告的隐患已下发整改通知，获得行为安全之星积分 +3。" in chat.notices(site["worker"])
    assert "积分" not in chat.notices(site["member"])


async def test_a_workers_own_hazards_pay_once_a_day(chat, site, db, clock):
    """Nobody checks a hazard before its notice: filing several a day pays once."""
    worker = chat.user("w1")
    for description in ("3号楼临边缺防护", "4号楼洞口未盖", "塔吊基础积水"):
        await hazard_until(worker, description=description)
    assert [e.points for e in await rows(db, StarEntry)] == [3]
    clock.advance(days=1)
    await hazard_until(worker, description="5号楼配电箱未上锁")
    assert [e.points for e in await rows(db, StarEntry)] == [3, 3]


# ---- the anonymous reward


async def test_an_anonymous_reward_is_tracked_and_claimed_once(chat, site, db, config, clock, caplog):
    caplog.set_level(logging.DEBUG, logger="redshield")
    reporter = chat.user(REPORTER)
    code = await confirmed_anonymous_report(chat)
    [reward] = await rows(db, StarReward)
    assert (reward.report_id, reward.points, reward.claimed_at) == (1, 5, None)
    assert reward.credited_at == clock().replace(minute=0)
    assert await rows(db, StarEntry) == []  # never both

    clock.advance(minutes=47)
    said = await reporter.say(f"/track {code}")
    assert WAITS in said and "属实，已处理" in said

    union = chat.user("n1")
    said = await union.say(f"/redeem {code.lower()}")
    assert said.text == ("✅ 已兑奖：举报经核查属实，奖励 5 分。请按工会规定发放。"
                         "（系统只记录领取时间到小时，不记录领取人）")
    [reward] = await rows(db, StarReward)
    assert reward.claimed_at == dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # 10:47 kept as 10时

    clock.advance(days=1)
    said = await union.say(f"兑奖 {code}")
    assert said.text == "这个查询码的奖励已于 2026-11-23 10时 领取，不能重复领取。"
    assert "🎁 奖励已领取。" in await reporter.say(f"/track {code}")
    assert WAITS not in reporter.last

    # The reward row says what, not who: its columns, and nothing of the code anywhere.
    assert {c.name for c in StarReward.__table__.columns} == {
        "id", "project_id", "report_id", "points", "reason", "credited_at", "claimed_at"}
    async with db.sessions() as s:
        rewards = (await s.execute(sa.select(StarReward.__table__))).all()
    assert all(r.credited_at.minute == 0 and r.claimed_at.minute == 0 for r in rewards)
    stored = await everything_stored(db, Path(config.media.dir))
    for needle in (code, code.replace("-", ""), code.lower(), REPORTER):
        assert needle not in stored, needle
        assert needle not in caplog.text, needle


async def test_redeem_asks_for_the_code_and_keeps_no_trace_of_it(chat, site, db, config, caplog):
    caplog.set_level(logging.DEBUG, logger="redshield")
    code = await confirmed_anonymous_report(chat)
    union = chat.user("n1")
    said = await union.say("兑奖")
    assert "请输入举报人出示的查询码" in said and "取消" in said
    async with db.sessions() as s:  # an anonymous flow: no dialog row names the organiser
        assert (await s.execute(sa.select(DialogState))).first() is None
    said = await union.say(code)
    assert "✅ 已兑奖：举报经核查属实" in said and "#1" not in said
    async with db.sessions() as s:
        assert (await s.execute(sa.select(DialogState))).first() is None
    stored = await everything_stored(db, Path(config.media.dir))
    assert code not in stored and code.replace("-", "") not in stored
    assert code not in caplog.text and code.replace("-", "") not in caplog.text


async def test_redeem_beside_an_open_question_answers_and_leaves_it_untouched(chat, site, db, clock):
    code = await confirmed_anonymous_report(chat)
    union = chat.user("n1")
    await union.say("/star")  # a question open: which worker
    async with db.sessions() as s:
        before = (await s.execute(sa.select(DialogState.__table__))).one()
    clock.advance(minutes=7)
    said = await union.say(f"/redeem {code}")
    assert "✅ 已兑奖" in said and "点赞哪位工友" in said
    async with db.sessions() as s:  # the claim's transaction wrote nothing of the organiser's
        assert (await s.execute(sa.select(DialogState.__table__))).one() == before
    said = await union.say("孙工友")  # the open question still takes its answer
    assert "正确佩戴安全帽/系挂安全带 +2" in said.buttons



async def test_nothing_to_redeem_answers_alike_and_wrong_codes_lock(chat, site, db, clock, config):
    code = await confirmed_anonymous_report(chat)
    pending = RECEIPT.search((await report_as(chat.user("w8"))).text).group()  # not settled yet
    elsewhere = await report_elsewhere(chat.user("w7"))
    union = chat.user("n1")
    answers = [(await union.say(f"/redeem {typed}")).text
               for typed in ("ABCD-EFGH-JKMN", "hello", pending, "兑奖码")]
    assert answers == [NOTHING] * 4
    said = await union.say(f"/redeem {elsewhere}")  # the fifth: locked from now on
    assert NOTHING in said and "兑奖尝试次数太多，请 10:15 以后再试。" in said
    said = await union.say(f"/redeem {code}")
    assert said.text == "兑奖尝试次数太多，请 10:15 以后再试。"
    assert (await union.say("兑奖")).text == "兑奖尝试次数太多，请 10:15 以后再试。"  # no code asked for
    async with db.sessions() as s:
        assert (await s.execute(sa.select(DialogState))).first() is None
    assert [r.claimed_at for r in await rows(db, StarReward)] == [None]
    # Counted per organiser, under a key the database cannot tie to them.
    [counter] = await rows_of_counters(db)
    assert re.fullmatch(r"redeem:[0-9a-f]{64}", counter.key)
    assert "✅ 已兑奖" in await chat.user("n2").say(f"/redeem {code}")  # another union member may

    clock.advance(minutes=16)
    assert "已于" in await union.say(f"/redeem {code}")


async def rows_of_counters(db):
    async with db.sessions() as s:
        return list((await s.execute(sa.select(AttemptCounter))).scalars())


async def test_another_projects_union_cannot_redeem_it(chat, site, db):
    code = await confirmed_anonymous_report(chat)
    assert (await chat.user("x1").say(f"/redeem {code}")).text == NOTHING
    assert [r.claimed_at for r in await rows(db, StarReward)] == [None]


async def test_only_the_union_redeems(chat, site, db):
    """The secretary and the safety officer read the reports: they never pay the rewards."""
    code = await confirmed_anonymous_report(chat)
    for uid in ("m1", "w1", "o1", "o2"):
        assert "没有使用此功能的权限" in await chat.user(uid).say(f"/redeem {code}")
    assert [r.claimed_at for r in await rows(db, StarReward)] == [None]
    assert await rows_of_counters(db) == []


async def test_redeem_in_a_group_points_to_the_private_chat(chat, site, db):
    code = await confirmed_anonymous_report(chat)
    said = await chat.user("n1", chat_id="g1", group=True).say(f"/redeem {code}")
    assert "私聊" in said
    assert [r.claimed_at for r in await rows(db, StarReward)] == [None]


async def test_rewards_in_counts_by_credit_and_claim_time(chat, site, db, clock):
    code = await confirmed_anonymous_report(chat)
    clock.advance(days=10)  # 12-03
    await chat.user("n1").say(f"/redeem {code}")
    november = (dt.datetime(2026, 10, 31, 16, tzinfo=dt.UTC), dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC))
    december = (november[1], dt.datetime(2026, 12, 31, 16, tzinfo=dt.UTC))
    async with db.sessions() as s:
        assert await star_rewards.rewards_in(s, 1, *november) == star_rewards.RewardCounts(1, 0, 5)
        assert await star_rewards.rewards_in(s, 1, *december) == star_rewards.RewardCounts(0, 1, 0)
        assert await star_rewards.rewards_in(s, 2, *november) == star_rewards.RewardCounts(0, 0, 0)


# Tables whose rows the claim's transaction may write: the claim itself, and the
# message's de-duplication mark (a keyed pseudonym, kept to the hour).
CLAIM_WRITES = {"star_rewards", "processed_messages"}


@pytest.mark.parametrize("typed", ["inline", "asked"])
async def test_on_postgresql_no_row_of_the_organisers_shares_the_claims_transaction(chat, site, db, typed):
    """Rows written (or deleted) together carry one transaction id, even once deleted, until
    vacuum: read every tuple, dead ones too, and only the claim and its message's mark may
    carry the claim's id. An organiser with a question open and a patrol going writes the
    most that could be tied to them."""
    if db.backend != "postgresql":
        pytest.skip("transaction ids are PostgreSQL's")
    code = await confirmed_anonymous_report(chat)
    union = chat.user("n1")
    await union.say("/star")  # a dialog row of the organiser's, open
    if typed == "inline":
        assert "已兑奖" in await union.say(f"/redeem {code}")
    else:
        await union.say("/cancel")
        await union.say("兑奖")
        assert "已兑奖" in await union.say(code)
    async with db.engine.connect() as conn:
        await conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        await conn.commit()
        xid = (await conn.execute(sa.text(
            "SELECT xmin::text FROM star_rewards WHERE claimed_at IS NOT NULL"))).scalar_one()
        tables = (await conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))).scalars().all()
        touched = set()
        for table in tables:
            pages = (await conn.execute(sa.text(
                "SELECT pg_relation_size(to_regclass(:t)) / current_setting('block_size')::int"),
                {"t": table})).scalar_one()
            for page in range(pages):
                found = (await conn.execute(sa.text(
                    "SELECT count(*) FROM heap_page_items(get_raw_page(:t, :p)) "
                    "WHERE t_xmin::text = :x OR t_xmax::text = :x"),
                    {"t": table, "p": page, "x": xid})).scalar_one()
                if found:
                    touched.add(table)
    assert "star_rewards" in touched and touched <= CLAIM_WRITES, touched
