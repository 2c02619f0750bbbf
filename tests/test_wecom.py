"""The WeCom adapter: callbacks encrypted with WeChatCrypto exactly as WeCom
does, posted to the real web app; outgoing calls recorded by a loopback fake of
the WeCom API."""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import itertools
import logging
import re
import uuid

import httpx
import pytest
import sqlalchemy as sa
import xmltodict
from wechatpy.work.crypto import PrpCrypto, WeChatCrypto

from bot.adapters.wecom import WecomAdapter, app_menu, create_app_menu
from bot.adapters.wecom_client import WecomClient
from bot.config import MediaConfig, WecomConfig, default_config
from bot.core.contract import AskLocation, Choices, Document, Image, Kind, Option, Text
from bot.web import build_web_app
from storage.db import create_engine
from storage.models import Identity
from tests import factories as f
from tests.chatbot import engine_for
from tests.fakes.wecom_api import Call, FakeWecomAPI

CORP = "wwredshield0001"
AGENT = 1000002
SECRET = "app-secret-for-tests"
TOKEN = "RedShieldCallbackToken"
AES_KEY = base64.b64encode(b"0123456789abcdef0123456789ABCDEF").decode().rstrip("=")  # 43 chars
JPEG = b"\xff\xd8\xff\xe0" + b"site photo" * 100


# ---- WeCom's side of the callback


def wire_xml(**fields) -> str:
    parts = [f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}><![CDATA[{v}]]></{k}>"
             for k, v in fields.items()]
    return "<xml>" + "".join(parts) + "</xml>"


def sign(timestamp: str, nonce: str, encrypt: str, token: str = TOKEN) -> str:
    """WeCom's msg_signature: SHA-1 of the sorted token, timestamp, nonce and ciphertext."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def seal(xml: str, crypto: WeChatCrypto, timestamp: str,
         nonce: str = "n0nce42") -> tuple[str, dict]:
    """The envelope WeCom posts, and its query parameters (`timestamp`: when it is sent,
    in seconds since the epoch; `Wecom.seal` takes our clock's)."""
    sealed = xmltodict.parse(crypto.encrypt_message(xml, nonce, timestamp))["xml"]
    body = wire_xml(ToUserName=CORP, AgentID=str(AGENT), Encrypt=sealed["Encrypt"])
    return body, {"msg_signature": sealed["MsgSignature"], "timestamp": timestamp, "nonce": nonce}


class FakeTime:
    """Monotonic time and sleep for the adapter, moved by hand (no test waits a minute)."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)  # others run meanwhile, at the time the sleep began
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclasses.dataclass
class Said:
    """What WeCom was asked to show after one message."""

    calls: list[Call]

    def sends(self, msgtype: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.path == "message/send" and c.ok
                and (msgtype is None or c["msgtype"] == msgtype)]

    @property
    def text(self) -> str:
        """Everything the member reads: text messages and the cards' titles."""
        shown = []
        for c in self.sends():
            if c["msgtype"] == "text":
                shown.append(c["text"]["content"])
            elif c["msgtype"] == "template_card":
                card = c["template_card"]
                shown += [card["main_title"]["title"], card.get("sub_title_text", "")]
        return "\n".join(shown)

    @property
    def card(self) -> dict:
        cards = self.sends("template_card")
        assert cards, f"no card in {[c.body for c in self.calls]}"
        return cards[-1]["template_card"]

    @property
    def updates(self) -> list[Call]:
        return [c for c in self.calls if c.path == "message/update_template_card"]

    def __contains__(self, needle: str) -> bool:
        return needle in self.text


class Wecom:
    """The WeCom server in front of our web app: it encrypts what members do and posts it."""

    def __init__(self, adapter: WecomAdapter, api: FakeWecomAPI, time: FakeTime, db=None):
        self.adapter, self.api, self.time = adapter, api, time
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, CORP)
        app = build_web_app(db.engine if db else None, adapter.routes())
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                      base_url="http://redshield.test")
        self.seen = []  # every Incoming the engine was given
        handle = adapter.engine.handle

        async def spy(msg):
            self.seen.append(msg)
            return await handle(msg)

        adapter.engine.handle = spy

    async def close(self) -> None:
        await self.http.aclose()
        await self.adapter.stop()

    async def post(self, body: str | bytes, params: dict) -> httpx.Response:
        return await self.http.post("/wecom/callback", params=params, content=body)

    def timestamp(self, offset: float = 0) -> str:
        """WeCom's clock, which agrees with ours (moved with the test's clock), or is
        `offset` seconds ahead of it."""
        return str(int(self.adapter.wall_clock() + offset))

    def seal(self, xml: str, crypto: WeChatCrypto | None = None, offset: float = 0
             ) -> tuple[str, dict]:
        return seal(xml, crypto or self.crypto, self.timestamp(offset))

    async def deliver(self, xml: str, crypto: WeChatCrypto | None = None) -> Said:
        before = len(self.api.calls)
        response = await self.post(*self.seal(xml, crypto))
        assert (response.status_code, response.text) == (200, "")
        await self.adapter.wait_idle()
        return Said(self.api.calls[before:])

    def member(self, userid: str) -> Member:
        return Member(self, userid)


