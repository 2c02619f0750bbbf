"""GET /metrics: the real Starlette app served on loopback and read over httpx, after
the real adapters handled messages and the delivery worker failed to deliver one; and
prometheus-client's multiprocess mode adding several processes up."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from telegram import Update
from wechatpy.work.crypto import WeChatCrypto

from bot.adapters.telegram import TelegramAdapter
from bot.adapters.wecom import WecomAdapter
from bot.config import TelegramConfig
from bot.core.contract import Notice, Text
from bot.delivery import Deliverer
from bot.web import build_web_app
from tests import factories as f
from tests.chatbot import engine_for
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.wecom_api import FakeWecomAPI
from tests.telegram_updates import USER, tg_message

ROOT = Path(__file__).resolve().parents[1]
STRANGER = {"id": 5151, "is_bot": False, "first_name": "无名", "username": "nobody_known"}
# What a person would be known by: none of it may be in the exposition.
PERSONAL = ("4242", "5151", "张三", "无名", "nobody_known", "zhangsan", "K7MQ", "X4PD", "施工现场")


class Served:
    """An ASGI app on a loopback port, as uvicorn serves it in production."""

    def __init__(self, app):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.task = asyncio.create_task(self.server.serve(sockets=[sock]))

    async def started(self) -> Served:
        while not self.server.started:
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, ((label, value), ...)): value}"""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def read(url: str) -> tuple[str, dict]:
    async with httpx.AsyncClient() as client:
        response = await client.get(url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text, samples(response.text)


@pytest.fixture
async def scrape(db, clock):
    served = await Served(build_web_app(db.engine, [], clock=clock)).started()
    yield lambda: read(served.url)
    await served.stop()


@pytest.fixture
async def bot_api():
    fake = FakeBotAPI()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def telegram(config, bot_api, db, clock):
    cfg = config.model_copy(update={"telegram": TelegramConfig(
        token=bot_api.token, base_url=bot_api.base_url, base_file_url=bot_api.base_file_url)})
    adapter = TelegramAdapter(cfg, engine_for(cfg, clock, db.engine), retry_delays=(0, 0))
    await adapter.app.initialize()
    yield adapter
    await adapter.app.shutdown()


async def zhang_on_telegram(db) -> int:
    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        z = await f.zone(s, p)
        zhang = await f.member(s, p, "张三", roles=("member",), zones=[z], wecom_userid="zhangsan")
        await f.bind(s, zhang, platform="telegram", external_id=str(USER["id"]))
        return zhang.id


def delta(after: dict, before: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_the_exposition_after_messages_handled_and_a_delivery_given_up(
        db, clock, telegram, bot_api, scrape):
    zhang = await zhang_on_telegram(db)
    _, before = await scrape()

    for update in (tg_message("/me"), tg_message("/start K7MQ-X4PD", user=STRANGER)):
        await telegram.app.process_update(Update.de_json(update, telegram.app.bot))
    assert any("张三" in t for t in bot_api.texts())  # handled, and answered

    engine = telegram.engine
    async with db.sessions() as s, s.begin():
        await engine.enqueue(s, [Notice(zhang, (Text("张三，施工现场A区有新的整改通知"),),
                                        kind="hazard_assigned", key="metrics-test:1")], clock())
    clock.advance(seconds=90)
    _, waiting = await scrape()
    assert waiting[("redshield_outbox_due_messages", ())] == 1
    assert waiting[("redshield_outbox_unsent_messages", ())] == 1
    assert waiting[("redshield_outbox_oldest_due_age_seconds", ())] == 90
    assert waiting[("redshield_database_up", ())] == 1

    bot_api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    assert await Deliverer(db.sessions, [telegram], engine.media, clock=clock).run_once() == 1

    text, after = await scrape()
    assert delta(after, before, "redshield_updates_handled_total", platform="telegram") == 2
    assert delta(after, before, "redshield_update_handling_seconds_count", platform="telegram") == 2
    assert delta(after, before, "redshield_outbox_given_up_total", kind="hazard_assigned") == 1
    assert delta(after, before, "redshield_platform_errors_total", platform="telegram", code="Forbidden") == 1
    assert after[("redshield_outbox_due_messages", ())] == 0  # given up: no longer waiting
    assert after[("redshield_outbox_oldest_due_age_seconds", ())] == 0
    for personal in PERSONAL:
        assert personal not in text, personal
    labels = {name for (_, pairs) in after for name, _ in pairs}
    assert labels <= {"platform", "code", "kind", "le"}


async def test_wecom_messages_handled_and_errcodes_counted_by_code(db, clock, config, tmp_path):
    """The WeCom callback and /metrics on one web app, as a web worker serves them."""
    from tests.test_wecom import CORP, SECRET, seal, wecom_config, wire_xml

    await zhang_on_telegram(db)  # also WeCom user zhangsan
    api = FakeWecomAPI(CORP, SECRET)
    await api.start()
    cfg = wecom_config(config, api, tmp_path)
    adapter = WecomAdapter(cfg, engine_for(cfg, clock, db.engine))
    served = await Served(build_web_app(db.engine, adapter.routes(), clock=clock)).started()
    crypto = WeChatCrypto(cfg.wecom.token, cfg.wecom.encoding_aes_key, CORP)

    async def says(text: str, msg_id: int) -> None:
        now = int(clock().timestamp())  # WeCom's clock agrees with the bot's
        xml = wire_xml(ToUserName=CORP, FromUserName="zhangsan", CreateTime=now,
                       MsgType="text", Content=text, MsgId=msg_id, AgentID=cfg.wecom.agent_id)
        body, params = seal(xml, crypto, str(now))
        async with httpx.AsyncClient() as client:
            response = await client.post(served.url + "/wecom/callback", params=params, content=body)
        assert response.status_code == 200
        await adapter.wait_idle()

    try:
        _, before = await read(served.url)
        api.fail("message/send", 40014)  # a refused token: fetched again, and the send retried
        await says("/me", 7_300_000_000_000_000_101)
        api.fail("message/send", 60020)  # this server's IP is not trusted: the reply is lost
        await says("/help", 7_300_000_000_000_000_102)
        text, after = await read(served.url)
    finally:
        await served.stop()
        await adapter.stop()
        await api.stop()
    assert any("张三" in str(c.body) for c in api.sent("message/send"))  # /me was answered
    assert delta(after, before, "redshield_updates_handled_total", platform="wecom") == 2
    assert delta(after, before, "redshield_update_handling_seconds_count", platform="wecom") == 2
    assert delta(after, before, "redshield_platform_errors_total", platform="wecom", code="40014") == 1
    assert delta(after, before, "redshield_platform_errors_total", platform="wecom", code="60020") == 1
    for personal in PERSONAL:
        assert personal not in text, personal


async def test_without_a_database_the_counters_are_still_served():
    served = await Served(build_web_app(None, [])).started()
    try:
        async with httpx.AsyncClient() as client:
            found = samples((await client.get(served.url + "/metrics")).text)
    finally:
        await served.stop()
    assert found[("redshield_database_up", ())] == 0
    assert ("redshield_outbox_due_messages", ()) not in found


def test_several_worker_processes_are_added_up(tmp_path):
    """PROMETHEUS_MULTIPROC_DIR shared by the processes: any one of them reports all."""
    shared = tmp_path / "metrics"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared), "PYTHONPATH": str(ROOT)}

    def python(code: str) -> str:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    worker = ("from bot import metrics\n"
              "metrics.platform_error('wecom', 60020)\n"
              "with metrics.handling('telegram'):\n    pass\n")
    python(worker)
    python(worker)
    found = samples(python("import sys\nfrom bot import metrics\n"
                           "sys.stdout.write(metrics.text(None).decode())"))
    assert found[("redshield_platform_errors_total", (("code", "60020"), ("platform", "wecom")))] == 2
    assert found[("redshield_updates_handled_total", (("platform", "telegram"),))] == 2
    assert found[("redshield_update_handling_seconds_count", (("platform", "telegram"),))] == 2
