"""The delivery worker: sends what the outbox holds through the adapters of the
platforms each member uses (which keep the platforms' limits), and marks each
message sent, to be retried, or failed for good.

Delivery is at least once: a worker killed after a platform accepted a message
but before it was marked sent leaves a claim that another worker takes over
after a few minutes and sends again (WeCom's duplicate check absorbs that;
on Telegram the window is the few milliseconds between the two).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot import metrics
from bot.adapters.base import Adapter, DeliveryFailed
from bot.core import serialize
from bot.core.engine import utcnow
from storage import outbox
from storage.media import MediaStore
from storage.models import Identity, Member, OutboxMessage

log = logging.getLogger("redshield.delivery")

MAX_ATTEMPTS = 8
BACKOFF = (5, 15, 60, 300, 900, 1800, 3600)  # seconds before attempt 2, 3, ...


async def addresses(sessions: async_sessionmaker, member_ids: set[int]) -> dict[int, list[tuple[str, str]]]:
    """member id -> [(platform, external id)] of every reachable account."""
    out: dict[int, list[tuple[str, str]]] = {m: [] for m in member_ids}
    if not member_ids:
        return out
    async with sessions() as s:
        rows = await s.execute(sa.select(Identity.member_id, Identity.platform, Identity.external_id)
                               .where(Identity.member_id.in_(member_ids),
                                      Identity.unreachable_since.is_(None)))
        for member_id, platform, external_id in rows:
            out[member_id].append((platform, external_id))
        # An imported userid, unless WeCom said it is invalid (mark_unreachable records
        # that as a marked wecom account): the same truth as unreachable_members.
        marked = sa.select(Identity.id).where(
            Identity.platform == "wecom", Identity.external_id == Member.wecom_userid,
            Identity.unreachable_since.is_not(None)).exists()
        wecom = await s.execute(sa.select(Member.id, Member.wecom_userid)
                                .where(Member.id.in_(member_ids), Member.wecom_userid.is_not(None), ~marked))
        for member_id, userid in wecom:
            if ("wecom", userid) not in out[member_id]:
                out[member_id].append(("wecom", userid))
    return out


class Deliverer:
    def __init__(self, sessions: async_sessionmaker, adapters: list[Adapter], media: MediaStore,
                 clock: Callable[[], dt.datetime] = utcnow, batch: int = 200, concurrency: int = 32,
                 resolve: Callable | None = None):
        self.sessions = sessions
        # Makes the deferred documents a notice holds (the engine's resolve, wired by bootstrap).
        self.resolve = resolve or serialize.as_stored
        self.adapters = {a.platform: a for a in adapters}
        self.media = media
        self.clock = clock
        self.batch = batch
        self.concurrency = asyncio.Semaphore(concurrency)
        # Documents made at delivery (notice PDFs) each hold a database session and a
        # worker thread: a backlog of a whole batch must not take the pool at once.
        self.making = asyncio.Semaphore(4)
        self.wake = asyncio.Event()

    async def run_once(self) -> int:
        """Send everything due now; returns how many messages were handled."""
        handled = 0
        while True:
            async with self.sessions() as s, s.begin():
                rows = await outbox.claim(s, self.clock(), self.batch)
            if not rows:
                return handled
            where = await addresses(self.sessions, {r.member_id for r in rows})
            await asyncio.gather(*(self._send(r, where.get(r.member_id, [])) for r in rows))
            handled += len(rows)

    async def run_forever(self, stop: asyncio.Event, idle: float = 5.0,
                          allowed: Callable[[], bool] = lambda: True) -> None:
        """Deliver until `stop`; only while `allowed()` (the process leads the schedulers)."""
        while not stop.is_set():
            try:
                if allowed():
                    await self.run_once()
            except Exception:
                log.exception("delivery round failed; trying again shortly")
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), idle)
            except TimeoutError:
                pass

    async def _send(self, row: OutboxMessage, targets: list[tuple[str, str]]) -> None:
        targets = [(p, x) for p, x in targets if p in self.adapters]
        outcome, error = "failed", "no reachable account"
        if targets:
            try:
                stored = await serialize.load(row.payload, self.media)
                async with self.making:
                    replies = await self.resolve(stored)
            except Exception as err:  # a stored message that cannot be read will never send
                replies, error = None, f"unreadable: {type(err).__name__}"
            if replies is not None:
                outcome, error = await self._to_targets(replies, targets)
        async with self.sessions() as s, s.begin():
            fresh = await s.get(OutboxMessage, row.id, with_for_update=True)
            now = self.clock()
            fresh.attempts += 1
            if outcome == "sent":
                fresh.sent_at = now
            elif outcome == "retry" and fresh.attempts < MAX_ATTEMPTS:
                delay = BACKOFF[min(fresh.attempts - 1, len(BACKOFF) - 1)]
                fresh.next_attempt_at, fresh.claimed_at = now + dt.timedelta(seconds=delay), None
                fresh.last_error = error[:300]
            else:
                fresh.failed_at, fresh.last_error = now, error[:300]
                log.warning("outbox message %s (%s) given up: %s", row.id, row.kind, error)
        if fresh.failed_at is not None:  # counted once the give-up is committed
            metrics.given_up(row.kind)

    async def _to_targets(self, replies, targets) -> tuple[str, str]:
        sent, retry, errors = False, False, []
        for platform, external_id in targets:
            async with self.concurrency:  # the adapter waits for the platform's limits
                try:
                    await self.adapters[platform].deliver(external_id, replies)
                    sent = True
                except DeliveryFailed as err:
                    retry = retry or not err.permanent
                    errors.append(f"{platform}: {err}")
                except Exception as err:  # unknown trouble: worth another try later
                    retry = True
                    errors.append(f"{platform}: {type(err).__name__}")
                    log.exception("delivery on %s failed", platform)
        if sent:
            return "sent", ""
        return ("retry" if retry else "failed"), "; ".join(errors)
