"""Safe upgrades: only `redshield migrate` / `init` change the schema, under a lock, and
every other command refuses a schema at another revision than the code's (README,
Upgrades). Real processes on a real SQLite file and, when REDSHIELD_TEST_DATABASE_URL is
set, on a PostgreSQL schema of the test's own."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.scheduler import lock_key
from storage.db import (
    SchemaMismatch,
    create_engine,
    current_revision,
    head_revision,
    migrate,
    migrate_lock_key,
    migrate_lock_path,
    migration_lock,
    normalize_url,
    open_schema,
    schema_state,
    upgrade_sync,
)
from tests.conftest import PG_URL
from tests.pg import on_server
from tests.test_cli import env_without_redshield, free_port

REDSHIELD = [sys.executable, "-m", "bot.cli"]
FUTURE = "9999_from_a_newer_release"


@dataclass
class Target:
    """An empty database of the test's own, and the config.toml that points at it."""
    url: str
    schema: str | None
    dir: Path

    def redshield(self, *args, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([*REDSHIELD, *args], cwd=self.dir, input=stdin, capture_output=True,
                              text=True, timeout=timeout, env=env_without_redshield())

    def popen(self, *args) -> subprocess.Popen:
        return subprocess.Popen([*REDSHIELD, *args], cwd=self.dir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env_without_redshield())

    async def execute(self, sql: str) -> None:
        engine = create_engine(self.url, schema=self.schema)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(sql))
        finally:
            await engine.dispose()

    async def count(self, sql: str) -> int:
        engine = create_engine(self.url, schema=self.schema)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(sa.text(sql))).scalar_one()
        finally:
            await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def target(request, tmp_path):
    port = free_port()  # `run` would serve there if it did not refuse
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'redshield.db'}"
        (tmp_path / "config.toml").write_text(
            f'[database]\nurl = "{url}"\n[server]\nport = {port}\n', encoding="utf-8")
        yield Target(url, None, tmp_path)
        return
    if not PG_URL:
        pytest.skip("REDSHIELD_TEST_DATABASE_URL is not set: PostgreSQL run skipped")
    schema = f"rs_upg_{uuid.uuid4().hex[:10]}"
    await on_server(f'CREATE SCHEMA "{schema}"')
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "{normalize_url(PG_URL)}"\nschema = "{schema}"\n[server]\nport = {port}\n',
        encoding="utf-8")
    try:
        yield Target(normalize_url(PG_URL), schema, tmp_path)
    finally:
        await on_server(f'DROP SCHEMA "{schema}" CASCADE')


# ---- migrate


async def test_two_concurrent_migrates_apply_each_migration_once(target):
    first, second = target.popen("migrate"), target.popen("migrate")
    outs = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    said = sorted(out for out, _ in outs)
    # One created every table; the other waited for it and found nothing to do (had both
    # migrated, the second would have failed on a table that exists).
    assert "created, at schema revision " + head_revision() in said[1], said
    assert "already current, at schema revision " + head_revision() in said[0], said
    assert await target.count("SELECT count(*) FROM alembic_version") == 1
    assert await current_revision(target.url, schema=target.schema) == head_revision()


async def test_a_migrate_waits_while_another_holds_the_lock(target):
    async with migration_lock(target.url, schema=target.schema):
        waiting = asyncio.create_task(migrate(target.url, schema=target.schema))
        await asyncio.sleep(1.0)
        assert not waiting.done()  # the lock is held: it waits, it does not migrate alongside
        assert (await schema_state(target.url, schema=target.schema)).state == "empty"
    done = await asyncio.wait_for(waiting, 60)
    assert done.before is None and done.after == head_revision()
    again = await migrate(target.url, schema=target.schema)
    assert again.applied == () and "already current" in again.describe()