_ids = itertools.count(7_300_000_000_000_000_001)
_times = itertools.count(1_763_863_200)


class Member:
    def __init__(self, wecom: Wecom, userid: str):
        self.wecom, self.userid = wecom, userid

    def xml(self, msg_type: str, **fields) -> str:
        head = dict(ToUserName=CORP, FromUserName=self.userid, CreateTime=next(_times),
                    MsgType=msg_type)
        if msg_type != "event":
            fields["MsgId"] = next(_ids)
        return wire_xml(**head, **fields, AgentID=AGENT)

    async def says(self, text: str) -> Said:
        return await self.wecom.deliver(self.xml("text", Content=text))

    async def sends_image(self, media_id: str) -> Said:
        return await self.wecom.deliver(self.xml(
            "image", PicUrl="https://wework.qpic.cn/fake", MediaId=media_id))

    async def sends_location(self, latitude: float, longitude: float, label: str = "") -> Said:
        return await self.wecom.deliver(self.xml(
            "location", Location_X=str(latitude), Location_Y=str(longitude), Scale=15,
            Label=label))

    async def event(self, event: str, **fields) -> Said:
        return await self.wecom.deliver(self.xml("event", Event=event, **fields))

    async def opens_app(self) -> Said:
        return await self.event("enter_agent", EventKey="")

    async def clicks_menu(self, key: str) -> Said:
        return await self.event("click", EventKey=key)

    async def taps(self, label: str, card: dict) -> Said:
        key = next((b["key"] for b in card["button_list"] if b["text"] == label), None)
        assert key is not None, f"no button {label!r} in {card['button_list']}"
        return await self.event("template_card_event", EventKey=key, TaskId=card["task_id"],
                                CardType=card["card_type"],
                                ResponseCode=f"click-code-{next(_ids)}")


def wecom_config(base, api: FakeWecomAPI, tmp_path, max_photo_mb: int = 1, **wecom):
    settings = dict(corp_id=CORP, agent_id=AGENT, secret=SECRET, token=TOKEN,
                    encoding_aes_key=AES_KEY, api_base_url=api.base_url)
    return base.model_copy(update={
        "wecom": WecomConfig(**{**settings, **wecom}),
        "media": MediaConfig(dir=str(tmp_path / "media"), max_photo_mb=max_photo_mb)})


# ---- fixtures


@pytest.fixture
async def api():
    fake = FakeWecomAPI(CORP, SECRET)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def make_wecom(config, api, db, clock, tmp_path):
    """A factory: the adapter on the test database, with WeCom settings changed as asked."""
    made: list[Wecom] = []

    async def make(**changes) -> Wecom:
        cfg = wecom_config(config, api, tmp_path, **changes)
        time = FakeTime()
        adapter = WecomAdapter(cfg, engine_for(cfg, clock, db.engine),
                               clock=time.monotonic, sleep=time.sleep)
        made.append(Wecom(adapter, api, time, db))
        return made[-1]

    yield make
    for wecom in made:
        await wecom.close()


@pytest.fixture
async def wecom(make_wecom) -> Wecom:
    return await make_wecom()


@pytest.fixture
async def bare(api, tmp_path):
    """The adapter without a database, for what it sends on its own (reminders, notices)."""
    cfg = wecom_config(default_config(), api, tmp_path)
    time = FakeTime()
    no_db = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")  # never connected
    adapter = WecomAdapter(cfg, engine_for(cfg, None, no_db), clock=time.monotonic, sleep=time.sleep)
    wecom = Wecom(adapter, api, time)
    yield wecom
    await wecom.close()


@pytest.fixture
async def zhang(db):
    """张三, imported from the directory with his WeCom userid: no invite code needed."""
    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        z = await f.zone(s, p)
        return await f.member(s, p, "张三", roles=("member", "vanguard"), zones=[z],
                              wecom_userid="zhangsan")


async def delivered(wecom: Wecom, replies, user: str = "zhangsan") -> Said:
    """What the adapter sends when it renders replies to a member."""
    before = len(wecom.api.calls)
    await wecom.adapter.render(user, replies)
    return Said(wecom.api.calls[before:])


# ---- the callback: verification, signatures, malformed bodies


