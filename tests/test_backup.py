"""Backups and restores (`ops.backup`): the restore drill on SQLite and PostgreSQL (fill,
back up while a writer adds patrols, wipe, restore, compare every table and media file),
the refusals, the daily job and its pruning, and no secret of the config in a backup."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.bootstrap import load_plugins
from bot.config import DailyTime
from bot.core.registry import Registry
from bot.scheduler import lock_key
from ops import backup as ops_backup
from ops.backup import BackupError, backup, prune, restore
from storage.db import create_engine, normalize_url, session_factory, upgrade_sync
from storage.models import Base, Patrol
from tests import factories as f
from tests.chatbot import jpeg
from tests.conftest import PG_URL, Database
from tests.pg import on_server
from tests.test_cli import redshield

SECRET_KEY = "backup-test-secret-" + "s" * 32
TELEGRAM_TOKEN = "123456:TOKEN-never-in-a-backup"
WEBHOOK_SECRET = "webhook-secret-never-in-a-backup"


# ---- databases of this module's own: a test may drop, restore and migrate them


async def fresh_database(backend: str, tmp_path: Path, revision: str = "head",
                         name: str = "live") -> tuple[str, str | None]:
    """A new database migrated to `revision`: (url, schema)."""
    if backend == "sqlite":
        path = tmp_path / f"{name}.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(upgrade_sync, url, revision=revision)
        return url, None
    if not PG_URL:
        pytest.skip("REDSHIELD_TEST_DATABASE_URL is not set: PostgreSQL run skipped")
    schema = f"rs_bk_{uuid.uuid4().hex[:10]}"
    await on_server(f'CREATE SCHEMA "{schema}"')
    await asyncio.to_thread(upgrade_sync, PG_URL, schema=schema, revision=revision)
    return normalize_url(PG_URL), schema


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request, tmp_path):
    """Overrides conftest's: a database of the test's own (a PostgreSQL schema it may drop)."""
    if request.param == "sqlite":
        path = tmp_path / "live.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url, schema = f"sqlite+aiosqlite:///{path}", None
    else:
        url, schema = await fresh_database("postgresql", tmp_path)
    engine = create_engine(url, schema=schema)
    try:
        yield Database(url, schema, engine, session_factory(engine))
    finally:
        await engine.dispose()
        if schema:
            await on_server(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def config(config):
    """conftest's, with a key that must appear nowhere in a backup."""
    return config.model_copy(update={"security": config.security.model_copy(update={"secret_key": SECRET_KEY})})


# ---- filling, reading, wiping


async def fill(chat, db) -> dict[str, int]:
    """Real data through the conversations: a patrol with a photo that becomes a hazard
    report (two photos and a voice note), its rectification with an after-photo, an
    anonymous violation report with a photo, and the notices they queued."""
    site = await f.hazard_site(db)
    finder, crew, worker = chat.user("u1"), chat.user("u2"), chat.user("w1")
    await finder.say("巡查")
    await finder.tap("施工现场A区")
    await finder.say("跳过")
    await finder.photo(jpeg("red"))  # during the patrol: kept on it, and starts a report
    await finder.photo(jpeg("orange"))
    await finder.voice()
    await finder.say("完成")
    await finder.tap("施工现场A区")
    await finder.tap("脚手架")
    await finder.tap("一般隐患")
    await finder.say("3号楼5层脚手架缺少扣件")
    await finder.tap("跳过")
    await finder.tap("赵强")
    await finder.tap("3天")
    assert "已登记：红盾整改〔2026〕0001号" in await finder.tap("确认提交")
    notice = chat.notices(site["crew"])
    await crew.tap("提交整改", choices=notice.choices)
    await crew.photo(jpeg("green"))
    await crew.say("完成")
    assert "已提交整改" in await crew.say("已补齐扣件")

    await worker.say("/start report-P1")
    await worker.photo(jpeg("purple"))
    await worker.say("完成")
    await worker.tap("施工现场A区")
    await worker.tap("未系安全带")
    await worker.say("有人在5楼临边不系安全带作业")
    assert "已提交。查询码" in await worker.tap("匿名提交")
    return site


