"""Chat alerts (ops/alerts.py) on a real database, SQLite and PostgreSQL: one message to each
`[ops] contacts` member when a condition starts, nothing more within the hour, one when it
ends; platform refusals as the real delivery worker records them (WeCom and Telegram
loopback fakes); an unknown contact is a warning, not a crash; and the rules file for
Prometheus names metrics the bot serves."""
from __future__ import annotations

import base64
import datetime as dt
import logging
import re
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import metrics
from bot.adapters.telegram import TelegramAdapter
from bot.adapters.wecom import WecomAdapter
from bot.config import OpsConfig, TelegramConfig, WecomConfig
from bot.core import serialize
from bot.core.contract import Notice, Text
from bot.core.registry import Job
from bot.delivery import Deliverer
from bot.web import Readiness, build_web_app
from ops import alerts
from storage import outbox
from storage.models import JobRun, Member, OutboxMessage, Project
from tests import factories as f
from tests.chatbot import test_app
from tests.fakes.wecom_api import TEST_CORP, TEST_SECRET

ROOT = Path(__file__).resolve().parents[1]
CORP, SECRET = TEST_CORP, TEST_SECRET
AES_KEY = base64.b64encode(b"0123456789abcdef0123456789ABCDEF").decode().rstrip("=")  # 43 characters


def with_contacts(config, *contacts: str):
    return config.model_copy(update={"ops": OpsConfig(contacts=contacts, outbox_max_age_minutes=15)})


@pytest.fixture
async def people(db):
    """王红梅 (Chinese) and Li Si of P2 (English); another 李四 in P1 makes the bare name ambiguous."""
    async with db.sessions() as s, s.begin():
        p1, p2 = await f.project(s, "P1"), await f.project(s, "P2", name="第二项目")
        wang = await f.member(s, p1, "王红梅", roles=("secretary",))
        li = await f.member(s, p2, "李四", locale="en")
        await f.member(s, p1, "李四")
        worker = await f.member(s, p1, "张三")
        await f.bind(s, wang, external_id="wang")
        await f.bind(s, li, external_id="li")  # contacts are reachable; 张三 never bound
        return {"王红梅": wang.id, "李四": li.id, "张三": worker.id}


async def check(db, clock, config, jobs=()) -> list[Notice]:
    async with db.sessions() as s, s.begin():
        return await alerts.check(s, clock(), config, list(jobs))


def text(notice: Notice) -> str:
    return "\n".join(r.text for r in notice.replies if isinstance(r, Text))


async def late_message(db, clock, member_id: int, minutes: int = 20) -> None:
    async with db.sessions() as s, s.begin():
        await outbox.enqueue_many(s, [{"key": f"late:{minutes}", "kind": "test", "member_id": member_id,
                                       "payload": []}], clock() - dt.timedelta(minutes=minutes))


async def mark_all_sent(db, clock) -> None:
    async with db.sessions() as s, s.begin():
        await s.execute(sa.update(OutboxMessage).where(OutboxMessage.kind == "test").values(sent_at=clock()))


# ---- start, quiet, end


async def test_a_stuck_outbox_tells_each_contact_once_and_once_when_it_ends(db, clock, config, people):
    cfg = with_contacts(config, "王红梅", "P2/李四")
    assert await check(db, clock, cfg) == []  # all well: nothing to say
    await late_message(db, clock, people["张三"])
    told = await check(db, clock, cfg)
    assert sorted(n.member_id for n in told) == sorted([people["王红梅"], people["李四"]])
    assert {n.kind for n in told} == {"ops_alert"}
    by = {n.member_id: text(n) for n in told}
    assert "消息发送积压" in by[people["王红梅"]] and "20 分钟（上限 15 分钟）" in by[people["王红梅"]]
    assert "messages are piling up" in by[people["李四"]] and "20 min (limit 15 min)" in by[people["李四"]]
    for minutes in (1, 30):  # still stuck: nothing more
        clock.advance(minutes=minutes)
        assert await check(db, clock, cfg) == []
    await mark_all_sent(db, clock)  # unstuck 31 minutes after the message
    assert await check(db, clock, cfg) == []  # not within the hour of the last message...
    clock.advance(minutes=29)
    ended = await check(db, clock, cfg)  # ...but once the hour is up
    assert sorted(n.member_id for n in ended) == sorted([people["王红梅"], people["李四"]])
    assert {text(n) for n in ended} == {"✅ 红盾：消息发送已恢复正常，积压已清。",
                                        "✅ Red Shield: messages go out again; the backlog is cleared."}
    clock.advance(minutes=5)
    assert await check(db, clock, cfg) == []


