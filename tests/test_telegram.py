"""The Telegram adapter: the real PTB Application against a loopback fake Bot API,
fed updates shaped like Telegram's."""
from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image as PILImage
from telegram import Update

from bot.adapters.telegram import TelegramAdapter
from bot.bootstrap import bootstrap
from bot.config import LimitsConfig, RedisConfig, SecurityConfig, TelegramConfig
from bot.core.contract import AskLocation, Choices, Incoming, Kind, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.registry import Registry
from bot.web import build_web_app
from storage.models import Identity
from tests import factories as f
from tests.chatbot import engine_for, jpeg
from tests.fakes.telegram_api import FakeBotAPI
from tests.telegram_updates import tg_message, tg_tap

GROUP = {"id": -100555, "type": "supergroup", "title": "项目部群"}


@pytest.fixture
async def api():
    fake = FakeBotAPI()
    await fake.start()
    yield fake
    await fake.stop()


def tg_config(config, api, **changes):
    telegram = TelegramConfig(token=api.token, base_url=api.base_url,
                              base_file_url=api.base_file_url, **changes)
    return config.model_copy(update={"telegram": telegram})


class Phone:
    """Feeds updates to the adapter's real Application, as Telegram would."""

    def __init__(self, adapter: TelegramAdapter, api: FakeBotAPI):
        self.adapter, self.api = adapter, api

    async def send(self, update: dict) -> list:
        before = len(self.api.calls)
        await self.adapter.app.process_update(Update.de_json(update, self.adapter.app.bot))
        return self.api.calls[before:]

    async def say(self, text: str, **kw) -> list:
        return await self.send(tg_message(text, **kw))


async def make_phone(config, api, engine) -> Phone:
    adapter = TelegramAdapter(config, engine, retry_delays=(0, 0))
    await adapter.app.initialize()
    return Phone(adapter, api)


@pytest.fixture
async def phone(config, api, db, clock):
    cfg = tg_config(config, api)
    phone = await make_phone(cfg, api, engine_for(cfg, clock, db.engine))
    yield phone
    await phone.adapter.app.shutdown()


@pytest.fixture
async def code(db):
    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        z = await f.zone(s, p)
        zhang = await f.member(s, p, "张三", roles=("member", "vanguard"), zones=[z])
        return await f.invite(s, zhang)


def texts(calls) -> str:
    return "\n".join(c["text"] for c in calls if c.method in ("sendMessage", "editMessageText"))


# ---- conversations


async def test_onboarding_me_and_help_buttons(phone, code, db):
    calls = await phone.say(f"/start {code}")
    assert "绑定成功" in texts(calls)
    help_message = calls[-1]
    assert "我的" in [b["text"] for b in help_message.buttons]

    calls = await phone.send(tg_tap(help_message, "我的"))
    assert calls[0].method == "answerCallbackQuery"
    assert "张三 · 示例项目" in texts(calls)
    async with db.sessions() as s:
        assert (await s.execute(sa.select(Identity.external_id))).scalar_one() == "4242"


async def test_deep_link_start_carries_the_code(phone, code):
    # t.me/RedShieldTestBot?start=CODE arrives as "/start CODE".
    assert "绑定成功" in texts(await phone.say(f"/start {code.replace('-', '')}"))


async def test_choices_become_inline_buttons_and_show_the_answer(phone, code):
    await phone.say(f"/start {code}")
    question = (await phone.say("/lang"))[-1]
    assert [b["text"] for b in question.buttons] == ["中文", "English", "取消"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in question.buttons)
    assert all("4242" not in b["callback_data"] for b in question.buttons)

    calls = await phone.send(tg_tap(question, "English"))
    methods = [c.method for c in calls]
    assert methods[0] == "answerCallbackQuery" and "editMessageText" in methods
    assert "› English" in texts(c for c in calls if c.method == "editMessageText")
    assert "English from now on" in texts(calls)

    stale = await phone.send(tg_tap(question, "中文"))
    assert stale[0].method == "answerCallbackQuery"
    assert "expired" in texts(stale)


async def test_group_chat_only_commands_addressed_to_us(phone, code):
    assert await phone.say("大家好", chat=GROUP) == []
    assert await phone.say("/me@SomeOtherBot", chat=GROUP) == []
    calls = await phone.say(f"/start@RedShieldTestBot {code}", chat=GROUP)
    assert "私聊" in texts(calls)
    assert calls[-1].buttons[0]["url"] == "https://t.me/RedShieldTestBot"
    await phone.say(f"/start {code}")
    assert "张三" in texts(await phone.say("/me@RedShieldTestBot", chat=GROUP))