async def tables(db: Database) -> dict[str, list[tuple]]:
    """Every row of every table, ordered by primary key, and the schema's objects."""
    out = {}
    async with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            out[table.name] = [tuple(r) for r in (await conn.execute(
                sa.select(table).order_by(*table.primary_key.columns))).all()]
        out["alembic_version"] = [tuple(r) for r in (await conn.execute(
            sa.text("SELECT version_num FROM alembic_version"))).all()]
        if db.backend == "sqlite":
            objects = "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
        else:
            objects = ("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                       "ORDER BY indexname")
        out["(schema objects)"] = [tuple(r) for r in (await conn.execute(sa.text(objects))).all()]
    return out


def media_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def wipe(db: Database, config, media: bool = True) -> None:
    """The disaster: the database and the media folder gone."""
    await db.engine.dispose()
    if db.backend == "sqlite":
        path = Path(db.url.split("///", 1)[1])
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            p.unlink(missing_ok=True)
    else:
        await on_server(f'DROP SCHEMA "{db.schema}" CASCADE')
    if media:
        shutil.rmtree(config.media.dir, ignore_errors=True)


async def database_is_gone(db: Database) -> bool:
    if db.backend == "sqlite":
        return not Path(db.url.split("///", 1)[1]).exists()
    engine = create_engine(PG_URL)
    try:
        async with engine.connect() as conn:
            return not (await conn.execute(sa.text(
                "SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": db.schema})).scalar()
    finally:
        await engine.dispose()


# ---- the restore drill


async def test_restore_drill_while_a_writer_adds_patrols(chat, db, config, tmp_path):
    site = await fill(chat, db)
    media_before = media_files(Path(config.media.dir))
    # hazard photos before and after, a voice note, the violation photo (the patrol's photo
    # is the report's first), and the copies the notices in the outbox refer to
    assert len(media_before) > 5

    async with db.sessions() as s:
        base = (await s.execute(sa.select(sa.func.count()).select_from(Patrol))).scalar()
    written: list[int] = []  # committed
    stop = asyncio.Event()

    async def writer():
        while not stop.is_set():
            async with db.sessions() as s, s.begin():
                started = f.NOW + dt.timedelta(minutes=len(written))
                p = Patrol(member_id=site["finder"], project_id=1, started_at=started,
                           ended_at=started + dt.timedelta(minutes=30), created_at=started)
                s.add(p)
            written.append(p.id)
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    while len(written) < 20:
        await asyncio.sleep(0.01)
    before = len(written)
    made = await backup(config, tmp_path / "backups")
    during = len(written) - before
    while len(written) < before + during + 20:
        await asyncio.sleep(0.01)
    stop.set()
    await task

    manifest = made.manifest
    assert made.path.name.startswith("redshield-backup-") and made.path.parent == tmp_path / "backups"
    assert manifest["schema_revision"] == ops_backup.code_head()
    assert manifest["media"] == {"files": len(media_before), "bytes": sum(map(len, media_before.values())),
                                 "missing": []}
    assert set(manifest["files"]) == {"database." + ("sqlite" if db.backend == "sqlite" else "dump"),
                                      *(f"media/{name}" for name in media_before)}
    assert manifest["tables"]["hazard_photos"] == 4 and manifest["tables"]["patrol_photos"] == 1
    assert base + before <= manifest["tables"]["patrols"] <= base + before + during  # a moment of the run
    assert sorted(p.name for p in (tmp_path / "backups").iterdir()) == [made.path.name]  # no temp left

    live = await tables(db)
    await wipe(db, config)
    assert await database_is_gone(db) and not Path(config.media.dir).exists()
    result = await restore(config, made.path)
    await db.engine.dispose()
    restored = await tables(db)

    # The backup is one moment: every patrol committed before it and none of the later
    # ones, consecutive (a snapshot sees a prefix of one writer's commits).
    n = manifest["tables"]["patrols"]
    assert restored["patrols"] == live["patrols"][:n]
    assert {k: v for k, v in restored.items() if k != "patrols"} == \
        {k: v for k, v in live.items() if k != "patrols"}
    assert result["tables"] == manifest["tables"]
    assert media_files(Path(config.media.dir)) == media_before  # byte for byte, under the same names

    # And the bot goes on where the backup left it.
    said = await chat.user("u1").say("/hazard")
    assert said.replies


async def test_operator_drill_through_the_command(chat, db, config, tmp_path):
    """report, back up, wipe, restore: every table and media file equal, the operator's
    views the same, the bot numbering on; and no secret of the config in the backup."""
    await fill(chat, db)
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "config.toml").write_text(
        f'[database]\nurl = "{db.url}"\nschema = "{db.schema or ""}"\n'
        f'[media]\ndir = "{config.media.dir}"\n'
        f'[security]\nsecret_key = "{SECRET_KEY}"\n'
        f'[telegram]\ntoken = "{TELEGRAM_TOKEN}"\nwebhook_secret = "{WEBHOOK_SECRET}"\n',
        encoding="utf-8")
    hazards_before = redshield("hazards", "--project", "P1", "--json", cwd=site_dir)
    assert hazards_before.returncode == 0, hazards_before.stderr
    live, media_before = await tables(db), media_files(Path(config.media.dir))

    made = redshield("backup", "--out", "backups", cwd=site_dir)
    assert made.returncode == 0, made.stderr
    [folder] = list((site_dir / "backups").iterdir())
    assert f"backup written: backups/{folder.name}" in made.stdout
    assert folder.stat().st_mode & 0o077 == 0  # members' data: the owner's only

    # No configuration file and no secret of it anywhere in the backup.
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    db_file = "database.sqlite" if db.backend == "sqlite" else "database.dump"
    assert names[:2] == [db_file, "manifest.json"] and all(n.startswith("media/") for n in names[2:])
    contents = [p.read_bytes() for p in folder.rglob("*") if p.is_file()]
    if db.backend == "postgresql":  # the dump is compressed: read it as the SQL it restores
        contents.append(subprocess.run(["pg_restore", "-f", "-", str(folder / db_file)],
                                       capture_output=True, check=True).stdout)
        assert b"INSERT" in contents[-1] or b"COPY" in contents[-1]
    for secret in (SECRET_KEY, TELEGRAM_TOKEN, WEBHOOK_SECRET):
        assert not any(secret.encode() in c for c in contents), secret

    await wipe(db, config)
    done = redshield("restore", str(folder), cwd=site_dir)
    assert done.returncode == 0, done.stderr
    tables_kept = len(Base.metadata.tables) + 1  # and alembic_version
    assert "match their checksums" in done.stdout and f"restored {tables_kept} tables" in done.stdout
    await db.engine.dispose()
    assert await tables(db) == live
    assert media_files(Path(config.media.dir)) == media_before
    hazards_after = redshield("hazards", "--project", "P1", "--json", cwd=site_dir)
    assert json.loads(hazards_after.stdout) == json.loads(hazards_before.stdout)

    finder = chat.user("u1")
    await finder.photo(jpeg("blue"))
    await finder.say("完成")
    for step in ("施工现场A区", "脚手架", "一般隐患"):
        await finder.tap(step)
    await finder.say("临边防护缺失")
    await finder.tap("跳过")
    await finder.tap("赵强")
    await finder.tap("3天")
    assert "红盾整改〔2026〕0002号" in await finder.tap("确认提交")  # the counters came back


