"""GET /healthz and /readyz on the real web app, on SQLite and PostgreSQL: ready when every
check passes, 503 naming the one that fails for each cause (the database, Redis, the
Telegram and WeCom tokens on their loopback fakes, the scheduler lead, the outbox's oldest
due message); and what /metrics tells of the scheduler (the lead, jobs that missed a run)."""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger
from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.telegram import TelegramAdapter
from bot.adapters.wecom import WecomAdapter
from bot.config import RedisConfig, TelegramConfig, WecomConfig
from bot.core.registry import Job
from bot.scheduler import Scheduler, every, job_states, lock_key
from bot.web import Readiness, build_web_app
from storage import outbox
from storage.db import create_engine, session_factory
from storage.models import JobRun, OutboxMessage
from tests import factories as f
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.wecom_api import TEST_CORP, TEST_SECRET, FakeWecomAPI

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("REDSHIELD_TEST_REDIS_URL")
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
CORP, SECRET = TEST_CORP, TEST_SECRET
AES_KEY = base64.b64encode(b"0123456789abcdef0123456789ABCDEF").decode().rstrip("=")


async def probe(app, path: str = "/readyz") -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://bot") as web:
        return await web.get(path)


async def ready(readiness: Readiness) -> tuple[int, dict]:
    response = await probe(build_web_app(readiness.db, [], readiness=readiness))
    return response.status_code, response.json()


@pytest.fixture
async def leading(app):
    """The scheduler lead is held (by this test's scheduler; on PostgreSQL its lock)."""
    assert await app.scheduler.try_lead()
    yield app.scheduler
    await app.scheduler.release()


def with_telegram(config, api: FakeBotAPI):
    return config.model_copy(update={"telegram": TelegramConfig(
        token=api.token, base_url=api.base_url, base_file_url=api.base_file_url)})


def with_wecom(config, api: FakeWecomAPI, secret: str = SECRET):
    return config.model_copy(update={"wecom": WecomConfig(
        corp_id=CORP, agent_id=1000002, secret=secret, token="ReadinessToken",
        encoding_aes_key=AES_KEY, api_base_url=api.base_url)})


def with_redis(config, url: str):
    return config.model_copy(update={"redis": RedisConfig(url=url)})


@pytest.fixture
async def telegram(config, app, tg_api):
    adapter = TelegramAdapter(with_telegram(config, tg_api), app.engine)
    await adapter.app.initialize()  # as `run` starts it (getMe)
    yield adapter
    await adapter.app.shutdown()


@pytest.fixture
async def make_wecom(config, app, wecom_api):
    made = []

    def make(secret: str = SECRET) -> WecomAdapter:
        made.append(WecomAdapter(with_wecom(config, wecom_api, secret), app.engine))
        return made[-1]

    yield make
    for adapter in made:
        await adapter.stop()


# ---- /healthz


async def test_healthz_says_the_process_lives_whatever_the_database(db, tmp_path):
    gone = create_engine(f"sqlite+aiosqlite:///{tmp_path}")  # a folder: no database opens there
    try:
        for engine in (db.engine, gone):
            response = await probe(build_web_app(engine, []), "/healthz")
            assert response.status_code == 200 and response.json() == {"ok": True}
    finally:
        await gone.dispose()


# ---- /readyz: all well


async def test_ready_when_every_check_passes(db, config, clock, leading, telegram, make_wecom, tg_api):
    cfg = with_redis(config, REDIS_URL) if REDIS_URL else config
    wecom = make_wecom()
    readiness = Readiness(db.engine, cfg, adapters=[telegram, wecom], scheduler=leading, clock=clock)
    status, body = await ready(readiness)
    expected = {"database", "scheduler_lead", "outbox", "telegram", "wecom"} | ({"redis"} if REDIS_URL else set())
    assert status == 200, body
    assert body == {"ok": True, "failing": [], "checks": {name: "ok" for name in expected}}
    # A token that worked is not asked again for a minute: probes do not call Telegram each time.
    calls = len(tg_api.sent("getMe"))
    assert (await ready(readiness))[0] == 200
    assert len(tg_api.sent("getMe")) == calls


async def test_without_a_configuration_only_the_database_is_checked(db):
    response = await probe(build_web_app(db.engine, []))
    assert response.status_code == 200
    assert response.json() == {"ok": True, "failing": [], "checks": {"database": "ok"}}


# ---- /readyz: each cause


async def test_not_ready_when_the_database_is_unreachable(db, config, clock, leading, tmp_path):
    if db.backend == "postgresql":
        gone = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/test")  # nothing listens
    else:
        garbage = tmp_path / "garbage.db"  # opens, then fails: no thread left connecting
        garbage.write_bytes(b"not a database" * 100)
        gone = create_engine(f"sqlite+aiosqlite:///{garbage}")
    try:
        status, body = await ready(Readiness(gone, config, scheduler=leading, clock=clock))
    finally:
        await gone.dispose()
    assert status == 503
    assert body["failing"] == ["database"]
    assert body["checks"]["database"].startswith("unreachable")
    # What reads the database is not asked while it does not answer.
    assert set(body["checks"]) == {"database"}