async def test_an_update_is_processed_once(phone, code):
    update = tg_message(f"/start {code}")
    first = await phone.send(update)
    again = await phone.send(update)
    assert "绑定成功" in texts(first) and again == []


async def test_commands_menu_in_chinese_and_english(api, config, db, clock):
    cfg = tg_config(config, api)
    adapter = TelegramAdapter(cfg, engine_for(cfg, clock, db.engine))
    await adapter.app.initialize()
    await adapter._set_commands()
    await adapter.app.shutdown()
    menus = {c.params.get("language_code"): c["commands"] for c in api.sent("setMyCommands")}
    assert set(menus) == {None, "zh", "en"}
    assert {"command": "me", "description": "我的信息"} in menus["zh"]
    assert {"command": "me", "description": "my details"} in menus["en"]


# ---- media


async def test_largest_photo_is_downloaded_and_reaches_the_hazard_report(phone, api, code, config):
    await phone.say(f"/start {code}")
    api.files["photos/big.jpg"] = jpeg("red", size=(128, 96))
    sizes = [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 10},
             {"file_id": "big", "file_unique_id": "b", "width": 1280, "height": 960, "file_size": 17}]
    calls = await phone.send(tg_message(photo=sizes))
    assert [c["file_id"] for c in calls if c.method == "getFile"] == ["big"]
    assert "已收到 1 张照片" in texts(calls)
    [stored] = list(Path(config.media.dir).rglob("*.jpg"))  # as the handler keeps it
    assert PILImage.open(stored).size == (128, 96)


async def test_too_large_photo_is_refused_before_download(phone):
    sizes = [{"file_id": "huge", "file_unique_id": "h", "width": 9000, "height": 9000,
              "file_size": 21 * 1024 * 1024}]
    calls = await phone.send(tg_message(photo=sizes))
    assert "照片太大" in texts(calls) and "20 MB" in texts(calls)
    assert not [c for c in calls if c.method == "getFile"]


async def test_image_documents_are_photos_other_documents_refused(phone, api, code):
    await phone.say(f"/start {code}")
    api.files["photos/doc1.jpg"] = jpeg("blue")
    doc = {"file_id": "doc1", "file_unique_id": "d1", "file_name": "hazard.png",
           "mime_type": "image/png", "file_size": 10}
    calls = await phone.send(tg_message(document=doc))
    assert [c["file_id"] for c in calls if c.method == "getFile"] == ["doc1"]

    pdf = {"file_id": "doc2", "file_unique_id": "d2", "file_name": "a.pdf",
           "mime_type": "application/pdf", "file_size": 10}
    assert "只能接收照片" in texts(await phone.send(tg_message(document=pdf)))


async def test_a_voice_note_is_evidence_in_a_hazard_and_fetched_only_then(phone, api, code, config):
    await phone.say(f"/start {code}")
    voice = {"file_id": "v1", "file_unique_id": "uv1", "duration": 4, "mime_type": "audio/ogg",
             "file_size": 9}
    calls = await phone.send(tg_message(voice=voice))  # no question open: not fetched
    assert "语音和视频没有保存" in texts(calls) and not api.sent("getFile")
    await phone.say("/hazard")
    api.files["photos/v1.jpg"] = b"OggS-voice"
    calls = await phone.send(tg_message(voice=voice))
    assert [c["file_id"] for c in calls if c.method == "getFile"] == ["v1"]
    assert "已收到 0 张照片、附语音 1 条" in texts(calls)
    assert [p.read_bytes() for p in Path(config.media.dir).rglob("*") if p.is_file()] == [b"OggS-voice"]


# ---- rendering, through a probe registry whose flow asks for a location


def probe_registry() -> Registry:
    from handlers import help as help_

    registry = Registry()
    where = registry.flow(Flow("where"))

    async def ask_where(ctx: Ctx):
        return AskLocation("你在哪里？", skippable=True)

    @where.step(accepts={Kind.location, Kind.choice}, ask=ask_where)
    async def loc(ctx: Ctx, msg: Incoming) -> None:
        ctx.finish()
        ctx.say("跳过了" if msg.kind is Kind.choice else f"收到 {msg.latitude:.4f},{msg.longitude:.4f}")

    async def start_where(ctx: Ctx, msg: Incoming) -> None:
        await ctx.start(where)

    async def long(ctx: Ctx, msg: Incoming) -> None:
        ctx.say("\n".join("很长的一行<b>" + "安" * 90 for _ in range(100)))

    async def broken(ctx: Ctx, msg: Incoming) -> None:
        ctx.send(Choices("选", (Option("x", "v" * 80),)))

    for name, fn in (("where", start_where), ("long", long), ("broken", broken)):
        registry.command(Command(name, fn, name, public=True))
    registry.join_text = "join us"
    help_.register(registry)
    return registry


