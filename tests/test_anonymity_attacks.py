"""Attacks on the anonymity promise (issue 14), each run as a reader of the database,
its files, the media folder and the logs would run it, during and after an anonymous
report and a /track follow-up, on SQLite (files included) and PostgreSQL. Each finds
nothing. The reporter is an account the bot knows (a bound member): the hardest case,
since the platform tells the bot who is writing."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage

from bot import logs
from storage.models import Base, DialogState, ProcessedMessage, ViolationEntry, ViolationReport
from tests import factories as f
from tests.chatbot import TestBot, jpeg, test_app
from tests.test_violation import RECEIPT, gps_photo

REPORTER = "7770001234"  # the reporter's platform account
NAME = "张匿名"
DRAFT = "木工班有人酒后上脚手架"  # what the reporter typed


@pytest.fixture(params=["telegram", "wecom"])
async def bot(request, db, config, clock) -> TestBot:
    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        await f.zone(s, p)
        member = await f.member(s, p, NAME, roles=("member",))
        await f.bind(s, member, platform=request.param, external_id=REPORTER)
        officer = await f.member(s, p, "李安监", roles=("member", "safety_officer"))
        await f.bind(s, officer, platform=request.param, external_id="officer-1")
    return TestBot(test_app(config, clock, db), platform=request.param)


class Statements:
    """Every statement sent to the database and its bound values, as the server sees
    them: what a reader of the server's logs, WAL or dead rows could ever find."""

    def __init__(self, engine):
        self.seen: list[str] = []
        sa.event.listen(engine.sync_engine, "before_cursor_execute", self._record)
        self.engine = engine

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append(f"{statement} {parameters!r}")

    def close(self):
        sa.event.remove(self.engine.sync_engine, "before_cursor_execute", self._record)

    def __contains__(self, needle: str) -> bool:
        return any(needle in s for s in self.seen)


async def database_text(db) -> str:
    parts = []
    async with db.sessions() as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(sa.select(table))).all():
                parts.append(f"{table.name}: {tuple(row)}")
    return "\n".join(parts)


def files_text(db, media: Path) -> bytes:
    """The SQLite file with its WAL and free pages, and every media file: raw bytes."""
    out = b""
    if db.backend == "sqlite":
        path = Path(sa.engine.make_url(db.url).database)
        for p in (path, path.with_name(path.name + "-wal")):
            if p.exists():
                out += p.read_bytes()
    for p in media.rglob("*"):
        if p.is_file():
            out += p.name.encode() + p.read_bytes()
    return out


def guesses(platform: str) -> set[str]:
    """What a reader would compute from a guessed account to look for it: plain and
    keyed hashes with every key the database holds."""
    forms = {REPORTER, f"{platform}:{REPORTER}", f"{platform}\x1f{REPORTER}"}
    return {hashlib.sha256(x.encode()).hexdigest() for x in forms}


async def keyed_guesses(db, platform: str) -> set[str]:
    found = set()
    async with db.sessions() as s:
        keys = (await s.execute(sa.text("SELECT secret FROM daily_keys"))).scalars().all()
    for key in keys:
        found.add(hmac.new(key.encode(), f"{platform}:{REPORTER}".encode(),
                           hashlib.sha256).hexdigest())
    return found


async def report(user):
    await user.say("/report")
    await user.photo(gps_photo())
    await user.say("完成")
    await user.tap("施工现场A区")
    await user.tap("酒后作业")
    await user.say(DRAFT)
    return await user.tap("匿名提交")