async def test_not_ready_when_redis_is_unreachable(db, config, clock, leading):
    cfg = with_redis(config, UNREACHABLE_REDIS)
    status, body = await ready(Readiness(db.engine, cfg, scheduler=leading, clock=clock))
    assert status == 503
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"].startswith("unreachable")
    assert body["checks"]["database"] == body["checks"]["outbox"] == "ok"


async def test_redis_answering_is_ready(db, config, clock, leading):
    if not REDIS_URL:
        pytest.skip("REDSHIELD_TEST_REDIS_URL is not set")
    status, body = await ready(Readiness(db.engine, with_redis(config, REDIS_URL), scheduler=leading, clock=clock))
    assert status == 200 and body["checks"]["redis"] == "ok"


async def test_not_ready_when_telegram_refuses_the_token(db, config, clock, leading, telegram, tg_api):
    now = [1000.0]
    readiness = Readiness(db.engine, config, adapters=[telegram], scheduler=leading, clock=clock,
                          monotonic=lambda: now[0])
    assert (await ready(readiness))[0] == 200
    tg_api.fail_next("getMe", 401, "Unauthorized")  # the token was revoked
    assert (await ready(readiness))[0] == 200  # the success of a moment ago still holds...
    now[0] += 61  # ...for a minute
    status, body = await ready(readiness)
    assert status == 503
    assert body["failing"] == ["telegram"]
    assert body["checks"]["telegram"] == "refused: InvalidToken"


async def test_not_ready_when_telegram_is_unreachable(db, config, clock, leading, telegram, tg_api):
    readiness = Readiness(db.engine, config, adapters=[telegram], scheduler=leading, clock=clock)
    tg_api.fail_next("getMe", 502, "Bad Gateway")
    status, body = await ready(readiness)
    assert status == 503 and body["failing"] == ["telegram"]
    assert body["checks"]["telegram"].startswith("unreachable")


async def test_not_ready_when_wecom_refuses_the_secret(db, config, clock, leading, make_wecom):
    wrong = make_wecom(secret="not-the-secret")
    status, body = await ready(Readiness(db.engine, config, adapters=[wrong], scheduler=leading, clock=clock))
    assert status == 503
    assert body["failing"] == ["wecom"]
    assert body["checks"]["wecom"] == "refused: errcode 40001"


async def test_not_ready_when_wecom_does_not_trust_the_ip(db, config, clock, leading, make_wecom, wecom_api):
    wecom_api.fail("gettoken", 60020)
    status, body = await ready(Readiness(db.engine, config, adapters=[make_wecom()], scheduler=leading,
                                         clock=clock))
    assert status == 503 and body["checks"]["wecom"] == "refused: errcode 60020"


async def test_not_ready_without_a_scheduler_lead(db, config, clock, app):
    if db.backend == "postgresql":
        # A web worker: no scheduler of its own; pg_locks tells whether any process leads.
        web = Readiness(db.engine, config, clock=clock)
        status, body = await ready(web)
        assert status == 503 and body["failing"] == ["scheduler_lead"]
        assert "no process holds the scheduler lead" in body["checks"]["scheduler_lead"]
        other = create_engine(db.url, schema=db.schema)  # another process, as it were
        try:
            # Another deployment's lock (another schema) is not ours.
            async with other.connect() as conn:
                await conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": lock_key("someone_else")})
                assert (await ready(web))[0] == 503
                await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key("someone_else")})
            scheduler = Scheduler(config, other, session_factory(other), app.engine, [], clock=clock)
            assert await scheduler.try_lead()
            try:
                assert await ready(web) == (200, {"ok": True, "failing": [], "checks": {
                    "database": "ok", "scheduler_lead": "ok", "outbox": "ok"}})
            finally:
                await scheduler.release()
            assert (await ready(web))[0] == 503  # it stopped: nobody leads
        finally:
            await other.dispose()
    else:
        # SQLite runs one process: the lead is this process's scheduler.
        assert (await ready(Readiness(db.engine, config, clock=clock)))[1]["failing"] == ["scheduler_lead"]
        mine = Readiness(db.engine, config, scheduler=app.scheduler, clock=clock)
        assert (await ready(mine))[1]["failing"] == ["scheduler_lead"]  # not leading yet
        assert await app.scheduler.try_lead()
        try:
            assert (await ready(mine))[0] == 200
        finally:
            await app.scheduler.release()


async def test_not_ready_when_an_outbox_message_waits_too_long(db, config, clock, leading):
    readiness = Readiness(db.engine, config, scheduler=leading, clock=clock)
    async with db.sessions() as s, s.begin():
        member = await f.member(s, await f.project(s))
        await outbox.enqueue_many(s, [{"key": "late", "kind": "test", "member_id": member.id, "payload": []}],
                                  clock() - dt.timedelta(minutes=14))
    assert (await ready(readiness))[0] == 200  # 14 minutes: within the 15 allowed
    clock.advance(minutes=2)
    status, body = await ready(readiness)
    assert status == 503 and body["failing"] == ["outbox"]
    assert "960 s (limit 900 s)" in body["checks"]["outbox"]
    async with db.sessions() as s, s.begin():  # sent at last
        await s.execute(sa.update(OutboxMessage).values(sent_at=clock()))
    assert (await ready(readiness))[0] == 200


