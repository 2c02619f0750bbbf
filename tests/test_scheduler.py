"""Reminders, overdue escalation, leave, the outbox and the one scheduler, on an
injected clock."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.core import serialize
from bot.delivery import Deliverer
from bot.scheduler import Scheduler
from handlers import reminders
from storage import outbox as outbox_store
from storage.db import create_engine, session_factory
from storage.models import Hazard, OutboxMessage, Patrol, Project
from tests import factories as f
from tests.chatbot import Inbox

SH = ZoneInfo("Asia/Shanghai")
THURSDAY_6PM = dt.datetime(2026, 11, 26, 18, 0, tzinfo=SH)


async def patrol(s, member, minutes, start=dt.datetime(2026, 11, 24, 9, 0, tzinfo=SH)):
    s.add(Patrol(member_id=member.id, project_id=member.project_id, started_at=start,
                 ended_at=start + dt.timedelta(minutes=minutes), created_at=start))


@pytest.fixture
async def site(db, clock):
    clock.now = THURSDAY_6PM
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1")
        people = {}
        spec = [  # name, roles, minutes this week, extra
            ("张三", ("member",), 30, {}),
            ("李四", ("member",), 130, {}),
            ("王五", ("member",), 0, {"leave_until": dt.date(2026, 11, 30)}),
            ("赵六", ("member",), 0, {"active": False}),
            ("钱七", ("member",), 60, {"joined_at": dt.datetime(2026, 11, 25, 9, 0, tzinfo=SH)}),
            ("李队长", ("member", "vanguard", "leader"), 125, {}),
            ("王书记", ("member", "secretary"), 120, {}),
            ("孙安监", ("safety_officer",), 0, {}),
            ("赵强", ("assignee",), 0, {}),
        ]
        for i, (name, roles, minutes, extra) in enumerate(spec):
            m = await f.member(s, p, name, roles=roles, **extra)
            await f.bind(s, m, external_id=f"u{i}")
            if minutes:
                await patrol(s, m, minutes)
            people[name] = m.id
    return people


@pytest.fixture
async def schedulers():
    """Schedulers made by a test give up their lock at its end, as a stopping bot does."""
    made: list[Scheduler] = []
    yield made
    for s in made:
        await s.release()


@pytest.fixture
def scheduler(app, engine, db, config, clock, schedulers):
    def make() -> Scheduler:
        schedulers.append(Scheduler(config, db.engine, db.sessions, engine,
                                    list(app.scheduler.jobs.values()), clock=clock))
        return schedulers[-1]

    return make


async def test_who_is_reminded_and_why(db, site, clock, config):
    async with db.sessions() as s:
        decided = {d.name: d for d in await reminders.personal_decisions(s, clock(), config)}
    assert {n for n, d in decided.items() if d.remind} == {"张三", "钱七"}
    assert decided["李四"].reason == "met"
    assert decided["王五"].reason == "on_leave until 2026-11-30"
    assert "赵六" not in decided and "孙安监" not in decided  # inactive; not a Party member
    assert (decided["钱七"].required, decided["钱七"].minutes) == (90, 60)  # joined Wednesday


async def test_a_sweep_run_twice_sends_once(chat, db, site, clock, config, engine, scheduler):
    sched = scheduler()
    assert await sched.run_job("remind_personal_0") == 2
    assert await sched.run_job("remind_personal_0") == 0
    zhang = chat.notices(site["张三"])
    assert len(zhang.replies) == 1
    assert "本周巡查 30分钟 / 2小时" in zhang and "还差 1小时30分" in zhang
    assert zhang.buttons == ["开始巡查", "补记巡查"]
    assert "1小时" in chat.notices(site["钱七"]) and chat.notices(site["李四"]).replies == []
    said = await chat.user("u0").tap("开始巡查", choices=zhang.choices)
    assert "请选择巡查区域" in said  # the button works days later: it is a command


async def test_a_crash_between_sending_and_marking_loses_nothing(db, site, clock, config, engine, chat, scheduler):
    sched = scheduler()
    engine.on_outbox = None  # no delivery as the job runs: we deliver by hand below
    await sched.run_job("remind_personal_0")
    # A worker claims the messages, sends them, and dies before marking them sent.
    async with db.sessions() as s, s.begin():
        claimed = await outbox_store.claim(s, clock(), 10)
    inbox = Inbox(db.sessions)
    inbox.received = chat.inbox
    for row in claimed:
        await inbox.deliver("u0" if row.member_id == site["张三"] else "u4",
                            await serialize.load(row.payload, engine.media))
    first = {m: len(r) for m, r in chat.inbox.items()}
    worker = Deliverer(db.sessions, [inbox], engine.media, clock=clock)
    assert await worker.run_once() == 0  # claimed a moment ago: another worker's business
    clock.advance(minutes=6)
    assert await worker.run_once() == 2  # the claim went stale: taken over and sent
    async with db.sessions() as s:
        rows = (await s.execute(sa.select(OutboxMessage))).scalars().all()
    assert all(r.sent_at is not None for r in rows)
    assert {m: len(r) for m, r in chat.inbox.items()} == {m: 2 * n for m, n in first.items()}
    assert await worker.run_once() == 0  # and never again


async def test_permanent_failures_are_recorded_not_retried(db, site, clock, config, engine, scheduler):
    from bot.adapters.base import DeliveryFailed

    class Blocked:
        platform = "test"
        calls = 0

        async def deliver(self, user_id, replies):
            Blocked.calls += 1
            raise DeliveryFailed("blocked", permanent=True)

    engine.on_outbox = None
    await scheduler().run_job("remind_personal_0")
    worker = Deliverer(db.sessions, [Blocked()], engine.media, clock=clock)
    await worker.run_once()
    clock.advance(hours=2)
    await worker.run_once()
    assert Blocked.calls == 2  # one try each, never again
    async with db.sessions() as s:
        rows = (await s.execute(sa.select(OutboxMessage))).scalars().all()
    assert all(r.failed_at is not None and r.last_error == "test: blocked" for r in rows)


async def test_a_missed_job_runs_once_on_restart(db, site, clock, config, engine, chat, scheduler):
    clock.now = THURSDAY_6PM + dt.timedelta(hours=2)  # the bot was down at 18:00
    sched = scheduler()
    ran = await sched.catch_up()
    assert "remind_personal_0" in ran and "remind_personal_1" not in ran
    assert await sched.catch_up() == []  # coalesced: once
    assert len(chat.notices(site["张三"]).replies) == 1
    clock.now = THURSDAY_6PM + dt.timedelta(hours=20)
    assert "remind_personal_0" not in await scheduler().catch_up()


async def test_two_schedulers_one_runs(db, site, clock, config, app, engine, scheduler, schedulers):
    if db.backend != "postgresql":
        pytest.skip("leadership is a PostgreSQL advisory lock; SQLite has one process")
    other_engine = create_engine(db.url, schema=db.schema)
    try:
        first = scheduler()
        second = Scheduler(config, other_engine, session_factory(other_engine), engine,
                           list(app.scheduler.jobs.values()), clock=clock)
        schedulers.append(second)
        assert await first.try_lead() and not await second.try_lead()
        assert await second.run_job("remind_personal_0") == 0
        assert await first.run_job("remind_personal_0") == 2
        await first.release()
        assert await second.try_lead()
        await second.release()
    finally:
        schedulers.remove(second)
        await other_engine.dispose()


async def test_team_reminder_goes_to_leaders_and_secretary(db, site, clock, config, engine, chat, scheduler):
    await scheduler().run_job("remind_team")
    for name in ("李队长", "王书记"):
        said = chat.notices(site[name])
        assert "本周团队巡查 0分钟 / 2小时" in said and said.buttons == ["发起团队巡查"]
    assert chat.notices(site["张三"]).replies == []


async def test_overdue_hazards_climb_the_chain(db, site, clock, config, engine, chat, scheduler):
    async with db.sessions() as s, s.begin():
        project_id = (await s.execute(sa.select(Project.id))).scalar_one()
        s.add(Hazard(project_id=project_id, year=2026, number=1, category="脚手架", grade="general",
                     description="缺扣件", reporter_id=site["张三"], assignee_id=site["赵强"],
                     deadline=dt.date(2026, 11, 25), status="open", created_at=clock()))
    sched = scheduler()
    for day, expected in ((0, {"赵强"}), (2, {"赵强", "孙安监"}), (5, {"赵强", "孙安监", "王书记"})):
        clock.now = dt.datetime(2026, 11, 26, 9, 0, tzinfo=SH) + dt.timedelta(days=day)
        await sched.run_job("overdue_hazards")
        told = {name for name, mid in site.items() if chat.notices(mid).replies}
        assert told == expected, day
    clock.now += dt.timedelta(hours=1)
    assert await sched.run_job("overdue_hazards") == 0  # once a day each


async def test_leave_is_approved_by_the_secretary_and_stops_reminders(db, site, clock, config, engine, chat):
    zhang = chat.user("u0")
    await zhang.say("请假")
    await zhang.tap("今天")  # the leave may start on a chosen day
    said = await zhang.tap("到下周日")
    assert "事由" in said
    assert "等待党支部书记批准" in await zhang.say("回家探亲")
    request = chat.notices(site["王书记"])
    assert "张三 申请请假 11-26–12-06" in request
    assert "请假由党支部书记批准" in await chat.user("u1").say("/leave approve 1")
    assert "已批准" in await chat.user("u6").tap("批准", choices=request.choices)
    assert "已批准" in chat.notices(site["张三"])
    async with db.sessions() as s:
        decided = {d.name: d for d in await reminders.personal_decisions(s, clock(), config)}
    assert not decided["张三"].remind and decided["张三"].reason.startswith("on_leave")
    assert "已经处理过" in await chat.user("u6").say("/leave reject 1")


async def test_monday_weekly_report_to_officers_and_the_committee(db, site, clock, config, app, engine,
                                                                 chat, schedulers):
    from bot.core.contract import Image

    async with db.sessions() as s, s.begin():
        project = await s.get(Project, (await s.execute(sa.select(Project.id))).scalar_one())
        boss = await f.member(s, project, "分公司党委", roles=("committee",))
        await f.bind(s, boss, external_id="boss")
    clock.now = dt.datetime(2026, 11, 30, 8, 30, tzinfo=SH)  # Monday: the report of W48
    sched = Scheduler(config, db.engine, db.sessions, engine, list(app.scheduler.jobs.values()),
                      clock=clock)
    schedulers.append(sched)
    assert await sched.run_job("weekly_report") == 3
    for name in ("王书记", "孙安监"):
        said = chat.notices(site[name])
        assert "2+2 周报 · 2026-W48" in said and "张三" in said
        [chart] = [r for r in said.replies if isinstance(r, Image)]
        assert chart.data.startswith(b"\x89PNG")
    summary = chat.notices(boss.id)
    assert "各项目 2+2 周报 · 2026-W48" in summary
    assert chat.notices(site["张三"]).replies == []
    assert await sched.run_job("weekly_report") == 0
