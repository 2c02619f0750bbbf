"""Load test of the web role: simulated members talking to real `redshield run` processes
over HTTP on loopback, Telegram through the webhook and WeCom through the callback.

Run by hand; it prints figures and asserts nothing about time:

    python -m bench.load [--members 40] [--rounds 3] [--think 0] [--timeout 1500]
                         [--setups 1,2] [--no-baseline] [--limits on|lifted]
                         [--redis-url redis://127.0.0.1:6379/13 | --no-redis]
                         [--pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
                         [--db bench_load_<pid>] [--keep-logs DIR]

What happens:

1. In this process: loopback fakes of the Telegram Bot API and of the WeCom server API
   (the test fakes, subclassed to hand each reply to the simulated member it is for, and
   to watch the platforms' sending limits as Telegram and WeCom would see them).
2. For each setup, a fresh PostgreSQL database of our own (`--db`, default
   bench_load_<pid>; it must not exist; created through the admin URL and dropped at the
   end of the setup), the Redis database of `--redis-url` emptied (FLUSHDB; with
   `--no-redis` the workers share their sending limits through PostgreSQL), a config
   file (Telegram in webhook mode against the fake, WeCom against the fake, `[limits]`
   on or lifted by `--limits`), and a directory of `--members` members imported with
   `redshield import` (half Telegram, who get an invite code each; half WeCom, known by
   their wecom_userid).
3. Setup "1 web": one `redshield run --role web` plus one `--role scheduler`;
   setup "2 web": two `--role web` on different ports plus one `--role scheduler`. The
   load client spreads every request round-robin over the web ports (no load balancer).
4. The Telegram members bind with /start CODE (timed, reported apart). Then every member,
   all at once, plays `--rounds` rounds of: patrol start (/patrol, tap the zone, skip
   the location), a hazard (a photo, 完成, zone, category, grade, a description, skip
   the requirement, the assignee typed as text and confirmed as an outside person, 3天,
   确认提交), patrol end (/patrol, skip) and /me: the steps of `Sim.script()`.
   Each action waits for the reply
   it leads to (the message the next action needs), as the fakes capture it
   (Telegram sendMessage / sendDocument, WeCom message/send), before the next one.
   Telegram members tap inline buttons (callback queries) and type what a reply
   keyboard offers; WeCom members use the app menu for /patrol and /me (click events),
   tap template cards (template_card_event) and type what comes as text.
5. A bare python-telegram-bot echo bot (an Application with one MessageHandler and no
   rate limiter, behind the same kind of Starlette webhook route, in its own process) is
   driven through the same harness by the same number of members with the same number
   of actions each (len(Sim.script()) a round): its throughput is the baseline.

Latency is from the request leaving the load client to the reply reaching the fake.
Throughput counts completed member actions per second of the load phase. Capacity is
compared with the echo bot in a run with `--limits lifted`; the limits are measured in
a run with them on (the default).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hmac
import io
import itertools
import json
import math
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/load.py` as well as `python -m bench.load`
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import xmltodict  # noqa: E402
from wechatpy.work.crypto import WeChatCrypto  # noqa: E402

from tests.fakes.telegram_api import BOT_USER, FakeBotAPI  # noqa: E402
from tests.fakes.wecom_api import FakeWecomAPI  # noqa: E402

TG_TOKEN = "424242:BENCH-load-token"
TG_SECRET = "bench-load-webhook-secret"
TG_WEBHOOK = "/telegram/webhook"
TG_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CORP = "wwbenchload0001"
AGENT = 1000017
WC_SECRET = "bench-load-app-secret"
WC_TOKEN = "BenchLoadCallbackToken"
AES_KEY = base64.b64encode(b"bench/load: 32 byte AES key!!!!!").decode().rstrip("=")
WC_CALLBACK = "/wecom/callback"
PHOTO_FILE_ID = "bench-photo"
PHOTO_MEDIA_ID = "bench-media"
ZONES = (("施工现场A区", "施工现场"), ("工人生活区", "生活区"), ("项目办公区", "办公区"))
PER_PROJECT = 20  # members per project in the imported directory
ERROR_MARKS = ("出错了", "已超时", "按钮已过期", "没看懂", "没有 /")
CHAT_METHODS = ("sendMessage", "editMessageText", "sendDocument", "sendPhoto")
# The platforms' sending limits: [limits] of the workers' config (its defaults, written
# out), and what the fakes check on the receiving side.
TG_PER_SECOND = 30  # telegram_per_second: chat-bound calls a second, overall
TG_CHAT_SECONDS = 1.0  # telegram_chat_seconds: between two messages to one chat, on average
TG_CHAT_BURST = 5  # telegram_chat_burst: at most this many in TG_CHAT_BURST x TG_CHAT_SECONDS
WC_PER_MINUTE = 30  # wecom_member_per_minute: messages a minute to one member

assert len(AES_KEY) == 43


def now() -> float:
    return time.perf_counter()


def loadavg() -> str:
    """The 1-minute load average: the machine may be busy with more than this bench."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


# ---------------------------------------------------------------------------------------
# What the members read: replies captured by the fakes
# ---------------------------------------------------------------------------------------


@dataclass
class Said:
    """One message the bot sent to a member, as the fake received it."""

    at: float
    kind: str  # "text", "card" (WeCom template card), "document", "photo"
    text: str
    buttons: list[tuple[str, str | None]]  # (label, callback data or card key); None: sends its label
    raw: dict = field(default_factory=dict)  # what tapping needs: the message or the card
    held: bool = False  # a sending limit would have held it (see LimitWatch.held)


class Inbox:
    """Everything sent to one chat, in order; a member waits here for its reply."""

    def __init__(self) -> None:
        self.items: list[Said] = []
        self._changed = asyncio.Event()

    def push(self, said: Said) -> None:
        self.items.append(said)
        self._changed.set()

    async def wait(self, start: int, match: Callable[[Said], bool],
                   deadline: float) -> tuple[int, Said, bool] | None:
        """The first message from index `start` on that matches (or is an error message):
        (index, message, is_error); None when the deadline passes first."""
        i = start
        while True:
            while i < len(self.items):
                said = self.items[i]
                if match(said):
                    return i, said, False
                if any(mark in said.text for mark in ERROR_MARKS):
                    return i, said, True
                i += 1
            remaining = deadline - now()
            if remaining <= 0:
                return None
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)


class RateWatch:
    """Counts events in a sliding window, per key, and remembers the worst window seen."""

    def __init__(self, window: float, limit: int):
        self.window, self.limit = window, limit
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self.peak = 0
        self.over = 0  # events that found `limit` or more in their window already

    def add(self, key: str, at: float) -> None:
        seen = self._seen[key]
        while seen and seen[0] <= at - self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            self.over += 1
        seen.append(at)
        self.peak = max(self.peak, len(seen))

    def reset(self) -> None:
        self._seen.clear()
        self.peak = self.over = 0


class Recent:
    """Arrival times per key, kept for `horizon` seconds."""

    def __init__(self, horizon: float):
        self.horizon = horizon
        self._seen: dict[object, deque[float]] = defaultdict(deque)

    def add(self, key, at: float) -> None:
        seen = self._seen[key]
        while seen and seen[0] <= at - self.horizon:
            seen.popleft()
        seen.append(at)

    def last(self, key) -> float | None:
        seen = self._seen.get(key)
        return seen[-1] if seen else None

    def within(self, key, at: float, window: float) -> int:
        """How many arrived in the `window` seconds before `at`."""
        n = 0
        for t in reversed(self._seen.get(key, ())):
            if t <= at - window:
                break
            n += 1
        return n


