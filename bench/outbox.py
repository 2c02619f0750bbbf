"""Benchmark of the reminder path: the personal reminder job filling the outbox, then
the delivery worker draining part of it through the real Telegram adapter into a fake
Bot API that enforces Telegram's flood limit.

Run by hand; it prints figures and asserts nothing about time:

    python -m bench.outbox [--members 100000] [--projects 200] [--deliver 3000]
                           [--backend sqlite|postgresql]
                           [--pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
                           [--window sliding|fixed] [--fallback 30000] [--keep-pg]

1. Directory: `--members` members (role "member", joined a year ago, each bound to a
   Telegram identity whose external id is a distinct positive integer) spread evenly
   over `--projects` projects, and no patrol at all, so every member is short this week.
   SQLite in a temporary file, or PostgreSQL in a schema of its own (dropped at the end).
2. Enqueue: one run of the personal reminder job (`Scheduler.run` with
   `reminders.personal_reminders`) for everyone, timed; then a second run, which must
   queue nothing (the outbox keys make the job idempotent). Should the job fail (it
   logs the error and queues nothing), it is timed again with only the first
   `--fallback` members active, so the delivery still has rows to send.
3. Delivery: every outbox row but the first `--deliver` (by id) is parked, its
   next_attempt_at moved to 2100, so exactly N rows are due. The real `Deliverer` with
   the real `TelegramAdapter` (PTB, the shared limiter of bot/limits.py) sends them to a loopback fake Bot API
   (running on its own thread and event loop) that refuses a sendMessage with HTTP 429,
   retry_after 1, when 30 sendMessage calls were already accepted in the window: by
   default the sliding window of the last second, with `--window fixed` whole seconds;
   refused calls do not count against the window. The worker runs until no row is due
   any more, waiting out the back-off of rows put back for a retry.
4. A table of every figure: achieved rate = accepted sendMessage / seconds from the
   start of delivery until no row was due, as a fraction of 30/s; duplicates = chats
   that accepted more than one message; lost = due rows not marked sent or whose chat
   never had a message accepted; the 429s; rows with attempts > 1. Also the loop's lag
   (a 10 ms timer's lateness) and the rate before and after the first 429, which show
   what drives a low rate.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from pathlib import Path

import sqlalchemy as sa
from starlette.responses import JSONResponse

from bot.adapters.telegram import TelegramAdapter
from bot.bootstrap import bootstrap
from bot.config import TelegramConfig, default_config
from bot.core.engine import utcnow
from bot.delivery import Deliverer
from bot.scheduler import Scheduler
from handlers import reminders
from storage.db import create_engine, normalize_url, session_factory, upgrade_sync
from storage.models import Identity, Member, MemberRole, OutboxMessage, Project
from tests.fakes.telegram_api import FakeBotAPI

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_outbox"
JOB = "remind_personal_0"
SLOT = "thu1800"
CHUNK = 10_000  # rows per INSERT ... executemany while building
FIRST_CHAT = 500_000_001  # Telegram chat id of member 1; member m has FIRST_CHAT + m - 1
PARK = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)  # next_attempt_at of undelivered rows
LIMIT, WINDOW, RETRY_AFTER = 30, 1.0, 1  # the fake's flood limit: 30 per sliding second
TELEGRAM_RATE = 30.0  # messages per second Telegram takes from one bot (the 1.0 mark)
LOGGERS = ("redshield.limits",)  # its pauses (429s reaching the limiter) are counted


# --- the fake Bot API with a flood limit -------------------------------------------------


class FloodLimitedBotAPI(FakeBotAPI):
    """FakeBotAPI that answers 429 (parameters.retry_after) to a sendMessage arriving when
    `limit` sendMessage calls were accepted already in the current window of `window`
    seconds, and records every accepted sendMessage. The window is "sliding" (the last
    `window` seconds before the call) or "fixed" (whole seconds since the server started);
    refused calls do not count against it."""

    def __init__(self, limit: int = LIMIT, window: float = WINDOW, retry_after: int = RETRY_AFTER,
                 kind: str = "sliding"):
        super().__init__()
        self.limit, self.window, self.retry_after, self.kind = limit, window, retry_after, kind
        self.accepted: list[tuple[float, int, str]] = []  # (monotonic time, chat id, text)
        self.arrivals: list[tuple[float, bool]] = []  # every sendMessage: (time, accepted)
        self.refused: list[float] = []  # monotonic times of the 429s
        self._recent: deque[float] = deque()  # arrival times of accepted calls in the window
        self._origin = time.monotonic()

    def _full(self, now: float) -> bool:
        if self.kind == "fixed":
            start = self._origin + (now - self._origin) // self.window * self.window
        else:
            start = now - self.window
        while self._recent and self._recent[0] <= start:
            self._recent.popleft()
        return len(self._recent) >= self.limit

    async def _api(self, request):
        if (request.path_params["method"] == "sendMessage"
                and request.path_params["token"] == self.token):
            now = time.monotonic()
            if self._full(now):
                self.refused.append(now)
                self.arrivals.append((now, False))
                return JSONResponse(
                    {"ok": False, "error_code": 429,
                     "description": f"Too Many Requests: retry after {self.retry_after}",
                     "parameters": {"retry_after": self.retry_after}},
                    status_code=429)
            self._recent.append(now)
            self.arrivals.append((now, True))
        return await super()._api(request)

    async def _m_sendMessage(self, params):
        self.accepted.append((time.monotonic(), int(params["chat_id"]), str(params.get("text", ""))))
        return await super()._m_sendMessage(params)


class LoopLag:
    """How late a 10 ms timer fires on the benchmark's loop: stalls there delay sends the
    Pacer released on time, and the late ones then go out together."""

    def __init__(self, tick: float = 0.01):
        self.tick, self.lags, self._task = tick, [], None

    async def _run(self):
        while True:
            t = time.monotonic()
            await asyncio.sleep(self.tick)
            self.lags.append(time.monotonic() - t - self.tick)

    def start(self):
        self._task = asyncio.create_task(self._run())

    async def stop(self):
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


class OnItsOwnLoop:
    """Runs the fake server on a thread of its own, so its clock and its answers are not
    held up by the benchmark's own loop (and the other way round)."""

    def __init__(self, api: FakeBotAPI):
        self.api = api
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    async def _serve(self) -> None:
        try:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            await self.api.start()
        except BaseException as err:
            self._error = err
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        await self.api.stop()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


