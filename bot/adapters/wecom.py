"""The WeCom (企业微信) adapter: a self-built app's callback in, app messages out.

WeCom posts each message, encrypted, to `/wecom/callback`, waits 5 s for an
HTTP 200 and otherwise delivers it again (up to three times). So the callback
only checks, decrypts and parses, answers an empty 200 at once, and hands the
message to a background task; the engine's de-duplication (by MsgId, or a hash
of an event's fields) makes a redelivered message count once, even when the
copies reach two workers. Replies go out through `message/send`. No business
rules here.

Replay: a callback is signed over its `timestamp`, so one whose timestamp is more
than `[wecom] max_clock_skew_seconds` from our clock is refused, like a bad
signature. A captured callback can then be replayed only within 2 × that skew of
its first arrival: this process remembers the ids it took for at least that long,
and the engine's de-duplication marks (kept 7 days by the runtime's housekeeping)
outlast it everywhere.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
import mimetypes
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
import xmltodict
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.work import parse_message
from wechatpy.work.crypto import WeChatCrypto
from wechatpy.work.events import ClickEvent, EnterAgentEvent, LocationEvent
from wechatpy.work.exceptions import InvalidCorpIdException
from wechatpy.work.messages import ImageMessage, LocationMessage, TextMessage, VideoMessage, VoiceMessage

from bot import metrics
from bot.adapters.base import DeliveryFailed, split_text, utf8_size, valid_position
from bot.adapters.wecom_client import (
    ALL_INVALID,
    UNTRUSTED_IP,
    MemoryTokenCache,
    RedisTokenCache,
    TooLarge,
    WecomClient,
    WecomError,
)
from bot.config import Config
from bot.core.contract import (
    AskLocation,
    AskPhoto,
    ChatType,
    Choices,
    Document,
    Image,
    Incoming,
    Kind,
    OpenPrivateChat,
    Photo,
    Reply,
    Text,
)
from bot.core.engine import Engine
from bot.core.locks import KeyedLocks
from bot.limits import Limiter, MemoryStore

log = logging.getLogger("redshield.wecom")

PLATFORM = "wecom"
CALLBACK_PATH = "/wecom/callback"
MAX_BODY = 256 * 1024  # a callback carries one short message; anything bigger is not WeCom
TEXT_LIMIT = 2048  # bytes of a text message; WeCom cuts longer ones
# Template card limits (button_interaction).
MAX_BUTTONS = 6
TITLE_CHARS = 36
SUB_TITLE_CHARS = 160
BUTTON_CHARS = 10  # longer labels are cut on the phone: such questions go as numbered text
KEY_BYTES = 1024
GREETING_INTERVAL = 600.0  # seconds between greetings when someone keeps opening the app
IMAGE_SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif",
                  "image/webp": ".webp", "image/heic": ".heic"}
_NOT_IN_TASK_ID = re.compile(r"[^0-9A-Za-z_\-@]")


# ---- parsing a callback


@dataclass(frozen=True)
class CardClick:
    task_id: str
    key: str
    response_code: str


@dataclass(frozen=True)
class Inbound:
    """One parsed callback: the Incoming for the engine and what the adapter does first."""

    user: str
    message_id: str
    incoming: Incoming
    media_id: str | None = None  # a photo to download before the engine sees it
    recording: str | None = None  # a voice note or video's media id, downloaded only if kept
    card: CardClick | None = None  # a card button was tapped: show the choice on the card
    greeting: bool = False  # the user opened the app


def token_cache(config: Config):
    """WeCom's access token: shared through [redis] url when set (several workers)."""
    return RedisTokenCache(config.redis_url) if config.redis_url else MemoryTokenCache()