async def test_saving_the_callback_url_answers_the_decrypted_echostr(wecom):
    echostr = PrpCrypto(wecom.crypto.key).encrypt("echo-4711", CORP).decode()
    now = wecom.timestamp()
    params = {"timestamp": now, "nonce": "abc", "echostr": echostr,
              "msg_signature": sign(now, "abc", echostr)}
    response = await wecom.http.get("/wecom/callback", params=params)
    assert (response.status_code, response.text) == (200, "echo-4711")

    forged = await wecom.http.get("/wecom/callback", params={**params, "msg_signature": "0" * 40})
    assert forged.status_code == 403


async def test_a_wrong_signature_is_refused(wecom, zhang, api):
    body, params = wecom.seal(wecom.member("zhangsan").xml("text", Content="我的"))
    response = await wecom.post(body, {**params, "msg_signature": "f" * 40})
    await wecom.adapter.wait_idle()
    assert response.status_code == 403
    assert api.calls == [] and wecom.seen == []


async def test_a_message_for_another_corp_is_refused(wecom, zhang, api):
    elsewhere = WeChatCrypto(TOKEN, AES_KEY, "wwsomeothercorp")
    body, params = wecom.seal(wecom.member("zhangsan").xml("text", Content="我的"), elsewhere)
    response = await wecom.post(body, params)
    await wecom.adapter.wait_idle()
    assert response.status_code == 403
    assert api.calls == [] and wecom.seen == []


def signed(encrypt: str) -> tuple[str, dict]:
    """A body whose signature is right but whose ciphertext is not."""
    params = {"timestamp": "1763863200", "nonce": "n", "msg_signature": sign("1763863200", "n",
                                                                              encrypt)}
    return wire_xml(ToUserName=CORP, Encrypt=encrypt), params


MALFORMED = {
    "not XML": lambda w: ("hello, world", {"timestamp": "1", "nonce": "n", "msg_signature": "x"}),
    "no Encrypt": lambda w: (wire_xml(ToUserName=CORP), {"timestamp": "1", "nonce": "n",
                                                          "msg_signature": "x"}),
    "no query parameters": lambda w: (w.seal(wire_xml(MsgType="text"))[0], {}),
    "bad base64": lambda w: signed("%%% not base64 %%%"),
    "bad padding": lambda w: signed(base64.b64encode(b"twenty bytes exactly").decode()),
    "no MsgType inside": lambda w: w.seal(wire_xml(FromUserName="zhangsan", MsgId=1)),
    "no FromUserName inside": lambda w: w.seal(wire_xml(MsgType="text", Content="hi", MsgId=1)),
    "no MsgId inside": lambda w: w.seal(wire_xml(FromUserName="zhangsan", MsgType="text",
                                                 Content="hi")),
    "event without Event": lambda w: w.seal(wire_xml(FromUserName="zhangsan", MsgType="event",
                                                     CreateTime=1)),
}


@pytest.mark.parametrize("case", MALFORMED)
async def test_malformed_callbacks_are_bad_requests(wecom, api, case):
    response = await wecom.post(*MALFORMED[case](wecom))
    await wecom.adapter.wait_idle()
    assert response.status_code == 400
    assert api.calls == [] and wecom.seen == []


async def test_a_message_delivered_three_times_is_answered_once(wecom, zhang, api):
    body, params = wecom.seal(wecom.member("zhangsan").xml("text", Content="我的"))
    responses = await asyncio.gather(*(wecom.post(body, params) for _ in range(3)))
    await wecom.adapter.wait_idle()
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert len(api.sent("message/send")) == 1


async def test_a_redelivery_to_another_worker_is_ignored(make_wecom, zhang, api):
    first, second = await make_wecom(), await make_wecom()
    body, params = first.seal(first.member("zhangsan").xml("text", Content="我的"))
    for worker in (first, second):
        assert (await worker.post(body, params)).status_code == 200
        await worker.adapter.wait_idle()
    assert len(second.seen) == 1  # the second worker asked the engine, which had it already
    assert len(api.sent("message/send")) == 1


# ---- replays: the timestamp, and how long ids are remembered

SKEW = 300  # [wecom] max_clock_skew_seconds, by default


@pytest.mark.parametrize("timestamp", ["long ago", "too old", "too new", "no number"])
async def test_a_callback_signed_too_far_from_our_clock_is_refused(wecom, zhang, api, caplog,
                                                                     timestamp):
    caplog.set_level(logging.DEBUG, logger="redshield")
    assert wecom.adapter.config.wecom.max_clock_skew_seconds == SKEW
    xml = wecom.member("zhangsan").xml("text", Content="我的巡查记录")
    stamp = {"long ago": "1", "too old": wecom.timestamp(-SKEW - 1),
             "too new": wecom.timestamp(SKEW + 1), "no number": "soon"}[timestamp]
    response = await wecom.post(*seal(xml, wecom.crypto, stamp))  # rightly signed
    await wecom.adapter.wait_idle()
    assert response.status_code == 403
    assert api.calls == [] and wecom.seen == []
    assert "refused" in caplog.text
    assert "zhangsan" not in caplog.text and "巡查记录" not in caplog.text


