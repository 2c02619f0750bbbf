"""Faults a company-wide deployment meets: a worker dies mid-conversation, WeCom
delivers one message three times to two workers at once."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.telegram_updates import tg_message, tg_tap

ROOT = Path(__file__).resolve().parents[1]
SECRET = "fault-test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_healthy(port: int, proc, timeout: float = 30) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(int(timeout * 10)):
            if proc.returncode is not None:
                raise AssertionError(f"worker exited: {(await proc.stdout.read()).decode()[-2000:]}")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("worker did not come up")


async def test_a_worker_killed_mid_conversation_the_user_goes_on_with_another(db, tmp_path):
    """Two web workers on one database: the first dies (SIGKILL) after asking which zone;
    the tap reaches the second, which knows the question."""
    from tests.fakes.telegram_api import FakeBotAPI

    api = FakeBotAPI()
    await api.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDSHIELD_")}
    env.update(PYTHONPATH=str(ROOT), REDSHIELD_SECRET_KEY="faults-" + "k" * 40, REDSHIELD_DATABASE_URL=db.url,
               REDSHIELD_DATABASE_SCHEMA=db.schema or "",  # the test's own tables
               REDSHIELD_TELEGRAM_TOKEN=api.token, REDSHIELD_TELEGRAM_WEBHOOK_SECRET=SECRET)
    (tmp_path / "config.toml").write_text(textwrap.dedent(f"""\
        [telegram]
        mode = "webhook"
        webhook_url = "https://bot.example.com/telegram/webhook"
        base_url = "{api.base_url}"
        base_file_url = "{api.base_file_url}"
        [media]
        dir = "{tmp_path / 'media'}"
        """), encoding="utf-8")
    code = await _member_with_code(db)
    ports = [free_port(), free_port()]
    workers = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--role", "web", "--port", str(port), cwd=tmp_path,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT) for port in ports]
    try:
        for port, proc in zip(ports, workers):
            await wait_healthy(port, proc)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with httpx.AsyncClient(headers=headers) as web:
            async def post(port: int, update: dict) -> None:
                r = await web.post(f"http://127.0.0.1:{port}/telegram/webhook", json=update)
                assert r.status_code == 200

            async def say(port: int, update: dict) -> dict:
                """Post an update; the bot's last message in answer to it."""
                before = len(api.sent("sendMessage"))
                await post(port, update)
                await api.wait_for("sendMessage", before + 1)
                await asyncio.sleep(0.3)  # an answer may have more than one message
                return api.sent("sendMessage")[-1]

            await say(ports[0], tg_message(f"/start {code}"))
            question = await say(ports[0], tg_message("/patrol"))
            assert "请选择巡查区域" in question["text"]

            workers[0].send_signal(signal.SIGKILL)
            await workers[0].wait()

            answer = await say(ports[1], tg_tap(question, "施工现场A区"))
            assert "请发送您现在的位置" in answer["text"]
    finally:
        for proc in workers:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), 20)
        await api.stop()
    assert workers[1].returncode == 0  # SIGTERM: a clean stop


async def _member_with_code(db) -> str:
    from tests import factories as f

    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        zone = await f.zone(s, p)
        zhang = await f.member(s, p, "张三", zones=[zone])
        return await f.invite(s, zhang)


async def test_wecom_delivers_three_times_to_two_workers_at_once(db, config, clock, tmp_path):
    """Two WeCom adapters with engines of their own (two workers) get the same message
    three times, concurrently: it is handled once, answered once."""
    from bot.adapters.wecom import WecomAdapter
    from storage.db import create_engine
    from tests import factories as f
    from tests.chatbot import engine_for
    from tests.fakes.wecom_api import FakeWecomAPI
    from tests.test_wecom import CORP, FakeTime, Wecom, wecom_config
    from tests.test_wecom import SECRET as WECOM_SECRET

    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        await f.member(s, p, "张三", wecom_userid="zhangsan")
    api = FakeWecomAPI(CORP, WECOM_SECRET)
    await api.start()
    second_db = create_engine(db.url, schema=db.schema)
    try:
        cfg = wecom_config(config, api, tmp_path)
        sides = []
        for side_db in (db.engine, second_db):
            time = FakeTime()
            adapter = WecomAdapter(cfg, engine_for(cfg, clock, side_db),
                                   clock=time.monotonic, sleep=time.sleep)
            sides.append(Wecom(adapter, api, time, db))
        xml = sides[0].member("zhangsan").xml("text", Content="我的")
        deliveries = [sides[0].deliver(xml), sides[1].deliver(xml), sides[1].deliver(xml)]
        await asyncio.gather(*deliveries)
        for side in sides:
            await side.adapter.wait_idle()
        replies = [c for c in api.sent("message/send") if "张三" in str(c.body)]
        assert len(replies) == 1
        for side in sides:
            await side.close()
    finally:
        await second_db.dispose()
        await api.stop()


async def test_a_stopped_scheduler_hands_over_its_lock(db, config, app, engine, tmp_path):
    """SIGTERM to the scheduling process: it stops cleanly and releases the advisory
    lock, so a spare scheduler takes over."""
    if db.backend != "postgresql":
        pytest.skip("leadership is a PostgreSQL advisory lock")
    from bot.scheduler import Scheduler
    from tests.fakes.telegram_api import FakeBotAPI

    api = FakeBotAPI()
    await api.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDSHIELD_")}
    env.update(PYTHONPATH=str(ROOT), REDSHIELD_SECRET_KEY="faults-" + "k" * 40,
               REDSHIELD_DATABASE_URL=db.url, REDSHIELD_DATABASE_SCHEMA=db.schema,
               REDSHIELD_TELEGRAM_TOKEN=api.token, REDSHIELD_TELEGRAM_BASE_URL=api.base_url)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--role", "scheduler", "--port", str(port),
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    spare = Scheduler(config, db.engine, db.sessions, engine, list(app.scheduler.jobs.values()))
    try:
        await wait_healthy(port, proc)
        for _ in range(50):  # it takes the lock right after starting
            if not await spare.try_lead():
                break
            await spare.release()
            await asyncio.sleep(0.1)
        assert not spare.leader
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        assert await spare.try_lead()
    finally:
        await spare.release()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await api.stop()
