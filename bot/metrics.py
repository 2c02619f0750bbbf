"""Prometheus metrics, served at `GET /metrics` by every process's web server.

One process: the counters live in this module's registry. Several workers on one
machine: set `PROMETHEUS_MULTIPROC_DIR` (an empty directory, the same for all of
them, before they start) and prometheus-client's multiprocess mode keeps each
process's counters in files there; `/metrics` in any of them adds up all of them.
The outbox backlog is no counter: it is read from the database at each scrape, so
every process tells the same; so are the scheduler's lead and its jobs' last runs.

No label carries a person: platform, error code and message kind only; never a user
or chat id, a name or a command's arguments.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, exposition, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from storage.models import OutboxMessage, UTCDateTime

log = logging.getLogger("redshield.metrics")

__all__ = ["CONTENT_TYPE", "Backlog", "JobFact", "SchedulerFacts", "given_up", "handling", "limit_wait",
           "outbox_backlog", "outbox_backlog_in", "paused", "platform_error", "text"]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The classic text format, which every Prometheus reads (what generate_latest writes).
CONTENT_TYPE = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", exposition.CONTENT_TYPE_LATEST)

if os.environ.get(MULTIPROCESS_ENV):  # prometheus-client writes there, but does not make it
    with suppress(OSError):  # then recording fails, said once (_never_in_the_way)
        os.makedirs(os.environ[MULTIPROCESS_ENV], exist_ok=True)

# This process's own counters (in multiprocess mode their values go to the shared files).
REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES = Counter("redshield_updates_handled", "Platform updates (messages, taps) the engine handled",
                  ["platform"], registry=REGISTRY)
HANDLING = Histogram("redshield_update_handling_seconds", "Time the engine took to answer an update",
                     ["platform"], registry=REGISTRY,
                     buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
GIVEN_UP = Counter("redshield_outbox_given_up", "Outbox messages the delivery worker gave up on "
                   "(a permanent failure, or every attempt failed)", ["kind"], registry=REGISTRY)
PLATFORM_ERRORS = Counter("redshield_platform_errors", "Errors a chat platform answered: Telegram's error "
                          "class, WeCom's errcode, or http_<status> / a transport error",
                          ["platform", "code"], registry=REGISTRY)
LIMIT_WAIT = Histogram("redshield_limit_wait_seconds", "Time a message waited for the platform's "
                       "sending limits (0 when it went at once)", ["platform"], registry=REGISTRY,
                       buckets=(0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0))
PAUSES = Counter("redshield_limit_pauses", "Times a platform told us to slow down (Telegram's 429) "
                 "and every sender paused", ["platform"], registry=REGISTRY)


# ---- what the adapters and the delivery worker report


def limit_wait(platform: str, seconds: float) -> None:
    with _never_in_the_way():
        LIMIT_WAIT.labels(platform).observe(max(0.0, seconds))


def paused(platform: str) -> None:
    with _never_in_the_way():
        PAUSES.labels(platform).inc()


@contextmanager
def handling(platform: str) -> Iterator[None]:
    """Around `engine.handle`: one update handled, and how long it took."""
    start = time.perf_counter()
    try:
        yield
    finally:
        with _never_in_the_way():
            HANDLING.labels(platform).observe(time.perf_counter() - start)
            UPDATES.labels(platform).inc()


def platform_error(platform: str, code: object) -> None:
    with _never_in_the_way():
        PLATFORM_ERRORS.labels(platform, str(code)[:40]).inc()


def given_up(kind: str) -> None:
    with _never_in_the_way():
        GIVEN_UP.labels(kind[:40]).inc()


_failed = False


@contextmanager
def _never_in_the_way() -> Iterator[None]:
    """A metric that cannot be written (the multiprocess directory gone, say) is lost,
    said once in the log; the message it was about is handled all the same."""
    global _failed
    try:
        yield
    except Exception as err:
        if not _failed:
            _failed = True
            log.warning("metrics cannot be recorded (%s: %s); going on without them",
                        type(err).__name__, err)


# ---- the outbox backlog, read at scrape time


@dataclass(frozen=True)
class Backlog:
    due: int  # unsent, not given up, due now
    unsent: int  # unsent, not given up (due or waiting for their time)
    oldest_due_seconds: float  # since the longest-waiting due message became due; 0 if none


async def outbox_backlog(db: AsyncEngine, now: dt.datetime) -> Backlog:
    async with db.connect() as conn:
        return await outbox_backlog_in(conn, now)


async def outbox_backlog_in(conn: AsyncConnection | AsyncSession, now: dt.datetime) -> Backlog:
    """The backlog, read in a connection or session the caller holds (a job's)."""
    at = sa.bindparam("now", now, type_=UTCDateTime())
    pending = sa.and_(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
    due = OutboxMessage.next_attempt_at <= at
    stmt = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((due, 1), else_=0)), 0),
        sa.func.min(sa.case((due, OutboxMessage.next_attempt_at))),
    ).select_from(OutboxMessage).where(pending)
    unsent, due_count, oldest = (await conn.execute(stmt)).one()
    if isinstance(oldest, str):  # SQLite hands back an aggregate's datetime as text
        oldest = dt.datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return Backlog(int(due_count), int(unsent), age)