@pytest.mark.parametrize("offset", [-SKEW, SKEW])
async def test_a_callback_within_the_allowed_skew_is_taken(wecom, zhang, offset):
    xml = wecom.member("zhangsan").xml("text", Content="我的")
    response = await wecom.post(*wecom.seal(xml, offset=offset))
    await wecom.adapter.wait_idle()
    assert response.status_code == 200 and len(wecom.seen) == 1


async def test_url_verification_signed_long_ago_is_refused(wecom):
    echostr = PrpCrypto(wecom.crypto.key).encrypt("echo-4711", CORP).decode()
    for stamp in ("1763863200", wecom.timestamp(-SKEW - 1), wecom.timestamp(SKEW + 1)):
        params = {"timestamp": stamp, "nonce": "abc", "echostr": echostr,
                  "msg_signature": sign(stamp, "abc", echostr)}
        response = await wecom.http.get("/wecom/callback", params=params)
        assert response.status_code == 403 and "echo" not in response.text


async def test_a_callback_captured_and_replayed_days_later_is_refused(make_wecom, zhang, api,
                                                                      db, config, clock):
    """Once the de-duplication mark is gone, the timestamp still refuses the copy."""
    from bot.scheduler import housekeeping

    first = await make_wecom()
    body, params = first.seal(first.member("zhangsan").xml("text", Content="我的"))
    assert (await first.post(body, params)).status_code == 200
    await first.adapter.wait_idle()
    clock.advance(days=8)
    async with db.sessions() as s, s.begin():
        await housekeeping(s, clock(), config)
    later = await make_wecom()  # a worker started since: it remembers nothing
    assert (await later.post(body, params)).status_code == 403
    await later.adapter.wait_idle()
    assert later.seen == [] and len(api.sent("message/send")) == 1


async def test_a_replay_within_the_window_is_caught_after_housekeeping(make_wecom, zhang, api,
                                                                       db, config, clock):
    """The longest a copy can pass the timestamp check: signed SKEW ahead of our clock,
    replayed 2 x SKEW later. By then the daily housekeeping may have run: the
    database's mark outlasts the window (so a worker that never saw it refuses it),
    and so does the memory of the worker that took it."""
    from bot.scheduler import housekeeping

    first, second = await make_wecom(), await make_wecom()
    body, params = first.seal(first.member("zhangsan").xml("text", Content="我的"), offset=SKEW)
    assert (await first.post(body, params)).status_code == 200
    await first.adapter.wait_idle()
    for wait in (2 * SKEW - 1, 1):
        clock.advance(seconds=wait)
        first.time.advance(wait)
        async with db.sessions() as s, s.begin():
            await housekeeping(s, clock(), config)
        for worker in (first, second):
            assert (await worker.post(body, params)).status_code == 200
            await worker.adapter.wait_idle()
    # Each worker asked the engine once: the first took the message, the second was
    # refused by the database's mark; later copies each stopped at the worker's memory.
    assert len(first.seen) == len(second.seen) == 1
    assert len(api.sent("message/send")) == 1
    clock.advance(seconds=1)
    assert (await second.post(body, params)).status_code == 403


def test_ids_are_remembered_for_the_window_however_many_arrive():
    from bot.adapters.wecom import _Seen

    time = FakeTime()
    seen = _Seen(2 * SKEW, time.monotonic)
    assert seen.add("first") and not seen.add("first")
    for i in range(20_000):  # more than any count-bounded memory would hold
        seen.add(f"other-{i}")
    time.advance(2 * SKEW)
    assert not seen.add("first")
    time.advance(1)
    assert seen.add("later") and "first" not in seen and len(seen) == 1  # then forgotten


# ---- who is writing


async def test_an_unknown_userid_is_told_how_to_join(wecom):
    said = await wecom.member("stranger").says("你好")
    assert "邀请码" in said and "/start" in said


async def test_an_imported_member_needs_no_invite_code(wecom, zhang):
    zhangsan = wecom.member("zhangsan")
    me = await zhangsan.says("我的")
    assert "张三 · 示例项目（示例项目党支部）" in me and "施工现场A区" in me
    assert "张三 · 示例项目" in await zhangsan.says("/me")
    sends = me.sends()
    assert {c["touser"] for c in sends} == {"zhangsan"}
    assert {c["agentid"] for c in sends} == {AGENT}
    assert wecom.seen[-1].chat_id == "zhangsan" and wecom.seen[-1].language is None


