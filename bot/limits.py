"""The platforms' sending limits, held for every worker and process together.

Each limit is a rule: at most `limit` messages in any `window` seconds for one key
(Telegram overall, one Telegram chat, one WeCom member...). A send reserves the
earliest moment every rule of its keys allows, records it under each key at once,
and sleeps until then, so messages beyond a limit wait and are never dropped.

A chat's rule keeps order: its reservations are its last moments, each after the one
before, so one chat's messages go out in the order asked whichever worker sends
them. A platform-wide rule must not: a chat waiting for its own turn would hold up
every other chat behind it. It hands out slots instead, `window / limit` seconds
wide, one message each, the first free one at or after the chat's moment; any window
then holds at most `limit` of them. A platform that says "too many" (Telegram's 429
with retry_after) pauses every sender of that platform for as long as it asks.

Where the reservations live: Redis when `[redis] url` is set (a Lua script, atomic,
timed by the Redis server's clock), else PostgreSQL (a short row-locking
transaction, timed by the database's clock), else this process's memory (SQLite
deployments run one process). If the shared store fails, the send is paced by this
process's memory for the moment, with a warning: late is better than lost.

Keys are HMAC pseudonyms of the chat (the store never holds a chat id or a userid):
the times of replies to an anonymous reporter must not be tied to an account.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bot import metrics
from bot.config import Config, LimitsConfig
from bot.core.locks import KeyedLocks
from storage.models import SendLimit

log = logging.getLogger("redshield.limits")



def padded(window: float, least: float = 0.3) -> float:
    """Windows are counted a little long (2 %, at least `least` seconds): a sender woken
    late by a busy event loop (up to ~0.2 s measured at saturation), or a message faster
    on the wire than the one before it, still lands inside the platform's limit."""
    return max(window * 1.02, window + least)


@dataclass(frozen=True)
class Rule:
    key: str
    limit: int
    window: float  # seconds
    ordered: bool = True  # a chat's rule; False: platform-wide, in slots

    @property
    def width(self) -> float:
        return self.window / self.limit


class Store(Protocol):
    async def reserve(self, pause_key: str, rules: list[Rule], after: float = 0.0) -> float:
        """Record one send under every rule at the earliest moment all of them (and the
        pause) allow, `after` seconds from now at the earliest; return the seconds to wait
        until then."""

    async def pause(self, pause_key: str, seconds: float) -> None:
        """No reservation before `seconds` from now."""

    async def close(self) -> None: ...


def plan(now: float, paused_until: float, rules: list[Rule],
         past: Callable[[Rule], list[float]], after: float = 0.0) -> tuple[float, dict[str, list[float]]]:
    """The first moment, at or after now + after, that every rule allows one more send,
    and what each rule records then. `past(rule)`: an ordered rule's last moments, oldest
    first (at most `limit`); a slotted rule's taken slot numbers."""
    at = max(now + after, paused_until)
    for rule in rules:
        if rule.ordered and (times := past(rule)):
            at = max(at, times[-1])  # after the chat's last reservation: order is kept
            if len(times) >= rule.limit:
                at = max(at, times[-rule.limit] + rule.window)
    record: dict[str, list[float]] = {}
    for rule in rules:  # then the first free slot of the platform-wide rules
        if not rule.ordered:
            taken = set(past(rule))
            slot = math.ceil(at / rule.width - 1e-9)
            while slot in taken:
                slot += 1
            at = max(at, slot * rule.width)
            oldest = math.floor(now / rule.width) - 1  # slots before now hold nothing
            record[rule.key] = sorted({s for s in taken if s >= oldest} | {slot})
    for rule in rules:
        if rule.ordered:
            record[rule.key] = [*past(rule), at][-rule.limit:]
    return at, record