async def test_a_condition_that_comes_back_within_the_hour_is_not_told_again(db, clock, config, people):
    cfg = with_contacts(config, "王红梅")
    await late_message(db, clock, people["张三"])
    assert len(await check(db, clock, cfg)) == 1
    clock.advance(minutes=10)
    await mark_all_sent(db, clock)
    assert await check(db, clock, cfg) == []  # ended, within the hour
    await late_message(db, clock, people["张三"], minutes=30)
    clock.advance(minutes=40)
    assert await check(db, clock, cfg) == []  # back on: the contacts think it is on, rightly
    clock.advance(minutes=11)
    assert await check(db, clock, cfg) == []  # an hour on: still on, as they were told
    await mark_all_sent(db, clock)
    assert [text(n) for n in await check(db, clock, cfg)] == ["✅ 红盾：消息发送已恢复正常，积压已清。"]


async def test_what_was_told_survives_a_restart(db, clock, config, people):
    """The state is in the database: another process (a new scheduler) says nothing twice."""
    cfg = with_contacts(config, "王红梅")
    await late_message(db, clock, people["张三"])
    assert len(await check(db, clock, cfg)) == 1
    async with db.sessions() as s:
        keys = set((await s.execute(sa.select(JobRun.job))).scalars())
    assert {"ops.alert:outbox", "ops.alert:outbox:on"} <= keys
    alerts._warned.clear()  # a process's memory
    clock.advance(minutes=61)
    assert await check(db, clock, cfg) == []


async def test_nothing_is_checked_without_contacts(db, clock, config, people):
    await late_message(db, clock, people["张三"])
    assert await check(db, clock, config) == []
    async with db.sessions() as s:
        assert (await s.execute(sa.select(JobRun.job))).scalars().all() == []


async def test_given_up_messages_start_and_end_with_the_hour(db, clock, config, people):
    cfg = with_contacts(config, "王红梅")
    async with db.sessions() as s, s.begin():
        await outbox.enqueue_many(s, [{"key": f"gone:{i}", "kind": "test", "member_id": people["张三"],
                                       "payload": []} for i in range(3)], clock())
        await s.execute(sa.update(OutboxMessage).values(failed_at=clock(), last_error="test: blocked"))
    [told] = await check(db, clock, cfg)
    assert "最近一小时有 3 条消息发送失败，已放弃" in text(told)
    clock.advance(minutes=59)
    assert await check(db, clock, cfg) == []
    clock.advance(minutes=2)
    assert [text(n) for n in await check(db, clock, cfg)] == ["✅ 红盾：最近一小时没有再放弃发送的消息。"]


async def test_a_job_that_missed_its_run(db, clock, config, people):
    cfg = with_contacts(config, "王红梅")

    async def work(session, now, config):
        return []

    monday = Job("monday_report", CronTrigger(day_of_week="mon", hour=8, minute=30, timezone=cfg.tz), work)
    jobs = [monday, Job("often", IntervalTrigger(minutes=15), work)]
    clock.now = dt.datetime(2026, 11, 30, 0, 50, tzinfo=dt.UTC)  # Monday 08:50 in Shanghai
    async with db.sessions() as s, s.begin():
        s.add(JobRun(job="monday_report", last_run_at=clock() - dt.timedelta(days=7, minutes=20)))
        s.add(JobRun(job="often", last_run_at=clock() - dt.timedelta(minutes=5)))
    [told] = await check(db, clock, cfg, jobs)  # 08:30 passed without it (a failure, say)
    assert "定时任务没有按时运行：monday_report。" in text(told)
    async with db.sessions() as s, s.begin():  # run by hand
        await s.merge(JobRun(job="monday_report", last_run_at=clock()))
    clock.advance(hours=1)
    async with db.sessions() as s, s.begin():
        await s.merge(JobRun(job="often", last_run_at=clock()))
    assert [text(n) for n in await check(db, clock, cfg, jobs)] == ["✅ 红盾：定时任务已恢复按时运行。"]