class LimitWatch:
    """The sending limits as the platform sees them, from the messages' arrival times.

    Telegram: chat-bound calls beyond TG_PER_SECOND in any sliding second (calls that found
    TG_PER_SECOND already in theirs, and the peak), and messages to one chat beyond its pace
    (one that found TG_CHAT_BURST others to its chat in the TG_CHAT_BURST x TG_CHAT_SECONDS
    before it). WeCom: messages to one member beyond WC_PER_MINUTE in any sliding minute.

    `held` tells whether a limit would have had to hold a message back when it arrived:
    Telegram, TG_CHAT_BURST messages to its chat came in the burst's window (padded as the
    bot pads it, 2 % and at least 0.3 s, plus 0.1 s), or 24 chat-bound calls came in the
    1.3 s before (the bot's slots allow 24 a second); WeCom, WC_PER_MINUTE messages to
    its member came in the 61.3 s before. With the limits lifted it tells what they would
    have held."""

    def __init__(self, platform: str):
        self.platform = platform
        if platform == "telegram":
            self.window = RateWatch(1.0, TG_PER_SECOND)
        else:
            self.window = RateWatch(60.0, WC_PER_MINUTE)
        self.recent = Recent(62.0 if platform == "wecom" else 2.0 + TG_CHAT_BURST * TG_CHAT_SECONDS)
        self.close = 0  # Telegram: messages beyond their chat's pace
        self.closest = math.inf  # the shortest such gap, seconds

    def arrived(self, key, at: float, message: bool = True) -> bool:
        """Count one message to `key` (a chat or a member); True if a limit would hold it.
        Telegram edits (`message` False) count toward the overall limit only."""
        if self.platform == "telegram":
            self.window.add("all", at)
            if not message:
                held = self.recent.within("all", at, 1.3) >= 24
                self.recent.add("all", at)
                return held
            burst_window = TG_CHAT_BURST * TG_CHAT_SECONDS
            previous = self.recent.last(key)
            gap = math.inf if previous is None else at - previous
            if self.recent.within(key, at, burst_window) >= TG_CHAT_BURST:
                self.close += 1
                self.closest = min(self.closest, gap)
            padded = max(burst_window * 1.02, burst_window + 0.3) + 0.1
            held = (self.recent.within(key, at, padded) >= TG_CHAT_BURST
                    or self.recent.within("all", at, 1.3) >= 24)
            self.recent.add(key, at)
            self.recent.add("all", at)
            return held
        self.window.add(key, at)
        held = self.recent.within(key, at, 61.3) >= WC_PER_MINUTE
        self.recent.add(key, at)
        return held

    @property
    def peak(self) -> int:
        return self.window.peak

    @property
    def over(self) -> int:
        return self.window.over

    def reset(self) -> None:
        """Start counting afresh (the arrival history stays: it decides `held`)."""
        self.window.reset()
        self.close, self.closest = 0, math.inf


async def serve_fake(fake, routes: list) -> None:
    """Start a fake on a loopback port, as the fakes' own start() does, but on a socket
    created with proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets, and
    without it every answer of the fake waits ~40 ms for the client's delayed ACK (Nagle)."""
    import uvicorn
    from starlette.applications import Starlette

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    fake.port = sock.getsockname()[1]
    fake._server = uvicorn.Server(uvicorn.Config(Starlette(routes=routes), log_level="warning",
                                                 lifespan="off"))
    fake._task = asyncio.create_task(fake._server.serve(sockets=[sock]))
    while not fake._server.started:
        await asyncio.sleep(0.01)