class MemoryStore:
    """One process's reservations (SQLite deployments, tests, and the fallback)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._times: dict[str, list[float]] = {}
        self._paused: dict[str, float] = {}

    async def reserve(self, pause_key: str, rules: list[Rule], after: float = 0.0) -> float:
        delay = self.earliest(pause_key, rules, after)
        self.record(rules, delay)
        return delay

    def earliest(self, pause_key: str, rules: list[Rule], after: float = 0.0) -> float:
        now = self.clock()
        at, _ = plan(now, self._paused.get(pause_key, 0.0), rules,
                     lambda rule: self._times.get(rule.key, []), after)
        return at - now

    def record(self, rules: list[Rule], delay: float) -> None:
        now = self.clock()
        if len(self._times) > 4096:
            self._forget(now)
        _, record = plan(now, 0.0, rules, lambda rule: self._times.get(rule.key, []), delay)
        self._times.update(record)

    async def pause(self, pause_key: str, seconds: float) -> None:
        until = self.clock() + seconds
        self._paused[pause_key] = max(self._paused.get(pause_key, 0.0), until)

    def _forget(self, now: float) -> None:
        # A chat whose last send is an hour ago holds nothing a rule needs.
        for key in [k for k, t in self._times.items() if not t or t[-1] < now - 3600]:
            del self._times[key]

    async def close(self) -> None:
        self._times.clear()


# KEYS[1] the pause key, KEYS[2..] one per rule; ARGV[1] the earliest moment, in seconds
# from now; then limit, window, ordered (1/0) for each rule. An ordered rule's key is a
# list of its last `limit` moments, oldest first; a slotted rule's, a sorted set of taken
# slot numbers. Same steps as plan().
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local at = math.max(now + tonumber(ARGV[1]), tonumber(redis.call('GET', KEYS[1]) or '0'))
for i = 2, #KEYS do
  local limit, window = tonumber(ARGV[3 * i - 4]), tonumber(ARGV[3 * i - 3])
  if ARGV[3 * i - 2] == '1' and redis.call('LLEN', KEYS[i]) > 0 then
    at = math.max(at, tonumber(redis.call('LINDEX', KEYS[i], -1)))
    if redis.call('LLEN', KEYS[i]) >= limit then
      at = math.max(at, tonumber(redis.call('LINDEX', KEYS[i], -limit)) + window)
    end
  end
end
for i = 2, #KEYS do
  local limit, window = tonumber(ARGV[3 * i - 4]), tonumber(ARGV[3 * i - 3])
  if ARGV[3 * i - 2] == '0' then
    local width = window / limit
    local slot = math.ceil(at / width - 1e-9)
    while redis.call('ZSCORE', KEYS[i], string.format('%d', slot)) do
      slot = slot + 1
    end
    at = math.max(at, slot * width)
    redis.call('ZADD', KEYS[i], slot, string.format('%d', slot))
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', math.floor(now / width) - 2)
    local keep = math.ceil((at - now + window) * 1000) + 1000
    if redis.call('PTTL', KEYS[i]) < keep then  -- never shorter: later slots are kept
      redis.call('PEXPIRE', KEYS[i], keep)
    end
  end
end
for i = 2, #KEYS do
  local limit, window = tonumber(ARGV[3 * i - 4]), tonumber(ARGV[3 * i - 3])
  if ARGV[3 * i - 2] == '1' then
    redis.call('RPUSH', KEYS[i], string.format('%.6f', at))
    redis.call('LTRIM', KEYS[i], -limit, -1)
    local keep = math.ceil((at - now + window) * 1000) + 1000
    if redis.call('PTTL', KEYS[i]) < keep then
      redis.call('PEXPIRE', KEYS[i], keep)
    end
  end
end
return string.format('%.6f', at - now)
"""