# --- the directory --------------------------------------------------------------------


def chat_of(member_id: int) -> int:
    return FIRST_CHAT + member_id - 1


async def build(url: str, schema: str | None, members: int, projects: int) -> None:
    """Projects, members (role member, joined a year ago), one Telegram identity each."""
    upgrade_sync(url, schema=schema)
    engine = create_engine(url, schema=schema)
    joined = utcnow() - dt.timedelta(days=365)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(Project.__table__), [
                {"id": p, "code": f"B{p:04d}", "name": f"基准项目{p:04d}",
                 "branch": f"基准项目{p:04d}党支部"} for p in range(1, projects + 1)])
        for lo in range(1, members + 1, CHUNK):
            ids = range(lo, min(lo + CHUNK, members + 1))
            async with engine.begin() as conn:
                await conn.execute(sa.insert(Member.__table__), [
                    {"id": m, "project_id": (m - 1) * projects // members + 1,
                     "name": f"成员{m:06d}", "active": True, "joined_at": joined} for m in ids])
                await conn.execute(sa.insert(MemberRole.__table__),
                                   [{"member_id": m, "role": "member"} for m in ids])
                await conn.execute(sa.insert(Identity.__table__), [
                    {"id": m, "platform": "telegram", "external_id": str(chat_of(m)),
                     "member_id": m, "bound_at": joined} for m in ids])
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                for table in ("projects", "members", "identities"):  # explicit ids: move the sequences on
                    await conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        async with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM ANALYZE")
            else:
                await conn.exec_driver_sql("ANALYZE")
                await conn.commit()
    finally:
        await engine.dispose()


# --- the measurements ------------------------------------------------------------------