# ---- platforms refusing, as the delivery worker records it


async def test_wecom_refusing_the_ip_is_told_and_its_end(db, clock, config, people, app, wecom_api):
    cfg = with_contacts(config, "王红梅").model_copy(update={"wecom": WecomConfig(
        corp_id=CORP, agent_id=1000002, secret=SECRET, token="AlertsToken", encoding_aes_key=AES_KEY,
        api_base_url=wecom_api.base_url)})
    adapter = WecomAdapter(cfg, app.engine, sleep=_no_sleep)
    async with db.sessions() as s, s.begin():
        await s.execute(sa.update(Member).where(Member.id == people["张三"]).values(wecom_userid="zhangsan"))
        await outbox.enqueue_many(s, [{"key": "to-zhang", "kind": "test", "member_id": people["张三"],
                                       "payload": await serialize.dump([Text("你好")], app.engine.media)}], clock())
    deliverer = Deliverer(db.sessions, [adapter], app.engine.media, clock=clock)
    try:
        wecom_api.fail("message/send", 60020, times=None)  # the server's IP is not trusted
        assert await deliverer.run_once() == 1
        [told] = await check(db, clock, cfg)
        assert "企业微信不信任本服务器的 IP（60020）" in text(told) and "企业可信IP" in text(told)
        assert "Telegram" not in text(told)
        wecom_api.sticky_errors.clear()  # the operator added the IP
        clock.advance(minutes=61)
        assert await deliverer.run_once() == 1
        ended = await check(db, clock, cfg)
        assert [text(n) for n in ended] == ["✅ 红盾：聊天平台不再拒绝机器人的调用。"]
    finally:
        await adapter.stop()


async def test_telegram_refusing_the_token_is_told(db, clock, config, people, app, tg_api):
    cfg = with_contacts(config, "P2/李四").model_copy(update={"telegram": TelegramConfig(
        token=tg_api.token, base_url=tg_api.base_url, base_file_url=tg_api.base_file_url)})
    adapter = TelegramAdapter(cfg, app.engine, retry_delays=(0,))
    await adapter.app.initialize()
    async with db.sessions() as s, s.begin():
        await f.bind(s, await s.get(Member, people["张三"]), platform="telegram", external_id="4242")
        await outbox.enqueue_many(s, [{"key": "to-zhang", "kind": "test", "member_id": people["张三"],
                                       "payload": await serialize.dump([Text("你好")], app.engine.media)}], clock())
    try:
        tg_api.fail_next("sendMessage", 401, "Unauthorized")
        await Deliverer(db.sessions, [adapter], app.engine.media, clock=clock).run_once()
        [told] = await check(db, clock, cfg)
        assert "Telegram refuses the bot token (401)" in text(told)
    finally:
        await adapter.app.shutdown()


async def _no_sleep(seconds: float) -> None:
    pass


# ---- contacts


async def test_an_unknown_contact_is_a_warning_not_a_crash(db, clock, config, people, caplog, monkeypatch):
    monkeypatch.setattr(alerts, "_warned", {})
    cfg = with_contacts(config, "无此人", "李四", "王红梅")
    await late_message(db, clock, people["张三"])
    with caplog.at_level(logging.WARNING, logger="redshield.alerts"):
        told = await check(db, clock, cfg)
    assert [n.member_id for n in told] == [people["王红梅"]]
    logged = caplog.text
    assert "'无此人' names no member" in logged
    assert "'李四' names several members (write PROJECT_CODE/name)" in logged


