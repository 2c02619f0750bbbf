"""Backups and restores.

`redshield backup [--out DIR]` writes one folder, `redshield-backup-<UTC time>`, while the
bot runs:

    manifest.json      what the backup holds: schema revision, rows per table, and the
                       size and SHA-256 of every file below
    database.sqlite    SQLite: a copy made by SQLite's online backup API (one read
                       transaction, so writers go on and the copy is one moment's)
    database.dump      PostgreSQL: `pg_dump --format=custom` of the deployment's schema,
                       taken in an exported snapshot that the manifest's counts and the
                       list of media files are read in too
    media/...          the media files the database refers to (hazard, patrol and
                       violation photos, recordings, stored notice attachments)

It is written under a hidden temporary name and renamed when complete, so a folder with
the final name is always whole. Nothing of the configuration is copied: the database holds
no secret of the config (tokens, `[security] secret_key`), and the backup holds only it
and the media.

`redshield restore DIR [--migrate] [--force]` verifies every checksum before it touches
anything, refuses a backup whose schema is newer than the code (and an older one unless
`--migrate`), refuses to replace a database that holds data (or a media file with other
content) unless `--force`, then restores the database in one transaction, the media files,
checks the rows per table against the manifest and migrates if asked.

With `[backup] dir` set, the scheduler makes a backup daily at `[backup] at` and removes
the backups of ours there older than `[backup] keep_days`.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot.config import Config
from bot.core.registry import CliError, Job, Registry
from bot.scheduler import daily, lead_held
from storage.db import MIGRATIONS, create_engine, hide_passwords, normalize_url, safe_url, upgrade_sync

log = logging.getLogger("redshield.backup")

FORMAT = 1  # of the manifest; a restore refuses a newer one
MANIFEST = "manifest.json"
PREFIX = "redshield-backup-"
FOLDER = re.compile(r"redshield-backup-(\d{8}T\d{6}Z)(?:-\d+)?")
STAMP = "%Y%m%dT%H%M%SZ"
PARTIAL = re.compile(r"\.redshield-backup-(\d{8}T\d{6}Z)(?:-\d+)?\..*\.partial")
SQLITE_FILE, PG_FILE = "database.sqlite", "database.dump"
VERSION_TABLE = "alembic_version"
# What the media store names files (storage.media.MediaStore.save): found in JSON values.
MEDIA_NAME = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}(?:\.[A-Za-z0-9]{1,10})?")
# JSON columns that may name media files besides the `media_name` columns: stored notices'
# images and documents, photos kept in an unfinished dialog.
JSON_COLUMNS = {"outbox": "payload", "dialog_states": "data"}
CHUNK = 1 << 20


class BackupError(CliError):
    """A backup or restore that cannot go on; the message says why, in one line."""


def register(registry: Registry) -> None:
    registry.cli("backup", "write a consistent backup (database, media, manifest) while the bot runs",
                 cli_backup, backup_arguments)
    registry.cli("restore", "restore a backup made by `redshield backup` (stop the bot first)",
                 cli_restore, restore_arguments)
    registry.job_source(backup_jobs)


# ---- the daily backup


def backup_jobs(config: Config) -> list[Job]:
    """The daily backup, only when `[backup] dir` says where it goes."""
    if not config.backup.dir:
        return []
    return [Job("backup", daily(config.backup.at, config.tz), daily_backup)]


async def daily_backup(session, now: dt.datetime, config: Config) -> list:
    """The job's work: it reads the database through its own connection (a snapshot), not
    the job's session, and queues no message. A failure is logged by the scheduler."""
    out = Path(config.backup.dir)
    made = await backup(config, out, now)
    removed = prune(out, config.backup.keep_days, now, keep=made.path)
    log.info("backup written to %s in %.1f s (%d media files); %d older backups removed",
             made.path, made.seconds, made.manifest["media"]["files"], len(removed))
    return []