class BenchBotAPI(FakeBotAPI):
    """The test fake of the Bot API, handing each sent message to its chat's inbox and
    watching Telegram's limits on the chat-bound calls (about 30 a second overall, one a
    second per chat), as they arrive (their body read)."""

    def __init__(self, token: str = TG_TOKEN):
        super().__init__(token)
        self.calls = deque(maxlen=200)  # the fake records every call; keep only the last
        self.inboxes: dict[int, Inbox] = {}
        self.methods: Counter = Counter()
        self.strays = 0  # messages to chats no simulated member owns
        self.limits = LimitWatch("telegram")

    async def start(self) -> None:
        from starlette.routing import Route

        await serve_fake(self, [
            Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
            Route("/file/bot{token}/{path:path}", self._file, methods=["GET"])])

    async def _api(self, request):
        self.methods[request.path_params["method"]] += 1
        return await super()._api(request)

    def _arrived(self, params: dict, message: bool = True) -> tuple[float, bool]:
        """A chat-bound call: (its arrival time, whether a limit would hold it)."""
        at = now()
        return at, self.limits.arrived(str(params.get("chat_id")), at, message)

    def _capture(self, params: dict, kind: str, message: dict, arrival: tuple[float, bool]) -> None:
        try:
            chat_id = int(params.get("chat_id"))
        except (TypeError, ValueError):
            chat_id = 0
        inbox = self.inboxes.get(chat_id)
        if inbox is None:
            self.strays += 1
            return
        markup = params.get("reply_markup") or {}
        if not isinstance(markup, dict):
            markup = {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        buttons = [(b.get("text", ""), b.get("callback_data")) for row in rows for b in row]
        text = params.get("text") or params.get("caption") or ""
        inbox.push(Said(arrival[0], kind, str(text), buttons,
                        {"message_id": message["message_id"], "text": text,
                         "reply_markup": markup}, held=arrival[1]))

    async def _m_sendMessage(self, params):
        arrival = self._arrived(params)
        message = await super()._m_sendMessage(params)
        self._capture(params, "text", message, arrival)
        return message

    async def _m_editMessageText(self, params):
        self._arrived(params, message=False)
        return await super()._m_editMessageText(params)

    async def _m_sendDocument(self, params):
        arrival = self._arrived(params)
        message = await super()._m_sendDocument(params)
        self._capture(params, "document", message, arrival)
        return message

    async def _m_sendPhoto(self, params):
        arrival = self._arrived(params)
        message = await super()._m_sendPhoto(params)
        self._capture(params, "photo", message, arrival)
        return message


class BenchWecomAPI(FakeWecomAPI):
    """The test fake of the WeCom API, handing each app message to its member's inbox.

    Two changes for several processes: like the real WeCom, gettoken hands out the same
    token while it is valid (the test fake issues a new one per call, which would make
    three processes invalidate each other's tokens); and sends per member are counted in
    a sliding minute, since WeCom silently drops what goes over 30 a minute."""

    def __init__(self) -> None:
        super().__init__(CORP, WC_SECRET)
        self.calls = deque(maxlen=200)
        self.inboxes: dict[str, Inbox] = {}
        self.paths: Counter = Counter()
        self.strays = 0
        self.limits = LimitWatch("wecom")

    async def start(self) -> None:
        from starlette.routing import Route

        await serve_fake(self, [Route("/cgi-bin/{path:path}", self._api, methods=["GET", "POST"])])

    async def _answer(self, call):
        self.paths[call.path] += 1
        if (call.path == "gettoken" and self.token and self.token not in self.expired
                and (call.params.get("corpid"), call.params.get("corpsecret"))
                == (self.corp_id, self.secret)):
            return {"errcode": 0, "errmsg": "ok", "access_token": self.token, "expires_in": 7200}
        answer = await super()._answer(call)
        if call.path == "message/send" and isinstance(answer, dict) and answer.get("errcode") == 0:
            self._capture(call.body)
        return answer

    def _capture(self, body: dict) -> None:
        user = str(body.get("touser", ""))
        at = now()
        held = self.limits.arrived(user, at)
        inbox = self.inboxes.get(user)
        if inbox is None:
            self.strays += 1
            return
        kind = body.get("msgtype")
        if kind == "text":
            inbox.push(Said(at, "text", body["text"]["content"], [], held=held))
        elif kind == "template_card":
            card = body["template_card"]
            text = "\n".join(filter(None, [card.get("main_title", {}).get("title", ""),
                                           card.get("sub_title_text", "")]))
            buttons = [(b["text"], b["key"]) for b in card.get("button_list", [])]
            inbox.push(Said(at, "card", text, buttons, card, held=held))
        elif kind in ("file", "image"):
            inbox.push(Said(at, "document" if kind == "file" else "photo", "", [], held=held))
        else:
            inbox.push(Said(at, str(kind), "", [], held=held))


def photo_jpeg(width: int = 1280, height: int = 960) -> bytes:
    """A phone-sized JPEG with some structure (a flat image would compress to nothing)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (120, 130, 140))
    draw = ImageDraw.Draw(image)
    for i in range(0, width, 40):
        draw.line([(i, 0), (width - i, height)], fill=(i % 256, 90, 200 - i % 150), width=7)
    for j in range(0, height, 60):
        draw.rectangle([(j, j // 2), (j + 90, j // 2 + 50)], outline=(250, 210, 30), width=4)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


@dataclass
class Stats:
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    held: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # of replies a limit held
    free: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # of the others
    by_step: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    actions: Counter = field(default_factory=Counter)  # completed, by platform
    http_status: Counter = field(default_factory=Counter)  # non-2xx answers, by status
    http_failed: Counter = field(default_factory=Counter)  # no answer: exception name
    missing: Counter = field(default_factory=Counter)  # no reply in time, by step
    error_replies: Counter = field(default_factory=Counter)  # "出错了" and the like, by step
    error_texts: Counter = field(default_factory=Counter)
    misses: list = field(default_factory=list)  # (inbox, start, match, sent) of each missing reply
    recovery_failed: Counter = field(default_factory=Counter)  # after an abort: not counted above
    wecom_ack: list[float] = field(default_factory=list)
    timeline: list[tuple] = field(default_factory=list)  # (sent, latency, platform, step, member, POST time)
    rounds_done: int = 0
    rounds_aborted: int = 0
    load_before: str = ""
    load_after: str = ""
    started: float = 0.0
    ended: float = 0.0

    @property
    def completed(self) -> int:
        return sum(self.actions.values())

    @property
    def wall(self) -> float:
        return max(self.ended - self.started, 1e-9)

    @property
    def throughput(self) -> float:
        return self.completed / self.wall

    def all_latencies(self, of: str = "latency") -> list[float]:
        return [x for values in getattr(self, of).values() for x in values]

    def lost(self) -> int:
        """Replies never received, by the end of the run."""
        return sum(self.missing.values()) - self.late_replies()[0]

    def late_replies(self) -> tuple[int, float]:
        """Of the missing replies, how many did arrive after the member gave up (by the end
        of the run), and the longest such delay. Approximate: a reply to a later action
        that looks the same would count too."""
        late, longest = 0, 0.0
        for inbox, start, match, sent in self.misses:
            said = next((x for x in inbox.items[start:] if match(x)), None)
            if said is not None:
                late += 1
                longest = max(longest, said.at - sent)
        return late, longest

    def rate(self, platform: str) -> tuple[int, float, float]:
        """(actions, seconds from the start to the platform's last reply, actions/s)."""
        ends = [t[0] + t[1] for t in self.timeline if t[2] == platform]
        span = max(ends, default=0.0)
        return len(ends), span, (len(ends) / span if span else math.nan)

    @property
    def http_errors(self) -> int:
        return sum(self.http_status.values()) + sum(self.http_failed.values())


# ---------------------------------------------------------------------------------------
# The load client: members on Telegram and on WeCom
# ---------------------------------------------------------------------------------------


class Client:
    """HTTP to the web workers, round-robin, one request at a time per member."""

    photo = b""  # the JPEG members send

    def __init__(self, ports: list[int], stats: Stats, timeout: float):
        self.ports = ports
        self._next = itertools.cycle(ports)
        self.stats = stats
        self.http = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(
            max_connections=256, max_keepalive_connections=128))
        self.crypto = WeChatCrypto(WC_TOKEN, AES_KEY, CORP)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{next(self._next)}{path}"

    async def close(self) -> None:
        await self.http.aclose()

    async def post(self, path: str, **kw) -> tuple[bool, float]:
        started = now()
        try:
            response = await self.http.post(self.url(path), **kw)
        except httpx.TimeoutException:
            self.stats.http_failed["timeout"] += 1
            return False, now() - started
        except httpx.HTTPError as err:
            self.stats.http_failed[type(err).__name__] += 1
            return False, now() - started
        took = now() - started
        if not 200 <= response.status_code < 300:
            self.stats.http_status[response.status_code] += 1
            return False, took
        return True, took

    async def telegram(self, update: dict) -> bool:
        ok, _ = await self.post(TG_WEBHOOK, content=json.dumps(update, ensure_ascii=False).encode(),
                                headers={TG_SECRET_HEADER: TG_SECRET,
                                         "Content-Type": "application/json"})
        return ok

    async def wecom(self, xml: str) -> bool:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        sealed = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        envelope = (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>"
                    f"<AgentID><![CDATA[{AGENT}]]></AgentID>"
                    f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>")
        params = {"msg_signature": sealed["MsgSignature"], "timestamp": timestamp, "nonce": nonce}
        ok, took = await self.post(WC_CALLBACK, params=params, content=envelope.encode(),
                                   headers={"Content-Type": "text/xml"})
        if ok:
            self.stats.wecom_ack.append(took)
        return ok


_update_ids = itertools.count(50_000_000)
_wecom_msg_ids = itertools.count(7_400_000_000_000_000_000 + secrets.randbelow(10**12))
_wecom_times = itertools.count(int(time.time()))  # events are told apart by CreateTime


def cdata(value) -> str:
    return f"<![CDATA[{value}]]>"


class Sim:
    """One simulated member: sends, then waits for the reply the next action needs."""

    platform = ""

    def __init__(self, index: int, name: str, zone: str, client: Client, inbox: Inbox,
                 reply_timeout: float):
        self.index, self.name, self.zone = index, name, zone
        self.client, self.inbox, self.reply_timeout = client, inbox, reply_timeout
        self.cursor = 0  # inbox index after the last reply taken
        self.last: Said | None = None

    # ---- the platform-specific part

    async def command(self, name: str, args: str = "") -> bool:
        raise NotImplementedError

    async def text(self, text: str) -> bool:
        raise NotImplementedError

    async def photo(self) -> bool:
        raise NotImplementedError

    async def tap(self, label: str) -> bool:
        raise NotImplementedError

    # ---- one action

    async def act(self, step: str, send: Callable[[], Awaitable[bool]],
                  match: Callable[[Said], bool], stats: Stats, record: bool = True) -> bool:
        start = len(self.inbox.items) if self.last is None else self.cursor
        started = now()
        if not await send():
            return False
        posted = now() - started
        found = await self.inbox.wait(start, match, started + self.reply_timeout)
        if found is None:
            if record:
                stats.missing[step] += 1
                stats.misses.append((self.inbox, start, match, started))
            else:
                stats.recovery_failed[step] += 1
            self.cursor = len(self.inbox.items)
            return False
        index, said, is_error = found
        self.cursor, self.last = index + 1, said
        if is_error:
            if record:
                stats.error_replies[step] += 1
                stats.error_texts[said.text.splitlines()[0][:60]] += 1
            else:
                stats.recovery_failed[step] += 1
            return False
        if record:
            stats.latency[self.platform].append(said.at - started)
            (stats.held if said.held else stats.free)[self.platform].append(said.at - started)
            stats.by_step[step].append(said.at - started)
            stats.actions[self.platform] += 1
            stats.timeline.append((round(started - stats.started, 4), round(said.at - started, 4),
                                   self.platform, step, self.index, round(posted, 4)))
        return True

    # ---- the rounds

    @staticmethod
    def actions_per_round() -> int:
        """The steps of a round (of script()), the same on both platforms."""
        return len(Sim(0, "", "", None, None, 0).script())

    def script(self) -> list[tuple[str, Callable[[], Awaitable[bool]], Callable[[Said], bool]]]:
        has = lambda needle: (lambda s: needle in s.text)  # noqa: E731
        return [
            ("patrol /patrol", lambda: self.command("patrol"), has("请选择巡查区域")),
            ("patrol zone", lambda: self.tap(self.zone), has("请发送您现在的位置")),
            ("patrol skip location", lambda: self.text("跳过"), has("发现隐患可直接拍照发送")),
            ("hazard photo", self.photo, has("已收到 1 张照片")),
            ("hazard 完成", lambda: self.tap("完成"), has("隐患在哪个区域")),
            ("hazard zone", lambda: self.tap(self.zone), has("隐患类别")),
            ("hazard category", lambda: self.tap("脚手架"), has("隐患等级")),
            ("hazard grade", lambda: self.tap("一般隐患"), has("请简要描述隐患")),
            ("hazard description", lambda: self.text(f"3号楼5层脚手架缺少扣件（{self.name}）"),
             has("整改要求")),
            ("hazard skip", lambda: self.tap("跳过"), has("整改责任人")),
            ("hazard assignee", lambda: self.text("钢筋班组"), has("本项目没有“钢筋班组”")),
            ("hazard outside person", lambda: self.tap("按外部人员登记（不通知）"), has("整改期限")),
            ("hazard 3天", lambda: self.tap("3天"), has("请确认")),
            ("hazard 确认提交", lambda: self.tap("确认提交"), lambda s: s.kind == "document"),
            ("end /patrol", lambda: self.command("patrol"), has("结束巡查（")),
            ("end skip location", lambda: self.text("跳过"), lambda s: s.text.startswith("本周")),
            ("/me", lambda: self.command("me"), has(self.name)),
        ]

    async def run(self, rounds: int, think: float, stats: Stats, deadline: float) -> None:
        for _ in range(rounds):
            if now() >= deadline:
                return
            for step, send, match in self.script():
                if think:  # a human pace, not in lockstep with the other members
                    await asyncio.sleep(think * random.uniform(0.5, 1.5))
                if not await self.act(step, send, match, stats):
                    stats.rounds_aborted += 1
                    await self.recover(stats)
                    break
            else:
                stats.rounds_done += 1

    async def recover(self, stats: Stats) -> None:
        """After a failed action: cancel whatever question is open, end an open patrol."""
        await self.act("recover /cancel", lambda: self.command("cancel"),
                       lambda s: "取消" in s.text or "没有进行中的操作" in s.text, stats, record=False)
        if await self.act("recover /patrol", lambda: self.command("patrol"),
                          lambda s: "结束巡查（" in s.text or "请选择巡查区域" in s.text, stats,
                          record=False):
            if "结束巡查（" in self.last.text:
                await self.act("recover skip", lambda: self.text("跳过"),
                               lambda s: s.text.startswith("本周"), stats, record=False)
            else:
                await self.act("recover /cancel", lambda: self.command("cancel"),
                               lambda s: "取消" in s.text, stats, record=False)


class TelegramSim(Sim):
    platform = "telegram"

    def __init__(self, *args, user_id: int, **kw):
        super().__init__(*args, **kw)
        self.user = {"id": user_id, "is_bot": False, "first_name": self.name,
                     "language_code": "zh-hans"}
        self.chat = {"id": user_id, "type": "private", "first_name": self.name}

    def _message(self, **content) -> dict:
        return {"update_id": next(_update_ids), "message": {
            "message_id": next(_update_ids), "date": int(time.time()), "chat": self.chat,
            "from": self.user, **content}}

    async def text(self, text: str) -> bool:
        content = {"text": text}
        if text.startswith("/"):
            content["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(text.split()[0])}]
        return await self.client.telegram(self._message(**content))

    async def command(self, name: str, args: str = "") -> bool:
        return await self.text(f"/{name} {args}".strip())

    async def photo(self) -> bool:
        size = len(self.client.photo)
        return await self.client.telegram(self._message(photo=[
            {"file_id": f"{PHOTO_FILE_ID}-s", "file_unique_id": "bench-s", "width": 90,
             "height": 68, "file_size": 900},
            {"file_id": PHOTO_FILE_ID, "file_unique_id": f"bench-{next(_update_ids)}",
             "width": 1280, "height": 960, "file_size": size}]))

    async def tap(self, label: str) -> bool:
        said = self.last
        data = next((d for lbl, d in (said.buttons if said else []) if lbl == label), None)
        if data is None:  # a reply-keyboard button, or none: the label is sent as text
            return await self.text(label)
        return await self.client.telegram({"update_id": next(_update_ids), "callback_query": {
            "id": str(next(_update_ids)), "from": self.user, "chat_instance": "bench",
            "data": data, "message": {
                "message_id": said.raw["message_id"], "date": int(time.time()),
                "from": BOT_USER, "chat": self.chat, "text": said.raw["text"],
                "reply_markup": said.raw["reply_markup"]}}})


class WecomSim(Sim):
    platform = "wecom"

    def __init__(self, *args, userid: str, **kw):
        super().__init__(*args, **kw)
        self.userid = userid

    def _xml(self, msg_type: str, **fields) -> str:
        head = {"ToUserName": cdata(CORP), "FromUserName": cdata(self.userid),
                "CreateTime": next(_wecom_times), "MsgType": cdata(msg_type)}
        if msg_type != "event":
            fields["MsgId"] = next(_wecom_msg_ids)
        fields["AgentID"] = AGENT
        body = "".join(f"<{k}>{v}</{k}>" for k, v in {**head, **fields}.items())
        return f"<xml>{body}</xml>"

    async def text(self, text: str) -> bool:
        return await self.client.wecom(self._xml("text", Content=cdata(text)))

    async def command(self, name: str, args: str = "") -> bool:
        # As the app menu sends it (巡查 / 我的 are menu buttons); /cancel is typed.
        if name == "cancel":
            return await self.text("取消")
        key = f"/{name} {args}".strip()
        return await self.client.wecom(self._xml("event", Event=cdata("click"),
                                                 EventKey=cdata(key)))

    async def photo(self) -> bool:
        return await self.client.wecom(self._xml(
            "image", PicUrl=cdata("https://wework.qpic.cn/bench"), MediaId=cdata(PHOTO_MEDIA_ID)))

    async def tap(self, label: str) -> bool:
        said = self.last
        key = None
        if said is not None and said.kind == "card":
            key = next((k for lbl, k in said.buttons if lbl == label), None)
        if key is None:  # numbered text or a prompt: the label is typed (the engine maps it)
            return await self.text(label)
        return await self.client.wecom(self._xml(
            "event", Event=cdata("template_card_event"), EventKey=cdata(key),
            TaskId=cdata(said.raw.get("task_id", "")), CardType=cdata("button_interaction"),
            ResponseCode=cdata(f"bench-code-{secrets.token_hex(6)}")))


# ---------------------------------------------------------------------------------------
# Processes, database, configuration
# ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env() -> dict[str, str]:
    """Our environment without REDSHIELD_* overrides: the config file says everything."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDSHIELD_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


WORKER_CMD: list[str] = []  # --worker-cmd: run the workers with another command (a patched build)


def redshield_cmd() -> list[str]:
    if WORKER_CMD:
        return list(WORKER_CMD)
    script = Path(sys.executable).with_name("redshield")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


_TICK = os.sysconf("SC_CLK_TCK")


class Proc:
    """A child process with its output in a log file."""

    def __init__(self, name: str, argv: list[str], log: Path, cwd: Path):
        self.name, self.argv, self.log, self.cwd = name, argv, log, cwd
        self.proc: asyncio.subprocess.Process | None = None
        self.exit_code: int | None = None
        self.stop_seconds = math.nan
        self.killed = False
        self.summary: tuple[int, int, list[str], int] = (0, 0, [], 0)  # from the log, once stopped

    async def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, cwd=self.cwd, env=child_env(), stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=asyncio.subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def cpu_seconds(self) -> float:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, AttributeError):
            return math.nan
        return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime

    def rss_kb(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    async def stop(self, grace: float = 30.0) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            started = now()
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except TimeoutError:
                self.killed = True
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
            self.stop_seconds = now() - started
        self.exit_code = self.proc.returncode
        self.summary = self.problems()

    def problems(self) -> tuple[int, int, list[str], int]:
        """(ERROR lines, tracebacks, a few distinct ERROR/WARNING lines and exceptions,
        WARNING lines) from the log."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return 0, 0, [], 0
        errors = [ln for ln in lines if " ERROR " in ln or " CRITICAL " in ln]
        warnings = [ln for ln in lines if " WARNING " in ln]
        tracebacks = sum(1 for ln in lines if ln.startswith("Traceback"))
        distinct = list(dict.fromkeys(re.sub(r"error [0-9a-f]{8}", "error …", ln.split(": ", 1)[-1])
                                      for ln in errors + warnings))
        # The exception of each traceback: its last line, before the next log line.
        for i, ln in enumerate(lines):
            if ln.startswith("Traceback"):
                j = i + 1
                while j < len(lines) and (lines[j].startswith((" ", "\t")) or not lines[j].strip()
                                          or lines[j].startswith(("During handling", "The above"))):
                    j += 1
                if j < len(lines) and not re.match(r"\d{4}-\d\d-\d\d ", lines[j]):
                    distinct.append("raised: " + lines[j].strip())
        distinct = list(dict.fromkeys(distinct))
        return len(errors), tracebacks, distinct[:10], len(warnings)


async def wait_ready(http: httpx.AsyncClient, port: int, proc: Proc, timeout: float = 90) -> None:
    deadline = now() + timeout
    while now() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode}; see {proc.log}")
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get(f"http://127.0.0.1:{port}/healthz", timeout=2)).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready on port {port} after {timeout:.0f}s; see {proc.log}")


def admin_dsn(url: str) -> str:
    """asyncpg wants a plain postgresql:// URL."""
    return re.sub(r"^postgres(ql)?(\+asyncpg)?://", "postgresql://", url)


def db_url(admin_url: str, name: str) -> str:
    base = re.sub(r"^postgres(ql)?(\+asyncpg)?://", "postgresql+asyncpg://", admin_url)
    return base.rsplit("/", 1)[0] + "/" + name


async def pg(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn(admin_url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def pg_counts(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn(url))
    try:
        out = {}
        for label, sql in (
            ("patrols", "SELECT count(*) FROM patrols"),
            ("patrols still open", "SELECT count(*) FROM patrols WHERE ended_at IS NULL"),
            ("hazards", "SELECT count(*) FROM hazards"),
            ("hazard numbers repeated", "SELECT count(*) - count(DISTINCT (project_id, year, number)) "
                                        "FROM hazards"),
            ("dialogs left open", "SELECT count(*) FROM dialog_states"),
            ("outbox rows", "SELECT count(*) FROM outbox"),
        ):
            out[label] = await conn.fetchval(sql)
        return out
    finally:
        await conn.close()


@dataclass
class PgSample:
    """What the bench database's sessions were doing, sampled during the load."""

    samples: int = 0
    peak_connections: int = 0
    lock_waits: int = 0  # samples x sessions waiting on a lock
    waiting_queries: Counter = field(default_factory=Counter)
    idle_in_tx: int = 0  # samples x sessions idle in a transaction
    longest_tx: float = 0.0  # seconds, the oldest open transaction seen
    longest_tx_query: str = ""


async def sample_pg(url: str, db: str, out: PgSample, stop: asyncio.Event, every: float = 0.25) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn(url))
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                "SELECT state, wait_event_type, left(query, 90) AS query, "
                "extract(epoch FROM now() - xact_start) AS tx_age "
                "FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db)
            out.samples += 1
            out.peak_connections = max(out.peak_connections, len(rows))
            for r in rows:
                if r["wait_event_type"] == "Lock":
                    out.lock_waits += 1
                    out.waiting_queries[" ".join(r["query"].split())] += 1
                if r["state"] == "idle in transaction":
                    out.idle_in_tx += 1
                if r["tx_age"] is not None and float(r["tx_age"]) > out.longest_tx:
                    out.longest_tx = float(r["tx_age"])
                    out.longest_tx_query = " ".join((r["query"] or "").split())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
    finally:
        await conn.close()


async def probe_loops(ports: list[int], out: dict[int, list[float]], stop: asyncio.Event,
                      every: float = 0.25) -> None:
    """How quickly each web worker's event loop answers: a webhook POST with a wrong secret
    is refused (403) before any database or Bot API work, so its time is the loop's delay."""
    async with httpx.AsyncClient(timeout=30) as http:
        while not stop.is_set():
            for port in ports:
                started = now()
                with contextlib.suppress(httpx.HTTPError):
                    await http.post(f"http://127.0.0.1:{port}{TG_WEBHOOK}", content=b"{}",
                                    headers={TG_SECRET_HEADER: "wrong"})
                    out[port].append(now() - started)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


_CREATED_DBS: set[str] = set()  # databases this process made, the only ones it drops


async def create_db(admin_url: str, name: str) -> None:
    """CREATE DATABASE, refusing to touch one that exists (another run may be using it)."""
    import asyncpg

    try:
        await pg(admin_url, f"CREATE DATABASE {name}")
    except asyncpg.DuplicateDatabaseError:
        raise RuntimeError(f"database {name} exists already (another run's?); give another --db, "
                           f"or drop it by hand if it is a leftover") from None
    _CREATED_DBS.add(name)


async def drop_db(admin_url: str, name: str) -> None:
    if name in _CREATED_DBS:
        await pg(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        _CREATED_DBS.discard(name)


def check_db_name(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name) or name in ("test", "postgres"):
        raise SystemExit(f"--db {name!r}: give a database name of the bench's own (e.g. bench_load_1)")
    return name


def toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_config(path: Path, *, database_url: str, media: Path, port: int, tg: BenchBotAPI,
                 wecom: BenchWecomAPI | None, telegram: bool = True, lift_limits: bool = False,
                 redis_url: str = "") -> None:
    lines = ["[database]", f"url = {toml_str(database_url)}", "",
             "[media]", f"dir = {toml_str(str(media))}", "",
             "[server]", 'host = "127.0.0.1"', f"port = {port}", "",
             "[security]", f"secret_key = {toml_str('bench-' + 'k' * 40)}", ""]
    if redis_url:
        lines += ["[redis]", f"url = {toml_str(redis_url)}", ""]
    if lift_limits:
        lines += ["[limits]", "lift = true", ""]
    else:  # the limits the fakes check, written out
        lines += ["[limits]", f"telegram_per_second = {TG_PER_SECOND}",
                  f"telegram_chat_seconds = {TG_CHAT_SECONDS}",
                  f"telegram_chat_burst = {TG_CHAT_BURST}",
                  f"wecom_member_per_minute = {WC_PER_MINUTE}", "lift = false", ""]
    if telegram:
        lines += ["[telegram]", f"token = {toml_str(tg.token)}", 'mode = "webhook"',
                  f"base_url = {toml_str(tg.base_url)}",
                  f"base_file_url = {toml_str(tg.base_file_url)}",
                  'webhook_url = "https://bench.invalid/telegram/webhook"',
                  f"webhook_secret = {toml_str(TG_SECRET)}", ""]
    if wecom is not None:
        lines += ["[wecom]", f"corp_id = {toml_str(CORP)}", f"agent_id = {AGENT}",
                  f"secret = {toml_str(WC_SECRET)}", f"token = {toml_str(WC_TOKEN)}",
                  f"encoding_aes_key = {toml_str(AES_KEY)}",
                  f"api_base_url = {toml_str(wecom.base_url)}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


@dataclass
class Person:
    index: int
    name: str
    project: str
    zone: str
    platform: str  # "telegram" or "wecom"
    userid: str = ""  # WeCom
    code: str = ""  # Telegram invite code, after the import


def directory(count: int, wecom_share: float = 0.5, prefix: str = "BENCH") -> list[Person]:
    """`count` members, PER_PROJECT to a project, each with one of its three zones;
    every other one (by `wecom_share`) on WeCom."""
    people = []
    wecom_every = round(1 / wecom_share) if wecom_share else 0
    for i in range(count):
        project = f"{prefix}-{i // PER_PROJECT + 1:02d}"
        on_wecom = bool(wecom_every) and i % wecom_every == 1
        people.append(Person(i, f"成员{i + 1:04d}", project, ZONES[i % len(ZONES)][0],
                             "wecom" if on_wecom else "telegram",
                             userid=f"bench-w{i + 1:04d}" if on_wecom else ""))
    return people


def directory_toml(people: list[Person]) -> str:
    out = []
    for code in dict.fromkeys(p.project for p in people):
        out += ["[[projects]]", f"code = {toml_str(code)}", f"name = {toml_str('压测项目' + code[-2:])}",
                f"branch = {toml_str('压测项目' + code[-2:] + '党支部')}", ""]
        for zone, kind in ZONES:
            out += ["[[zones]]", f"project = {toml_str(code)}", f"name = {toml_str(zone)}",
                    f"kind = {toml_str(kind)}", ""]
    for p in people:
        out += ["[[members]]", f"project = {toml_str(p.project)}", f"name = {toml_str(p.name)}",
                'roles = ["member"]', f"zones = [{toml_str(p.zone)}]"]
        if p.userid:
            out.append(f"wecom_userid = {toml_str(p.userid)}")
        out.append("")
    return "\n".join(out)


async def import_directory(config: Path, people: list[Person], workdir: Path) -> str:
    """`redshield import` as an operator runs it; fills in the invite codes it prints."""
    source = workdir / "directory.toml"
    source.write_text(directory_toml(people), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        *redshield_cmd(), "--config", str(config), "import", str(source), cwd=workdir,
        env=child_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    text = out.decode()
    if proc.returncode != 0:
        raise RuntimeError(f"redshield import failed ({proc.returncode}):\n{text}\n{err.decode()}")
    codes = {(m[1], m[2]): m[3] for m in re.finditer(
        r"^\s+(\S+) \((\S+)\)\s+([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", text, re.M)}
    for p in people:
        if p.platform == "telegram":
            p.code = codes.get((p.name, p.project), "")
            if not p.code:
                raise RuntimeError(f"no invite code for {p.name} in the import's output:\n{text}")
    return text.splitlines()[0] if text else ""


async def flush_redis(url: str) -> None:
    """Empty the bench's Redis database: no counter or token left from an earlier setup."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        await client.flushdb()
    except Exception as err:
        raise RuntimeError(f"Redis at {url}: {err!r}; give another --redis-url, or --no-redis "
                           f"to share the limits through PostgreSQL") from None
    finally:
        await client.aclose()


# ---------------------------------------------------------------------------------------
# The limits as the workers saw them: their /metrics
# ---------------------------------------------------------------------------------------

WAIT_METRIC = "redshield_limit_wait_seconds"
PAUSE_METRIC = "redshield_limit_pauses"
QUICK = 0.01  # a message that waited no longer than this (the histogram's first bucket) went at once


async def scrape_limits(ports: dict[str, int]) -> dict[str, dict[str, Counter] | None]:
    """Per process (name: port): {platform: Counter(count, sum, quick, pauses)} from its
    /metrics; None when it did not answer or does not expose the limit wait."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, dict[str, Counter] | None] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for name, port in ports.items():
            try:
                response = await http.get(f"http://127.0.0.1:{port}/metrics")
                response.raise_for_status()
                families = list(text_string_to_metric_families(response.text))
            except Exception:
                out[name] = None
                continue
            if not any(f.name == WAIT_METRIC for f in families):
                out[name] = None
                continue
            figures: dict[str, Counter] = defaultdict(Counter)
            for family in families:
                for sample in family.samples:
                    platform = sample.labels.get("platform")
                    if platform is None:
                        continue
                    if sample.name == WAIT_METRIC + "_count":
                        figures[platform]["count"] += sample.value
                    elif sample.name == WAIT_METRIC + "_sum":
                        figures[platform]["sum"] += sample.value
                    elif (sample.name == WAIT_METRIC + "_bucket"
                          and math.isclose(float(sample.labels.get("le", "nan")), QUICK)):
                        figures[platform]["quick"] += sample.value
                    elif sample.name == PAUSE_METRIC + "_total":
                        figures[platform]["pauses"] += sample.value
            out[name] = dict(figures)
    return out


def limit_waits(before: dict, after: dict) -> dict[str, dict[str, Counter] | None]:
    """What each process's figures grew by between two scrapes."""
    out = {}
    for name, figures in after.items():
        if figures is None:
            out[name] = None
            continue
        earlier = before.get(name) or {}
        out[name] = {platform: Counter({k: v - earlier.get(platform, Counter())[k]
                                        for k, v in values.items()})
                     for platform, values in figures.items()}
    return out


# ---------------------------------------------------------------------------------------
# One setup
# ---------------------------------------------------------------------------------------


@dataclass
class LimitFigures:
    """The receiving side's view of the limits over a load phase."""

    tg_peak: int = 0
    tg_over: int = 0
    tg_close: int = 0
    tg_closest: float = math.inf
    wc_peak: int = 0
    wc_over: int = 0

    @classmethod
    def of(cls, tg: BenchBotAPI, wc: BenchWecomAPI | None) -> LimitFigures:
        out = cls(tg.limits.peak, tg.limits.over, tg.limits.close, tg.limits.closest)
        if wc is not None:
            out.wc_peak, out.wc_over = wc.limits.peak, wc.limits.over
        return out


@dataclass
class SetupResult:
    name: str
    web: int
    stats: Stats
    bind: Stats
    cpu: dict[str, float]
    procs: list[Proc]
    counts: dict[str, int]
    limits: LimitFigures
    waits: dict[str, dict[str, Counter] | None]  # per process, from /metrics over the load phase
    bench_cpu: float
    imported: str
    load_before: str = ""
    load_after: str = ""
    pg: PgSample | None = None
    loop_delay: dict[int, list[float]] | None = None


def make_sims(people: list[Person], client: Client, tg: BenchBotAPI, wc: BenchWecomAPI,
              reply_timeout: float) -> list[Sim]:
    sims: list[Sim] = []
    for p in people:
        if p.platform == "telegram":
            uid = 8_100_000_000 + p.index
            inbox = tg.inboxes.setdefault(uid, Inbox())
            sims.append(TelegramSim(p.index, p.name, p.zone, client, inbox, reply_timeout,
                                    user_id=uid))
        else:
            inbox = wc.inboxes.setdefault(p.userid, Inbox())
            sims.append(WecomSim(p.index, p.name, p.zone, client, inbox, reply_timeout,
                                 userid=p.userid))
    return sims


async def run_setup(args, name: str, web_count: int, tg: BenchBotAPI, wc: BenchWecomAPI,
                    workdir: Path, deadline: float, procs_out: list[Proc]) -> SetupResult:
    setup_dir = workdir / name.replace(" ", "-")
    setup_dir.mkdir()
    if args.redis_url:
        await flush_redis(args.redis_url)
    url = db_url(args.pg_url, args.db)
    await create_db(args.pg_url, args.db)
    ports = [free_port() for _ in range(web_count)]
    scheduler_port = free_port()  # every role serves /healthz and /metrics, the scheduler too
    config = setup_dir / "config.toml"
    write_config(config, database_url=url, media=setup_dir / "media", port=scheduler_port,
                 tg=tg, wecom=wc, lift_limits=args.limits == "lifted", redis_url=args.redis_url)
    people = directory(args.members)
    imported = await import_directory(config, people, setup_dir)
    tg.inboxes.clear()
    wc.inboxes.clear()

    base = [*redshield_cmd(), "--config", str(config), "run"]
    procs = [Proc("scheduler", [*base, "--role", "scheduler", "--port", str(scheduler_port)],
                  setup_dir / "scheduler.log", setup_dir)]
    procs += [Proc(f"web{i + 1}", [*base, "--role", "web", "--port", str(port)],
                   setup_dir / f"web{i + 1}.log", setup_dir) for i, port in enumerate(ports)]
    procs_out.extend(procs)
    for proc in procs:
        await proc.start()
    stats, bind = Stats(), Stats()
    client = Client(ports, bind, timeout=args.http_timeout)
    client.photo = photo_jpeg()
    tg.files[f"photos/{PHOTO_FILE_ID}.jpg"] = client.photo
    wc.media[PHOTO_MEDIA_ID] = (client.photo, "image/jpeg")
    try:
        for proc, port in zip(procs, [scheduler_port, *ports]):
            await wait_ready(client.http, port, proc)
        sims = make_sims(people, client, tg, wc, args.reply_timeout)

        # Binding: every Telegram member sends /start CODE (WeCom members need none).
        bind.started = now()
        codes = {p.index: p.code for p in people}

        async def bind_one(sim: Sim) -> None:
            await sim.act("/start CODE", lambda: sim.command("start", codes[sim.index]),
                          lambda s: "可用功能" in s.text, bind)

        await asyncio.gather(*(bind_one(s) for s in sims if s.platform == "telegram"))
        bind.ended = now()

        # The load.
        client.stats = stats
        metric_ports = {"scheduler": scheduler_port,
                        **{f"web{i + 1}": port for i, port in enumerate(ports)}}
        waits_before = await scrape_limits(metric_ports)
        tg.limits.reset()
        wc.limits.reset()
        cpu_before = {p.name: p.cpu_seconds() for p in procs}
        bench_before = _own_cpu()
        load_before = loadavg()
        stop_sampling = asyncio.Event()
        pg_sample, loop_delay = PgSample(), defaultdict(list)
        samplers = [asyncio.create_task(sample_pg(args.pg_url, args.db, pg_sample, stop_sampling)),
                    asyncio.create_task(probe_loops(ports, loop_delay, stop_sampling))]
        stats.started = now()
        phase_deadline = min(deadline, now() + args.phase_timeout)
        tasks = [asyncio.create_task(s.run(args.rounds, args.think, stats, phase_deadline))
                 for s in sims]
        done, pending = await asyncio.wait(tasks, timeout=max(phase_deadline - now(), 1) + 5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                stats.http_failed[f"client: {type(task.exception()).__name__}"] += 1
        stats.ended = now()
        stop_sampling.set()
        await asyncio.gather(*samplers, return_exceptions=True)
        load_after = loadavg()
        cpu = {p.name: p.cpu_seconds() - cpu_before[p.name] for p in procs}
        bench_cpu = _own_cpu() - bench_before
        waits = limit_waits(waits_before, await scrape_limits(metric_ports))
        await quiesce(tg, wc, args.drain)  # late replies still queued in the workers
        counts = await pg_counts(url)
    finally:
        for proc in reversed(procs):
            await proc.stop()
        await client.close()
    result = SetupResult(name, web_count, stats, bind, cpu, procs, counts, LimitFigures.of(tg, wc),
                         waits, bench_cpu, imported, load_before, load_after, pg_sample,
                         dict(loop_delay))
    if args.dump:
        dump = {"setup": name, "actions": stats.timeline}
        with open(args.dump, "a", encoding="utf-8") as f:
            f.write(json.dumps(dump, ensure_ascii=False) + "\n")
    if not args.keep_db:
        await drop_db(args.pg_url, args.db)
    return result


async def quiesce(tg: BenchBotAPI, wc: BenchWecomAPI, limit: float, quiet: float = 3.0) -> None:
    """Wait until the fakes have had no call for `quiet` seconds (at most `limit`)."""
    deadline = now() + limit
    seen = -1
    while now() < deadline:
        total = sum(tg.methods.values()) + sum(wc.paths.values())
        if total == seen:
            return
        seen = total
        await asyncio.sleep(quiet)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------
# The baseline: a bare python-telegram-bot echo bot
# ---------------------------------------------------------------------------------------


def echo_bot_main(port: int, base_url: str, base_file_url: str) -> None:
    """Runs in its own process: PTB Application + MessageHandler echoing the text, behind
    a Starlette webhook route like ours, on uvicorn, until SIGTERM."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
    from telegram import Update
    from telegram.ext import Application, MessageHandler, filters

    async def main() -> None:
        # No rate limiter (PTB's default): the baseline sends as fast as it can, like the
        # workers with `--limits lifted`.
        app = (Application.builder().token(TG_TOKEN).base_url(base_url)
               .base_file_url(base_file_url).updater(None).build())
        if app.bot.rate_limiter is not None:
            raise SystemExit("the echo baseline must have no rate limiter")

        async def echo(update: Update, context) -> None:
            await update.message.reply_text(update.message.text)

        app.add_handler(MessageHandler(filters.TEXT, echo))

        async def webhook(request):
            given = request.headers.get(TG_SECRET_HEADER, "").encode()
            if not hmac.compare_digest(given, TG_SECRET.encode()):
                return Response(status_code=403)
            try:
                update = Update.de_json(json.loads(await request.body()), app.bot)
            except Exception:
                return Response(status_code=400)
            await app.update_queue.put(update)
            return Response(status_code=200)

        async def healthz(request):
            return JSONResponse({"ok": True})

        web = Starlette(routes=[Route(TG_WEBHOOK, webhook, methods=["POST"]),
                                Route("/healthz", healthz, methods=["GET"])])
        server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=port,
                                               log_level="warning", lifespan="off"))
        async with app:
            await app.start()
            await server.serve()
            await app.stop()

    asyncio.run(main())


class EchoSim(TelegramSim):
    async def run_echo(self, actions: int, think: float, stats: Stats, deadline: float) -> None:
        for n in range(actions):
            if now() >= deadline:
                return
            if think:
                await asyncio.sleep(think * random.uniform(0.5, 1.5))
            text = f"回声 {self.index} {n}"
            # The lambdas run before the loop moves on.
            if not await self.act("echo", lambda: self.text(text),  # noqa: B023
                                  lambda s, t=text: s.text == t, stats):
                stats.rounds_aborted += 1


@dataclass
class Baseline:
    stats: Stats
    cpu: float
    bench_cpu: float
    limits: LimitFigures
    per_member: int  # messages each member sends


async def run_baseline(args, tg: BenchBotAPI, workdir: Path, deadline: float,
                       procs_out: list[Proc]) -> Baseline:
    port = free_port()
    proc = Proc("echo", [sys.executable, "-m", "bench.load", "--echo-bot", str(port),
                         "--echo-base-url", tg.base_url, "--echo-base-file-url", tg.base_file_url],
                workdir / "echo.log", ROOT)
    procs_out.append(proc)
    await proc.start()
    stats = Stats()
    client = Client([port], stats, timeout=args.http_timeout)
    tg.inboxes.clear()
    try:
        await wait_ready(client.http, port, proc)
        sims = []
        for i in range(args.members):
            uid = 8_200_000_000 + i
            sims.append(EchoSim(i, f"echo{i}", "", client, tg.inboxes.setdefault(uid, Inbox()),
                                args.reply_timeout, user_id=uid))
        tg.limits.reset()
        cpu_before, bench_before = proc.cpu_seconds(), _own_cpu()
        stats.load_before = loadavg()
        stats.started = now()
        phase_deadline = min(deadline, now() + args.phase_timeout)
        per_member = args.rounds * Sim.actions_per_round()  # as many actions as a member's rounds
        tasks = [asyncio.create_task(s.run_echo(per_member, args.baseline_think, stats, phase_deadline))
                 for s in sims]
        _, pending = await asyncio.wait(tasks, timeout=max(phase_deadline - now(), 1) + 5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        stats.ended = now()
        stats.load_after = loadavg()
        cpu = proc.cpu_seconds() - cpu_before
        bench_cpu = _own_cpu() - bench_before
        limits = LimitFigures.of(tg, None)
    finally:
        await proc.stop()
        await client.close()
    return Baseline(stats, cpu, bench_cpu, limits, per_member)


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def print_stats_line(label: str, s: Stats) -> None:
    lat = s.all_latencies()
    print(f"  {label}: {s.completed} actions in {s.wall:.1f} s = {s.throughput:.1f} actions/s; "
          f"latency p50 {ms(pct(lat, 50))}, p99 {ms(pct(lat, 99))}, max {ms(max(lat, default=math.nan))}")


def print_errors(s: Stats, reply_timeout: float) -> None:
    print(f"  errors: non-2xx {sum(s.http_status.values())} {dict(s.http_status) or ''}"
          f"; no HTTP answer / timeouts {sum(s.http_failed.values())} {dict(s.http_failed) or ''}"
          f"; error replies {sum(s.error_replies.values())} {dict(s.error_replies) or ''}")
    missing = sum(s.missing.values())
    late, longest = s.late_replies()
    print(f"  missing replies (none within {reply_timeout:g} s): {missing} {dict(s.missing) or ''}"
          + (f"; {late} of them arrived later (longest {longest:.0f} s), {missing - late} never"
             if missing else ""))
    if s.recovery_failed:
        print(f"  after an abort the member sends /cancel (and ends its patrol); failed: "
              f"{dict(s.recovery_failed)}")
    for text, n in s.error_texts.most_common(5):
        print(f"    error reply x{n}: {text}")


def print_held(s: Stats, limited: bool = True) -> None:
    """Latency of the replies no sending limit held, and of those one did (LimitWatch.held;
    with no limiter: those a limit would have held)."""
    held_by = "held by a limit" if limited else "a limit would hold"
    free_of = "not held by a limit" if limited else "no limit would hold"

    def line(label: str, lat: list[float], free: list[float], held: list[float]) -> str:
        return (f"{label}p50 {ms(pct(lat, 50))} / p99 {ms(pct(lat, 99))}; {free_of} "
                f"(n={len(free)}) p50 {ms(pct(free, 50))} / p99 {ms(pct(free, 99))}; {held_by}: "
                f"{len(held)}, latency p50 {ms(pct(held, 50))} / max "
                f"{ms(max(held, default=math.nan))}")

    print("  " + line("latency: all ", s.all_latencies(), s.all_latencies("free"),
                      s.all_latencies("held")))
    for platform in sorted(s.latency):
        print("    " + line(f"{platform:8}: ", s.latency[platform], s.free.get(platform, []),
                            s.held.get(platform, [])))


def print_limits(f: LimitFigures, s: Stats, wecom: bool = True) -> None:
    """The limits as the fakes saw them, and the replies lost."""
    closest = "" if math.isinf(f.tg_closest) else f" (shortest gap {ms(f.tg_closest)})"
    print(f"  Telegram chat-bound calls: peak {f.tg_peak} in a sliding second, {f.tg_over} beyond "
          f"{TG_PER_SECOND}/s; {f.tg_close} messages beyond their chat's pace ({TG_CHAT_BURST} in "
          f"{TG_CHAT_BURST * TG_CHAT_SECONDS:g} s){closest}")
    if wecom:
        print(f"  WeCom sends: peak {f.wc_peak} to one member in a sliding 60 s, {f.wc_over} beyond "
              f"{WC_PER_MINUTE} (WeCom drops those silently)")
    print(f"  lost replies (never received by the end of the run): {s.lost()}")


def print_waits(waits: dict[str, dict[str, Counter] | None]) -> None:
    """What the workers' /metrics say about waiting for the limits over the load phase."""
    silent = [name for name, figures in waits.items() if figures is None]
    told = {name: figures for name, figures in waits.items() if figures is not None}
    if not told:
        print(f"  limit waits (/metrics): not exposed by {', '.join(silent) or 'any process'}")
        return
    platforms = sorted({platform for figures in told.values() for platform in figures})
    if not platforms:
        print("  limit waits (/metrics, load phase): no message went through the limiter")
    for platform in platforms:
        total = Counter()
        waited_by = []
        for name, figures in told.items():
            values = figures.get(platform, Counter())
            total.update(values)
            waited_by.append(f"{name} {values['count'] - values['quick']:.0f}")
        waited = total["count"] - total["quick"]
        mean = total["sum"] / waited if waited else math.nan
        print(f"  limit waits (/metrics, load phase) {platform}: {total['count']:.0f} messages, "
              f"{waited:.0f} waited > {QUICK * 1000:.0f} ms ({', '.join(waited_by)}), "
              f"{total['sum']:.1f} s in all, mean {'-' if math.isnan(mean) else f'{mean:.2f} s'}; "
              f"pauses {total['pauses']:.0f}")
    if silent:
        print(f"    no limit figures from {', '.join(silent)}")


def web_cpu_per_action(r: SetupResult) -> float:
    return sum(v for k, v in r.cpu.items() if k.startswith("web")) / max(r.stats.completed, 1)


def report(args, results: list[SetupResult], baseline: Baseline | None) -> None:
    lifted = args.limits == "lifted"
    print()
    print("=" * 100)
    print(f"bench.load: {args.members} members ({sum(1 for p in directory(args.members) if p.platform == 'wecom')}"
          f" on WeCom), {args.rounds} rounds of {Sim.actions_per_round()} actions, think "
          f"{args.think:g} s, PostgreSQL, {os.cpu_count()} CPUs")
    if lifted:
        print("limits: LIFTED ([limits] lift = true): a capacity run; the echo baseline has no "
              "limiter either")
    else:
        print(f"limits: ON ({TG_PER_SECOND}/s and one per {TG_CHAT_SECONDS:g} s a chat, bursts of "
              f"{TG_CHAT_BURST}, on Telegram, "
              f"{WC_PER_MINUTE}/min a member on WeCom), shared through "
              + (f"Redis {args.redis_url}" if args.redis_url else "PostgreSQL (--no-redis)")
              + "; the echo baseline has no limiter")
    for r in results:
        s = r.stats
        print("-" * 100)
        print(f"setup {r.name}: {r.web} x `redshield run --role web` + 1 x `--role scheduler`"
              f" (round-robin over {r.web} port{'s' if r.web > 1 else ''})")
        print(f"  import: {r.imported}")
        print(f"  machine load average (1 min) before / after the load phase: "
              f"{r.load_before} / {r.load_after}")
        print_stats_line("bind (/start CODE, Telegram half)", r.bind)
        print_stats_line("load", s)
        for platform in ("telegram", "wecom"):
            lat = s.latency.get(platform, [])
            n, span, rate = s.rate(platform)
            print(f"    {platform:8}: {n} actions, the last done after {span:.1f} s = {rate:.1f} "
                  f"actions/s; p50 {ms(pct(lat, 50))}, p99 {ms(pct(lat, 99))}")
        print_held(s, limited=not lifted)
        print(f"  rounds completed {s.rounds_done}, aborted {s.rounds_aborted}")
        print_errors(s, args.reply_timeout)
        print_limits(r.limits, s)
        print_waits(r.waits)
        print(f"  WeCom callback acknowledgement: n={len(s.wecom_ack)}, p50 {ms(pct(s.wecom_ack, 50))}, "
              f"p99 {ms(pct(s.wecom_ack, 99))}, max {ms(max(s.wecom_ack, default=math.nan))}")
        slow = sorted(((pct(v, 50), pct(v, 99), k) for k, v in s.by_step.items()), reverse=True)[:4]
        print("  slowest steps (p50 / p99): " + "; ".join(f"{k} {ms(a)} / {ms(b)}" for a, b, k in slow))
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in r.cpu.items())
        print(f"  CPU seconds during the load: {cpu}; bench process {r.bench_cpu:.1f} "
              f"(web {web_cpu_per_action(r) * 1000:.1f} ms CPU per action)")
        print("  database afterwards: " + ", ".join(f"{k} {v}" for k, v in r.counts.items()))
        if r.loop_delay:
            print("  web event-loop delay (a refused webhook POST every 0.25 s): " + "; ".join(
                f"port {port} p50 {ms(pct(v, 50))} p99 {ms(pct(v, 99))} max {ms(max(v, default=math.nan))}"
                for port, v in r.loop_delay.items()))
        if r.pg is not None and r.pg.samples:
            g = r.pg
            print(f"  PostgreSQL sessions ({g.samples} samples): peak {g.peak_connections} connections; "
                  f"lock waits in {g.lock_waits} session-samples; idle in transaction "
                  f"{g.idle_in_tx}; oldest transaction seen {g.longest_tx:.2f} s")
            for query, n in g.waiting_queries.most_common(3):
                print(f"      waiting on a lock x{n}: {query}")
            if g.longest_tx_query:
                print(f"      oldest transaction's current query: {g.longest_tx_query}")
        for proc in r.procs:
            errors, tracebacks, distinct, warnings = proc.summary
            stop = "" if math.isnan(proc.stop_seconds) else f" after {proc.stop_seconds:.1f} s"
            print(f"  {proc.name}: exit {proc.exit_code}{stop}{' (killed)' if proc.killed else ''}, "
                  f"{errors} ERROR lines, {tracebacks} tracebacks, {warnings} WARNING lines")
            for line in distinct[:8]:
                print(f"      {line[:200]}")
    if baseline is not None:
        s = baseline.stats
        echo_cpu = baseline.cpu / max(s.completed, 1)
        print("-" * 100)
        print(f"baseline: bare PTB echo bot (no rate limiter), 1 process, {args.members} Telegram "
              f"members, {baseline.per_member} messages each, think {args.baseline_think:g} s")
        print_stats_line("echo", s)
        print_held(s, limited=False)
        print_errors(s, args.reply_timeout)
        print_limits(baseline.limits, s, wecom=False)
        print(f"  CPU seconds: echo bot {baseline.cpu:.1f} ({echo_cpu * 1000:.1f} ms CPU per echo), "
              f"bench process {baseline.bench_cpu:.1f}; machine load average before / after: "
              f"{s.load_before} / {s.load_after}")
        print("-" * 100)
        if not lifted:
            print("  (limits on: the workers wait for the platforms' limits, the echo bot does not; "
                  "compare capacity in a run with --limits lifted)")
        for r in results:
            ratio = r.stats.throughput / s.throughput if s.throughput else math.nan
            tg_rate = r.stats.rate("telegram")[2]
            print(f"  {r.name}: {r.stats.throughput:.1f} / {s.throughput:.1f} actions/s = "
                  f"{ratio:.2f} of the echo baseline (aim >= 0.5); Telegram members alone "
                  f"{tg_rate:.1f} actions/s = {tg_rate / s.throughput if s.throughput else math.nan:.2f}; "
                  f"CPU {web_cpu_per_action(r) * 1000:.1f} ms per action (web) vs "
                  f"{echo_cpu * 1000:.1f} ms per echo")
    print("=" * 100)


# ---------------------------------------------------------------------------------------


async def main_async(args) -> int:
    check_db_name(args.db)
    deadline = now() + args.timeout
    workdir = Path(tempfile.mkdtemp(prefix="redshield-bench-load-"))
    tg, wc = BenchBotAPI(), BenchWecomAPI()
    procs: list[Proc] = []
    results: list[SetupResult] = []
    baseline = None
    await tg.start()
    await wc.start()
    try:
        async def everything() -> None:
            nonlocal baseline
            for web_count in args.setups:
                name = f"{web_count} web"
                print(f"[{time.strftime('%H:%M:%S')}] setup {name} ...", flush=True)
                results.append(await run_setup(args, name, web_count, tg, wc, workdir, deadline,
                                               procs))
                print_stats_line(name, results[-1].stats)
            if not args.no_baseline:
                print(f"[{time.strftime('%H:%M:%S')}] baseline echo bot ...", flush=True)
                baseline = await run_baseline(args, tg, workdir, deadline, procs)
                print_stats_line("echo", baseline.stats)

        try:
            await asyncio.wait_for(everything(), max(deadline - now(), 1))
        except TimeoutError:
            print(f"global timeout of {args.timeout:.0f} s reached; stopping", file=sys.stderr)
    finally:
        for proc in procs:
            await proc.stop()
        await tg.stop()
        await wc.stop()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                await drop_db(args.pg_url, args.db)
        if args.keep_logs:
            shutil.copytree(workdir, args.keep_logs, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("media"))
        shutil.rmtree(workdir, ignore_errors=True)
    report(args, results, baseline)
    if args.keep_logs:
        print(f"logs kept in {args.keep_logs}")
    return 0


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    p.add_argument("--members", type=int, default=40, help="simulated members (half on WeCom)")
    p.add_argument("--rounds", type=int, default=3,
                   help=f"rounds of {Sim.actions_per_round()} actions per member")
    p.add_argument("--think", type=float, default=0.0, help="seconds between a member's actions")
    p.add_argument("--setups", default="1,2", help="web workers per setup, e.g. 1,2")
    p.add_argument("--no-baseline", action="store_true", help="skip the echo-bot baseline")
    p.add_argument("--limits", choices=("on", "lifted"), default="on",
                   help="the platforms' sending limits in the workers: on (measure them), or "
                        "lifted ([limits] lift = true: capacity against the echo bot)")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/13",
                   help="[redis] url of the workers; the bench FLUSHDBs it at each setup")
    p.add_argument("--no-redis", dest="redis_url", action="store_const", const="",
                   help="no Redis: the workers share the limits through PostgreSQL")
    p.add_argument("--baseline-think", type=float, default=0.0,
                   help="think time of the echo baseline's members (default 0: its capacity)")
    p.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
                   help="an existing database to connect to for CREATE / DROP DATABASE")
    p.add_argument("--db", default=f"bench_load_{os.getpid()}",
                   help="the bench's own database, created and dropped per setup; it must not "
                        "exist (default bench_load_<pid>, so that runs never share one)")
    p.add_argument("--keep-db", action="store_true", help="do not drop the bench database")
    p.add_argument("--timeout", type=float, default=1500, help="global limit, seconds")
    p.add_argument("--phase-timeout", type=float, default=600, help="limit per load phase, seconds")
    p.add_argument("--reply-timeout", type=float, default=60, help="seconds to wait for a reply")
    p.add_argument("--drain", type=float, default=120,
                   help="after the load, seconds to let late replies arrive before stopping")
    p.add_argument("--http-timeout", type=float, default=30, help="seconds per HTTP request")
    p.add_argument("--keep-logs", type=Path, help="copy the worker logs and configs here")
    p.add_argument("--dump", type=Path, help="append every action's timing (JSON lines) here")
    p.add_argument("--worker-cmd", help="command instead of `redshield` for the bot's processes, "
                   "e.g. to compare a patched build (split like a shell would)")
    p.add_argument("--echo-bot", type=int, metavar="PORT", help=argparse.SUPPRESS)
    p.add_argument("--echo-base-url", help=argparse.SUPPRESS)
    p.add_argument("--echo-base-file-url", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.setups = [int(x) for x in str(args.setups).split(",") if x.strip()]
    if args.worker_cmd:
        import shlex

        WORKER_CMD[:] = shlex.split(args.worker_cmd)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.echo_bot:
        echo_bot_main(args.echo_bot, args.echo_base_url, args.echo_base_file_url)
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