async def test_with_no_contact_found_nothing_is_remembered(db, clock, config, people, caplog, monkeypatch):
    """Nobody could be told: once the name is fixed, the contact hears of the condition."""
    monkeypatch.setattr(alerts, "_warned", {})
    await late_message(db, clock, people["张三"])
    with caplog.at_level(logging.WARNING, logger="redshield.alerts"):
        assert await check(db, clock, with_contacts(config, "王虹梅")) == []
        clock.advance(minutes=1)
        assert await check(db, clock, with_contacts(config, "王虹梅")) == []
    assert caplog.text.count("names no member") == 1  # said once an hour, not every minute
    clock.advance(minutes=1)
    assert len(await check(db, clock, with_contacts(config, "王虹梅", "P1/王红梅"))) == 1


# ---- contacts no message can reach, and members who never bound


async def alerts_delivered(app, clock, config) -> int:
    """One run of the alerts as the scheduler runs them, its messages delivered at once
    (the test inbox; a member with no account there is given up, as in production)."""
    async def work(session, now, cfg):
        return await alerts.check(session, now, config, [])

    return await app.scheduler.run_once(alerts.JOB, work)


async def test_an_unreachable_contact_does_not_keep_the_alert_going(db, clock, config, people, caplog,
                                                                   monkeypatch):
    """An alert to a contact with no reachable account is given up at once; that must not
    keep `given_up` on (on, ended, on again every hour) for the contacts who get them."""
    monkeypatch.setattr(alerts, "_warned", {})
    async with db.sessions() as s, s.begin():
        p1 = await s.get(Project, (await s.get(Member, people["王红梅"])).project_id)
        nobody = (await f.member(s, p1, "赵六")).id  # never bound
    cfg = with_contacts(config, "王红梅", "赵六")
    app = test_app(cfg, clock, db)
    inbox = app.deliverer.adapters["test"]
    async with db.sessions() as s, s.begin():
        await outbox.enqueue_many(s, [{"key": "gone", "kind": "test", "member_id": people["张三"],
                                       "payload": []}], clock())
        await s.execute(sa.update(OutboxMessage).values(failed_at=clock(), last_error="test: blocked"))
    with caplog.at_level(logging.WARNING, logger="redshield.alerts"):
        await alerts_delivered(app, clock, cfg)
        for _ in range(6 * 12):  # six hours of checks, every five minutes
            clock.advance(minutes=5)
            await alerts_delivered(app, clock, cfg)
    told = [r.text for r in inbox.received[people["王红梅"]]]
    assert len(told) == 2, told  # once on, once ended: not on, ended, on again every hour
    assert "最近一小时有 1 条消息发送失败，已放弃" in told[0]
    assert told[1] == "✅ 红盾：最近一小时没有再放弃发送的消息。"
    async with db.sessions() as s:
        to_nobody = (await s.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == alerts.KIND, OutboxMessage.member_id == nobody))).scalar_one()
    assert to_nobody == 0  # skipped, not queued to be given up
    warned = caplog.text.count("cannot be reached (never bound)")
    assert 1 <= warned <= 2  # at most once an hour: the two conditions' messages, an hour apart


async def test_a_reminder_to_a_member_who_never_bound_is_no_alert(db, clock, config, people):
    cfg = with_contacts(config, "王红梅")
    app = test_app(cfg, clock, db)
    async with db.sessions() as s, s.begin():
        await outbox.enqueue_many(s, [{"key": "remind:1", "kind": "remind_personal",
                                       "member_id": people["张三"], "payload": []}], clock())
    assert await app.deliverer.run_once() == 1  # 张三 never bound: given up
    async with db.sessions() as s:
        [row] = (await s.execute(sa.select(OutboxMessage))).scalars().all()
    assert row.failed_at is not None and row.last_error == "no reachable account"
    assert await check(db, clock, cfg) == []
    clock.advance(minutes=30)
    assert await check(db, clock, cfg) == []


# ---- the job, as the scheduler runs it


