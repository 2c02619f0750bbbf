"""Every adapter renders every reply intent of the contract. A new intent added to
`Reply` without an example here (and without each adapter learning to show it)
fails this file, not a member's phone. `Deferred` is the one intent adapters never
see: the engine and the deliverer make it into a reply first."""
from __future__ import annotations

import io
import typing

import pytest

from bot.adapters.console import ConsoleChat
from bot.adapters.telegram import TelegramAdapter
from bot.adapters.wecom import WecomAdapter
from bot.config import default_config
from bot.core.contract import (
    AskLocation,
    AskPhoto,
    Choices,
    Deferred,
    Document,
    Image,
    Intent,
    OpenPrivateChat,
    Option,
    Reply,
    Text,
)
from storage.db import create_engine
from tests.chatbot import engine_for, jpeg
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.wecom_api import FakeWecomAPI
from tests.test_telegram import tg_config
from tests.test_wecom import CORP, SECRET, FakeTime, wecom_config

EXAMPLES: dict[type, Reply] = {
    Text: Text("巡查开始"),
    Choices: Choices("隐患等级：", (Option("一般隐患", "general"), Option("重大隐患", "major")),
                     token="tok1"),
    AskLocation: AskLocation("请发送位置", skippable=True, button_label="📍 发送当前位置",
                             skip_label="跳过", token="tok2"),
    AskPhoto: AskPhoto("请拍照", many=True, done_label="完成", token="tok3"),
    Image: Image(jpeg(), caption="整改前", filename="before.jpg"),
    Document: Document(b"%PDF-1.4 test", "notice.pdf", caption="整改通知书"),
    OpenPrivateChat: OpenPrivateChat("此功能请在与我的私聊中使用。", "打开私聊", "report"),
}


def test_every_intent_has_an_example():
    assert set(typing.get_args(Reply)) == set(EXAMPLES)


def test_a_deferred_document_is_made_before_any_adapter_sees_it():
    """What a step may send is what adapters render, and Deferred, which they never get."""
    assert set(typing.get_args(Intent)) == set(typing.get_args(Reply)) | {Deferred}
    assert Deferred not in typing.get_args(Reply)


@pytest.fixture
def no_db(tmp_path):
    return create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")  # never connected


@pytest.mark.parametrize("kind", list(EXAMPLES), ids=lambda k: k.__name__)
async def test_telegram_renders(kind, no_db):
    api = FakeBotAPI()
    await api.start()
    try:
        cfg = tg_config(default_config(), api)
        adapter = TelegramAdapter(cfg, engine_for(cfg, None, no_db), retry_delays=(0, 0))
        await adapter.app.initialize()
        try:
            await adapter.deliver("4242", [EXAMPLES[kind]])
        finally:
            await adapter.app.shutdown()
        sent = [c for c in api.calls if str(c.params.get("chat_id")) == "4242"]
        assert sent and all(c.method.startswith("send") for c in sent)
    finally:
        await api.stop()


@pytest.mark.parametrize("kind", list(EXAMPLES), ids=lambda k: k.__name__)
async def test_wecom_renders(kind, no_db, tmp_path):
    api = FakeWecomAPI(CORP, SECRET)
    await api.start()
    try:
        cfg = wecom_config(default_config(), api, tmp_path)
        time = FakeTime()
        adapter = WecomAdapter(cfg, engine_for(cfg, None, no_db), clock=time.monotonic,
                               sleep=time.sleep)
        try:
            await adapter.deliver("zhangsan", [EXAMPLES[kind]])
        finally:
            await adapter.stop()
        sent = [c for c in api.calls if c.path == "message/send"]
        assert sent and all(c.ok and c.body["touser"] == "zhangsan" for c in sent)
    finally:
        await api.stop()


@pytest.mark.parametrize("kind", list(EXAMPLES), ids=lambda k: k.__name__)
def test_the_console_renders(kind, no_db, tmp_path):
    chat = ConsoleChat(engine_for(default_config(), None, no_db), "u", out=io.StringIO(),
                       files_dir=tmp_path)
    assert chat.render(EXAMPLES[kind]).strip()