@dataclass(frozen=True)
class JobFact:
    name: str  # the job's registered name: no person in it
    since_last_run: float | None  # seconds; None: never ran
    missed: bool  # not run since a time it should have (bot.scheduler.job_states)


@dataclass(frozen=True)
class SchedulerFacts:
    lead_held: bool  # some process holds the scheduler lead (read from the database)
    leader: bool  # this process runs the scheduled jobs
    jobs: tuple[JobFact, ...] = ()


class _Snapshot:
    """Gauges computed before the scrape (the database is read asynchronously)."""

    def __init__(self, backlog: Backlog | None, scheduler: SchedulerFacts | None = None):
        self.backlog = backlog
        self.scheduler = scheduler

    def collect(self):
        up = GaugeMetricFamily("redshield_database_up", "1 when the database answered this scrape")
        up.add_metric([], 0.0 if self.backlog is None else 1.0)
        yield up
        if self.scheduler is not None:
            yield from self._scheduler(self.scheduler)
        if self.backlog is None:
            return
        for name, text, value in (
            ("redshield_outbox_due_messages", "Outbox messages due now and not sent", self.backlog.due),
            ("redshield_outbox_unsent_messages", "Outbox messages not sent and not given up",
             self.backlog.unsent),
            ("redshield_outbox_oldest_due_age_seconds", "Seconds since the longest-waiting due outbox "
             "message became due (0 when none is)", self.backlog.oldest_due_seconds),
        ):
            family = GaugeMetricFamily(name, text)
            family.add_metric([], float(value))
            yield family

    @staticmethod
    def _scheduler(facts: SchedulerFacts):
        held = GaugeMetricFamily("redshield_scheduler_lead_held", "1 when some process holds the "
                                 "scheduler lead and runs the jobs (read from the database)")
        held.add_metric([], 1.0 if facts.lead_held else 0.0)
        yield held
        leader = GaugeMetricFamily("redshield_scheduler_leader", "1 when this process runs the "
                                   "scheduled jobs and delivers the outbox")
        leader.add_metric([], 1.0 if facts.leader else 0.0)
        yield leader
        if not facts.jobs:
            return
        age = GaugeMetricFamily("redshield_job_last_run_age_seconds", "Seconds since each scheduled "
                                "job last ran (absent when it never ran)", labels=["job"])
        missed = GaugeMetricFamily("redshield_job_missed", "1 when a scheduled job has not run since "
                                   "a time it should have (plus a grace period)", labels=["job"])
        for job in facts.jobs:
            if job.since_last_run is not None:
                age.add_metric([job.name], max(0.0, job.since_last_run))
            missed.add_metric([job.name], 1.0 if job.missed else 0.0)
        yield age
        yield missed


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_ENV) or None


def text(backlog: Backlog | None, scheduler: SchedulerFacts | None = None) -> bytes:
    """The text format: every process's counters (this one's, or all of the directory's)
    and the backlog as just read (None: the database did not answer), with the scheduler's
    lead and jobs when known."""
    if multiprocess_dir():
        counters = CollectorRegistry()
        MultiProcessCollector(counters)
    else:
        counters = REGISTRY
    snapshot = CollectorRegistry(auto_describe=True)
    snapshot.register(_Snapshot(backlog, scheduler))
    return generate_latest(counters) + generate_latest(snapshot)