class Figures:
    """(name, value, aim) rows for the table at the end."""

    def __init__(self):
        self.rows: list[tuple[str, str, str]] = []

    def add(self, name: str, value, aim: str = "") -> None:
        self.rows.append((name, value if isinstance(value, str) else f"{value:,}"
                          if isinstance(value, int) else f"{value:.3f}", aim))

    def print(self) -> None:
        width = max(len(n) for n, _, _ in self.rows)
        vwidth = max(len(v) for _, v, _ in self.rows)
        print()
        print(f"{'figure':<{width}}  {'value':>{vwidth}}  aim")
        print(f"{'-' * width}  {'-' * vwidth}  ---")
        for name, value, aim in self.rows:
            print(f"{name:<{width}}  {value:>{vwidth}}  {aim}")


async def outbox_counts(sessions) -> dict[str, int]:
    o = OutboxMessage
    async with sessions() as s:
        row = (await s.execute(sa.select(
            sa.func.count(),
            sa.func.count(o.sent_at),
            sa.func.count(o.failed_at),
            sa.func.sum(sa.case((o.attempts > 1, 1), else_=0)),
        ))).one()
    return {"rows": row[0], "sent": row[1], "failed": row[2], "retried": int(row[3] or 0)}


async def enqueue_phase(config, sessions, db, engine, now, fallback: int, figures: Figures) -> int:
    """Times the reminder job; returns the outbox rows it made. Should the job fail for
    everyone, it is timed again with only the first `fallback` members active, so that
    the delivery can still be measured (and the job's speed seen on this backend)."""
    async with sessions() as s:
        t = time.perf_counter()
        decisions = await reminders.personal_decisions(s, now, config)
        decide_s = time.perf_counter() - t
    short = sum(d.remind for d in decisions)
    print(f"decisions: {len(decisions):,} members, {short:,} short "
          f"({decide_s:.2f} s for personal_decisions alone)", flush=True)
    figures.add("short members", short)
    figures.add("personal_decisions alone: seconds", decide_s)

    sched = Scheduler(config, db, sessions, engine, [], clock=lambda: now)
    for _ in range(60):  # on PostgreSQL another process (a test run) may hold the job lock
        if await sched.try_lead():
            break
        print("  the scheduler's advisory lock is held elsewhere; waiting", flush=True)
        await asyncio.sleep(5)
    else:
        raise SystemExit("could not take the scheduler lock")
    try:
        rows = await twice(sched, config, sessions, short, "", figures)
        if rows < short and short > fallback:
            print(f"the job queued {rows:,} of {short:,}: it failed (see the log above). Fallback: "
                  f"the job again with only the first {fallback:,} members active", flush=True)
            await set_active(sessions, fallback, False)
            try:
                rows = await twice(sched, config, sessions, fallback,
                                   f"fallback ({fallback:,} active): ", figures)
            finally:
                await set_active(sessions, fallback, True)
    finally:
        await sched.release()
    return rows


async def twice(sched, config, sessions, short: int, label: str, figures: Figures) -> int:
    """Runs the job twice, timed; returns the outbox rows after the first run."""
    def work(session, at, config):
        return reminders.personal_reminders(session, at, config, SLOT)

    t = time.perf_counter()
    first = await sched.run(JOB, work)
    first_s = time.perf_counter() - t
    rows = (await outbox_counts(sessions))["rows"]
    rate = first / first_s if first_s else 0.0
    print(f"{label}enqueue: run 1 queued {first:,} in {first_s:.2f} s = {rate:,.0f} rows/s; "
          f"outbox rows {rows:,} (short members {short:,})", flush=True)
    t = time.perf_counter()
    second = await sched.run(JOB, work)
    second_s = time.perf_counter() - t
    rows_after = (await outbox_counts(sessions))["rows"]
    print(f"{label}enqueue: run 2 queued {second:,} in {second_s:.2f} s; outbox rows {rows_after:,}",
          flush=True)
    figures.add(f"{label}enqueue run 1: seconds", first_s)
    figures.add(f"{label}enqueue run 1: rows/s", f"{rate:,.0f}")
    figures.add(f"{label}outbox rows after run 1", rows, f"= short members ({short:,})"
                + ("" if rows == short else "  <-- MISMATCH"))
    figures.add(f"{label}enqueue run 2: queued", second,
                "0 (idempotent)" + ("" if second == 0 else "  <-- NOT 0"))
    figures.add(f"{label}enqueue run 2: seconds", second_s)
    figures.add(f"{label}outbox rows after run 2", rows_after,
                "unchanged" + ("" if rows_after == rows else "  <-- CHANGED"))
    return rows