# ---- buttons: template cards, and numbered text


async def test_help_lists_the_commands_and_a_card_of_shortcuts(wecom, zhang):
    said = await wecom.member("zhangsan").says("/help")
    assert "红盾安全巡查 · 可用功能：" in said and "/me 我的 — 我的信息" in said
    [card] = [c.body["template_card"] for c in said.sends("template_card")]
    assert [b["text"] for b in card["button_list"]] == ["巡查", "隐患", "我的", "举报", "团队巡查", "补记"]
    tapped = await wecom.member("zhangsan").taps("我的", card)
    assert "张三 · 示例项目" in tapped


async def test_command_buttons_come_as_a_card_that_works(wecom, zhang):
    # A reminder offering commands, as the scheduler sends it.
    await wecom.adapter.deliver("zhangsan", [Choices("本周巡查还差 60 分钟。", (
        Option("开始巡查", "/patrol"), Option("我的", "/me")))])
    card = Said(wecom.api.calls).card
    assert card["card_type"] == "button_interaction"
    assert card["main_title"]["title"] == "本周巡查还差 60 分钟。"
    assert [b["text"] for b in card["button_list"]] == ["开始巡查", "我的"]
    assert re.fullmatch(r"[A-Za-z0-9_\-@]{1,128}", card["task_id"])

    tapped = await wecom.member("zhangsan").taps("我的", card)
    [update] = tapped.updates
    assert update.body == {"userids": ["zhangsan"], "agentid": AGENT,
                           "response_code": update["response_code"],
                           "button": {"replace_name": "我的"}}
    assert update["response_code"].startswith("click-code-")
    assert "张三 · 示例项目" in tapped


async def test_a_language_card_click_switches_language(wecom, zhang):
    zhangsan = wecom.member("zhangsan")
    question = (await zhangsan.says("/lang")).card
    assert question["main_title"]["title"] == "请选择语言："
    assert [b["text"] for b in question["button_list"]] == ["中文", "English", "取消"]
    assert all("zhangsan" not in b["key"] for b in question["button_list"])

    said = await zhangsan.taps("English", question)
    assert said.updates[0]["button"] == {"replace_name": "English"}
    assert "English from now on" in said
    assert "Language: English" in await zhangsan.says("/me")

    stale = await zhangsan.taps("中文", question)
    assert "expired" in stale


async def test_numbered_choices_when_configured(make_wecom, zhang):
    wecom = await make_wecom(numbered_choices=True)
    zhangsan = wecom.member("zhangsan")
    question = await zhangsan.says("/lang")
    assert question.sends("template_card") == []
    assert "请选择语言：\n1. 中文\n2. English\n3. 取消\n请回复数字或选项文字。" in question
    assert "English from now on" in await zhangsan.says("2")

    reminder = await delivered(wecom, [Choices("本周巡查还差 60 分钟。", (
        Option("开始巡查", "/patrol"),))])
    assert "本周巡查还差 60 分钟。\n开始巡查：/patrol" in reminder


async def test_more_than_six_options_become_numbered_text(bare):
    options = tuple(Option(f"类别{i}", f"c{i}") for i in range(1, 9))
    said = await delivered(bare, [Choices("隐患类别？", options, token="tok123")])
    assert said.sends("template_card") == []
    assert "隐患类别？\n1. 类别1" in said and "8. 类别8" in said


async def test_a_long_prompt_goes_before_the_card(bare):
    prompt = "请确认以下整改内容：\n" + "脚手架连墙件缺失，需立即补设。" * 12
    said = await delivered(bare, [Choices(prompt, (Option("确认", "y"), Option("取消", "n")),
                                          token="tok9")])
    assert said.sends()[0]["msgtype"] == "text" and prompt in said
    assert said.card["main_title"]["title"] == "请选择："
    assert [b["key"] for b in said.card["button_list"]] == ["tok9|y", "tok9|n"]


# ---- other replies


async def test_long_text_is_cut_at_2048_bytes(bare):
    text = "\n".join(f"第{i}条：施工现场临边防护需整改。" for i in range(300))
    said = await delivered(bare, [Text(text)])
    pieces = [c["text"]["content"] for c in said.sends("text")]
    assert len(pieces) > 1
    assert all(len(p.encode()) <= 2048 for p in pieces)
    assert "\n".join(pieces) == text


async def test_asking_for_a_location_explains_how_in_wecom(bare):
    said = await delivered(bare, [AskLocation("请发送您的位置。", skippable=True,
                                              skip_label="跳过")])
    assert "请发送您的位置。" in said and "＋" in said and "“位置”" in said
    assert "“跳过”" in said