@pytest.fixture
async def probe(config, api, db, clock):
    cfg = tg_config(config, api)
    phone = await make_phone(cfg, api, engine_for(cfg, clock, db.engine, probe_registry()))
    yield phone
    await phone.adapter.app.shutdown()


async def test_location_keyboard_then_removed(probe):
    ask = (await probe.say("/where"))[-1]
    keyboard = ask["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_location"] is True and keyboard[1][0]["text"] == "跳过"
    calls = await probe.send(tg_message(location={"latitude": 31.2304, "longitude": 121.4737}))
    assert "收到 31.2304,121.4737" in texts(calls)
    assert calls[-1]["reply_markup"] == {"remove_keyboard": True}


async def test_live_location_first_fix_taken_edits_ignored(probe):
    await probe.say("/where")
    live = {"latitude": 31.0, "longitude": 121.0, "live_period": 900}
    assert "收到 31.0000,121.0000" in texts(await probe.send(tg_message(location=live)))
    moved = tg_message(location={"latitude": 31.1, "longitude": 121.1, "live_period": 900})
    moved["edited_message"] = moved.pop("message")
    moved["edited_message"]["edit_date"] = int(time.time())
    assert await probe.send(moved) == []


async def test_skip_button_of_the_location_keyboard(probe):
    await probe.say("/where")
    assert "跳过了" in texts(await probe.say("跳过"))


async def test_long_text_is_split_and_sent_as_typed(probe):
    calls = await probe.say("/long")
    sent = [c["text"] for c in calls if c.method == "sendMessage"]
    assert len(sent) == 3 and all(len(t) <= 4096 for t in sent)
    assert "parse_mode" not in calls[0].params and "<b>" in sent[0]


async def test_unexpected_failure_reaches_the_user_with_an_id(probe, caplog):
    calls = await probe.say("/broken")
    assert "出错了（编号" in texts(calls)
    error_id = texts(calls).split("编号 ")[1][:8]
    assert error_id in caplog.text


# ---- failures


async def test_blocked_user_is_marked_unreachable_and_not_retried(phone, api, code, db):
    await phone.say(f"/start {code}")
    api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    calls = await phone.say("/me")
    assert len([c for c in calls if c.method == "sendMessage"]) == 1
    async with db.sessions() as s:
        identity = (await s.execute(sa.select(Identity))).scalar_one()
    assert identity.unreachable_since is not None


async def test_network_errors_are_retried(phone, api, code):
    api.fail_next("sendMessage", 502, "Bad Gateway")
    calls = await phone.say(f"/start {code}")
    sends = [c for c in calls if c.method == "sendMessage"]
    assert "绑定成功" in sends[0]["text"] and sends[0]["text"] == sends[1]["text"]


async def test_flood_limit_is_waited_out(phone, api, code):
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    calls = await phone.say(f"/start {code}")
    assert len([c for c in calls if c.method == "sendMessage" and "绑定成功" in c["text"]]) == 2


# ---- webhook


async def test_webhook_checks_the_secret(api, config, db, clock, code):
    cfg = tg_config(config, api, mode="webhook", webhook_url="https://bot.example.com/telegram/webhook",
                    webhook_secret="s3cret-token")
    adapter = TelegramAdapter(cfg, engine_for(cfg, clock, db.engine))
    await adapter.start()
    try:
        assert api.sent("setWebhook")[0]["secret_token"] == "s3cret-token"
        app = build_web_app(db.engine, adapter.routes())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as web:
            update = tg_message(f"/start {code}")
            assert (await web.post("/telegram/webhook", json=update)).status_code == 403
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-tokeN"}
            assert (await web.post("/telegram/webhook", json=update, headers=wrong)).status_code == 403
            right = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            assert (await web.post("/telegram/webhook", content=b"{not json", headers=right)).status_code == 400
            assert (await web.post("/telegram/webhook", json=update, headers=right)).status_code == 200
            sent = await api.wait_for("sendMessage")
            assert "绑定成功" in sent[0]["text"]
            assert (await web.get("/healthz")).json() == {"ok": True}
    finally:
        await adapter.stop()