async def set_active(sessions, first: int, active: bool) -> None:
    """Members after the first `first` (by id) made inactive, or active again."""
    async with sessions() as s, s.begin():
        await s.execute(sa.update(Member).where(Member.id > first).values(active=active))


async def park_all_but(sessions, n: int) -> dict[int, int]:
    """Leaves the first n outbox rows (by id) due and parks the rest; returns the due
    rows' id -> member id."""
    async with sessions() as s, s.begin():
        due = dict((await s.execute(sa.select(OutboxMessage.id, OutboxMessage.member_id)
                                    .order_by(OutboxMessage.id).limit(n))).all())
        if due:
            await s.execute(sa.update(OutboxMessage).where(OutboxMessage.id > max(due))
                            .values(next_attempt_at=PARK))
    return due


async def still_due(sessions) -> tuple[int, dt.datetime | None]:
    """Rows neither sent nor failed (parked ones aside), and the earliest attempt among them."""
    o = OutboxMessage
    async with sessions() as s:
        count, first = (await s.execute(sa.select(sa.func.count(), sa.func.min(o.next_attempt_at)).where(
            o.sent_at.is_(None), o.failed_at.is_(None), o.next_attempt_at < PARK))).one()
    if isinstance(first, dt.datetime) and first.tzinfo is None:
        first = first.replace(tzinfo=dt.UTC)  # an aggregate skips the column type
    return count, first