async def test_a_reader_finds_no_tie_to_the_reporter_during_and_after(bot, db, config, clock):
    statements = Statements(db.engine)
    try:
        user = bot.user(REPORTER)
        await user.say("/report")
        await user.photo(gps_photo())
        await user.say("完成")
        await user.say(DRAFT[:4] + "……")  # a look-up mid-draft would do the same
        # During: the draft exists only outside the database and the media folder.
        async with db.sessions() as s:
            assert (await s.execute(sa.select(DialogState))).first() is None
        assert not list(Path(config.media.dir).rglob("*.jpg"))  # the photo waits off disk
        await user.tap("施工现场A区")
        await user.tap("酒后作业")
        await user.say(DRAFT)
        assert DRAFT not in await database_text(db)  # typed, not yet sent: nowhere to read
        assert DRAFT.encode() not in files_text(db, Path(config.media.dir))  # nor in file or WAL
        said = await user.tap("匿名提交")
        code = RECEIPT.search(said.text).group()
        # The follow-up: its state is kept off the database too.
        await user.say(f"/track {code}")
        await user.tap("补充说明或照片")
        await user.say("第二天又看到了")
        async with db.sessions() as s:
            assert (await s.execute(sa.select(DialogState))).first() is None
        await user.say("完成")
    finally:
        statements.close()

    # The account is in the directory (a bound member): only there, and no write made while
    # reporting names it (a write would be a row version, or share the report's transaction).
    everything = "\n".join(line for line in (await database_text(db)).splitlines()
                           if not line.startswith(("identities:", "members:")))
    media = b"".join(p.name.encode() + p.read_bytes() for p in Path(config.media.dir).rglob("*")
                     if p.is_file())
    writes = [w for w in statements.seen if w.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    for needle in (REPORTER, NAME):
        assert needle not in everything
        assert needle.encode() not in media
        assert not [w for w in writes if needle in w], needle  # not even for a moment
    # Link 1: no key in the database turns a guessed account into anything stored.
    for digest in guesses(bot.platform) | await keyed_guesses(db, bot.platform):
        assert digest not in everything
    async with db.sessions() as s:
        assert (await s.execute(sa.text("SELECT count(*) FROM daily_counts"))).scalar() == 0
        assert (await s.execute(sa.text("SELECT count(*) FROM attempt_counters"))).scalar() == 0
        marks = (await s.execute(sa.select(ProcessedMessage))).scalars().all()
        report_row = (await s.execute(sa.select(ViolationReport))).scalar_one()
        entries = (await s.execute(sa.select(ViolationEntry))).scalars().all()
    # Link 2: times no finer than the hour, and nothing reversible in the de-dup marks.
    assert all(m.processed_at.minute == m.processed_at.second == 0 for m in marks)
    assert report_row.received_at.minute == 0 and report_row.notify_after >= \
        report_row.received_at + dt.timedelta(hours=1)
    assert all(e.at.minute == 0 for e in entries)
    for path in Path(config.media.dir).rglob("*"):
        if path.is_file():
            assert int(path.stat().st_mtime) % 3600 == 0, path


async def test_wecom_event_ids_cannot_be_reversed(db, config, clock):
    """A reader tries every userid over two minutes of CreateTime: no stored id matches."""
    from bot.core.contract import Kind

    app = test_app(config, clock, db)
    bot = TestBot(app, platform="wecom")
    user = bot.user("zhangsan")
    create_time = 1763863200
    event_id = hashlib.sha256(f"zhangsan:{create_time}:click:/report".encode()).hexdigest()
    await user.send(Kind.command, command="report", message_id=event_id)
    async with db.sessions() as s:
        stored = set((await s.execute(sa.select(ProcessedMessage.message_id))).scalars())
    tries = {hashlib.sha256(f"zhangsan:{t}:click:/report".encode()).hexdigest()
             for t in range(create_time - 60, create_time + 61)}
    assert stored and not stored & tries


async def test_the_same_photo_gets_unrelated_names_and_no_metadata(bot, db, config):
    user = bot.user(REPORTER)
    photo = gps_photo()
    await report(user)
    await user.say("/hazard")
    await user.photo(photo)
    names = sorted(p.name for p in Path(config.media.dir).rglob("*.jpg"))
    assert len(names) == 2 and names[0][:8] != names[1][:8]
    assert hashlib.sha256(photo).hexdigest() not in "".join(names)
    for p in Path(config.media.dir).rglob("*.jpg"):
        image = PILImage.open(p)
        assert not image.getexif() and "comment" not in image.info


async def test_a_track_lockout_holds_even_with_ones_own_code_in_between(bot, config):
    """Link 9: four wrong codes then one's own, again and again: still locked."""
    user = bot.user(REPORTER)
    code = RECEIPT.search((await report(user)).text).group()
    locked = False
    for _ in range(5):
        for _ in range(config.invites.max_failed_attempts - 1):
            await user.say("/track ZZZZ-ZZZZ-ZZZZ")
        if "查询次数太多" in await user.say(f"/track {code}"):
            locked = True
            break
        await user.say("取消")
    assert locked


def test_a_database_error_logs_the_statement_not_the_values(tmp_path):
    import asyncio

    from storage.db import create_engine

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")

    async def fail() -> str:
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO nowhere VALUES (:draft)"), {"draft": DRAFT})
        except Exception as err:
            return str(err)
        finally:
            await engine.dispose()
        return ""

    message = asyncio.run(fail())
    assert "nowhere" in message and DRAFT not in message


def test_every_log_level_is_safe():
    """Link 5: tokens and secrets redacted; libraries' debug records withheld."""
    from bot.config import default_config

    config = default_config()
    config = config.model_copy(update={
        "telegram": config.telegram.model_copy(update={"token": "123456:" + "A" * 35,
                                                       "webhook_secret": "hook-secret-value"}),
        "security": config.security.model_copy(update={"secret_key": "the-secret-key-value"})})
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logs.Redact(logs.secrets_of(config)))
    for name, level, text in (
            ("telegram.ext", logging.DEBUG, f"update {{'from': {{'id': {REPORTER}}}, 'text': '{DRAFT}'}}"),
            ("httpx", logging.DEBUG, f"POST https://api.telegram.org/bot123456:{'A' * 35}/sendMessage"),
            ("redshield.web", logging.INFO, "webhook secret hook-secret-value; key the-secret-key-value"),
            ("redshield.x", logging.WARNING, "GET /gettoken?corpid=x&corpsecret=abcdef123&access_token=zz")):
        record = logging.LogRecord(name, level, __file__, 1, text, None, None)
        handler.handle(record)
    written = out.getvalue()
    for needle in (REPORTER, DRAFT, "A" * 35, "hook-secret-value", "the-secret-key-value",
                   "abcdef123", "access_token=zz"):
        assert needle not in written, needle
    assert "[redacted]" in written and logs.WITHHELD in written


