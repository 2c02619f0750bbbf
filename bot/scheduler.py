"""The scheduler: APScheduler's AsyncIOScheduler runs the jobs at the configured
times; each job computes notices and writes them to the outbox (the delivery
worker sends them).

Exactly one process runs the jobs: on PostgreSQL the one holding an advisory
lock, on SQLite the only process there is. A job missed while the bot was down
runs once at start-up if its time passed less than GRACE ago (coalesced).
"""
from __future__ import annotations

import datetime as dt
import logging
import zlib
from dataclasses import dataclass
from typing import Awaitable, Callable

import sqlalchemy as sa
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Config, DailyTime, WeeklyTime
from bot.core.engine import Engine, utcnow
from handlers import reminders, violation
from handlers.patrol import close_forgotten
from handlers.team import close_forgotten_team
from storage import dedup, outbox
from storage.models import JobRun
from storage.upsert import insert_for

log = logging.getLogger("redshield.scheduler")

LOCK_KEY = 0x52534844  # "RSHD": the advisory lock the scheduling process holds


def lock_key(schema: str | None) -> int:
    """One lock per deployment: deployments in other schemas of the database do not wait."""
    return (LOCK_KEY << 32) | zlib.crc32((schema or "public").encode())
GRACE = dt.timedelta(hours=6)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Work = Callable[[AsyncSession, dt.datetime], Awaitable[list]]


@dataclass(frozen=True)
class Job:
    name: str
    trigger: BaseTrigger
    work: Work
    catch_up: bool = True  # run once at start-up if its last time was missed


def weekly(t: WeeklyTime, tz) -> CronTrigger:
    return CronTrigger(day_of_week=DAYS[t.weekday], hour=t.hour, minute=t.minute, timezone=tz)


def daily(t: DailyTime, tz) -> CronTrigger:
    return CronTrigger(hour=t.hour, minute=t.minute, timezone=tz)


def jobs(config: Config, weekly_reports: Work | None = None) -> list[Job]:
    tz, sched = config.tz, config.schedule
    out = []
    for i, at in enumerate(sched.personal_reminders):
        slot = f"{DAYS[at.weekday]}{at.hour:02d}{at.minute:02d}"
        out.append(Job(f"remind_personal_{i}", weekly(at, tz),
                       lambda s, now, slot=slot: reminders.personal_reminders(s, now, config, slot)))
    out += [
        Job("remind_team", weekly(sched.team_reminder, tz),
            lambda s, now: reminders.team_reminders(s, now, config)),
        Job("overdue_hazards", daily(sched.overdue_check, tz),
            lambda s, now: reminders.overdue_notices(s, now, config)),
        Job("close_forgotten", IntervalTrigger(minutes=sched.close_forgotten_every_minutes),
            lambda s, now: _close_forgotten(s, now, config), catch_up=False),
        Job("violation_notices", IntervalTrigger(minutes=1),
            lambda s, now: violation.due_officer_notices(s, now, config), catch_up=False),
        Job("retention", daily(sched.retention_cleanup, tz),
            lambda s, now: _retention(s, now, config)),
    ]
    if weekly_reports is not None:
        out.append(Job("weekly_report", weekly(sched.weekly_report, tz), weekly_reports))
    return out


def weekly_report_job(config: Config) -> Work:
    """Monday's report of the week before, to secretaries, safety officers and the committee."""
    async def work(session, now):
        from handlers.weekly_report import weekly_report_notices

        return await weekly_report_notices(session, now, config)

    return work


async def _close_forgotten(session, now, config) -> list:
    await close_forgotten_team(session, now, config)
    return await close_forgotten(session, now, config)


async def _retention(session, now, config) -> list:
    await violation.purge(session, now, config)
    await dedup.forget_before(session, now - dt.timedelta(days=7))  # redeliveries come in minutes
    return []


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
        now = self.clock()
        try:
            async with self.sessions() as session, session.begin():
                notices = await work(session, now)
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

