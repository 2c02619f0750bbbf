"""Database engine, sessions and migrations (SQLite by default, PostgreSQL by URL)."""
from __future__ import annotations

import asyncio
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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
    """Create or migrate the database (blocking)."""
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


async def upgrade(url: str, *, schema: str | None = None) -> None:
    await asyncio.to_thread(upgrade_sync, url, schema=schema)


def current_revision_sync(url: str, *, schema: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async def read():
        engine = create_engine(url, schema=schema)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: MigrationContext.configure(c).get_current_revision()
                )
        finally:
            await engine.dispose()

    return asyncio.run(read())