def prune(out: Path, keep_days: int, now: dt.datetime, keep: Path | None = None) -> list[Path]:
    """Remove our backups in `out` made more than `keep_days` days before `now` (folders
    named redshield-backup-<time> that hold a manifest; nothing else is touched), and
    what an interrupted backup left behind more than a day ago. Returns what was removed."""
    removed = []
    if not out.is_dir():
        return removed
    for path in sorted(out.iterdir()):
        if not path.is_dir() or path.is_symlink() or (keep is not None and path == keep):
            continue
        if (m := FOLDER.fullmatch(path.name)) and (path / MANIFEST).is_file():
            if now - _stamp_time(m.group(1)) > dt.timedelta(days=keep_days):
                shutil.rmtree(path)
                removed.append(path)
        elif (m := PARTIAL.fullmatch(path.name)) and now - _stamp_time(m.group(1)) > dt.timedelta(days=1):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _stamp_time(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, STAMP).replace(tzinfo=dt.UTC)


# ---- redshield backup


def backup_arguments(p) -> None:
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="where the backup folder is written (default: [backup] dir)")
    p.add_argument("--keep-days", type=int, metavar="N",
                   help="then remove the backups in DIR older than N days")


async def cli_backup(app, args) -> int:
    config = app.config
    out = args.out or (Path(config.backup.dir) if config.backup.dir else None)
    if out is None:
        raise BackupError("say where the backup goes: --out DIR (or set [backup] dir)")
    if args.keep_days is not None and args.keep_days < 1:
        raise BackupError("--keep-days must be 1 or more")
    made = await backup(config, out, app.clock())
    m = made.manifest
    print(f"backup written: {made.path}")
    print(f"  {m['database']['backend']}, schema {m['schema_revision']}, {len(m['tables'])} tables, "
          f"{sum(m['tables'].values()):,} rows, {m['media']['files']:,} media files, "
          f"{_size(sum(f['bytes'] for f in m['files'].values()))}, in {made.seconds:.1f} s")
    if m["media"]["missing"]:
        print(f"  warning: {len(m['media']['missing'])} media files the database names are not in "
              f"{config.media.dir} (listed in the manifest under media.missing)", file=sys.stderr)
    if args.keep_days is not None:
        for path in prune(out, args.keep_days, app.clock(), keep=made.path):
            print(f"  removed {path}")
    return 0


@dataclass
class Made:
    path: Path
    manifest: dict
    seconds: float


@dataclass
class Snapshot:
    """What was read in the backup's snapshot of the database."""

    revision: str
    tables: dict[str, int]
    media: set[str]
    details: dict = field(default_factory=dict)