# ---- the sending limits (on here; the other tests run with them lifted)


def limited(config, **limits):
    return config.model_copy(update={"limits": LimitsConfig(**limits)})


async def test_a_429_pauses_every_chat_then_the_message_goes(config, api, db, clock):
    cfg = tg_config(limited(config), api)
    phone = await make_phone(cfg, api, engine_for(cfg, clock, db.engine))
    try:
        api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        started = time.monotonic()
        await asyncio.gather(phone.adapter.deliver("111", [Text("第一条")]),
                             _later(0.2, phone.adapter.deliver("222", [Text("第二条")])))
        sends = api.sent("sendMessage")
        delivered = {c["text"]: c.at - started for c in sends[1:]}
        assert [c["text"] for c in sends].count("第一条") == 2  # refused once, then sent
        # Both waited out the pause, the other chat too, though it never got a 429.
        assert delivered["第一条"] >= 1.0 and delivered["第二条"] >= 1.0
    finally:
        await phone.adapter.app.shutdown()


async def _later(delay: float, work):
    await asyncio.sleep(delay)
    return await work


async def test_two_workers_keep_one_chats_pace_through_redis(config, api, db, clock):
    url = os.environ.get("REDSHIELD_TEST_REDIS_URL")
    if not url:
        pytest.skip("REDSHIELD_TEST_REDIS_URL is not set")
    # Each test run its own key (a pseudonym under its own secret key).
    cfg = tg_config(limited(config, telegram_chat_seconds=0.3, telegram_chat_burst=1), api)
    cfg = cfg.model_copy(update={"redis": RedisConfig(url=url), "security": SecurityConfig(
        secret_key=f"limits-{uuid.uuid4().hex}")})
    workers = [bootstrap(cfg, clock, db=db.engine, delivery="none") for _ in range(2)]
    try:
        for w in workers:
            await w.adapters[0].app.initialize()
        await asyncio.gather(*(w.adapters[0].deliver("42", [Text(f"{i}-a"), Text(f"{i}-b")])
                               for i, w in enumerate(workers)))
        sends = api.sent("sendMessage")
        gaps = [b.at - a.at for a, b in zip(sends, sends[1:])]
        # Reserved padded(0.3) = 0.6 apart across workers; measured where they arrive, a busy
        # machine delays one request more than the next, so allow for that jitter (without
        # the shared limiter the two workers' messages arrive together: gaps near 0).
        assert len(sends) == 4 and min(gaps) >= 0.45
        for i in range(2):  # each worker's own two in their order
            mine = [c["text"] for c in sends if c["text"].startswith(f"{i}-")]
            assert mine == [f"{i}-a", f"{i}-b"]
    finally:
        for w in workers:
            await w.adapters[0].app.shutdown()
            await w.close()


async def test_different_chats_are_handled_together_one_chat_in_order(config, api, db, clock):
    """PTB's update queue hands updates over as they come; a slow update of one chat
    holds up only that chat."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one transaction write at a time: its single process takes turns")
    cfg = tg_config(config, api)
    registry = Registry()
    registry.join_text = "join us"
    started: list[str] = []
    release = asyncio.Event()

    async def hold(ctx: Ctx, msg: Incoming) -> None:
        started.append("hold")
        await release.wait()
        ctx.say("done hold")

    async def echo(ctx: Ctx, msg: Incoming) -> None:
        started.append(msg.text)
        ctx.say(f"done {msg.text}")

    registry.command(Command("hold", hold, "hold", public=True, takes_args=True))
    registry.command(Command("echo", echo, "echo", public=True, takes_args=True))
    adapter = TelegramAdapter(cfg, engine_for(cfg, clock, db.engine, registry))
    await adapter.app.initialize()
    await adapter.app.start()
    try:
        one, two = ({"id": uid, "is_bot": False, "first_name": name, "language_code": "zh-hans"}
                    for uid, name in ((501, "甲"), (502, "乙")))
        for text, user in (("/hold", one), ("/echo a", one), ("/echo b", two)):
            await adapter.app.update_queue.put(Update.de_json(tg_message(text, user=user), adapter.app.bot))
        await api.wait_for("sendMessage", 1)
        assert api.texts() == ["done b"]  # the other chat did not wait for the slow one
        assert sorted(started) == ["b", "hold"]  # the slow chat's second waits for its first
        release.set()
        await api.wait_for("sendMessage", 3)
        assert api.texts() == ["done b", "done hold", "done a"]
    finally:
        release.set()
        await adapter.app.stop()
        await adapter.app.shutdown()
