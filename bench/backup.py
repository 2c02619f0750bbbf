"""Times `redshield backup` and `redshield restore` (ops.backup) on a large database.

Run by hand; it prints figures and checks only that the restored rows match the manifest:

    python -m bench.backup [--sqlite PATH] [--pg-url URL --pg-schema NAME]

`--sqlite PATH` is a SQLite file, e.g. the 100,000-member one `python -m bench.week --keep
/tmp/week.db` builds: it is copied first (the copy is backed up, restored into a new file
and removed; PATH is only read). `--pg-schema NAME` is a schema of the database at
`--pg-url`, e.g. `bench_week` that `python -m bench.week --backend postgresql --keep-pg`
leaves: it is backed up in place (read only) and restored into a scratch database,
`redshield_bench_restore`, made and dropped here. Neither data set has media files, so
the times are the database's.
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot.config import default_config
from ops.backup import backup, restore
from storage.db import create_engine, normalize_url

SCRATCH_DB = "redshield_bench_restore"


def _config(url: str, schema: str, media: Path):
    base = default_config()
    return base.model_copy(update={
        "database": base.database.model_copy(update={"url": url, "schema": schema}),
        "media": base.media.model_copy(update={"dir": str(media)})})


def _size(path: Path) -> str:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() \
        else path.stat().st_size
    return f"{total / 1e6:,.0f} MB"


async def _round(config, restore_config, work: Path) -> None:
    started = time.perf_counter()
    made = await backup(config, work / "backups")
    took = time.perf_counter() - started
    rows = sum(made.manifest["tables"].values())
    print(f"  backup:  {took:6.1f} s  ({rows:,} rows, {made.manifest['tables'].get('members', 0):,} "
          f"members, {made.manifest['tables'].get('patrols', 0):,} patrols; folder {_size(made.path)})",
          flush=True)
    started = time.perf_counter()
    result = await restore(restore_config, made.path)
    took = time.perf_counter() - started
    print(f"  restore: {took:6.1f} s  (checksums verified, {sum(result['tables'].values()):,} rows "
          "checked against the manifest)", flush=True)


async def run_sqlite(source: Path, work: Path) -> None:
    import sqlite3

    print(f"== SQLite {sqlite3.sqlite_version}: {source} ({_size(source)})", flush=True)
    copy = work / "live.db"
    shutil.copy(source, copy)
    config = _config(f"sqlite+aiosqlite:///{copy}", "", work / "media")
    target = _config(f"sqlite+aiosqlite:///{work / 'restored.db'}", "", work / "restored-media")
    await _round(config, target, work)


async def run_postgresql(url: str, schema: str, work: Path) -> None:
    url = normalize_url(url)
    scratch = make_url(url).set(database=SCRATCH_DB).render_as_string(hide_password=False)
    admin = create_engine(url)
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            version = (await conn.execute(sa.text("SHOW server_version"))).scalar()
            print(f"== PostgreSQL {version}: schema {schema}", flush=True)
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}"'))
            await conn.execute(sa.text(f'CREATE DATABASE "{SCRATCH_DB}"'))
        try:
            await _round(_config(url, schema, work / "media"),
                         _config(scratch, schema, work / "restored-media"), work)
        finally:
            async with admin.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}"'))
    finally:
        await admin.dispose()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.backup", description=__doc__.split("\n")[0])
    ap.add_argument("--sqlite", type=Path, metavar="PATH", help="a SQLite database to copy and time")
    ap.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--pg-schema", metavar="NAME", help="a PostgreSQL schema to time (e.g. bench_week)")
    args = ap.parse_args(argv)
    if not args.sqlite and not args.pg_schema:
        ap.error("name --sqlite PATH, --pg-schema NAME or both")

    async def run() -> None:
        if args.sqlite:
            with tempfile.TemporaryDirectory(prefix="bench_backup_", dir=args.sqlite.parent) as tmp:
                await run_sqlite(args.sqlite, Path(tmp))
        if args.pg_schema:
            with tempfile.TemporaryDirectory(prefix="bench_backup_") as tmp:
                await run_postgresql(args.pg_url, args.pg_schema, Path(tmp))

    asyncio.run(run())


if __name__ == "__main__":
    main()