def test_the_locks_are_distinct_and_per_deployment(tmp_path):
    assert migrate_lock_key(None) != lock_key(None)  # not the scheduler's lock
    assert migrate_lock_key("a") != migrate_lock_key("b")  # schemas migrate independently
    assert migrate_lock_key("a") == migrate_lock_key("a")
    assert migrate_lock_key("x" * 63) < 2 ** 63  # a PostgreSQL bigint
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'redshield.db'}"
    assert migrate_lock_path(url) == tmp_path / "data" / "redshield.db.migrate.lock"
    assert migrate_lock_path("sqlite+aiosqlite://") is None


async def test_migrate_says_what_it_did(target):
    upgrade_sync(target.url, schema=target.schema, revision="0007")
    done = target.redshield("migrate")
    assert done.returncode == 0, done.stderr
    assert f"migrated from schema revision 0007 to {head_revision()}" in done.stdout
    again = target.redshield("init")  # the same command under its first name
    assert again.returncode == 0, again.stderr
    assert "already current" in again.stdout


# ---- every other command: refuse a mismatched schema, create an empty one


async def test_run_refuses_a_schema_one_revision_behind(target):
    upgrade_sync(target.url, schema=target.schema, revision="0007")
    for args in (["run", "--role", "web"], ["run"], ["invite", "张三"]):
        refused = target.redshield(*args, timeout=30)
        assert refused.returncode == 1, (args, refused.stdout, refused.stderr)
        assert "revision 0007" in refused.stderr and "`redshield migrate`" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert await current_revision(target.url, schema=target.schema) == "0007"  # left as it was


async def test_run_refuses_a_schema_ahead_of_the_code(target):
    upgrade_sync(target.url, schema=target.schema)
    await target.execute(f"UPDATE alembic_version SET version_num = '{FUTURE}'")
    for args in (["run", "--role", "web"], ["migrate"]):
        refused = target.redshield(*args, timeout=30)
        assert refused.returncode == 1, (args, refused.stdout, refused.stderr)
        assert FUTURE in refused.stderr
        assert "this code is older than the database: upgrade the code" in refused.stderr
    assert await current_revision(target.url, schema=target.schema) == FUTURE


async def test_run_creates_an_empty_database(target):
    """The README's first command: `redshield run` on a new machine (the console demo)."""
    ran = target.redshield("run", stdin="/me\n")
    assert ran.returncode == 0, ran.stderr
    assert "was empty: initialised it at schema revision " + head_revision() in ran.stderr
    assert "王红梅 · 滨江花园二期项目" in ran.stdout
    assert await current_revision(target.url, schema=target.schema) == head_revision()
    again = target.redshield("run", stdin="/me\n")  # a current schema: opened as it is
    assert again.returncode == 0 and "initialised" not in again.stderr


async def test_tables_without_a_revision_are_not_touched(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE someone_elses (id INTEGER)"))
        assert (await schema_state(url)).state == "unversioned"
        with pytest.raises(SchemaMismatch, match="no schema revision"):
            await open_schema(url, engine=engine)
        with pytest.raises(SchemaMismatch, match="no schema revision"):
            await migrate(url)
    finally:
        await engine.dispose()


async def test_schema_state_changes_nothing(tmp_path):
    path = tmp_path / "nothing" / "redshield.db"
    state = await schema_state(f"sqlite+aiosqlite:///{path}")
    assert state.state == "empty" and state.current is None and state.head == head_revision()
    assert not path.exists()  # not created by looking


async def test_app_open_checks_and_open_migrate_migrates(tmp_path, clock):
    """App.open() refuses what `run` refuses; App.open(migrate=True) is `migrate` (tests,
    benchmarks)."""
    from bot.bootstrap import bootstrap
    from bot.config import default_config

    url = f"sqlite+aiosqlite:///{tmp_path / 'redshield.db'}"
    upgrade_sync(url, revision="0007")
    base = default_config()
    config = base.model_copy(update={
        "database": base.database.model_copy(update={"url": url}),
        "media": base.media.model_copy(update={"dir": str(tmp_path / "media")})})
    app = bootstrap(config, clock, targets=[], delivery="none")
    try:
        with pytest.raises(SchemaMismatch, match="redshield migrate"):
            await app.open()
        await app.open(migrate=True)
        assert await current_revision(url) == head_revision()
    finally:
        await app.close()
