"""Documents made after the step commits (contract.Deferred): the 整改通知书 is laid out
once the hazard and its number are committed, on a worker thread, never on the event
loop; the notices for other people keep only what makes it, and the deliverer makes it
when it sends them."""
from __future__ import annotations

import asyncio
import io
import logging
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from bot.core import serialize
from bot.core.contract import Deferred, Document, Text
from bot.delivery import Deliverer
from handlers.hazard import common
from storage import hazards as hazard_store
from storage.models import Hazard, Member, OutboxMessage
from tests import factories as f
from tests.chatbot import Inbox, hazard_until

NUMBER = "红盾整改〔2026〕0001号"


@pytest.fixture
async def site(db):
    return await f.hazard_site(db)


def pdf_text(doc: Document) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(doc.data)).pages)


def pdfs_in(config) -> list[Path]:
    return [p for p in Path(config.media.dir).rglob("*.pdf") if p.is_file()]


async def test_the_notice_is_made_after_commit_on_a_worker_thread(chat, site, db, monkeypatch):
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    real = common.render_notice
    seen = []

    async def from_outside() -> tuple[int, int | None]:
        """What another connection sees while the PDF is laid out: the hazard, and a
        counter it can take (the step's transaction is over; nothing holds the row)."""
        async with db.sessions() as s:
            projects = (await s.execute(sa.select(Hazard.project_id))).scalars().all()
        async with db.sessions() as s:
            taken = await hazard_store.next_number(s, projects[0], 2026) if projects else None
            await s.rollback()  # only trying
        return len(projects), taken

    def watched(*args, **kwargs) -> bytes:
        # Run on the loop from this thread: it answers only if the loop is free.
        outside = asyncio.run_coroutine_threadsafe(from_outside(), loop).result(timeout=10)
        seen.append((threading.get_ident(), outside))
        return real(*args, **kwargs)

    monkeypatch.setattr(common, "render_notice", watched)
    said = await hazard_until(chat.user("u1"))
    assert "已登记：" + NUMBER in said
    doc = next(r for r in said.replies if isinstance(r, Document))
    assert NUMBER in pdf_text(doc)
    notice = chat.notices(site["crew"])
    assert NUMBER in pdf_text(next(r for r in notice.replies if isinstance(r, Document)))
    assert len(seen) == 2  # the reporter's notice, and the assignee's
    for thread, (committed, taken) in seen:
        assert thread != loop_thread
        assert committed == 1 and taken == 2


async def test_the_assignees_notice_waits_in_the_outbox_as_what_makes_it(chat, site, engine, config):
    engine.on_outbox = None  # held in the outbox: delivered by hand below
    said = await hazard_until(chat.user("u1"))
    assert any(isinstance(r, Document) for r in said.replies)  # the reporter's, made at once
    async with engine.sessions() as s:
        [row] = (await s.execute(sa.select(OutboxMessage))).scalars().all()
        [hazard] = (await s.execute(sa.select(Hazard))).scalars().all()
    assert row.member_id == site["crew"] and row.sent_at is None
    assert [item["type"] for item in row.payload] == ["text", "deferred", "choices"]
    deferred = row.payload[1]
    assert deferred["renderer"] == "hazard_notice" and deferred["args"] == [hazard.id]
    assert deferred["locale"] == "zh_CN" and "/hazard 2026-1" in deferred["fallback"]
    assert "media" not in deferred and pdfs_in(config) == []  # no file: nothing to lose or leak
    assert await serialize.load(row.payload, engine.media) == [
        Text(row.payload[0]["text"]),
        Deferred("hazard_notice", (hazard.id,), "zh_CN", deferred["fallback"]),
        (await serialize.load([row.payload[2]], engine.media))[0]]

    await chat.deliver()  # the deliverer bootstrap wires, with the engine's resolve
    notice = chat.notices(site["crew"])
    doc = next(r for r in notice.replies if isinstance(r, Document))
    assert doc.filename == "hazard-2026-0001.pdf" and NUMBER in pdf_text(doc)
    assert notice.buttons == ["开始整改", "提交整改"]
    async with engine.sessions() as s:
        [row] = (await s.execute(sa.select(OutboxMessage))).scalars().all()
    assert row.sent_at is not None and pdfs_in(config) == []


async def test_a_deliverer_without_the_engine_never_hands_a_deferred_to_an_adapter(
        chat, site, engine, db, clock):
    engine.on_outbox = None
    await hazard_until(chat.user("u1"))
    inbox = Inbox(db.sessions)
    await Deliverer(db.sessions, [inbox], engine.media, clock=clock).run_once()
    assert inbox.received == {}
    async with db.sessions() as s:
        [row] = (await s.execute(sa.select(OutboxMessage))).scalars().all()
    assert row.failed_at is not None and "TypeError" in row.last_error


async def test_a_notice_that_cannot_be_made_is_said_and_the_hazard_stays(chat, site, db, monkeypatch,
                                                                         caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("font missing")

    monkeypatch.setattr(common, "render_notice", broken)
    with caplog.at_level(logging.ERROR, logger="redshield.engine"):
        said = await hazard_until(chat.user("u1"))
    assert "已登记：" + NUMBER in said and "出错了" not in said
    assert "整改通知书暂时无法生成，请稍后发送 /hazard 2026-1 重新获取（错误编号 " in said
    assert not any(isinstance(r, Document) for r in said.replies)
    error_id = said.replies[-1].text.split("错误编号 ")[1][:8]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and all(name not in r.getMessage() for r in logged for name in ("张三", "u1", "赵强"))

    notice = chat.notices(site["crew"])  # the assignee is told the same, and still gets the buttons
    assert "重新获取" in notice and notice.buttons == ["开始整改", "提交整改"]
    async with db.sessions() as s:
        [hazard] = (await s.execute(sa.select(Hazard))).scalars().all()
        [row] = (await s.execute(sa.select(OutboxMessage))).scalars().all()
    assert hazard.notice_number == NUMBER and row.sent_at is not None

    monkeypatch.undo()  # fixed: the way the reader was told gives the notice
    again = await chat.user("u2").say("/hazard 2026-1")
    assert NUMBER in pdf_text(next(r for r in again.replies if isinstance(r, Document)))


async def test_an_english_reader_is_told_in_english(chat, site, db, monkeypatch):
    async with db.sessions() as s, s.begin():
        await s.execute(sa.update(Member).where(Member.id == site["crew"]).values(locale="en"))

    def broken(*args, **kwargs):
        raise RuntimeError("font missing")

    monkeypatch.setattr(common, "render_notice", broken)
    await hazard_until(chat.user("u1"))
    notice = chat.notices(site["crew"])
    assert "send /hazard 2026-1 a little later to get it (error " in notice
