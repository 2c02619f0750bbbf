"""The scheduler: APScheduler's AsyncIOScheduler runs the jobs at the configured
times; each job computes notices and writes them to the outbox (the delivery
worker sends them).

Exactly one process runs the jobs: on PostgreSQL the one holding an advisory
lock, on SQLite the only process there is. A job missed while the bot was down
runs once at start-up if its time passed less than GRACE ago (coalesced).

Any process can tell whether some process leads (`lead_held`) and which jobs missed
their run (`job_states`): /readyz, /metrics and the chat alerts ask.
"""
from __future__ import annotations

import datetime as dt
import logging
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot import limits
from bot.config import Config, DailyTime, WeeklyTime
from bot.core.engine import Engine, utcnow
from bot.core.registry import Job, Work
from storage import dedup, dialogs, outbox
from storage.models import JobRun
from storage.upsert import insert_for

log = logging.getLogger("redshield.scheduler")

LOCK_KEY = 0x52534844  # "RSHD": the advisory lock the scheduling process holds


def lock_key(schema: str | None) -> int:
    """One lock per deployment: deployments in other schemas of the database do not wait."""
    return (LOCK_KEY << 32) | zlib.crc32((schema or "public").encode())


GRACE = dt.timedelta(hours=6)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# ---- triggers, for capabilities registering jobs (registry.job)


def weekly(t: WeeklyTime, tz) -> CronTrigger:
    return CronTrigger(day_of_week=DAYS[t.weekday], hour=t.hour, minute=t.minute, timezone=tz)


def daily(t: DailyTime, tz) -> CronTrigger:
    return CronTrigger(hour=t.hour, minute=t.minute, timezone=tz)


def every(minutes: int) -> IntervalTrigger:
    return IntervalTrigger(minutes=minutes)


async def housekeeping(session, now: dt.datetime, config: Config) -> list:
    """The runtime's own tables: de-duplication marks (redeliveries come within minutes),
    dialogs left to expire (an open question may hold what a member typed) and the
    platform-wide sending limits' rows past their use."""
    await dedup.forget_before(session, now - dt.timedelta(days=7))
    await dialogs.purge_expired(session, now)
    await limits.forget_old(session, now.timestamp())
    return []


def runtime_jobs(config: Config) -> list[Job]:
    return [Job("housekeeping", daily(config.schedule.retention_cleanup, config.tz), housekeeping)]


def slot_name(t: WeeklyTime) -> str:
    """A weekly time as a short stable name, e.g. thu1800 (for job names and outbox keys)."""
    return f"{DAYS[t.weekday]}{t.hour:02d}{t.minute:02d}"


class Scheduler:
    def __init__(self, config: Config, db: AsyncEngine, sessions: async_sessionmaker,
                 engine: Engine, job_list: list[Job], clock: Callable[[], dt.datetime] = utcnow):
        self.config = config
        self.db = db
        self.sessions = sessions
        self.engine = engine
        self.jobs = {j.name: j for j in job_list}
        self.clock = clock
        self.leader = False
        self.lock = lock_key(config.database.schema)
        self._lock_conn = None
        self._aps: AsyncIOScheduler | None = None

    # ---- leadership

    async def try_lead(self) -> bool:
        """Become the scheduling process if nobody else is."""
        if self.leader:
            return True
        if self.db.dialect.name != "postgresql":
            self.leader = True
            return True
        # Its own connection, outside any transaction, held as long as we lead.
        conn = await self.db.connect()
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        got = (await conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"),
                                  {"k": self.lock})).scalar()
        if got:
            self._lock_conn, self.leader = conn, True  # the lock lives as long as this connection
            log.info("this process runs the scheduled jobs")
        else:
            await conn.close()
        return self.leader

    async def release(self) -> None:
        if self._lock_conn is not None:
            try:
                await self._lock_conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"),
                                              {"k": self.lock})
                await self._lock_conn.close()
            except Exception:  # the connection died (a database restart): so did the lock
                log.info("the scheduler lock's connection was gone already")
                await self._lock_conn.invalidate()
            finally:
                self._lock_conn, self.leader = None, False

    # ---- running

    async def run_job(self, name: str) -> int:
        """Run one job now (if this process leads); returns how many notices were new."""
        return await self.run(name, self.jobs[name].work)

    async def run(self, name: str, work: Work) -> int:
        if not await self.try_lead():
            return 0
        return await self.run_once(name, work)

    async def run_once(self, name: str, work: Work) -> int:
        """Run the work once, now, in its own transaction, and queue its notices, whether or
        not this process leads (an operator's `--now`: notices' keys keep a message from going
        out twice). Returns how many notices were new."""
        now = self.clock()
        try:
            async with self.sessions() as session, session.begin():
                notices = await work(session, now, self.config)
                new = await self.engine.enqueue(session, notices, now) if notices else 0
                await self._mark_run(session, name, now)
        except Exception:
            log.exception("scheduled job %s failed", name)
            return 0
        if new:
            log.info("job %s queued %d messages", name, new)
            if self.engine.on_outbox is not None:
                await self.engine.on_outbox()
        return new

    async def catch_up(self) -> list[str]:
        """Run once each job whose last time passed while no process was running it."""
        now, ran = self.clock(), []
        async with self.sessions() as session:
            last = dict((await session.execute(sa.select(JobRun.job, JobRun.last_run_at))).all())
        for job in self.jobs.values():
            if not job.catch_up:
                continue
            due = previous_fire(job.trigger, now)
            if due is None or now - due > GRACE:
                continue
            if last.get(job.name) is None or last[job.name] < due:
                log.info("job %s missed at %s: running it now", job.name, due.isoformat())
                await self.run_job(job.name)
                ran.append(job.name)
        return ran

    async def _mark_run(self, session, name: str, now: dt.datetime) -> None:
        stmt = (insert_for(session, JobRun).values(job=name, last_run_at=now)
                .on_conflict_do_update(index_elements=["job"], set_={"last_run_at": now}))
        await session.execute(stmt)

    async def start(self) -> None:
        """Start APScheduler in the running loop; keep trying to lead if another process does."""
        self._aps = AsyncIOScheduler(timezone=self.config.tz)
        for job in self.jobs.values():
            self._aps.add_job(self.run_job, job.trigger, args=[job.name], id=job.name,
                              coalesce=True, max_instances=1, misfire_grace_time=300)
        self._aps.add_job(self._lead_and_catch_up, IntervalTrigger(seconds=30), id="lead",
                          coalesce=True, max_instances=1, next_run_time=dt.datetime.now(self.config.tz))
        self._aps.start()

    async def _still_leading(self) -> bool:
        """The lock lives with its connection: if that died (a database restart), so did
        the lead, and another process may hold the lock now."""
        if self._lock_conn is None:
            return self.leader
        try:
            await self._lock_conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:
            log.warning("the scheduler lock's connection died; trying to lead again")
            await self.release()
            return False

    async def _lead_and_catch_up(self) -> None:
        await self._still_leading()
        was = self.leader
        if await self.try_lead() and not was:
            async with self.sessions() as session, session.begin():
                # Only the leader delivers: claims left over belong to a process that died.
                released = await outbox.release_claims(session)
            if released:
                log.info("%d messages a stopped process was sending go out again", released)
            if self.engine.on_outbox is not None:
                await self.engine.on_outbox()
            await self.catch_up()

    async def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        await self.release()