async def test_images_and_documents_are_uploaded_then_sent(bare, api):
    said = await delivered(bare, [Image(b"\x89PNG chart", caption="本周巡查"),
                                  Document(b"%PDF-1.4 notice", "整改通知书.pdf")])
    uploads = [c for c in said.calls if c.path == "media/upload"]
    assert [(u.params["type"], u["filename"], u["content_type"], u["data"]) for u in uploads] == [
        ("image", "image.png", "image/png", b"\x89PNG chart"),
        ("file", "整改通知书.pdf", "application/pdf", b"%PDF-1.4 notice")]
    image, caption, document = said.sends()
    assert image["image"] == {"media_id": uploads[0].answer["media_id"]}
    assert caption["text"]["content"] == "本周巡查"
    assert document["file"] == {"media_id": uploads[1].answer["media_id"]}


# ---- incoming photos, locations, menu, entering the app


async def test_a_photo_is_downloaded_at_once_and_kept_in_memory(wecom, zhang, api, tmp_path):
    api.media["MEDIA-1"] = (JPEG, "image/jpeg")
    await wecom.member("zhangsan").sends_image("MEDIA-1")
    assert [c.params["media_id"] for c in api.sent("media/get")] == ["MEDIA-1"]
    photo = wecom.seen[-1]
    assert photo.kind is Kind.photo and photo.photo.ref == "MEDIA-1"
    assert await photo.photo.read() == JPEG
    # The handler decides what to keep; an original never reaches the disk here.
    stored = [p.read_bytes() for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert JPEG not in stored


async def test_a_voice_note_and_a_video_arrive_unfetched(wecom, zhang, api, tmp_path):
    api.media["VOICE-1"] = (b"#!AMR voice", "audio/amr")
    zhangsan = wecom.member("zhangsan")
    said = await zhangsan.says("/hazard")
    said = await wecom.deliver(zhangsan.xml("voice", MediaId="VOICE-1", Format="amr"))
    voice = wecom.seen[-1]
    assert voice.kind is Kind.voice and voice.media.ref == "VOICE-1"
    assert "附语音 1 条" in said  # the hazard's photo step keeps it: fetched then
    assert [c.params["media_id"] for c in api.sent("media/get")] == ["VOICE-1"]
    said = await wecom.deliver(zhangsan.xml("video", MediaId="VIDEO-1", ThumbMediaId="T"))
    assert wecom.seen[-1].kind is Kind.video
    assert "语音或视频没有收到" in said  # WeCom had no such media: said, not an error


async def test_a_photo_over_the_limit_is_refused_clearly(wecom, zhang, api, tmp_path):
    api.media["BIG"] = (b"\xff\xd8" + b"x" * (1024 * 1024 + 10), "image/jpeg")
    said = await wecom.member("zhangsan").sends_image("BIG")
    assert "照片太大（超过 1 MB），请压缩后重新发送。" in said
    assert wecom.seen == []
    assert not (tmp_path / "media").exists()


async def test_a_photo_delivered_three_times_is_fetched_and_refused_once(wecom, zhang, api):
    # The adapter answers this one itself, before the engine's de-duplication.
    api.media["BIG"] = (b"\xff\xd8" + b"x" * (1024 * 1024 + 10), "image/jpeg")
    body, params = wecom.seal(wecom.member("zhangsan").xml("image", PicUrl="u",
                                                           MediaId="BIG"))
    for _ in range(3):
        await wecom.post(body, params)
    await wecom.adapter.wait_idle()
    assert len(api.sent("media/get")) == 1 and len(api.sent("message/send")) == 1


async def test_a_photo_wecom_no_longer_has_is_asked_again(wecom, zhang):
    said = await wecom.member("zhangsan").sends_image("EXPIRED")
    assert "图片没有收到，请重新发送。" in said and wecom.seen == []


async def test_a_download_that_hangs_times_out(bare, api):
    await bare.adapter.client.aclose()
    bare.adapter.client = WecomClient(bare.adapter.config.wecom, timeout=0.2)
    api.media["SLOW"] = (JPEG, "image/jpeg")
    api.delays["media/get"] = 1.0
    said = await bare.member("zhangsan").sends_image("SLOW")
    assert "图片没有收到，请重新发送。" in said and bare.seen == []


async def test_a_location_message_is_a_location(wecom, zhang):
    await wecom.member("zhangsan").sends_location(31.2304, 121.4737, "上海市黄浦区")
    where = wecom.seen[-1]
    assert (where.kind, where.latitude, where.longitude) == (Kind.location, 31.2304, 121.4737)


async def test_the_periodic_location_report_is_not_an_answer(wecom, zhang, api):
    said = await wecom.member("zhangsan").event("LOCATION", Latitude="31.2304",
                                                Longitude="121.4737", Precision="30")
    assert said.calls == [] and wecom.seen == []


async def test_a_menu_click_runs_its_command(wecom, zhang):
    said = await wecom.member("zhangsan").clicks_menu("/me")
    assert "张三 · 示例项目" in said
    assert (wecom.seen[-1].kind, wecom.seen[-1].command) == (Kind.command, "me")


async def test_opening_the_app_greets_at_most_every_ten_minutes(wecom, zhang):
    zhangsan = wecom.member("zhangsan")
    assert "红盾安全巡查 · 可用功能：" in await zhangsan.opens_app()
    assert (await zhangsan.opens_app()).calls == []
    wecom.time.advance(9 * 60)
    assert (await zhangsan.opens_app()).calls == []
    wecom.time.advance(2 * 60)
    assert "可用功能" in await zhangsan.opens_app()
    assert "邀请码" in await wecom.member("stranger").opens_app()


# ---- the API client: tokens, errors, limits


async def test_the_token_is_fetched_once_through_api_base_url(wecom, zhang, api):
    await wecom.member("zhangsan").says("我的")
    await wecom.member("zhangsan").says("我的")
    [gettoken] = api.sent("gettoken")
    assert (gettoken.params["corpid"], gettoken.params["corpsecret"]) == (CORP, SECRET)


async def test_an_expired_token_is_refreshed_once(wecom, zhang, api):
    zhangsan = wecom.member("zhangsan")
    await zhangsan.says("我的")
    api.expire_token()
    said = await zhangsan.says("我的")
    assert [c.answer["errcode"] for c in said.calls if c.path == "message/send"] == [42001, 0]
    assert len(api.sent("gettoken")) == 2
    assert "张三 · 示例项目" in said


async def test_a_token_refused_twice_gives_up_without_looping(wecom, zhang, api, caplog):
    api.fail("message/send", 42001, times=None)
    said = await wecom.member("zhangsan").says("我的")
    assert len(api.sent("message/send")) == 2 and len(api.sent("gettoken")) == 2
    assert said.sends() == []
    assert "giving up" in caplog.text and "zhangsan" not in caplog.text


async def test_an_untrusted_server_ip_is_explained_once(wecom, zhang, api, caplog):
    api.fail("message/send", 60020, times=None)
    await wecom.member("zhangsan").says("我的")
    await wecom.member("zhangsan").says("/me")
    explained = [r for r in caplog.records if "60020" in r.getMessage()]
    assert len(explained) == 1 and "企业可信IP" in explained[0].getMessage()


@pytest.mark.parametrize("refusal", [dict(errcode=81013), dict(errcode=0, invaliduser="zhangsan")],
                         ids=["81013", "invaliduser"])
async def test_a_member_wecom_cannot_reach_is_marked_unreachable(wecom, zhang, api, db, caplog,
                                                                 refusal):
    api.fail("message/send", **refusal)  # zhang is known by the imported userid alone
    await wecom.member("zhangsan").says("我的")
    async with db.sessions() as s:
        since = (await s.execute(sa.select(Identity.unreachable_since))).scalar_one()
    assert since is not None
    assert len(api.sent("message/send")) == 1  # not retried, not pushed on
    assert "zhangsan" not in caplog.text


@pytest.mark.parametrize("refusal", [dict(errcode=81013), dict(errcode=0, invaliduser="zhangsan")],
                         ids=["81013", "invaliduser"])
async def test_the_outbox_stops_writing_to_a_userid_wecom_refused(wecom, zhang, api, db, refusal):
    """Once WeCom says the imported userid cannot be reached, delivery no longer picks it
    (the same truth as the 📵 mark), until the member writes again."""
    from bot.delivery import addresses

    assert await addresses(db.sessions, {zhang.id}) == {zhang.id: [("wecom", "zhangsan")]}
    api.fail("message/send", **refusal)
    await wecom.member("zhangsan").says("我的")
    assert await addresses(db.sessions, {zhang.id}) == {zhang.id: []}
    await wecom.member("zhangsan").says("我的")  # writing again clears the mark
    assert await addresses(db.sessions, {zhang.id}) == {zhang.id: [("wecom", "zhangsan")]}


@pytest.mark.parametrize("errcode", [45009, 45033])
async def test_a_rate_limited_call_is_retried(wecom, zhang, api, errcode):
    api.fail("message/send", errcode, times=2)
    said = await wecom.member("zhangsan").says("我的")
    assert [c.answer["errcode"] for c in api.sent("message/send")] == [errcode, errcode, 0]
    assert wecom.time.sleeps == [1.0, 2.0]
    assert "张三 · 示例项目" in said


async def test_a_rate_limit_that_persists_is_given_up(bare, api):
    api.fail("message/send", 45009, times=None)
    said = await delivered(bare, [Text("通知")])
    assert len(said.calls) == 1 + 4  # gettoken, then the message tried four times
    assert bare.time.sleeps == [1.0, 2.0, 4.0]


async def test_outbox_delivery_raises_and_asks_for_the_duplicate_check(wecom, zhang, api):
    from bot.adapters.base import DeliveryFailed

    bare = wecom
    await bare.adapter.deliver("zhangsan", [Text("提醒")])
    [send] = api.sent("message/send")
    assert send.body["enable_duplicate_check"] == 1 and send.body["duplicate_check_interval"] == 1800
    api.fail("message/send", 45009, times=None)
    with pytest.raises(DeliveryFailed) as busy:
        await bare.adapter.deliver("zhangsan", [Text("提醒")])
    assert not busy.value.permanent  # the outbox tries again later
    api.fail("message/send", 81013, times=None)
    with pytest.raises(DeliveryFailed) as gone:
        await bare.adapter.deliver("zhangsan", [Text("提醒")])
    assert gone.value.permanent


async def test_no_more_than_thirty_messages_a_minute_to_one_member(bare, api):
    said = await delivered(bare, [Text(f"提醒 {i}") for i in range(31)])
    assert len(said.sends()) == 31  # the 31st waited, it was not dropped
    assert bare.time.sleeps == [pytest.approx(61.2)]  # the minute, padded by 2 %
    await delivered(bare, [Text("你好")], user="lisi")  # someone else does not wait
    assert len(bare.time.sleeps) == 1


async def test_the_access_token_is_shared_through_redis(api, tmp_path):
    redis = pytest.importorskip("redis.asyncio")
    probe = redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=1)
    try:
        await probe.ping()
    except Exception:
        pytest.skip("no Redis at 127.0.0.1:6379")
    finally:
        await probe.aclose()
    # A random agent id keeps this test's key apart from any other run's.
    cfg = wecom_config(default_config(), api, tmp_path, agent_id=int(uuid.uuid4().int % 10**9),
                       redis_url="redis://127.0.0.1:6379/15").wecom
    workers = [WecomClient(cfg), WecomClient(cfg)]
    message = {"touser": "zhangsan", "msgtype": "text", "text": {"content": "hi"}}
    try:
        for worker in workers:
            await worker.send(message)
        assert len(api.sent("gettoken")) == 1  # the second worker found it in Redis

        api.expire_token()
        await workers[1].send(message)  # refused, refreshed once, stored for both
        await workers[0].send(message)
        assert len(api.sent("gettoken")) == 2
        assert [c.answer["errcode"] for c in api.sent("message/send")] == [0, 0, 42001, 0, 0]
    finally:
        await workers[0].cache.redis.delete(workers[0]._token_key)
        for worker in workers:
            await worker.aclose()