async def test_the_scheduler_runs_the_alerts_and_the_contact_receives_them(db, clock, config, people):
    cfg = with_contacts(config, "王红梅")
    app = test_app(cfg, clock, db)
    job = app.scheduler.jobs[alerts.JOB]
    assert isinstance(job.trigger, IntervalTrigger) and job.trigger.interval == dt.timedelta(minutes=1)
    async with db.sessions() as s, s.begin():
        await outbox.enqueue_many(s, [{"key": "gone", "kind": "test", "member_id": people["张三"],
                                       "payload": []}], clock())
        await s.execute(sa.update(OutboxMessage).values(failed_at=clock(), last_error="test: invalid"))
    inbox = app.deliverer.adapters["test"]
    try:
        assert await app.scheduler.run_job(alerts.JOB) == 1
        [reply] = inbox.received[people["王红梅"]]
        assert "1 条消息发送失败，已放弃" in reply.text
        clock.advance(minutes=1)
        assert await app.scheduler.run_job(alerts.JOB) == 0
    finally:
        await app.scheduler.release()


# ---- the Prometheus rules


RULES = ROOT / "deploy" / "prometheus-alerts.yml"


def rules() -> list[dict]:
    """The rules file read by PyYAML when it is installed, else by a small reader of the
    one shape it has (groups → rules → alert/expr/for/labels/annotations)."""
    source = RULES.read_text(encoding="utf-8")
    try:
        import yaml
    except ImportError:
        return _read_rules(source)
    loaded = yaml.safe_load(source)
    assert set(loaded) == {"groups"} and loaded["groups"][0]["name"] == "redshield"
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def _read_rules(source: str) -> list[dict]:
    assert re.search(r"^groups:\n  - name: redshield\n    rules:\n", source, re.M), "unexpected layout"
    found, rule, section = [], None, None
    for line in source.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line.startswith(("groups:", "  - name",
                                                                                  "    rules:")):
            continue
        item = re.fullmatch(r"      - alert: (\S+)", line)
        field = re.fullmatch(r"        (\w+):(?: (.+))?", line)
        nested = re.fullmatch(r"          (\w+): (.+)", line)
        if item:
            rule = {"alert": item[1]}
            found.append(rule)
        elif field and rule is not None:
            section = field[1]
            rule[section] = _scalar(field[2]) if field[2] else {}
        elif nested and isinstance(rule.get(section), dict):
            rule[section][nested[1]] = _scalar(nested[2])
        else:
            raise AssertionError(f"a line the rules file should not have: {line!r}")
    return found


def _scalar(value: str) -> str:
    if value.startswith('"'):
        assert value.endswith('"') and len(value) > 1, value
        return value[1:-1].replace('\\"', '"')
    assert not value.startswith(("'", "{", "[", "|", ">")), value
    return value


async def test_the_prometheus_rules_name_metrics_the_bot_serves(db, clock, config, app):
    read = rules()
    names = [r["alert"] for r in read]
    assert len(names) == len(set(names)) >= 8
    for rule in read:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["expr"].count("(") == rule["expr"].count(")")
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"])
    # Every metric a rule reads is one /metrics serves (counters once they counted).
    metrics.platform_error("wecom", 60020)
    metrics.given_up("alerts_test")
    web = build_web_app(db.engine, [], clock=clock, readiness=Readiness(
        db.engine, config, jobs=list(app.scheduler.jobs.values()), clock=clock))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(web), base_url="http://bot") as client:
        served = (await client.get("/metrics")).text
    exposed = set(re.findall(r"^(redshield_\w+?)(?:\{| )", served, re.M))
    wanted = {name for rule in read for name in re.findall(r"\bredshield_\w+", rule["expr"])}
    assert wanted and wanted <= exposed, wanted - exposed
    text_of = {r["alert"]: r["expr"] for r in read}
    assert 'code="60020"' in text_of["RedShieldWecomIpNotTrusted"]
    assert all(code in text_of["RedShieldWecomCredentialsRefused"] for code in ("40014", "41001"))
    assert 'code="InvalidToken"' in text_of["RedShieldTelegramTokenRefused"]
    assert 'code="Forbidden"' in text_of["RedShieldTelegramForbiddenSpike"]