def parse_callback(xml: str) -> Inbound | None:
    """The decrypted XML as an Inbound; None for what needs no answer.

    Raises (ValueError, KeyError, ...) on XML that lacks what WeCom always sends.
    """
    raw = xmltodict.parse(xml)["xml"]
    # Every field read below must be plain text: an element or a repeated one is not
    # something WeCom sends, and would otherwise reach the engine as a dict or list.
    for field in ("FromUserName", "MsgType", "Event", "EventKey", "Content", "MediaId",
                  "TaskId", "ResponseCode", "MsgId", "CreateTime", "Location_X", "Location_Y"):
        if field in raw and raw[field] is not None and not isinstance(raw[field], str):
            raise ValueError(f"{field} is not text")
    message = parse_message(xml)
    user = message.source
    if not user or not isinstance(user, str):
        raise ValueError("no FromUserName")
    # A self-built app's chat is always one-to-one; the member's stored locale applies.
    base = dict(platform=PLATFORM, chat_id=user, user_id=user, chat_type=ChatType.private)

    if str(raw["MsgType"]).lower() == "event":
        event, key = str(raw["Event"]), str(raw.get("EventKey") or "")
        # Events carry no MsgId. Hashed, so the de-duplication table holds no userid.
        fields = f"{user}:{raw['CreateTime']}:{event}:{key}"
        message_id = hashlib.sha256(fields.encode()).hexdigest()
        if isinstance(message, EnterAgentEvent):
            return Inbound(user, message_id, Incoming(kind=Kind.command, command="help",
                                                      message_id=message_id, **base),
                           greeting=True)
        if isinstance(message, ClickEvent):  # app menu: keys are "/patrol"-style commands
            if not key.startswith("/") or len(key) < 2:
                return None
            name, _, args = key[1:].partition(" ")
            return Inbound(user, message_id, Incoming(kind=Kind.command, command=name,
                                                      text=args.strip(), message_id=message_id,
                                                      **base))
        if event.lower() == "template_card_event":
            # wechatpy does not know this event: its fields are read from the XML.
            token, _, value = key.partition("|") if "|" in key else ("", "", key)
            click = CardClick(str(raw.get("TaskId") or ""), key,
                              str(raw.get("ResponseCode") or ""))
            return Inbound(user, message_id, Incoming(kind=Kind.choice, choice=value,
                                                      token=token or None,
                                                      message_id=message_id, **base),
                           card=click)
        if isinstance(message, LocationEvent):
            # Reported by the phone every few seconds or on entering the app, once the
            # user allowed it: nobody chose to send it, so it must not answer a
            # "where are you?" question. Only a location message does.
            return None
        return None  # subscribe, contact changes, ...: nothing to answer

    if not message.id:
        raise ValueError("no MsgId")
    message_id = str(message.id)
    base["message_id"] = message_id
    if isinstance(message, TextMessage):
        return Inbound(user, message_id, Incoming(kind=Kind.text, text=message.content or "",
                                                  **base))
    if isinstance(message, ImageMessage):
        if not message.media_id:
            raise ValueError("no MediaId")
        return Inbound(user, message_id, Incoming(kind=Kind.photo, **base),
                       media_id=message.media_id)
    if isinstance(message, LocationMessage):
        latitude, longitude = float(message.location_x), float(message.location_y)
        if not valid_position(latitude, longitude):  # acknowledged, but no place to use
            return Inbound(user, message_id, Incoming(kind=Kind.event, **base))
        return Inbound(user, message_id, Incoming(
            kind=Kind.location, latitude=latitude, longitude=longitude, **base))
    if isinstance(message, (VoiceMessage, VideoMessage)) and message.media_id:
        kind = Kind.voice if isinstance(message, VoiceMessage) else Kind.video
        return Inbound(user, message_id, Incoming(kind=kind, **base), recording=message.media_id)
    # Files, links: the engine answers with a hint when a question is open.
    return Inbound(user, message_id, Incoming(kind=Kind.event, **base))


# ---- small in-process helpers


class _Seen:
    """Ids taken by this process, each remembered for `keep` seconds of `clock`.

    Bounded by time, not by count: a flood of other messages cannot push an id out
    before a replay of it could still pass the timestamp check. Only callbacks with
    a right signature and a fresh timestamp are added, so its size follows the
    traffic WeCom itself sends in that time.
    """

    def __init__(self, keep: float, clock: Callable[[], float]):
        self.keep, self.clock = keep, clock
        self._at: OrderedDict[str, float] = OrderedDict()  # oldest first

    def add(self, key: str) -> bool:
        """Remember `key`; False when it was taken already (and is still remembered)."""
        now = self.clock()
        while self._at:
            oldest, at = next(iter(self._at.items()))
            if now - at <= self.keep:
                break
            del self._at[oldest]
        if key in self._at:
            return False
        self._at[key] = now
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._at

    def __len__(self) -> int:
        return len(self._at)