_PAUSE = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
if until_ > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%.6f', until_), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 1
"""


class RedisStore:
    PREFIX = "redshield:limit:"

    def __init__(self, url: str):
        import redis.asyncio as redis

        self.redis = redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._reserve = self.redis.register_script(_RESERVE)
        self._pause = self.redis.register_script(_PAUSE)

    async def reserve(self, pause_key: str, rules: list[Rule], after: float = 0.0) -> float:
        keys = [self.PREFIX + pause_key, *(self.PREFIX + r.key for r in rules)]
        args = [f"{after:.6f}", *(v for r in rules for v in (r.limit, f"{r.window:.6f}", int(r.ordered)))]
        return float(await self._reserve(keys=keys, args=args))

    async def pause(self, pause_key: str, seconds: float) -> None:
        await self._pause(keys=[self.PREFIX + pause_key], args=[f"{seconds:.6f}"])

    async def close(self) -> None:
        await self.redis.aclose()


class PostgresStore:
    """Reservations in `send_limits`: one short transaction per send that locks the rows
    of its keys (always in key order, so two senders never deadlock)."""

    def __init__(self, sessions):
        self.sessions = sessions

    async def reserve(self, pause_key: str, rules: list[Rule], after: float = 0.0) -> float:
        keys = sorted({pause_key, *(r.key for r in rules)})
        async with self.sessions() as s, s.begin():
            await s.execute(postgresql.insert(SendLimit)
                            .values([{"key": k, "times": "", "until": 0.0} for k in keys])
                            .on_conflict_do_nothing())
            rows = (await s.execute(
                sa.select(SendLimit.key, SendLimit.times, SendLimit.until)
                .where(SendLimit.key.in_(keys)).order_by(SendLimit.key).with_for_update())).all()
            # The time once the rows are ours: a wait for their lock does not date us early.
            now = float((await s.execute(sa.select(sa.extract("epoch", sa.func.clock_timestamp()))))
                        .scalar_one())
            stored = {key: [float(x) for x in times.split()] for key, times, _ in rows}
            until = {key: kept for key, _, kept in rows}
            paused = stored[pause_key][-1] if stored[pause_key] else 0.0
            at, record = plan(now, paused, rules, lambda rule: stored[rule.key], after)
            await s.execute(sa.update(SendLimit), [
                {"key": r.key, "times": " ".join(f"{x:.6f}" if r.ordered else f"{x:.0f}" for x in record[r.key]),
                 "until": max(until[r.key], at + r.window)} for r in rules])  # never shorter
        return at - now

    async def pause(self, pause_key: str, seconds: float) -> None:
        async with self.sessions() as s, s.begin():
            until = sa.extract("epoch", sa.func.clock_timestamp()) + seconds
            stmt = postgresql.insert(SendLimit).values(key=pause_key, times=sa.cast(until, sa.Text),
                                                       until=until)
            await s.execute(stmt.on_conflict_do_update(
                index_elements=["key"], set_={"times": stmt.excluded.times, "until": stmt.excluded.until},
                where=SendLimit.until < stmt.excluded.until))

    async def close(self) -> None:
        pass


class ChatsApart:
    """PostgreSQL for the platform-wide rules, this process's memory for each chat's.

    A chat's moments must not reach the database: rows of exact times under a chat's
    pseudonym, kept until housekeeping (and in backups), could be matched with a named
    member's exact-time writes and tell when an anonymous reporter talked to the bot.
    So without Redis a chat's pace is kept per process (one chat's messages mostly go
    through one process: the worker answering it, or the scheduler); several workers
    should run with Redis anyway (the anonymous drafts need it)."""

    def __init__(self, shared, chats: MemoryStore | None = None):
        self.shared = shared
        self.chats = chats or MemoryStore()
        self._locks = KeyedLocks()

    async def reserve(self, pause_key: str, rules: list[Rule], after: float = 0.0) -> float:
        own = [r for r in rules if r.ordered]
        wide = [r for r in rules if not r.ordered]
        if not wide:
            return await self.chats.reserve(pause_key, own, after)
        # The chat's turn, then the first free platform slot from then; the chat records
        # the moment finally taken (held under the chat's lock so its order stays).
        async with self._locks.hold(own[0].key if own else ""):
            first = self.chats.earliest(pause_key, own, after)
            delay = await self.shared.reserve(pause_key, wide, first)
            self.chats.record(own, delay)
        return delay

    async def pause(self, pause_key: str, seconds: float) -> None:
        await self.chats.pause(pause_key, seconds)
        await self.shared.pause(pause_key, seconds)

    async def close(self) -> None:
        await self.shared.close()
        await self.chats.close()


async def forget_old(session, now_epoch: float) -> None:
    """Housekeeping: rows whose moments no rule needs any more."""
    await session.execute(sa.delete(SendLimit).where(SendLimit.until < now_epoch))


RETRY_STORE = 30.0  # seconds the fallback paces after the shared store failed


class Limiter:
    """What the adapters call before every message they send."""

    def __init__(self, config: LimitsConfig, store: Store, pseudonym: Callable[..., str], *,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 fallback: MemoryStore | None = None):
        self.config = config
        self.store = store
        self.pseudonym = pseudonym
        self.sleep = sleep
        self.fallback = fallback or MemoryStore()
        self._failing_since: float | None = None
        self._retry_at = 0.0  # until then the fallback paces, the store is not asked

    # ---- the rules of each platform

    def telegram(self, chat_id: int | str, message: bool = True) -> list[Rule]:
        """Every chat-bound call counts toward the overall rule; new messages (not edits
        of one already shown) also toward their chat's."""
        c = self.config
        chat = self._key("telegram", chat_id)
        # A second counted as 1.25: a sender woken late by a busy loop stays inside it.
        rules = [Rule("telegram", c.telegram_per_second, padded(1.0, 0.25), ordered=False)]
        if not message:
            return rules
        if c.telegram_chat_seconds:
            rules.append(Rule("telegram:" + chat, c.telegram_chat_burst,
                              padded(c.telegram_chat_burst * c.telegram_chat_seconds)))
        if str(chat_id).startswith("-"):  # groups and channels have negative ids
            rules.append(Rule("telegram:group:" + chat, c.telegram_group_per_minute, padded(60.0)))
        return rules

    def wecom(self, userid: str) -> list[Rule]:
        return [Rule("wecom:" + self._key("wecom", userid), self.config.wecom_member_per_minute,
                     padded(60.0))]

    def _key(self, platform: str, chat: object) -> str:
        return self.pseudonym("limit", platform, chat)[:32]

    # ---- sending

    async def wait(self, platform: str, rules: list[Rule]) -> float:
        """Sleep until the rules allow one more message; returns how long that was."""
        if self.config.lift:
            return 0.0
        if time.monotonic() < self._retry_at:  # the store failed lately: no wait for its timeout
            delay = await self.fallback.reserve(platform + ":pause", rules)
        else:
            try:
                delay = await self.store.reserve(platform + ":pause", rules)
                self._failing_since = None
            except Exception as err:  # the shared store is down: pace in this process
                self._store_failed(err)
                delay = await self.fallback.reserve(platform + ":pause", rules)
        metrics.limit_wait(platform, delay)
        if delay > 0:
            await self.sleep(delay)
        return delay

    async def pause(self, platform: str, seconds: float) -> None:
        """The platform asked us to slow down: nobody sends on it for `seconds`."""
        metrics.paused(platform)
        log.warning("%s asked to slow down: every sender pauses %.1f s", platform, seconds)
        await self.fallback.pause(platform + ":pause", seconds)
        try:
            await self.store.pause(platform + ":pause", seconds)
        except Exception as err:
            self._store_failed(err)

    def _store_failed(self, err: Exception) -> None:
        now = time.monotonic()
        self._retry_at = now + RETRY_STORE
        if self._failing_since is None or now - self._failing_since > 60:
            log.warning("the shared sending limits cannot be read (%s); pacing in this process "
                        "meanwhile", type(err).__name__)
            self._failing_since = now

    async def close(self) -> None:
        await self.store.close()


def limiter_for(config: Config, pseudonym: Callable[..., str], sessions=None) -> Limiter:
    """Redis when configured, else PostgreSQL (given its sessions), else this process."""
    if config.redis_url:
        store: Store = RedisStore(config.redis_url)
    elif sessions is not None and config.database.url.startswith("postgresql"):
        store = ChatsApart(PostgresStore(sessions))
    else:
        store = MemoryStore()
    if config.limits.lift:
        log.warning("[limits] lift is set: no sending limit is kept (for benchmarks only)")
    return Limiter(config.limits, store, pseudonym)