def previous_fire(trigger: BaseTrigger, now: dt.datetime) -> dt.datetime | None:
    """The last time the trigger fired before `now` (within eight days), for catching up."""
    if not isinstance(trigger, CronTrigger):
        return None
    fire, last = trigger.get_next_fire_time(None, now - dt.timedelta(days=8)), None
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(seconds=1))
    return last



# ---- what any process can tell about the scheduling (for /readyz, /metrics, alerts)


async def lead_held(db: AsyncEngine, schema: str | None, scheduler: Scheduler | None = None) -> bool:
    """Whether some process holds the scheduler lead. PostgreSQL: the advisory lock is
    held by a session of this database (pg_locks shows every process's locks); SQLite has
    one process, so it is this process's `scheduler`, if it runs one and leads."""
    if db.dialect.name != "postgresql":
        return scheduler is not None and scheduler.leader
    key = lock_key(schema)
    # A bigint advisory key shows as classid (high 32 bits), objid (low 32 bits), objsubid 1.
    stmt = sa.text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                   " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                   " AND classid = CAST(:hi AS oid) AND objid = CAST(:lo AS oid) AND objsubid = 1)")
    async with db.connect() as conn:
        return bool((await conn.execute(stmt, {"hi": key >> 32, "lo": key & 0xFFFFFFFF})).scalar())


# A job counts as missed when it has not run LATE after a time it should have run at.
LATE = dt.timedelta(minutes=10)
CLOCK_SLACK = dt.timedelta(minutes=1)  # processes' clocks and a run's start may differ a little


@dataclass(frozen=True)
class JobState:
    name: str
    last_run: dt.datetime | None  # None: never ran (as far as job_runs knows)
    due: dt.datetime | None  # it should have run at or after this, by now; None: nothing to tell
    missed: bool


def should_have_run_since(trigger: BaseTrigger, now: dt.datetime,
                          late: dt.timedelta = LATE) -> dt.datetime | None:
    """The time by which the job's last run should be, judged `late` after its fire time:
    a cron job's previous fire time (within eight days), an interval job's one interval
    before that; None for other triggers."""
    at = now - late
    if isinstance(trigger, CronTrigger):
        return previous_fire(trigger, at)
    if isinstance(trigger, IntervalTrigger):
        return at - trigger.interval
    return None


async def job_states(conn: AsyncConnection | AsyncSession, jobs: Iterable[Job],
                     now: dt.datetime) -> list[JobState]:
    """Each job's last run (job_runs) against the time it should have run by. A job that
    never ran is missed only when some job ran before that time (the scheduler was there:
    a new deployment is not late)."""
    jobs = list(jobs)
    rows = dict((await conn.execute(sa.select(JobRun.job, JobRun.last_run_at))).all())
    runs = [rows[j.name] for j in jobs if rows.get(j.name) is not None]
    first_seen = min(runs) if runs else None
    states = []
    for job in jobs:
        last, due = rows.get(job.name), should_have_run_since(job.trigger, now)
        seen = last if last is not None else first_seen
        missed = due is not None and seen is not None and seen < due - CLOCK_SLACK
        states.append(JobState(job.name, last, due, missed))
    return states