async def test_the_shipped_postgresql_config_logs_no_bind_values():
    conf = (Path(__file__).resolve().parents[1] / "deploy" / "postgresql.conf.example").read_text()
    assert "log_parameter_max_length = 0" in conf
    assert "log_parameter_max_length_on_error = 0" in conf


async def test_secure_delete_is_on_for_sqlite(db):
    if db.backend != "sqlite":
        pytest.skip("a SQLite pragma")
    async with db.engine.connect() as conn:
        assert (await conn.execute(sa.text("PRAGMA secure_delete"))).scalar() == 1


async def test_a_lost_anonymous_draft_is_said_in_one_line(db, config, clock):
    """Ruling 1: the state need not survive a restart, but the reporter is told."""
    async with db.sessions() as s, s.begin():
        await f.zone(s, await f.project(s))
    first = TestBot(test_app(config, clock, db), platform="telegram")
    user = first.user(REPORTER)
    await user.say("/report")
    await user.photo(jpeg())
    question = await user.say("完成")
    assert "是哪个项目" in question
    restarted = TestBot(test_app(config, clock, db), platform="telegram")  # memory store: gone
    said = await restarted.user(REPORTER).tap("示例项目", question.choices)
    assert "匿名举报的草稿不存数据库" in said and "请重新开始" in said