class _Recent(OrderedDict):
    """A bounded map that forgets its oldest entries."""

    def __init__(self, size: int = 4096):
        super().__init__()
        self.size = size

    def remember(self, key, value=True) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class Unusable(Exception):
    """An incoming message we answer ourselves (photo too large) instead of the engine."""

    def __init__(self, message: str):
        self.message = message


class Unreachable(Exception):
    """WeCom says the member cannot receive the app's messages."""


# Set while the outbox delivers: errors are raised and WeCom's duplicate check is on.
_DUPLICATE_CHECK: contextvars.ContextVar[bool] = contextvars.ContextVar("duplicate_check", default=False)


# ---- the adapter


class WecomAdapter:
    platform = PLATFORM

    def __init__(self, config: Config, engine: Engine, *,
                 client: WecomClient | None = None, limiter: Limiter | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 stop_timeout: float = 10.0):
        """`clock` (monotonic) paces and times greetings; `wall_clock` (seconds since the
        epoch, default: the engine's clock) judges the callbacks' timestamps."""
        self.config = config
        self.engine = engine
        wc = config.wecom
        self.crypto = WeChatCrypto(wc.token, wc.encoding_aes_key, wc.corp_id)
        self.client = client or WecomClient(wc, sleep=sleep, cache=token_cache(config))
        # WeCom drops messages beyond 30 a minute to one member, silently: counted with
        # every other process (bootstrap's limiter); alone, in this process.
        self.limiter = limiter or Limiter(config.limits, MemoryStore(clock), engine.anonymity.pseudonym,
                                          sleep=sleep)
        self.clock = clock
        self.wall_clock = wall_clock or (lambda: engine.clock().timestamp())
        self.stop_timeout = stop_timeout
        self.max_bytes = config.media.max_photo_mb * 1024 * 1024
        self._tasks: set[asyncio.Task] = set()
        self._users = KeyedLocks()  # one member's messages are handled in arrival order
        # Message ids taken by this process (skip even the download), kept as long as a
        # replay of them could pass the timestamp check, and a minute for clock drift.
        self._seen = _Seen(2 * wc.max_clock_skew_seconds + 60, clock)
        self._greeted: dict[str, float] = {}
        self._card_labels = _Recent()  # task_id -> {button key: label}, to show the choice

    # ---- lifecycle

    def routes(self) -> list[Route]:
        return [Route(CALLBACK_PATH, self.callback, methods=["GET", "POST"])]

    async def start(self, receive: bool = True) -> None:
        pass  # nothing to connect: WeCom calls us, and the token is fetched when first needed

    async def stop(self) -> None:
        """Let messages being handled finish (within `stop_timeout`), cancel the rest."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.stop_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.client.aclose()

    async def wait_idle(self) -> None:
        """Until every message received so far is handled (for tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)

    # ---- the callback

    async def callback(self, request: Request) -> Response:
        try:
            if request.method == "GET":
                return self._verify_url(request)
            return await self._receive(request)
        except Exception:  # whatever went wrong, WeCom gets no 500
            log.exception("error %s in the WeCom callback", secrets.token_hex(4))
            return Response(status_code=400)

    def _verify_url(self, request: Request) -> Response:
        """Saving the callback URL in the admin console: answer the decrypted echostr."""
        q = request.query_params
        args = [q.get(k) for k in ("msg_signature", "timestamp", "nonce", "echostr")]
        if not all(args):
            return Response(status_code=400)
        # echostr is base64: a "+" sent unescaped would arrive as a space.
        args[3] = args[3].replace(" ", "+")
        try:
            echo = self.crypto.check_signature(*args)
        except (InvalidSignatureException, InvalidCorpIdException):
            log.warning("WeCom URL verification with a wrong signature or corp id refused")
            return Response(status_code=403)
        except Exception:
            return Response(status_code=400)
        if not self._in_time(args[1], "URL verification"):
            return Response(status_code=403)
        return PlainTextResponse(echo)

    def _in_time(self, timestamp: str, what: str) -> bool:
        """Signed within max_clock_skew_seconds of our clock; else a replay (or a clock
        far off), refused. The log line says by how much, nothing of the message."""
        skew = self.config.wecom.max_clock_skew_seconds
        try:
            offset = round(self.wall_clock() - int(timestamp))
        except (ValueError, OverflowError):
            log.warning("WeCom %s with a timestamp that is no number refused", what)
            return False
        if abs(offset) <= skew:
            return True
        log.warning("WeCom %s signed %d s %s our clock refused (more than %d s: a replay, "
                    "or a clock off)", what, abs(offset), "before" if offset > 0 else "after",
                    skew)
        return False

    async def _receive(self, request: Request) -> Response:
        q = request.query_params
        args = [q.get(k) for k in ("msg_signature", "timestamp", "nonce")]
        body = bytearray()
        async for chunk in request.stream():  # read no more than a callback can be
            body += chunk
            if len(body) > MAX_BODY:
                return Response(status_code=400)
        if not all(args):
            return Response(status_code=400)
        signature, timestamp, nonce = args
        try:
            xml = self.crypto.decrypt_message(bytes(body), signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidCorpIdException):
            log.warning("WeCom callback with a wrong signature or corp id refused")
            return Response(status_code=403)
        except Exception:  # not XML, no Encrypt, bad base64 or padding
            log.info("malformed WeCom callback refused")
            return Response(status_code=400)
        if not self._in_time(timestamp, "callback"):
            return Response(status_code=403)
        try:
            inbound = parse_callback(xml)
        except Exception:
            log.info("WeCom callback without the expected fields refused")
            return Response(status_code=400)
        if inbound is not None:
            self._accept(inbound)
        return Response(status_code=200)  # an empty 200: we answer through message/send

    def _accept(self, inbound: Inbound) -> None:
        if not self._seen.add(inbound.message_id):
            return  # a redelivery to this process; other processes rely on the engine
        task = asyncio.create_task(self._process(inbound))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- incoming

    async def _process(self, inbound: Inbound) -> None:
        user = inbound.user
        try:
            async with self._users.hold(user):
                if inbound.greeting and not self._greeting_due(user):
                    return
                if inbound.card is not None:
                    await self._show_choice(user, inbound.card)
                msg = inbound.incoming
                try:
                    if inbound.media_id is not None:
                        msg = await self._with_photo(msg, inbound.media_id)
                    if inbound.recording is not None:
                        msg = replace(msg, media=self._later(inbound.recording, msg.kind))
                except Unusable as problem:
                    await self.render(user, [Text(problem.message)])
                    return
                with metrics.handling(PLATFORM):
                    replies = await self.engine.handle(msg)
                await self.render(user, replies)
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception("error %s in the WeCom adapter", error_id)
            t = self.engine.translator(None)
            with contextlib.suppress(Exception):
                await self.render(user, [Text(
                    t("出错了（编号 {id}），请稍后再试。如果一直这样，请把编号告诉党支部书记。")
                    .format(id=error_id))])

    def _greeting_due(self, user: str) -> bool:
        """Opening the app greets at most once per member in GREETING_INTERVAL."""
        now = self.clock()
        if len(self._greeted) > 4096:
            self._greeted = {u: at for u, at in self._greeted.items()
                             if now - at < GREETING_INTERVAL}
        last = self._greeted.get(user)
        if last is not None and now - last < GREETING_INTERVAL:
            return False
        self._greeted[user] = now
        return True

    async def _with_photo(self, msg: Incoming, media_id: str) -> Incoming:
        """Downloaded at once: WeCom forgets a media id after three days."""
        t = self.engine.translator(None)
        try:
            download = await self.client.download_media(media_id, self.max_bytes)
        except TooLarge:
            raise Unusable(t("照片太大（超过 {mb} MB），请压缩后重新发送。").format(
                mb=self.config.media.max_photo_mb)) from None
        except (WecomError, httpx.HTTPError) as err:
            log.warning("a WeCom photo could not be downloaded: %s", _describe(err))
            raise Unusable(t("图片没有收到，请重新发送。")) from None
        suffix = IMAGE_SUFFIXES.get(download.content_type.split(";")[0].strip().lower(), ".jpg")
        data = download.data

        # Kept in memory only: the handler stores what it keeps (an anonymous report's
        # photo without its metadata), so an original never reaches the disk.
        async def read() -> bytes:
            return data

        return replace(msg, photo=Photo(ref=media_id, read=read, filename=f"photo{suffix}"))

    def _later(self, media_id: str, kind: Kind) -> Photo:
        """A voice note (AMR) or video (MP4), fetched only if a step keeps it."""
        suffix = ".amr" if kind is Kind.voice else ".mp4"

        async def read() -> bytes:
            return (await self.client.download_media(media_id, self.max_bytes)).data

        return Photo(ref=media_id, read=read, filename=f"recording{suffix}")

    async def _show_choice(self, user: str, click: CardClick) -> None:
        """Replace the tapped card's buttons by the answer, so the chat reads as a record."""
        if not click.response_code:
            return
        t = self.engine.translator(None)
        labels = self._card_labels.get(click.task_id) or {}
        # Another worker may have sent the card: then the label is not known here.
        label = labels.get(click.key) or t("已选择")
        try:
            await self.client.update_button(user, click.response_code, label)
        except (WecomError, httpx.HTTPError) as err:
            log.warning("a WeCom card could not be updated: %s", _describe(err))

    # ---- rendering

    async def deliver(self, user_id: str, replies: list[Reply]) -> None:
        """For the outbox: failures are raised, and WeCom's duplicate check is asked for,
        so a message re-sent after a crash reaches the member once."""
        token = _DUPLICATE_CHECK.set(True)
        try:
            for reply in replies:
                await self._render_one(user_id, reply)
        except Unreachable:
            await self.engine.mark_unreachable(PLATFORM, user_id)
            raise DeliveryFailed("invalid user", permanent=True) from None
        except WecomError as err:
            if err.errcode == ALL_INVALID:
                await self.engine.mark_unreachable(PLATFORM, user_id)
                raise DeliveryFailed(_describe(err), permanent=True) from None
            raise DeliveryFailed(_describe(err), permanent=False) from None
        except httpx.HTTPError as err:
            raise DeliveryFailed(_describe(err), permanent=False) from None
        except TooLarge as err:
            raise DeliveryFailed(_describe(err), permanent=True) from None
        finally:
            _DUPLICATE_CHECK.reset(token)

    async def render(self, user: str, replies: list[Reply]) -> None:
        try:
            for reply in replies:
                await self._render_one(user, reply)
        except Unreachable:
            await self.engine.mark_unreachable(PLATFORM, user)
        except WecomError as err:
            if err.errcode == ALL_INVALID:
                await self.engine.mark_unreachable(PLATFORM, user)
            elif err.errcode != UNTRUSTED_IP:  # that one is explained once, not per message
                log.warning("a WeCom message was not delivered: %s", _describe(err))
        except (httpx.HTTPError, TooLarge) as err:
            log.warning("a WeCom message was not delivered: %s", _describe(err))

    async def _render_one(self, user: str, reply: Reply) -> None:
        t = self.engine.translator(None)
        if isinstance(reply, Text):
            await self._send_text(user, reply.text)
        elif isinstance(reply, Choices):
            if self.config.wecom.numbered_choices or not _fits_card(reply):
                await self._send_text(user, _numbered(reply, t))
            else:
                await self._send_card(user, reply, t)
        elif isinstance(reply, AskLocation):
            lines = [reply.prompt, t("发送位置：点输入框旁的“＋”，选“位置”，再点“发送”。")]
            if reply.skippable and reply.skip_label:
                lines.append(t("不需要时回复“{label}”。").format(label=reply.skip_label))
            await self._send_text(user, "\n".join(lines))
        elif isinstance(reply, AskPhoto):
            lines = [reply.prompt]
            if reply.done_label:
                lines.append(t("发完后回复“{label}”。").format(label=reply.done_label))
            if reply.skip_label:
                lines.append(t("不需要时回复“{label}”。").format(label=reply.skip_label))
            await self._send_text(user, "\n".join(lines))
        elif isinstance(reply, (Image, Document)):
            kind = "image" if isinstance(reply, Image) else "file"
            await self._send_file(user, kind, reply.data, reply.filename)
            if reply.caption:
                await self._send_text(user, reply.caption)
        elif isinstance(reply, OpenPrivateChat):
            await self._send_text(user, reply.prompt)  # an app's chat is private already
        else:
            raise TypeError(f"WeCom cannot show {type(reply).__name__}")

    async def _send_text(self, user: str, text: str) -> None:
        for piece in split_text(text, TEXT_LIMIT, utf8_size):
            if piece.strip():  # WeCom refuses empty content
                await self._send(user, {"msgtype": "text", "text": {"content": piece}})

    async def _send_card(self, user: str, choices: Choices, t) -> None:
        first, _, rest = choices.prompt.strip().partition("\n")
        rest = rest.strip()
        if first and len(first) <= TITLE_CHARS and len(rest) <= SUB_TITLE_CHARS:
            title, sub_title = first, rest
        else:  # too long for the card: the prompt goes first, as text
            await self._send_text(user, choices.prompt)
            title, sub_title = t("请选择："), ""
        task_id = _task_id(choices.token)
        buttons = [{"text": o.label, "key": _key(choices.token, o.value)} for o in choices.options]
        card = {"card_type": "button_interaction", "task_id": task_id,
                "main_title": {"title": title}, "button_list": buttons}
        if sub_title:
            card["sub_title_text"] = sub_title
        self._card_labels.remember(task_id, {b["key"]: b["text"] for b in buttons})
        await self._send(user, {"msgtype": "template_card", "template_card": card})

    async def _send_file(self, user: str, kind: str, data: bytes, filename: str) -> None:
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        media_id = await self.client.upload_media(kind, data, filename, content_type)
        await self._send(user, {"msgtype": kind, kind: {"media_id": media_id}})

    async def _send(self, user: str, message: dict) -> None:
        await self.limiter.wait(PLATFORM, self.limiter.wecom(user))  # waits its turn, never dropped
        if _DUPLICATE_CHECK.get():
            message = {**message, "enable_duplicate_check": 1, "duplicate_check_interval": 1800}
        result = await self.client.send({"touser": user, **message})
        # errcode 0 can still name recipients WeCom could not reach.
        if user in str(result.get("invaliduser") or "").split("|"):
            raise Unreachable


