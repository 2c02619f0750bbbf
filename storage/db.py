"""Database engine, sessions and migrations (SQLite by default, PostgreSQL by URL)."""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
import re
import zlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

log = logging.getLogger("redshield.storage")

MIGRATIONS = Path(__file__).parent / "migrations"

# The password of a URL in any text, up to the last "@" before the host (a password may
# hold an unescaped "@", which SQLAlchemy would read as part of the host).
_PASSWORD = re.compile(r"(://[^:/?#\s@]*:)[^/?#\s]*@")


class DatabaseUnavailable(Exception):
    """The database URL does not parse, or the database cannot be opened. The message
    names the URL with its password hidden, and the cause."""


def safe_url(url: str) -> str:
    """The URL to show to anyone: its password replaced by ***."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: hidden by its shape alone
        shown = url
    return hide_passwords(shown)


def hide_passwords(text: str) -> str:
    """Any text (an error message, a traceback) with the passwords of URLs in it hidden."""
    return _PASSWORD.sub(r"\1***@", text)


def _unavailable(url: str, what: str, err: BaseException) -> DatabaseUnavailable:
    detail = str(getattr(err, "orig", None) or err) or type(err).__name__
    password = _password(url)
    if password and len(password) >= 4:  # a shorter one would blank out ordinary words
        detail = detail.replace(password, "***")
    return DatabaseUnavailable(hide_passwords(f"{what} {safe_url(url)}: {type(err).__name__}: {detail}"))


def _password(url: str) -> str | None:
    try:
        return make_url(url).password
    except Exception:
        return None


def normalize_url(url: str) -> str:
    """Accept the plain PostgreSQL URL forms operators copy from elsewhere."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    return url


