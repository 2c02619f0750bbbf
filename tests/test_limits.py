"""The platforms' sending limits, shared by every process: in memory, in Redis and in
PostgreSQL, the reservations keep each rule's count in any window, keep one chat's
order, let other chats pass, obey a platform's pause, and name no chat."""
from __future__ import annotations

import asyncio
import logging
import os
import uuid

import pytest
import sqlalchemy as sa

from bot.config import LimitsConfig
from bot.core.anonymity import Anonymity
from bot.limits import ChatsApart, Limiter, MemoryStore, PostgresStore, RedisStore, Rule, padded, plan
from storage.ephemeral import MemoryStore as Ephemeral
from storage.models import SendLimit

REDIS_URL = os.environ.get("REDSHIELD_TEST_REDIS_URL")
PSEUDONYM = Anonymity("test-secret-" + "k" * 32, Ephemeral()).pseudonym


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def in_any_window(moments: list[float], window: float) -> int:
    """The most moments in any half-open window of that length."""
    moments = sorted(moments)
    return max(sum(1 for t in moments if start <= t < start + window) for start in moments)


# ---- the rule itself


def test_a_chat_waits_for_the_oldest_of_its_last_limit_to_leave_the_window():
    rule = Rule("k", limit=3, window=10.0)

    def at(now, paused, times):
        return plan(now, paused, [rule], lambda r: times)[0]

    assert at(5.0, 0.0, []) == 5.0
    assert at(5.0, 0.0, [1.0, 2.0]) == 5.0  # room for a third
    assert at(5.0, 0.0, [1.0, 2.0, 4.0]) == 11.0  # 1.0 + 10
    assert at(5.0, 8.0, []) == 8.0  # paused until 8
    assert at(5.0, 0.0, [6.0]) == 6.0  # never before the chat's last: its order is kept
    assert plan(5.0, 0.0, [rule], lambda r: [1.0, 2.0, 4.0])[1] == {"k": [2.0, 4.0, 11.0]}


def test_a_platform_wide_rule_hands_out_free_slots_without_queueing_behind_a_chat():
    overall = Rule("all", limit=10, window=1.0, ordered=False)  # slots of 0.1 s
    chat = Rule("chat", limit=1, window=5.0)
    # The chat's next turn is at 9.0; slots 90 and 91 are taken: it gets slot 92.
    at, record = plan(5.0, 0.0, [overall, chat], lambda r: {"all": [49, 90, 91], "chat": [4.0]}[r.key])
    assert at == pytest.approx(9.2)
    assert record["all"] == [49, 90, 91, 92] and record["chat"] == [pytest.approx(9.2)]
    # Another chat asking later still gets the free slot at 5.0: nobody waits behind 9.2.
    at, record = plan(5.0, 0.0, [overall], lambda r: [49, 90, 91, 92])
    assert at == pytest.approx(5.0) and 50 in record["all"]
    assert min(record["all"]) >= 48  # slots long past are forgotten


def test_slots_keep_any_window_under_the_limit():
    overall = Rule("all", limit=30, window=padded(1.0, 0.25), ordered=False)
    taken: list[float] = []
    moments = []
    for i in range(200):
        now = 100.0 + i * 0.004  # 250 asks a second
        at, record = plan(now, 0.0, [overall], lambda r: taken)
        taken[:] = record["all"]
        moments.append(at)
    assert in_any_window(moments, 1.0) <= 30
    assert len(set(moments)) == len(moments)


async def test_memory_reservations_keep_every_rule_in_any_window():
    clock = FakeClock()
    store = MemoryStore(clock)
    overall, chat = Rule("all", 5, 1.0), Rule("chat", 2, 3.0)
    moments = []
    for _ in range(12):
        moments.append(clock.now + await store.reserve("p", [overall, chat]))
        clock.now += 0.01
    assert in_any_window(moments, 3.0) <= 2
    assert moments == sorted(moments)  # in the order asked
    assert moments[:2] == pytest.approx([1000.0, 1000.01])  # a burst of two goes at once
    assert moments[2] == pytest.approx(1003.0)  # the third waits for the first to leave


# ---- the limiter as adapters use it