# ---- what /metrics tells of the scheduler


def samples(text: str) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


THURSDAY_6PM = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)  # 18:00 in Shanghai


def thursday_job(config) -> Job:
    async def work(session, now, config):
        return []

    return Job("thursday", CronTrigger(day_of_week="thu", hour=18, minute=0, timezone=config.tz), work)


async def mark(db, name: str, at: dt.datetime) -> None:
    async with db.sessions() as s, s.begin():
        await s.merge(JobRun(job=name, last_run_at=at))


async def test_a_job_that_missed_its_run(db, config, clock):
    weekly, often = thursday_job(config), Job("often", every(15), thursday_job(config).work)
    jobs = [weekly, often]

    async def missed(now) -> dict[str, bool]:
        async with db.sessions() as s:
            return {st.name: st.missed for st in await job_states(s, jobs, now)}

    # A new deployment: nothing ran yet, nothing is late.
    assert await missed(THURSDAY_6PM + dt.timedelta(hours=2)) == {"thursday": False, "often": False}
    await mark(db, "often", THURSDAY_6PM - dt.timedelta(hours=1))  # the scheduler was there
    # 18:00 passed without the weekly job; within the grace it is not late yet.
    assert (await missed(THURSDAY_6PM + dt.timedelta(minutes=5)))["thursday"] is False
    assert await missed(THURSDAY_6PM + dt.timedelta(minutes=15)) == {"thursday": True, "often": True}
    await mark(db, "thursday", THURSDAY_6PM + dt.timedelta(seconds=2))
    await mark(db, "often", THURSDAY_6PM + dt.timedelta(minutes=10))
    assert await missed(THURSDAY_6PM + dt.timedelta(minutes=30)) == {"thursday": False, "often": False}
    # The interval job stops: late once an interval and the grace went by without it.
    assert (await missed(THURSDAY_6PM + dt.timedelta(minutes=35)))["often"] is False
    assert (await missed(THURSDAY_6PM + dt.timedelta(minutes=37)))["often"] is True
    # Last week's run does not count for this week.
    assert (await missed(THURSDAY_6PM + dt.timedelta(days=7, minutes=11)))["thursday"] is True


async def test_metrics_tell_the_lead_and_the_jobs(db, config, clock, app):
    clock.now = THURSDAY_6PM + dt.timedelta(minutes=20)
    jobs = [thursday_job(config)]
    await mark(db, "thursday", THURSDAY_6PM - dt.timedelta(days=7))  # last week's run only
    web = build_web_app(db.engine, [], clock=clock, readiness=Readiness(
        db.engine, config, scheduler=app.scheduler, jobs=jobs, clock=clock))
    got = samples((await probe(web, "/metrics")).text)
    assert got[("redshield_scheduler_lead_held", ())] == 0
    assert got[("redshield_scheduler_leader", ())] == 0
    assert got[("redshield_job_missed", (("job", "thursday"),))] == 1
    assert got[("redshield_job_last_run_age_seconds", (("job", "thursday"),))] == 7 * 86400 + 20 * 60
    assert await app.scheduler.try_lead()
    try:
        await mark(db, "thursday", THURSDAY_6PM)
        got = samples((await probe(web, "/metrics")).text)
        assert got[("redshield_scheduler_lead_held", ())] == 1
        assert got[("redshield_scheduler_leader", ())] == 1
        assert got[("redshield_job_missed", (("job", "thursday"),))] == 0
        assert got[("redshield_job_last_run_age_seconds", (("job", "thursday"),))] == 20 * 60
    finally:
        await app.scheduler.release()


# ---- `redshield run` wires it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_run_serves_readyz_and_the_scheduler_metrics(tmp_path):
    """`run --role scheduler` on SQLite: ready once its scheduler leads, and /metrics says so."""
    port = free_port()
    (tmp_path / "config.toml").write_text(f"[server]\nport = {port}\n[database]\n"
                                          f"url = \"sqlite+aiosqlite:///{tmp_path / 'bot.db'}\"\n",
                                          encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDSHIELD_")}
    env.update(PYTHONPATH=str(ROOT), REDSHIELD_SECRET_KEY="readiness-" + "k" * 40)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--role", "scheduler", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            body = None
            for _ in range(150):
                try:
                    response = await client.get("/readyz")
                    body = response.json()
                    if response.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"never ready: {body}")
            assert body == {"ok": True, "failing": [], "checks": {
                "database": "ok", "scheduler_lead": "ok", "outbox": "ok"}}
            got = samples((await client.get("/metrics")).text)
            assert got[("redshield_scheduler_leader", ())] == 1
            assert got[("redshield_scheduler_lead_held", ())] == 1
            assert ("redshield_job_missed", (("job", "ops_alerts"),)) in got
    finally:
        proc.send_signal(signal.SIGINT)
        output = (await asyncio.wait_for(proc.communicate(), 30))[0].decode()
    assert proc.returncode == 0, output
