"""Shared fixtures: a migrated database per test, on SQLite and (when
REDSHIELD_TEST_DATABASE_URL is set) on PostgreSQL, and the chat test bot."""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.config import default_config
from storage.db import create_engine, normalize_url, session_factory, upgrade_sync
from storage.models import Base
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.wecom_api import TEST_CORP, TEST_SECRET, FakeWecomAPI
from tests.pg import on_server

PG_URL = os.environ.get("REDSHIELD_TEST_DATABASE_URL")


@dataclass
class Database:
    url: str
    schema: str | None
    engine: AsyncEngine
    sessions: async_sessionmaker

    @property
    def backend(self) -> str:
        return self.engine.dialect.name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """One migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def pg_schema():
    """A schema of our own on the test server, migrated once and dropped at the end."""
    if not PG_URL:
        pytest.skip("REDSHIELD_TEST_DATABASE_URL is not set: PostgreSQL run skipped")
    schema = f"rs_test_{uuid.uuid4().hex[:10]}"
    _blocking(on_server(f'CREATE SCHEMA "{schema}"'))
    try:
        upgrade_sync(PG_URL, schema=schema)
        yield schema
    finally:
        _blocking(on_server(f'DROP SCHEMA "{schema}" CASCADE'))


def _blocking(coro):
    """Run a coroutine to the end from a session fixture, which may be set up while
    a test's loop is running."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request, tmp_path) -> Database:
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url, schema = f"sqlite+aiosqlite:///{path}", None
    else:
        schema = request.getfixturevalue("pg_schema")
        url = normalize_url(PG_URL)
    engine = create_engine(url, schema=schema)
    try:
        yield Database(url, schema, engine, session_factory(engine))
    finally:
        if schema:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC))  # Mon 10:00 Shanghai


@pytest.fixture
def config(db, tmp_path):
    base = default_config()
    return base.model_copy(update={
        "database": base.database.model_copy(update={"url": db.url, "schema": db.schema or ""}),
        "media": base.media.model_copy(update={"dir": str(tmp_path / "media")}),
        # One deployment's key: workers of a test agree on pseudonyms, as they must.
        "security": base.security.model_copy(update={"secret_key": "test-secret-" + "k" * 32}),
        # Conversations run at test speed; tests/test_limits.py and the adapters' pacing
        # tests turn the limits on.
        "limits": base.limits.model_copy(update={"lift": True}),
    })


@pytest.fixture
def app(db, config, clock):
    """The bot as bootstrap wires it (tests share the database engine the `db` fixture owns)."""
    from tests.chatbot import test_app

    return test_app(config, clock, db)


@pytest.fixture
def engine(app):
    return app.engine


@pytest.fixture
def chat(app):
    from tests.chatbot import TestBot

    return TestBot(app)


# ---- the loopback fakes of the platforms' APIs


@pytest.fixture
async def tg_api():
    fake = FakeBotAPI()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def wecom_api():
    fake = FakeWecomAPI(TEST_CORP, TEST_SECRET)
    await fake.start()
    yield fake
    await fake.stop()