def _key(token: str, value: str) -> str:
    return f"{token}|{value}"


def _task_id(token: str) -> str:
    """Unique per card (WeCom refuses a task_id twice): the question's token and a random tail."""
    prefix = _NOT_IN_TASK_ID.sub("", token)[:100] or "menu"
    return f"{prefix}-{secrets.token_hex(8)}"


def _fits_card(choices: Choices) -> bool:
    keys = [_key(choices.token, o.value) for o in choices.options]
    return (0 < len(choices.options) <= MAX_BUTTONS
            and all(0 < len(o.label) <= BUTTON_CHARS for o in choices.options)
            and all(utf8_size(k) <= KEY_BYTES for k in keys)
            and len(set(keys)) == len(keys))


def _numbered(choices: Choices, t) -> str:
    """Options as text. A question's options are picked by number or label (the
    engine maps them). Buttons without a token are command shortcuts: they show
    the command to send, unless the prompt names it already (/help lists them all)."""
    if choices.token:
        lines = [f"{i}. {o.label}" for i, o in enumerate(choices.options, 1)]
        lines.append(t("请回复数字或选项文字。"))
    else:
        lines = [f"{o.label}：{o.value}" for o in choices.options
                 if o.value.startswith("/") and o.value not in choices.prompt]
    return "\n".join([choices.prompt, *lines])


def _describe(err: Exception) -> str:
    """For logs: what failed, never whom it concerned."""
    if isinstance(err, WecomError):
        return f"{err.path} errcode {err.errcode} {err.errmsg}"
    return type(err).__name__


# ---- the app menu


def app_menu() -> dict:
    """The body of menu/create. WeCom allows at most three top-level buttons (five
    under each), so 举报 and 我的 sit under 更多. Keys are commands, as typed."""
    return {"button": [
        {"type": "click", "name": "巡查", "key": "/patrol"},
        {"type": "click", "name": "隐患", "key": "/hazard"},
        {"name": "更多", "sub_button": [
            {"type": "click", "name": "举报", "key": "/report"},
            {"type": "click", "name": "我的", "key": "/me"},
            {"type": "click", "name": "帮助", "key": "/help"},
        ]},
    ]}


async def create_app_menu(config: Config) -> None:
    """Install the app menu (`redshield wecom-menu`). Raises WecomError when refused."""
    client = WecomClient(config.wecom, cache=token_cache(config))
    try:
        await client.create_menu(app_menu())
    finally:
        await client.aclose()