async def test_stop_lets_a_message_in_flight_finish(wecom, zhang, api):
    await wecom.post(*wecom.seal(wecom.member("zhangsan").xml("text", Content="我的")))
    await wecom.adapter.stop()
    assert "张三" in Said(api.calls).text


# ---- the app menu


def test_the_app_menu_fits_wecom_limits():
    menu = app_menu()["button"]
    assert len(menu) <= 3  # WeCom: one to three top-level buttons, up to five under each
    leaves = [b for top in menu for b in top.get("sub_button", [top])]
    assert all(len(top["name"].encode()) <= 16 for top in menu)
    assert all(len(b.get("sub_button", [])) <= 5 for b in menu)
    assert {b["name"]: b["key"] for b in leaves} == {
        "巡查": "/patrol", "隐患": "/hazard", "举报": "/report", "我的": "/me", "帮助": "/help"}
    assert all(b["type"] == "click" and len(b["key"].encode()) <= 128 for b in leaves)


async def test_create_app_menu_installs_it(api, tmp_path):
    await create_app_menu(wecom_config(default_config(), api, tmp_path))
    [call] = api.sent("menu/create")
    assert call.params["agentid"] == str(AGENT) and call.body == app_menu()
    assert api.sent("gettoken")  # through api_base_url too


async def test_a_refused_card_update_does_not_stop_the_answer(wecom, zhang, api, caplog):
    zhangsan = wecom.member("zhangsan")
    question = (await zhangsan.says("/lang")).card
    api.fail("message/update_template_card", 48002)  # "API not allowed"
    said = await zhangsan.taps("English", question)
    assert "English from now on" in said
    assert "card could not be updated" in caplog.text


async def test_logs_name_no_member(wecom, zhang, api, caplog):
    caplog.set_level(logging.DEBUG, logger="redshield")
    api.fail("message/send", 48002)
    await wecom.member("zhangsan").says("我的")
    assert "not delivered" in caplog.text and "zhangsan" not in caplog.text