def _prepare_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, *, schema: str | None = None) -> AsyncEngine:
    """An async engine. `schema` pins PostgreSQL's search_path (tests use their own)."""
    url = normalize_url(url)
    try:
        make_url(url)
    except (sa.exc.ArgumentError, ValueError) as err:  # a port that is no number, say
        raise _unavailable(url, "the database URL does not parse:", err) from None
    if url.startswith("sqlite"):
        _prepare_sqlite_dir(url)
        # hide_parameters: an error's log line shows the statement, never the values
        # (a draft, an account id).
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            # WAL lets readers go on while one writer commits; foreign keys are off by default.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Deleted rows are overwritten, not left in free pages for a file reader.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        return engine
    connect_args = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(url, connect_args=connect_args, pool_pre_ping=True,
                               hide_parameters=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(url: str, schema: str | None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = normalize_url(url)
    cfg.attributes["schema"] = schema
    return cfg


def upgrade_sync(url: str, *, schema: str | None = None, revision: str = "head") -> None:
    """Migrate the database to `revision` (blocking), WITHOUT the migration lock: for a
    database no one else uses (the tests' templates, the benchmarks', an older revision
    a test sets up). Everything else goes through `migrate`."""
    from alembic import command

    cfg = _alembic_config(url, schema)
    try:
        if _loop_running():
            # Alembic's env calls asyncio.run(), which needs a thread without a loop.
            with ThreadPoolExecutor(1) as pool:
                pool.submit(command.upgrade, cfg, revision).result()
        else:
            command.upgrade(cfg, revision)
    except (OSError, sa.exc.DBAPIError) as err:
        # Refused, unreachable, no such database or role: the cause, never the password
        # (nor a traceback that a caller would print whole).
        log.debug("the database failed", exc_info=err)  # the log redacts passwords
        raise _unavailable(url, "cannot open or migrate the database", err) from None


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def upgrade(url: str, *, schema: str | None = None) -> Migration:
    """The database migrated to the code's revision, under the migration lock (`migrate`)."""
    return await migrate(url, schema=schema)


# ---- revisions: what the code expects, what the database holds
#
# Only `redshield init` / `redshield migrate` (and a test's or a benchmark's set-up) change
# the schema. Every other command checks it when it opens the database (`open_schema`):
# an empty database is created (initialisation), one at another revision is refused.

SchemaStateName = Literal["empty", "current", "behind", "ahead", "unversioned"]


class SchemaMismatch(DatabaseUnavailable):
    """The database's schema is not the one this code expects; the message says which
    command puts it right (`redshield migrate`, or new code)."""


@functools.lru_cache(maxsize=1)
def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://", None))


def head_revision() -> str:
    """The revision this code expects (the newest migration it ships)."""
    head = _script().get_current_head()
    assert head is not None, "no migrations"
    return head


def known_revisions() -> set[str]:
    return {rev.revision for rev in _script().walk_revisions()}


def revisions_between(before: str | None, after: str) -> list[tuple[str, str]]:
    """The migrations that take a database from `before` (None: empty) to `after`, oldest
    first: (revision, the first line of its description)."""
    if before == after:
        return []
    revs = _script().iterate_revisions(after, before or "base")
    return [(r.revision, (r.doc or "").strip().splitlines()[0] if r.doc else "")
            for r in reversed(list(revs))]


@dataclass(frozen=True)
class SchemaState:
    """Where the database stands against the code: `state` is
    empty (no tables at all: a new database), current (at the code's revision),
    behind (an older revision: `redshield migrate`), ahead (a revision this code does not
    know: a newer release migrated it), unversioned (tables, but no revision: not made by
    `redshield`)."""
    state: SchemaStateName
    current: str | None
    head: str

    @property
    def ok(self) -> bool:
        return self.state == "current"

    def problem(self, where: str = "the database") -> str:
        """What is wrong and what to do, for an operator (empty for a current schema)."""
        if self.state == "behind":
            return (f"{where} is at schema revision {self.current}, this code needs {self.head}: "
                    f"run `redshield migrate` (README, Upgrades), then start again")
        if self.state == "ahead":
            return (f"{where} is at schema revision {self.current}, which this code does not know "
                    f"(it knows up to {self.head}): this code is older than the database: "
                    f"upgrade the code")
        if self.state == "unversioned":
            return (f"{where} has tables but no schema revision (no alembic_version): it was not "
                    f"made by `redshield init`; point [database] url at an empty database or "
                    f"a Red Shield one")
        if self.state == "empty":
            return f"{where} is empty: run `redshield migrate` to create its tables"
        return ""


def _state_of(conn: sa.Connection) -> SchemaState:
    """The schema state, read on a (sync) connection."""
    from alembic.runtime.migration import MigrationContext

    head = head_revision()
    context = MigrationContext.configure(conn)
    current = context.get_current_revision()
    if current is None:
        tables = set(sa.inspect(conn).get_table_names()) - {context.version_table}
        return SchemaState("unversioned" if tables else "empty", None, head)
    if current == head:
        return SchemaState("current", current, head)
    return SchemaState("behind" if current in known_revisions() else "ahead", current, head)


def _sqlite_file(url: str) -> Path | None:
    """The SQLite database file of a URL (None: in memory, or not SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


async def schema_state(url: str, *, schema: str | None = None,
                       engine: AsyncEngine | None = None) -> SchemaState:
    """Where the database stands against the code; changes nothing (a SQLite file that
    does not exist is `empty`, and is not created). `engine`: read through that one
    instead of a short-lived engine of its own."""
    url = normalize_url(url)
    if engine is None:
        path = _sqlite_file(url)
        if path is not None and not path.exists():
            return SchemaState("empty", None, head_revision())
    own = engine is None
    engine = engine or create_engine(url, schema=schema)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_state_of)
    except (OSError, sa.exc.DBAPIError) as err:
        log.debug("the database failed", exc_info=err)
        raise _unavailable(url, "cannot open the database", err) from None
    finally:
        if own:
            await engine.dispose()


def schema_state_sync(url: str, *, schema: str | None = None) -> SchemaState:
    return _blocking(schema_state(url, schema=schema))


async def current_revision(url: str, *, schema: str | None = None) -> str | None:
    """The database's revision (None: none yet)."""
    return (await schema_state(url, schema=schema)).current


def current_revision_sync(url: str, *, schema: str | None = None) -> str | None:
    return _blocking(current_revision(url, schema=schema))


def _blocking(coro):
    """Run a coroutine to its end from blocking code, with or without a loop running."""
    if not _loop_running():
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


# ---- migrating, one process at a time

MIGRATE_LOCK_KEY = 0x52534D47  # "RSMG"; the scheduler's lock is "RSHD" (bot/scheduler.py)


def migrate_lock_key(schema: str | None) -> int:
    """The PostgreSQL advisory lock `migrate` holds: one per schema, so deployments (and
    tests) in other schemas of the same database do not wait for each other."""
    return (MIGRATE_LOCK_KEY << 32) | zlib.crc32((schema or "public").encode())


def migrate_lock_path(url: str) -> Path | None:
    """The file `migrate` locks for a SQLite database: `<db file>.migrate.lock` (left in
    place; None for an in-memory database, which nobody else can migrate)."""
    path = _sqlite_file(normalize_url(url))
    return None if path is None else path.with_name(path.name + ".migrate.lock")


@contextlib.asynccontextmanager
async def migration_lock(url: str, *, schema: str | None = None) -> AsyncIterator[None]:
    """Held while the schema is checked and changed: a second process waits here until
    the first is done (and then finds nothing to do). PostgreSQL: a session advisory lock
    on a connection of its own, outside any transaction (so no idle-in-transaction timeout
    ends it; a crash ends the connection and the lock with it). SQLite: flock on a file
    beside the database."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = migrate_lock_path(url)
        if path is None:
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("another process is migrating the database: waiting for it")
                await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # and with it the lock
        return
    key = migrate_lock_key(schema)
    engine = create_engine(url, schema=schema)
    try:
        try:
            conn = await engine.connect()
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = (await conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
            if not got:
                log.info("another process is migrating the database: waiting for it")
                await conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
        except (OSError, sa.exc.DBAPIError) as err:
            log.debug("the database failed", exc_info=err)
            raise _unavailable(url, "cannot open the database", err) from None
        try:
            yield
        finally:
            try:
                await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await conn.close()
            except Exception:  # the connection died, and the lock with it
                await conn.invalidate()
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Migration:
    """What `migrate` did: from `before` (None: an empty database) to `after`, applying
    `applied` ((revision, description), oldest first; empty: nothing to do)."""
    before: str | None
    after: str | None
    applied: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        if not self.applied:
            return f"already current, at schema revision {self.after}"
        if self.before is None:
            return (f"created, at schema revision {self.after} ({len(self.applied)} migrations, "
                    f"{self.applied[0][0]} to {self.applied[-1][0]})")
        steps = "; ".join(f"{rev} {doc}".strip() for rev, doc in self.applied)
        return f"migrated from schema revision {self.before} to {self.after} ({steps})"


async def migrate(url: str, *, schema: str | None = None, only_empty: bool = False) -> Migration:
    """Create or migrate the database to the code's revision, under the migration lock:
    two processes never migrate at once, and the second finds nothing left to do. A
    database ahead of the code, or with tables but no revision, is refused (SchemaMismatch).
    `only_empty`: create an empty database, leave any other as it is (the caller checks)."""
    url = normalize_url(url)
    async with migration_lock(url, schema=schema):
        state = await schema_state(url, schema=schema)
        if state.state in ("ahead", "unversioned"):
            raise SchemaMismatch(state.problem(f"the database {safe_url(url)}"))
        if state.state == "current" or (only_empty and state.state != "empty"):
            return Migration(state.current, state.current)
        await asyncio.to_thread(upgrade_sync, url, schema=schema)
        after = await current_revision(url, schema=schema)
        return Migration(state.current, after, tuple(revisions_between(state.current, after)))


def migrate_sync(url: str, *, schema: str | None = None) -> Migration:
    return _blocking(migrate(url, schema=schema))


async def open_schema(url: str, *, schema: str | None = None,
                      engine: AsyncEngine | None = None) -> SchemaState:
    """What every command but `init` / `migrate` does on opening the database: an empty
    one is created (initialisation, under the migration lock, said in a log line); one at
    another revision than the code's is refused (SchemaMismatch, naming the command to
    run). Never migrates an existing schema."""
    url = normalize_url(url)
    state = await schema_state(url, schema=schema, engine=engine)
    if state.state == "empty":
        done = await migrate(url, schema=schema, only_empty=True)
        if done.applied:
            log.info("the database %s was empty: initialised it at schema revision %s",
                     safe_url(url), done.after)
        state = await schema_state(url, schema=schema, engine=engine)
    if not state.ok:
        raise SchemaMismatch(state.problem(f"the database {safe_url(url)}"))
    return state
