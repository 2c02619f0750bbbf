"""Database engine, sessions and migrations (SQLite by default, PostgreSQL by URL)."""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

log = logging.getLogger("redshield.storage")

MIGRATIONS = Path(__file__).parent / "migrations"


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
    if _loop_running():
        # Alembic's env calls asyncio.run(), which needs a thread without a loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(command.upgrade, cfg, revision).result()
    else:
        command.upgrade(cfg, revision)


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