def limiter(store, **limits) -> tuple[Limiter, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return Limiter(LimitsConfig(**limits), store, PSEUDONYM, sleep=sleep), slept


async def test_one_telegram_chat_waits_its_turn_and_others_do_not():
    clock = FakeClock()
    lim, slept = limiter(MemoryStore(clock), telegram_chat_seconds=1.0, telegram_chat_burst=1)
    waits = [await lim.wait("telegram", lim.telegram(chat)) for chat in ("111", "111", "222")]
    # Only 111's second message waited its turn; the rest only for a free overall slot.
    assert waits[1] == pytest.approx(padded(1.0), abs=0.04)
    assert waits[0] < 0.1 and waits[2] < 0.1


async def test_telegram_overall_and_group_limits():
    clock = FakeClock()
    lim, slept = limiter(MemoryStore(clock), telegram_per_second=30, telegram_group_per_minute=20)
    # 60 private chats at once: spread over the slots, never 30 in a second.
    moments = [clock.now + await lim.wait("telegram", lim.telegram(str(1000 + i))) for i in range(60)]
    assert in_any_window(moments, 1.0) <= 30
    assert max(moments) - clock.now == pytest.approx(59 * padded(1.0, 0.25) / 30, abs=0.04)
    names = {r.key for r in lim.telegram("-100200")}
    assert any(k.startswith("telegram:group:") for k in names)  # a group has its minute rule too
    assert not any(k.startswith("telegram:group:") for k in {r.key for r in lim.telegram("42")})
    assert [r.key for r in lim.telegram("42", message=False)] == ["telegram"]  # an edit: overall only


async def test_wecom_thirty_a_minute_per_member_never_dropped():
    clock = FakeClock()
    lim, slept = limiter(MemoryStore(clock))
    for _ in range(31):
        await lim.wait("wecom", lim.wecom("zhangsan"))
    await lim.wait("wecom", lim.wecom("lisi"))
    assert slept == [pytest.approx(padded(60.0))]


async def test_a_pause_holds_every_sender_of_that_platform_only():
    clock = FakeClock()
    lim, slept = limiter(MemoryStore(clock))
    await lim.pause("telegram", 7.0)
    await lim.wait("telegram", lim.telegram("111"))
    await lim.wait("wecom", lim.wecom("zhangsan"))
    assert slept == [pytest.approx(7.0, abs=0.04)]  # WeCom went at once


async def test_lifted_limits_never_wait_and_touch_no_store():
    class Refusing(MemoryStore):
        async def reserve(self, pause_key, rules):
            raise AssertionError("a lifted limiter asked the store")

    lim, slept = limiter(Refusing(), lift=True)
    for _ in range(100):
        await lim.wait("telegram", lim.telegram("111"))
    assert slept == []


async def test_a_failing_shared_store_paces_in_this_process_and_says_so(caplog):
    class Down(MemoryStore):
        async def reserve(self, pause_key, rules):
            raise ConnectionError("redis down")

    clock = FakeClock()
    lim, slept = limiter(Down(), wecom_member_per_minute=1)
    lim.fallback = MemoryStore(clock)
    with caplog.at_level(logging.WARNING, "redshield.limits"):
        await lim.wait("wecom", lim.wecom("zhangsan"))
        await lim.wait("wecom", lim.wecom("zhangsan"))
    assert slept == [pytest.approx(padded(60.0))]  # still paced, not lost
    assert sum("pacing in this process" in r.getMessage() for r in caplog.records) == 1


async def test_after_a_failure_the_store_is_left_alone_for_a_while():
    """A store that hangs until its timeout would make every message wait for it."""
    asked = []

    class Down(MemoryStore):
        async def reserve(self, pause_key, rules, after=0.0):
            asked.append(pause_key)
            raise ConnectionError("redis down")

    lim, _ = limiter(Down())
    for _ in range(5):
        await lim.wait("wecom", lim.wecom("zhangsan"))
    assert len(asked) == 1  # then the fallback alone, for RETRY_STORE seconds
    lim._retry_at = 0.0  # the time is up
    await lim.wait("wecom", lim.wecom("zhangsan"))
    assert len(asked) == 2


# ---- shared stores: two processes' limiters count together


@pytest.fixture
async def redis_store():
    if not REDIS_URL:
        pytest.skip("REDSHIELD_TEST_REDIS_URL is not set")
    store = RedisStore(REDIS_URL)
    store.PREFIX = f"redshield:limit:test-{uuid.uuid4().hex[:8]}:"  # apart from other runs
    yield store
    keys = [k async for k in store.redis.scan_iter(store.PREFIX + "*")]
    if keys:
        await store.redis.delete(*keys)
    await store.close()


async def test_redis_reservations_hold_across_processes(redis_store):
    second = RedisStore(REDIS_URL)
    second.PREFIX = redis_store.PREFIX
    try:
        rule = Rule("chat", 3, 2.0)
        waits = await asyncio.gather(*(s.reserve("t:pause", [rule]) for s in [redis_store, second] * 4))
        recorded = [float(x) for x in await redis_store.redis.lrange(redis_store.PREFIX + "chat", 0, -1)]
        assert len(recorded) == 3  # only the last `limit` moments are kept
        assert sorted(w for w in waits)[:3] == pytest.approx([0, 0, 0], abs=0.05)  # a burst of 3
        # Eight sends, three every two seconds: the last one waits for the third window.
        assert max(waits) == pytest.approx(4.0, abs=0.1)
        assert recorded == sorted(recorded) and recorded[-1] - recorded[0] <= 2.0
        ttl = await redis_store.redis.pttl(redis_store.PREFIX + "chat")
        assert 0 < ttl <= 8000  # forgotten soon after the last reservation's window
        # A slot taken for now does not shorten the life of one taken for later.
        wide = Rule("wide", 10, 1.0, ordered=False)
        assert await redis_store.reserve("t:pause", [wide], after=20.0) == pytest.approx(20.0, abs=0.2)
        later = await redis_store.redis.pttl(redis_store.PREFIX + "wide")
        assert await redis_store.reserve("t:pause", [wide]) < 0.2
        assert await redis_store.redis.pttl(redis_store.PREFIX + "wide") >= later - 500
        await redis_store.pause("t:pause", 5.0)
        assert await second.reserve("t:pause", [Rule("other", 10, 1.0)]) == pytest.approx(5.0, abs=0.1)
    finally:
        await second.close()


async def test_postgresql_reservations_hold_across_processes(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the PostgreSQL store")
    first, second = PostgresStore(db.sessions), PostgresStore(db.sessions)
    rule = Rule("chat", 3, 2.0)
    waits = await asyncio.gather(*(s.reserve("t:pause", [rule]) for s in [first, second] * 4))
    assert sorted(waits)[:3] == pytest.approx([0, 0, 0], abs=0.05)
    assert max(waits) == pytest.approx(4.0, abs=0.1)
    async with db.sessions() as s:
        row = await s.get(SendLimit, "chat")
        kept = [float(x) for x in row.times.split()]
    assert len(kept) == 3 and kept == sorted(kept)
    await first.pause("t:pause", 5.0)
    await first.pause("t:pause", 1.0)  # a shorter pause does not cut the longer one
    assert await second.reserve("t:pause", [Rule("other", 10, 1.0)]) == pytest.approx(5.0, abs=0.1)


async def test_the_shared_stores_name_no_chat(db, redis_store):
    """Redis (memory only, expiring within a minute) holds a chat's pace under a pseudonym,
    never its id; the database never holds a chat's pace at all: rows of exact moments
    under a chat's name could be matched with a named member's exact-time writes and
    tell when an anonymous reporter talked to the bot."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the PostgreSQL store")
    clock = FakeClock()
    chats = MemoryStore(clock)
    lim_pg = Limiter(LimitsConfig(telegram_chat_burst=1), ChatsApart(PostgresStore(db.sessions), chats),
                     PSEUDONYM, sleep=_no_sleep)
    lim_redis = Limiter(LimitsConfig(), redis_store, PSEUDONYM, sleep=_no_sleep)
    for lim in (lim_pg, lim_redis):
        await lim.wait("telegram", lim.telegram("987654321"))
        await lim.wait("wecom", lim.wecom("zhangsan"))
    async with db.sessions() as s:
        stored = sorted((await s.execute(sa.select(SendLimit.key))).scalars())
    assert stored == ["telegram", "telegram:pause"]  # platform-wide only (WeCom has no such rule)
    keys = " ".join([k.decode() async for k in redis_store.redis.scan_iter(redis_store.PREFIX + "*")])
    assert "987654321" not in keys and "zhangsan" not in keys
    assert "wecom:" in keys and "telegram:" in keys
    # The chat's pace is still kept, in this process: its second message waits its turn.
    second = await lim_pg.wait("telegram", lim_pg.telegram("987654321"))
    assert second == pytest.approx(padded(1.0), abs=0.1)


async def _no_sleep(seconds: float) -> None:
    pass