async def backup(config: Config, out: Path, now: dt.datetime | None = None) -> Made:
    """Write a backup folder in `out`; returns it once it is complete under its final name."""
    started = time.perf_counter()
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BackupError(f"cannot create the backup folder {out}: {err.strerror}") from None
    stamp = now.strftime(STAMP)
    final = _free_name(out, PREFIX + stamp)
    # Only its owner can read it (mkdtemp makes it 0700): it holds members' data.
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=out))
    try:
        url = normalize_url(config.database.url)
        if _is_sqlite(url):
            snap = await asyncio.to_thread(_sqlite_snapshot, _sqlite_path(url), work / SQLITE_FILE)
            db_file = SQLITE_FILE
        else:
            snap = await _pg_snapshot(url, config.database.schema or None, work / PG_FILE)
            db_file = PG_FILE
        files, missing = await asyncio.to_thread(_copy_media, Path(config.media.dir), snap.media,
                                                 work / "media")
        await asyncio.to_thread(_fsync, work / db_file)
        files = {db_file: await asyncio.to_thread(_file_entry, work / db_file), **files}
        manifest = {
            "format": FORMAT,
            "made_by": f"redshield {_version()}",
            "created_at": now.isoformat().replace("+00:00", "Z"),
            "database": {"backend": "sqlite" if _is_sqlite(url) else "postgresql", "file": db_file,
                         **snap.details},
            "schema_revision": snap.revision,
            "tables": dict(sorted(snap.tables.items())),
            "media": {"files": len(files) - 1, "bytes": sum(f["bytes"] for f in files.values())
                      - files[db_file]["bytes"], "missing": sorted(missing)},
            "files": files,
        }
        manifest["seconds"] = round(time.perf_counter() - started, 3)
        _write_synced(work / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
        final = _free_name(out, PREFIX + stamp)
        os.rename(work, final)
        _sync_dir(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if missing:
        log.warning("backup %s: %d media files the database names were not found", final, len(missing))
    return Made(final, manifest, time.perf_counter() - started)


def _free_name(out: Path, name: str) -> Path:
    path, n = out / name, 1
    while path.exists():
        n += 1
        path = out / f"{name}-{n}"
    return path


# ---- SQLite


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"{safe_url(url)} is not a database file that can be backed up or restored")
    return Path(database)


def _sqlite_snapshot(source: Path, copy: Path) -> Snapshot:
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(copy)
        try:
            # One step: the whole copy is read in one read transaction (WAL lets the bot
            # write meanwhile), so it is the database of one moment.
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            snap = _read_sqlite(dst)
            snap.details["sqlite_version"] = sqlite3.sqlite_version
        finally:
            dst.close()
    except sqlite3.Error as err:
        raise BackupError(f"cannot back up {source}: {err}") from None
    finally:
        src.close()
    return snap


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def _read_sqlite(conn: sqlite3.Connection) -> Snapshot:
    tables = _sqlite_tables(conn)
    if VERSION_TABLE not in tables:
        raise BackupError("the database has no Red Shield schema (run `redshield init` first)")
    counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    revision = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    names: set[str] = set()
    for t in tables:
        columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')}
        if "media_name" in columns:
            names.update(r[0] for r in conn.execute(f'SELECT media_name FROM "{t}" WHERE media_name IS NOT NULL'))
        if JSON_COLUMNS.get(t) in columns:
            names.update(_names_in_json(r[0] for r in conn.execute(f'SELECT "{JSON_COLUMNS[t]}" FROM "{t}"')))
    return Snapshot(revision[0] if revision else "", counts, names)


# ---- PostgreSQL


async def _pg_snapshot(url: str, schema: str | None, dump: Path) -> Snapshot:
    """pg_dump of the schema, in a snapshot this transaction exports and reads too."""
    pg_dump = _client("pg_dump")
    engine = create_engine(url, schema=schema)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ",
                                                postgresql_readonly=True)
            async with conn.begin():
                snapshot = (await conn.execute(sa.text("SELECT pg_export_snapshot()"))).scalar()
                name = (await conn.execute(sa.text("SELECT current_schema()"))).scalar()
                if name is None:
                    raise BackupError(f"schema {schema!r} does not exist in {safe_url(url)}")
                proc = await asyncio.create_subprocess_exec(
                    pg_dump, "--format=custom", f"--schema={_pattern(name)}", f"--snapshot={snapshot}",
                    f"--file={dump}", env=_libpq_env(url), stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
                try:
                    snap = await _read_pg(conn, name)
                    _, err = await proc.communicate()
                except BaseException:
                    if proc.returncode is None:
                        proc.kill()
                        await proc.wait()
                    raise
                if proc.returncode:
                    raise BackupError(f"pg_dump failed: {_last_line(err)}")
                snap.details.update({
                    "schema": name,
                    "server_version": (await conn.execute(sa.text("SHOW server_version"))).scalar(),
                    "pg_dump": await _client_version(pg_dump)})
    except (sa.exc.DBAPIError, OSError) as err:
        raise BackupError(f"cannot read {safe_url(url)}: {_reason(err)}") from None
    finally:
        await engine.dispose()
    return snap


async def _read_pg(conn, schema: str) -> Snapshot:
    q = _quote(schema)
    columns: dict[str, set[str]] = {}
    for table, column in (await conn.execute(sa.text(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE c.table_schema = :s AND t.table_type = 'BASE TABLE'"), {"s": schema})).all():
        columns.setdefault(table, set()).add(column)
    if VERSION_TABLE not in columns:
        raise BackupError(f"schema {schema!r} has no Red Shield tables (run `redshield init` first)")
    counts = {t: (await conn.execute(sa.text(f"SELECT count(*) FROM {q}.{_quote(t)}"))).scalar()
              for t in sorted(columns)}
    revision = (await conn.execute(sa.text(f"SELECT version_num FROM {q}.{VERSION_TABLE}"))).scalar()
    names: set[str] = set()
    for t, cols in columns.items():
        if "media_name" in cols:
            names.update((await conn.execute(sa.text(
                f"SELECT media_name FROM {q}.{_quote(t)} WHERE media_name IS NOT NULL"))).scalars())
        if JSON_COLUMNS.get(t) in cols:
            names.update(_names_in_json((await conn.execute(sa.text(
                f"SELECT {_quote(JSON_COLUMNS[t])}::text FROM {q}.{_quote(t)}"))).scalars()))
    return Snapshot(revision or "", counts, names)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pattern(schema: str) -> str:
    """The schema as a pg_dump pattern that matches it alone (no case folding)."""
    return _quote(schema)


def _client(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client programs "
                          "(Debian: postgresql-client), of the server's major version or newer")
    return path


async def _client_version(path: str) -> str:
    proc = await asyncio.create_subprocess_exec(path, "--version", stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return out.decode(errors="replace").strip()


def _libpq_env(url: str) -> dict[str, str]:
    """The connection for pg_dump, pg_restore and psql, from the URL: the password goes in
    their environment, never on a command line."""
    u = make_url(normalize_url(url))
    env = dict(os.environ)
    query = {k: (v[0] if isinstance(v, tuple) else v) for k, v in u.query.items()}
    parts = {"PGHOST": u.host or query.get("host"), "PGPORT": u.port or query.get("port"),
             "PGUSER": u.username or query.get("user"), "PGPASSWORD": u.password,
             "PGDATABASE": u.database, "PGSSLMODE": query.get("sslmode") or query.get("ssl")}
    for key, value in parts.items():
        if value not in (None, ""):
            env[key] = str(value)
    if env.get("PGSSLMODE") in ("true", "True"):
        env["PGSSLMODE"] = "require"
    env["PGAPPNAME"] = "redshield-backup"
    env.setdefault("PGCONNECT_TIMEOUT", "30")
    return env


def _reason(err: BaseException) -> str:
    return _last_line(str(getattr(err, "orig", None) or err).encode()) or type(err).__name__


def _last_line(err: bytes) -> str:
    """The message of a client program's stderr: its last error line, else its last line."""
    lines = [line.strip() for line in err.decode(errors="replace").splitlines() if line.strip()]
    lines = [line for line in lines if "ERROR:" in line or "error:" in line] or lines
    return hide_passwords(lines[-1] if lines else "no message")


# ---- media and files


def _names_in_json(values: Iterable) -> set[str]:
    found: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, str):
            if MEDIA_NAME.fullmatch(value):
                found.add(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for value in values:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        walk(value)
    return found


def _safe_relative(name: str) -> bool:
    """A name inside the media folder (never an absolute path nor one that climbs out)."""
    p = PurePosixPath(name)
    return bool(name) and "\\" not in name and not p.is_absolute() and ".." not in p.parts \
        and name == p.as_posix()


def _copy_media(root: Path, names: set[str], dest: Path) -> tuple[dict[str, dict], list[str]]:
    files, missing = {}, []
    for name in sorted(names):
        if not _safe_relative(name):
            log.warning("a media name that is not a plain relative path was left out of the backup")
            continue
        source = root / name
        try:
            files[f"media/{name}"] = _copy_hashing(source, dest / name)
        except FileNotFoundError:
            missing.append(name)
    return files, missing


def _copy_hashing(source: Path, target: Path) -> dict:
    """Copy a file (with its times, which the media store keeps to the hour), hashing it."""
    digest, size = hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    shutil.copystat(source, target)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _file_entry(path: Path) -> dict:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _sync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("redshield")
    except PackageNotFoundError:
        return "unknown"


# ---- redshield restore


def restore_arguments(p) -> None:
    p.add_argument("folder", type=Path, metavar="DIR", help="a backup folder (redshield-backup-...)")
    p.add_argument("--migrate", action="store_true",
                   help="restore a backup of an older schema, then migrate it to this version's")
    p.add_argument("--force", action="store_true",
                   help="replace a database that holds data, and media files with other content")


async def cli_restore(app, args) -> int:
    # The App's database is never opened here: opening migrates, and the restore decides
    # itself whether the schema may change (--migrate).
    await restore(app.config, args.folder, migrate=args.migrate, force=args.force, say=print)
    return 0


def read_manifest(folder: Path) -> dict:
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        ours = sorted(p.name for p in folder.iterdir() if FOLDER.fullmatch(p.name)
                      and (p / MANIFEST).is_file()) if folder.is_dir() else []
        if ours:
            raise BackupError(f"{folder} holds backups, it is not one: name the one to restore, "
                              f"e.g. {folder / ours[-1]} (the newest)")
        raise BackupError(f"{folder} is not a Red Shield backup (no {MANIFEST} in it)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["files"], manifest["tables"], manifest["schema_revision"]  # noqa: B018
        manifest["database"]["backend"], manifest["database"]["file"]  # noqa: B018
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{path} is damaged: not a manifest this version reads") from None
    if not isinstance(manifest.get("format"), int) or manifest["format"] > FORMAT:
        raise BackupError(f"{folder} was written by a newer Red Shield (backup format "
                          f"{manifest.get('format')}); restore it with that version")
    return manifest


def verify(folder: Path, manifest: dict) -> int:
    """Every file the manifest lists is there, with its size and checksum; returns how many."""
    files = manifest["files"]
    if manifest["database"]["file"] not in files:
        raise BackupError(f"{folder / MANIFEST} is damaged: it lists no database file")
    for name, entry in files.items():
        if not _safe_relative(name) or not (name == manifest["database"]["file"] or name.startswith("media/")):
            raise BackupError(f"{folder / MANIFEST} is damaged: it names {name!r}; nothing was restored")
        path = folder / name
        if not path.is_file():
            raise BackupError(f"the backup is incomplete: {name} is missing; nothing was restored")
        found = _file_entry(path)
        if found != {"sha256": entry.get("sha256"), "bytes": entry.get("bytes")}:
            raise BackupError(f"the backup is damaged: {name} does not match its checksum; "
                              "nothing was restored")
    return len(files)


def code_head() -> str:
    return _scripts().get_current_head()


def _scripts():
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


def _known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except Exception:  # alembic: no such revision
        return False


async def _bot_running(url: str, schema: str | None) -> bool:
    """Whether a scheduler of this deployment holds its lock (a web worker alone cannot be
    seen: the README says to stop them all)."""
    engine = create_engine(url, schema=schema)
    try:
        return await lead_held(engine, schema)
    finally:
        await engine.dispose()


async def restore(config: Config, folder: Path, *, migrate: bool = False, force: bool = False,
                  say=lambda line: None) -> dict:
    """Restore the backup in `folder` into the configured database and media folder.
    Everything is checked before anything is written; raises BackupError to refuse."""
    started = time.perf_counter()
    folder = Path(folder)
    manifest = read_manifest(folder)
    count = await asyncio.to_thread(verify, folder, manifest)
    backend, revision = manifest["database"]["backend"], manifest["schema_revision"]
    say(f"backup {folder.name}: {backend}, schema {revision}, made {manifest.get('created_at')}; "
        f"{count} files match their checksums")

    url = normalize_url(config.database.url)
    here = "sqlite" if _is_sqlite(url) else "postgresql"
    if backend != here:
        raise BackupError(f"this is a {backend} backup and [database] url is {here}: restore it "
                          f"into a {backend} database")
    head = code_head()
    if revision != head:
        if not _known(revision):
            raise BackupError(f"the backup's schema ({revision}) is newer than this version of Red Shield "
                              f"({head}): restore it with the version that made it "
                              f"({manifest.get('made_by', 'unknown')}) or a newer one")
        if not migrate:
            raise BackupError(f"the backup's schema ({revision}) is older than this version's ({head}): "
                              "add --migrate to restore it and migrate it")

    media_root = Path(config.media.dir)
    clashes = await asyncio.to_thread(_media_clashes, folder, manifest, media_root)
    if here == "sqlite":
        target = _sqlite_path(url)
        held = await asyncio.to_thread(_sqlite_rows, target)
    else:
        target_schema, existing, held = await _pg_target(url, config.database.schema or None)
        source_schema = manifest["database"].get("schema")
        if source_schema != target_schema:
            raise BackupError(f"the backup holds schema {source_schema!r} and the configuration's is "
                              f"{target_schema!r}: set [database] schema = \"{source_schema}\" to restore it")
    if here == "postgresql" and await _bot_running(url, config.database.schema or None):
        raise BackupError("the bot is still running (a scheduler holds its lock on this database): stop "
                          "every web worker and the scheduler first, then restore")
    if held and not force:
        raise BackupError(f"{safe_url(url)} holds data ({_held(held)}): add --force to replace it "
                          "(back it up first)")
    if clashes and not force:
        raise BackupError(f"{len(clashes)} media files in {media_root} have other content than the "
                          f"backup's (e.g. {clashes[0]}): add --force to replace them")

    # Everything checked: now write.
    if here == "sqlite":
        await asyncio.to_thread(_sqlite_restore, folder / manifest["database"]["file"], target)
        restored = await asyncio.to_thread(_sqlite_counts, target)
    else:
        tables = set(manifest["tables"]) | _model_tables() | {VERSION_TABLE}
        await _pg_restore(url, folder / manifest["database"]["file"], target_schema,
                          sorted(tables & existing))
        restored = await _pg_counts(url, target_schema)
    media = await asyncio.to_thread(_restore_media, folder, manifest, media_root)
    if restored != manifest["tables"]:
        differ = sorted(t for t in set(restored) | set(manifest["tables"])
                        if restored.get(t) != manifest["tables"].get(t))
        raise BackupError(f"the restored database differs from the manifest in {', '.join(differ)}")
    into = safe_url(url) + ("" if here == "sqlite" else f" (schema {target_schema})")
    say(f"restored {len(restored)} tables ({sum(restored.values()):,} rows) and {media:,} media files "
        f"into {into} and {media_root} in {time.perf_counter() - started:.1f} s")
    if manifest["media"].get("missing"):
        say(f"note: {len(manifest['media']['missing'])} media files the database names were already "
            "missing when the backup was made")
    if revision != head:
        await asyncio.to_thread(upgrade_sync, url, schema=config.database.schema or None)
        say(f"migrated the database from schema {revision} to {head}")
    return {"tables": restored, "media": media, "seconds": time.perf_counter() - started}


def _held(held: dict[str, int]) -> str:
    names = sorted(held, key=lambda t: -held[t])
    shown = ", ".join(f"{t}: {held[t]:,}" for t in names[:3])
    return shown + (f" and {len(names) - 3} more tables" if len(names) > 3 else "")


def _model_tables() -> set[str]:
    from storage.models import Base

    return set(Base.metadata.tables)


def _media_clashes(folder: Path, manifest: dict, root: Path) -> list[str]:
    clashes = []
    for name, entry in manifest["files"].items():
        if not name.startswith("media/"):
            continue
        path = root / name.removeprefix("media/")
        if path.exists() and (not path.is_file() or _file_entry(path)["sha256"] != entry["sha256"]):
            clashes.append(name.removeprefix("media/"))
    return clashes


def _restore_media(folder: Path, manifest: dict, root: Path) -> int:
    count = 0
    for name, entry in manifest["files"].items():
        if not name.startswith("media/"):
            continue
        target = root / name.removeprefix("media/")
        count += 1
        if target.is_file() and _file_entry(target)["sha256"] == entry["sha256"]:
            continue  # there already
        partial = target.with_name(target.name + ".part")
        _copy_hashing(folder / name, partial)
        partial.replace(target)  # never a half-written file under the final name
    return count


def _sqlite_rows(path: Path) -> dict[str, int]:
    """Rows per table of the database at `path` (none there: nothing), but the version's."""
    if not path.exists():
        return {}
    counts = _sqlite_counts(path)
    return {t: n for t, n in counts.items() if n and t != VERSION_TABLE}


def _sqlite_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path, timeout=30)
    try:
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in _sqlite_tables(conn)}
    except sqlite3.Error as err:
        raise BackupError(f"cannot read {path}: {err}") from None
    finally:
        conn.close()


def _sqlite_restore(copy: Path, target: Path) -> None:
    """SQLite's backup API, from the backup's file into the target: written in one
    transaction under SQLite's own locks (a half-restored file is never left behind)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{urllib.parse.quote(str(copy.resolve()))}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")  # as the bot keeps it
        finally:
            dst.close()
    except sqlite3.Error as err:
        raise BackupError(f"cannot restore into {target}: {err} (is the bot still running?)") from None
    finally:
        src.close()


async def _pg_target(url: str, schema: str | None) -> tuple[str, set[str], dict[str, int]]:
    """(the schema restored into, its tables, the tables of those holding rows)."""
    engine = create_engine(url, schema=schema)
    try:
        async with engine.connect() as conn:
            name = schema or (await conn.execute(sa.text("SELECT current_schema()"))).scalar() or "public"
            tables = set((await conn.execute(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": name})).scalars())
            held = {}
            for t in sorted(tables - {VERSION_TABLE}):
                n = (await conn.execute(sa.text(f"SELECT count(*) FROM {_quote(name)}.{_quote(t)}"))).scalar()
                if n:
                    held[t] = n
    except (sa.exc.DBAPIError, OSError) as err:
        raise BackupError(f"cannot read {safe_url(url)}: {_reason(err)}") from None
    finally:
        await engine.dispose()
    return name, tables, held


async def _pg_counts(url: str, schema: str) -> dict[str, int]:
    engine = create_engine(url, schema=schema)
    try:
        async with engine.connect() as conn:
            tables = (await conn.execute(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY 1"), {"s": schema})).scalars()
            return {t: (await conn.execute(sa.text(
                f"SELECT count(*) FROM {_quote(schema)}.{_quote(t)}"))).scalar() for t in list(tables)}
    finally:
        await engine.dispose()


async def _pg_restore(url: str, dump: Path, schema: str, drop: list[str]) -> None:
    """pg_restore's SQL fed to psql inside one transaction, after dropping the tables it
    replaces; COMMIT is sent only once pg_restore has read the whole dump, so an error
    anywhere (psql's or pg_restore's) leaves the database as it was."""
    pg_restore, psql = _client("pg_restore"), _client("psql")
    env = _libpq_env(url)
    with tempfile.TemporaryDirectory(prefix="redshield-restore-") as tmp:
        listing = await _run([pg_restore, "--list", str(dump)], env)
        # The schema itself is made here (it may exist, e.g. public), not by the dump.
        kept = [line for line in listing.splitlines()
                if not re.match(r"\s*\d+;\s*\d+\s+\d+\s+(SCHEMA|COMMENT - SCHEMA)\s", line)]
        (Path(tmp) / "list").write_text("\n".join(kept) + "\n", encoding="utf-8")
        prefix = f"BEGIN;\nCREATE SCHEMA IF NOT EXISTS {_quote(schema)};\n"
        if drop:
            prefix += f"DROP TABLE IF EXISTS {', '.join(f'{_quote(schema)}.{_quote(t)}' for t in drop)} CASCADE;\n"
        dumper = await asyncio.create_subprocess_exec(
            pg_restore, "--no-owner", "--no-privileges", f"--use-list={Path(tmp) / 'list'}",
            "--file=-", str(dump), env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        loader = await asyncio.create_subprocess_exec(
            psql, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--file=-", env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)

        killed = False  # pg_restore stopped by us, after psql failed

        async def pump() -> None:
            nonlocal killed
            try:
                loader.stdin.write(prefix.encode())
                while chunk := await dumper.stdout.read(CHUNK):
                    loader.stdin.write(chunk)
                    await loader.stdin.drain()
                if await dumper.wait() == 0:
                    loader.stdin.write(b"\nCOMMIT;\n")
                    await loader.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):  # psql stopped at an error
                pass
            finally:
                loader.stdin.close()
                if dumper.returncode is None:
                    killed = True
                    dumper.kill()
                while await dumper.stdout.read(CHUNK):  # what it wrote before it stopped
                    pass
                await dumper.wait()

        try:
            _, dump_err, load_err = await asyncio.gather(pump(), dumper.stderr.read(), loader.stderr.read())
            await loader.wait()
        except BaseException:
            for proc in (dumper, loader):
                if proc.returncode is None:
                    proc.kill()
            raise
    # pg_restore's own failure first: psql fails too then, on the SQL cut short.
    if dumper.returncode and not killed:
        raise BackupError(f"the restore failed and the database is as it was: pg_restore: "
                          f"{_last_line(dump_err)}")
    if loader.returncode:
        raise BackupError(f"the restore failed and the database is as it was: psql: {_last_line(load_err)}")


async def _run(command: list[str], env: dict) -> str:
    proc = await asyncio.create_subprocess_exec(*command, env=env, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode:
        raise BackupError(f"{Path(command[0]).name} failed: {_last_line(err)}")
    return out.decode()