class CountGiveUps(logging.Handler):
    """Counts the limiter's pauses: each is a 429 that the limits did not prevent."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.rate_limit_exhausted = 0

    def emit(self, record):
        if "asked to slow down" in record.getMessage():
            self.rate_limit_exhausted += 1


async def delivery_phase(config, sessions, engine, n: int, window: str, figures: Figures) -> None:
    due = await park_all_but(sessions, n)
    meant = {chat_of(m) for m in due.values()}
    print(f"delivery: {len(due):,} rows due, the rest parked until {PARK.year}", flush=True)

    api = FloodLimitedBotAPI(kind=window)
    server = OnItsOwnLoop(api)
    server.start()
    counter = CountGiveUps()
    for name in LOGGERS:
        logging.getLogger(name).addHandler(counter)
    tg = TelegramConfig(token=api.token, base_url=api.base_url, base_file_url=api.base_file_url)
    adapter = TelegramAdapter(config.model_copy(update={"telegram": tg}), engine)
    await adapter.app.initialize()
    worker = Deliverer(sessions, [adapter], engine.media)
    rounds, round_errors, waits = 0, 0, 0.0
    lag = LoopLag()
    lag.start()
    deadline = time.monotonic() + max(600.0, 4 * n / TELEGRAM_RATE + 300)
    try:
        t0 = time.monotonic()
        last_report = t0
        while True:
            try:
                await worker.run_once()
            except Exception as err:
                round_errors += 1
                print(f"  delivery round failed: {type(err).__name__}: {err}", flush=True)
            rounds += 1
            count, first = await still_due(sessions)
            if count == 0 or time.monotonic() > deadline:
                break
            pause = 0.2 if first is None else min(5.0, max(0.05, (first - utcnow()).total_seconds()))
            waits += pause
            if time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                print(f"  {time.monotonic() - t0:6.1f} s: accepted {len(api.accepted):,}, "
                      f"429s {len(api.refused):,}, {count:,} still due", flush=True)
            await asyncio.sleep(pause)
        elapsed = time.monotonic() - t0
    finally:
        await lag.stop()
        await adapter.app.shutdown()
        server.stop()
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(counter)

    accepted = len(api.accepted)
    per_chat = Counter(chat for _, chat, _ in api.accepted)
    duplicates = sum(1 for c in per_chat.values() if c > 1)
    extra = sum(1 for chat in per_chat if chat not in meant)
    not_reminders = sum(1 for _, _, text in api.accepted if not text.startswith("⏰"))
    async with sessions() as s:
        rows = (await s.execute(sa.select(OutboxMessage.id, OutboxMessage.member_id, OutboxMessage.sent_at,
                                          OutboxMessage.failed_at, OutboxMessage.attempts)
                                .where(OutboxMessage.id <= max(due)))).all()  # the first n
    unsent = sum(1 for r in rows if r.sent_at is None)
    never_accepted = sum(1 for r in rows if chat_of(r.member_id) not in per_chat)
    lost = sum(1 for r in rows if r.sent_at is None or chat_of(r.member_id) not in per_chat)
    failed = sum(1 for r in rows if r.failed_at is not None)
    retried = sum(1 for r in rows if r.attempts > 1)
    attempts = Counter(r.attempts for r in rows)
    rate = accepted / elapsed if elapsed else 0.0
    times = sorted(t for t, _, _ in api.accepted)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    steady = (accepted - 1) / span if span else 0.0
    busiest = max_in_window(sorted(t for t, ok in api.arrivals if ok), WINDOW)
    t_start = min((t for t, _ in api.arrivals), default=0.0)
    first_429 = f"{api.refused[0] - t_start:.1f} s" if api.refused else "-"
    stalls = [x for x in lag.lags if x > 0.05]
    if api.refused and times:  # the pace before the first 429, and from it to the end
        cut = api.refused[0]
        before = sum(1 for t in times if t < cut) / max(cut - t_start, 1e-9)
        after = sum(1 for t in times if t >= cut) / max(times[-1] - cut, 1e-9)
        split = f"{before / TELEGRAM_RATE:.3f} / {after / TELEGRAM_RATE:.3f}"
    else:
        split = "- (no 429)"

    print(f"delivery: {accepted:,} accepted in {elapsed:.1f} s ({rounds} worker rounds, "
          f"{waits:.1f} s waiting for back-offs), {len(api.refused):,} answered 429", flush=True)
    figures.add("rows to deliver (N)", len(due))
    figures.add("delivery: seconds until none due", elapsed)
    figures.add("accepted sendMessage", accepted, f"= N ({len(due):,})")
    figures.add("achieved rate (accepted/s)", rate)
    figures.add("achieved rate / 30 per s", rate / TELEGRAM_RATE, ">= 0.9")
    figures.add("rate first..last accepted / 30", steady / TELEGRAM_RATE)
    figures.add("most accepted in any 1 s (sliding)", busiest, f"<= {LIMIT} if sliding")
    figures.add("duplicates (chats sent to twice)", duplicates, "0")
    figures.add("lost (not sent or never accepted)", lost, "0")
    figures.add("  of which not marked sent", unsent)
    figures.add("  of which never accepted", never_accepted)
    figures.add("sent to parked rows' chats", extra, "0")
    figures.add("accepted texts not a reminder", not_reminders, "0")
    figures.add("429 answered by the fake", len(api.refused))
    figures.add("first 429 after the first send", first_429)
    figures.add("rate / 30 before / after first 429", split)
    figures.add("loop lag: max ms / stalls > 50 ms",
                f"{max(lag.lags, default=0) * 1000:.0f} / {len(stalls)}")
    figures.add("429s that paused every sender", counter.rate_limit_exhausted)
    figures.add("outbox rows retried (attempts > 1)", retried)
    figures.add("outbox rows failed", failed, "0")
    figures.add("attempts histogram", ", ".join(f"{k}:{v}" for k, v in sorted(attempts.items())))
    figures.add("delivery rounds that raised", round_errors, "0")


def max_in_window(times: list[float], window: float) -> int:
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# --- the two databases --------------------------------------------------------------------


async def run(args) -> None:
    import telegram

    figures = Figures()
    tmp = Path(tempfile.mkdtemp(prefix="bench_outbox_"))
    schema = None
    admin = None
    if args.backend == "postgresql":
        url = normalize_url(args.pg_url)
        schema = PG_SCHEMA
        admin = create_engine(url)
        async with admin.begin() as conn:
            version = (await conn.exec_driver_sql("SHOW server_version")).scalar()
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        backend = f"PostgreSQL {version} (schema {schema})"
    else:
        import sqlite3

        url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        backend = f"SQLite {sqlite3.sqlite_version} ({tmp / 'bench.db'})"
    print(f"backend: {backend}", flush=True)
    print(f"members {args.members:,} in {args.projects} projects; deliver {args.deliver:,}", flush=True)
    db = None
    try:
        t = time.perf_counter()
        await build(url, schema, args.members, args.projects)
        build_s = time.perf_counter() - t
        print(f"built in {build_s:.1f} s", flush=True)

        base = default_config()
        config = base.model_copy(update={"database": base.database.model_copy(update={"url": url}),
                                         "media": base.media.model_copy(update={"dir": str(tmp / "media")})})
        db = create_engine(url, schema=schema)
        sessions = session_factory(db)
        now = utcnow()
        # Nothing is sent as the job runs: delivery is measured apart.
        engine = bootstrap(config, lambda: now, db=db, targets=[], delivery="none").engine

        rows = await enqueue_phase(config, sessions, db, engine, now, args.fallback, figures)
        n = min(args.deliver, rows)
        if n:
            await delivery_phase(config, sessions, engine, n, args.window, figures)
        counts = await outbox_counts(sessions)
        figures.add("outbox at the end: sent / failed", f"{counts['sent']:,} / {counts['failed']:,}")

        facts = [
            ("backend", backend), ("members", f"{args.members:,}"), ("projects", str(args.projects)),
            ("N to deliver", f"{n:,}"), ("build seconds", f"{build_s:.1f}"),
            ("python", sys.version.split()[0]), ("python-telegram-bot", telegram.__version__),
            ("limits", f"{config.limits.telegram_per_second}/s overall (slots), "
                       f"{config.limits.telegram_chat_seconds} s per chat, "
                       f"bursts of {config.limits.telegram_chat_burst}"),
            ("deliverer", f"batch {worker_default('batch')}, concurrency {worker_default('concurrency')}"),
            ("fake limit", f"{LIMIT} sendMessage per {WINDOW:g} s, {args.window} window over "
                           f"accepted calls; 429 retry_after {RETRY_AFTER}"),
        ]
        print()
        for k, v in facts:
            print(f"{k:<20} {v}")
        figures.print()
    finally:
        if db is not None:
            await db.dispose()
        if admin is not None:
            if not args.keep_pg:
                async with admin.begin() as conn:
                    await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


class Brief(logging.Formatter):
    """Log lines with the exception's last line only, cut short: a failed IN query with a
    hundred thousand parameters would otherwise print all of them."""

    def formatException(self, ei) -> str:
        text = f"{ei[0].__name__}: {ei[1]}".replace("\n", " ")
        return text if len(text) <= 400 else f"{text[:400]}... ({len(text):,} characters)"


def worker_default(name: str):
    import inspect

    return inspect.signature(Deliverer.__init__).parameters[name].default


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.outbox", description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--projects", type=int, default=200)
    ap.add_argument("--deliver", type=int, default=3000, metavar="N",
                    help="outbox rows left due for delivery (the rest are parked)")
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("REDSHIELD_BENCH_PG_URL", PG_URL))
    ap.add_argument("--fallback", type=int, default=30_000, metavar="K",
                    help="members left active to time the job again if it fails for all of them")
    ap.add_argument("--window", choices=("sliding", "fixed"), default="sliding",
                    help="how the fake Bot API counts its 30 per second (default sliding)")
    ap.add_argument("--keep-pg", action="store_true", help=f"leave the schema {PG_SCHEMA} in place")
    args = ap.parse_args(argv)
    if args.members < args.projects:
        raise SystemExit("need at least one member per project")
    handler = logging.StreamHandler()
    handler.setFormatter(Brief("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