# ---- refusals


async def test_a_damaged_backup_is_refused_before_anything_is_touched(chat, db, config, tmp_path):
    await fill(chat, db)
    made = await backup(config, tmp_path / "backups")
    await wipe(db, config)

    photo = next(p for p in (made.path / "media").rglob("*.jpg"))
    original = photo.read_bytes()
    photo.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(BackupError, match=r"media/.* does not match its checksum; nothing was restored"):
        await restore(config, made.path)
    photo.write_bytes(original)

    db_file = made.path / made.manifest["database"]["file"]
    kept = db_file.read_bytes()
    with open(db_file, "r+b") as fh:
        fh.seek(db_file.stat().st_size // 2)
        fh.write(b"\xff" * 16)
    with pytest.raises(BackupError, match="database.* does not match its checksum"):
        await restore(config, made.path)
    db_file.write_bytes(kept)
    (made.path / "media" / photo.relative_to(made.path / "media")).unlink()
    with pytest.raises(BackupError, match="is missing; nothing was restored"):
        await restore(config, made.path)

    assert await database_is_gone(db) and not Path(config.media.dir).exists()
    with pytest.raises(BackupError, match="holds backups, it is not one"):
        await restore(config, tmp_path / "backups")
    with pytest.raises(BackupError, match="not a Red Shield backup"):
        await restore(config, tmp_path)


async def test_a_database_with_data_is_replaced_only_with_force(chat, db, config, tmp_path):
    await fill(chat, db)
    made = await backup(config, tmp_path / "backups")
    live, media_before = await tables(db), media_files(Path(config.media.dir))
    async with db.sessions() as s, s.begin():  # the database moved on after the backup
        await f.project(s, code="P9", name="后来的项目")

    with pytest.raises(BackupError, match=r"holds data \(.*\): add --force to replace it"):
        await restore(config, made.path)
    assert len((await tables(db))["projects"]) == 3  # untouched
    await restore(config, made.path, force=True)
    await db.engine.dispose()
    assert await tables(db) == live

    # A media file of the same name with other content is replaced only with --force too.
    await wipe(db, config, media=False)
    name = sorted(media_before)[0]
    (Path(config.media.dir) / name).write_bytes(b"other content")
    with pytest.raises(BackupError, match="1 media files .* have other content .* add --force"):
        await restore(config, made.path)
    assert await database_is_gone(db)
    await restore(config, made.path, force=True)
    await db.engine.dispose()
    assert await tables(db) == live
    assert media_files(Path(config.media.dir)) == media_before


async def test_restore_refuses_while_a_scheduler_of_the_bot_runs(chat, db, config, tmp_path):
    if db.backend != "postgresql":
        pytest.skip("a running SQLite bot holds no lock a restore could see")
    await fill(chat, db)
    made = await backup(config, tmp_path / "backups")
    before = await tables(db)
    key = lock_key(db.schema)
    async with db.engine.connect() as running:  # the scheduler's lock, as `run` holds it
        await running.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            with pytest.raises(BackupError, match="the bot is still running"):
                await restore(config, made.path, force=True)
        finally:  # a pooled connection would keep the lock for the next test
            await running.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    assert await tables(db) == before  # nothing touched
    await restore(config, made.path, force=True)  # stopped: it goes


async def test_an_empty_migrated_database_needs_no_force(chat, db, config, tmp_path):
    await fill(chat, db)
    made = await backup(config, tmp_path / "backups")
    live = await tables(db)
    await wipe(db, config)
    if db.backend == "postgresql":  # `redshield init` on a new server: tables, no rows
        await on_server(f'CREATE SCHEMA "{db.schema}"')
    await asyncio.to_thread(upgrade_sync, db.url, schema=db.schema)
    await restore(config, made.path)
    await db.engine.dispose()
    assert await tables(db) == live


async def test_a_backup_of_a_newer_schema_is_refused(db, config, tmp_path):
    async with db.sessions() as s, s.begin():
        await f.project(s)
        # As a newer version of Red Shield would leave it.
        await s.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
    made = await backup(config, tmp_path / "backups")
    assert made.manifest["schema_revision"] == "0999"
    await wipe(db, config)
    with pytest.raises(BackupError, match=r"schema \(0999\) is newer than this version of Red Shield"):
        await restore(config, made.path, migrate=True, force=True)
    assert await database_is_gone(db)

    # Through the command: one line, a non-zero exit.
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "config.toml").write_text(
        f'[database]\nurl = "{db.url}"\nschema = "{db.schema or ""}"\n', encoding="utf-8")
    refused = redshield("restore", str(made.path), cwd=site_dir)
    assert refused.returncode != 0 and "is newer than this version" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_an_older_backup_is_restored_only_with_migrate(backend, tmp_path):
    from bot.config import default_config

    url, schema = await fresh_database(backend, tmp_path, revision="0007", name="old")
    try:
        engine = create_engine(url, schema=schema)
        async with engine.begin() as conn:
            await conn.execute(sa.text(
                "INSERT INTO projects (code, name, branch) VALUES ('OLD', '旧项目', '旧支部')"))
        await engine.dispose()
        base = default_config()
        config = base.model_copy(update={
            "database": base.database.model_copy(update={"url": url, "schema": schema or ""}),
            "media": base.media.model_copy(update={"dir": str(tmp_path / "media")})})
        made = await backup(config, tmp_path / "backups")
        assert made.manifest["schema_revision"] == "0007" and "send_limits" in made.manifest["tables"]

        # The wipe; then the restore into the same place, as it must be.
        if schema:
            await on_server(f'DROP SCHEMA "{schema}" CASCADE')
        else:
            Path(url.split("///", 1)[1]).unlink()
        with pytest.raises(BackupError, match=r"schema \(0007\) is older .* add --migrate"):
            await restore(config, made.path)
        lines = []
        await restore(config, made.path, migrate=True, say=lines.append)
        assert lines[-1] == f"migrated the database from schema 0007 to {ops_backup.code_head()}"
        engine = create_engine(url, schema=schema)
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar() \
                == ops_backup.code_head()
            assert (await conn.execute(sa.text("SELECT code FROM projects"))).scalars().all() == ["OLD"]
        await engine.dispose()
    finally:
        if schema:
            await on_server(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_a_backup_goes_back_to_its_own_kind_and_schema(db, config, tmp_path):
    async with db.sessions() as s, s.begin():
        await f.project(s)
    made = await backup(config, tmp_path / "backups")
    if db.backend == "sqlite":
        other = config.database.model_copy(update={"url": "postgresql+asyncpg://u@localhost/x"})
        with pytest.raises(BackupError, match="this is a sqlite backup and .* is postgresql"):
            await restore(config.model_copy(update={"database": other}), made.path)
    else:
        other = config.database.model_copy(update={"schema": "somewhere_else"})
        with pytest.raises(BackupError, match=f"holds schema '{db.schema}'.*schema = \"{db.schema}\""):
            await restore(config.model_copy(update={"database": other}), made.path, force=True)


async def test_a_failing_postgresql_restore_leaves_the_database_as_it_was(chat, db, config, tmp_path):
    """The restore runs in one psql transaction, COMMIT sent only after pg_restore read the
    whole dump: psql failing half-way, or pg_restore (a truncated dump that still matches
    its manifest), leaves the tables it had dropped back with their rows."""
    if db.backend != "postgresql":
        pytest.skip("PostgreSQL's restore runs in one psql transaction")
    await fill(chat, db)
    async with db.sessions() as s, s.begin():  # enough rows that the dump's data comes last
        await s.execute(sa.text("INSERT INTO processed_messages (platform, message_id, processed_at) "
                                "SELECT 'test', md5(random()::text) || md5(random()::text), now() "
                                "FROM generate_series(1, 5000)"))
    made = await backup(config, tmp_path / "backups")
    live = await tables(db)

    async with db.engine.begin() as conn:  # an object the dump makes, left where it cannot be
        await conn.execute(sa.text("ALTER SEQUENCE outbox_id_seq OWNED BY NONE"))
    with pytest.raises(BackupError, match='the database is as it was: psql: .*"outbox_id_seq" already exists'):
        await restore(config, made.path, force=True)
    await db.engine.dispose()
    assert await tables(db) == live
    async with db.engine.begin() as conn:
        await conn.execute(sa.text("ALTER SEQUENCE outbox_id_seq OWNED BY outbox.id"))

    dump = made.path / "database.dump"
    dump.write_bytes(dump.read_bytes()[:dump.stat().st_size * 9 // 10])
    manifest = json.loads((made.path / "manifest.json").read_text())
    manifest["files"]["database.dump"] = ops_backup._file_entry(dump)
    (made.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="the database is as it was: pg_restore: .*end of file"):
        await restore(config, made.path, force=True)
    await db.engine.dispose()
    assert await tables(db) == live


# ---- the daily backup


def test_the_daily_job_exists_only_when_a_folder_is_set(tmp_path):
    from bot.config import default_config

    base = default_config()
    registry = load_plugins(Registry(), base.bot.plugins)
    assert "backup" not in {j.name for j in registry.jobs_for(base)}
    on = base.model_copy(update={"backup": base.backup.model_copy(update={"dir": str(tmp_path)})})
    [job] = [j for j in registry.jobs_for(on) if j.name == "backup"]
    fields = {fl.name: str(fl) for fl in job.trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("2", "30") and str(job.trigger.timezone) == "Asia/Shanghai"
    at = base.backup.model_copy(update={"dir": str(tmp_path), "at": DailyTime(23, 5)})
    [job] = [j for j in registry.jobs_for(base.model_copy(update={"backup": at})) if j.name == "backup"]
    assert {fl.name: str(fl) for fl in job.trigger.fields}["hour"] == "23"


async def test_the_daily_backup_keeps_keep_days(tmp_path, sqlite_template):
    from bot.config import default_config

    path = tmp_path / "bot.db"
    shutil.copy(sqlite_template, path)
    base = default_config()
    out = tmp_path / "backups"
    config = base.model_copy(update={
        "database": base.database.model_copy(update={"url": f"sqlite+aiosqlite:///{path}"}),
        "media": base.media.model_copy(update={"dir": str(tmp_path / "media")}),
        "backup": base.backup.model_copy(update={"dir": str(out), "keep_days": 3})})
    now = dt.datetime(2026, 11, 23, 18, 30, 5, tzinfo=dt.UTC)  # 02:30 in Shanghai

    def ours(stamp: str, manifest: bool = True) -> Path:
        folder = out / f"redshield-backup-{stamp}"
        folder.mkdir(parents=True)
        if manifest:
            (folder / "manifest.json").write_text("{}")
        return folder

    kept = [ours("20261122T183004Z"), ours("20261120T183006Z")]  # 1 day, 2 days 23:59:59
    old = [ours("20261120T183004Z"), ours("20261101T000000Z")]  # 3 days and a second, older
    foreign = [ours("20200101T000000Z", manifest=False), out / "photos-2020", out / "redshield-backup-x"]
    for p in foreign[1:]:
        p.mkdir()
    stale = out / ".redshield-backup-20261121T183000Z.ab12.partial"  # a backup interrupted
    fresh = out / ".redshield-backup-20261123T182000Z.cd34.partial"  # one running now
    stale.mkdir()
    fresh.mkdir()

    [job] = [j for j in load_plugins(Registry(), ("ops",)).jobs_for(config) if j.name == "backup"]
    assert await job.work(None, now, config) == []
    made = out / "redshield-backup-20261123T183005Z"
    assert json.loads((made / "manifest.json").read_text())["tables"]["alembic_version"] == 1
    left = {p.name for p in out.iterdir()}
    assert left == {made.name, fresh.name, *(p.name for p in kept + foreign)}
    assert all(not p.exists() for p in [*old, stale])

    # A second backup within the same second gets its own folder; prune spares it.
    again = await backup(config, out, now)
    assert again.path.name == "redshield-backup-20261123T183005Z-2"
    assert prune(out, 3, now + dt.timedelta(days=30), keep=again.path) != []
    assert again.path.exists() and not made.exists()


def test_the_command_says_where_when_no_folder_is_set(tmp_path):
    done = redshield("backup", cwd=tmp_path)
    assert done.returncode != 0 and "--out DIR (or set [backup] dir)" in done.stderr
