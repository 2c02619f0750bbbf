"""The account-free store: in memory for one process, in Redis (when
REDSHIELD_TEST_REDIS_URL is set, as CI sets it) for several workers. A draft begun
on one worker goes on at another, and never touches the database."""
from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from storage.ephemeral import MemoryStore, RedisStore
from storage.models import DialogState
from tests import factories as f
from tests.chatbot import TestBot, test_app

REDIS_URL = os.environ.get("REDSHIELD_TEST_REDIS_URL")


class Ticking:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def store(request):
    if request.param == "memory":
        yield MemoryStore(clock=Ticking())
        return
    if not REDIS_URL:
        pytest.skip("REDSHIELD_TEST_REDIS_URL is not set: Redis run skipped")
    redis = RedisStore(REDIS_URL)
    redis.PREFIX = f"test:{uuid.uuid4().hex}:"  # this test's own keys
    yield redis
    await redis.close()


async def test_values_count_and_go(store):
    assert await store.get("k") is None
    await store.set("k", b"v", ttl=60)
    assert await store.get("k") == b"v"
    assert [await store.incr("n", ttl=60) for _ in range(3)] == [1, 2, 3]
    await store.delete("k")
    assert await store.get("k") is None


async def test_memory_values_expire():
    clock = Ticking()
    store = MemoryStore(clock=clock)
    await store.set("k", b"v", ttl=10)
    await store.incr("n", ttl=10)
    clock.now = 5
    assert await store.incr("n", ttl=10) == 2  # a later increment does not extend the time
    clock.now = 11
    assert await store.get("k") is None and await store.incr("n", ttl=10) == 1


async def test_an_anonymous_draft_goes_on_at_another_worker_through_redis(db, config, clock):
    if not REDIS_URL:
        pytest.skip("REDSHIELD_TEST_REDIS_URL is not set: Redis run skipped")
    async with db.sessions() as s, s.begin():
        await f.zone(s, await f.project(s))
    shared = config.model_copy(update={"redis": config.redis.model_copy(update={"url": REDIS_URL})})
    first, second = (TestBot(test_app(shared, clock, db), platform="telegram") for _ in range(2))
    worker = f"w-{uuid.uuid4().hex[:8]}"
    await first.user(worker).say("/report")
    said = await second.user(worker).say("跳过")  # the next message reaches the other worker
    assert "是哪个项目" in said
    async with db.sessions() as s:
        assert (await s.execute(sa.select(DialogState))).first() is None
    for bot in (first, second):
        await bot.app.engine.anonymity.store.close()
