"""The project's own web app: platform webhooks mount their routes here, plus /healthz,
/readyz and /metrics (Prometheus).

- `/healthz`: the process lives and answers HTTP (200, nothing else is checked).
- `/readyz`: everything this process needs works: the database, Redis when configured,
  each platform's token, some process holding the scheduler lead, and the oldest due
  outbox message younger than `[ops] outbox_max_age_minutes`. 200 with each check's
  result, or 503 naming the failing ones.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot import metrics
from bot.core.engine import utcnow
from bot.scheduler import job_states, lead_held

if TYPE_CHECKING:
    from bot.config import Config
    from bot.core.registry import Job
    from bot.scheduler import Scheduler

log = logging.getLogger("redshield.web")

CHECK_TIMEOUT = 5.0  # seconds for each check; a probe must answer before the prober gives up
TOKEN_OK_FOR = 60.0  # seconds a platform token that worked is taken as good (no call per probe)
OK = "ok"


class Readiness:
    """The checks of /readyz, and the scheduler's facts /metrics shows.

    `config` None: the database only (an app built without a configuration). `scheduler`:
    this process's, when it runs one (on SQLite the lead is that scheduler's). `jobs`: every
    job the scheduler runs, to tell the ones that missed their run (metrics, not readiness:
    a late weekly report is no reason to take a web worker out of service)."""

    def __init__(self, db: AsyncEngine, config: Config | None = None, *, adapters: Sequence[Any] = (),
                 scheduler: Scheduler | None = None, jobs: Sequence[Job] = (),
                 clock: Callable[[], dt.datetime] = utcnow,
                 monotonic: Callable[[], float] = time.monotonic):
        self.db = db
        self.config = config
        self.adapters = list(adapters)
        self.scheduler = scheduler
        self.jobs = list(jobs)
        self.clock = clock
        self.monotonic = monotonic
        self._token_ok_until: dict[str, float] = {}

    # ---- /readyz

    async def check(self) -> dict[str, str]:
        """{check: "ok" or what is wrong}. The database first: what reads it is not asked
        when it does not answer."""
        independent: dict[str, Callable[[], Awaitable[None]]] = {}
        if self.config is not None and self.config.redis_url:
            independent["redis"] = self._redis
        for adapter in self.adapters:
            if getattr(adapter, "platform", None) in ("telegram", "wecom"):
                independent[adapter.platform] = lambda a=adapter: self._token(a)
        others = asyncio.gather(*(_run(name, fn) for name, fn in independent.items()))
        results = {"database": await _run("database", self._database)}
        if results["database"] == OK and self.config is not None:
            results["scheduler_lead"] = await _run("scheduler_lead", self._lead)
            results["outbox"] = await _run("outbox", self._outbox)
        results.update(zip(independent, await others, strict=True))
        return results

    async def _database(self) -> None:
        async with self.db.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def _redis(self) -> None:
        import redis.asyncio as redis

        client = redis.from_url(self.config.redis_url, socket_timeout=CHECK_TIMEOUT,
                                socket_connect_timeout=CHECK_TIMEOUT)
        try:
            await client.ping()
        finally:
            await client.aclose()

    async def _token(self, adapter) -> None:
        """Telegram: getMe; WeCom: an access token (cached by the client, in Redis when
        several workers share it). A success holds for a minute."""
        platform = adapter.platform
        if self.monotonic() < self._token_ok_until.get(platform, float("-inf")):
            return
        try:
            if platform == "telegram":
                await adapter.app.bot.get_me()
            else:
                await adapter.client.access_token()
        except Exception as err:
            raise _Failed(_platform_reason(err)) from None
        self._token_ok_until[platform] = self.monotonic() + TOKEN_OK_FOR

    async def _lead(self) -> None:
        if not await lead_held(self.db, self.config.database.schema or None, self.scheduler):
            raise _Failed("no process holds the scheduler lead: is `redshield run --role scheduler` "
                          "(or --role all) running?")

    async def _outbox(self) -> None:
        backlog = await metrics.outbox_backlog(self.db, self.clock())
        limit = self.config.ops.outbox_max_age_minutes * 60
        if backlog.oldest_due_seconds > limit:
            raise _Failed(f"the oldest due message has waited {backlog.oldest_due_seconds:.0f} s "
                          f"(limit {limit} s); {backlog.due} due")

    # ---- /metrics

    async def scheduler_facts(self) -> metrics.SchedulerFacts | None:
        """The lead and each job's last run, read from the database (None without a
        configuration, or when the database does not answer)."""
        if self.config is None:
            return None
        now = self.clock()
        held = await lead_held(self.db, self.config.database.schema or None, self.scheduler)
        jobs: tuple[metrics.JobFact, ...] = ()
        if self.jobs:
            async with self.db.connect() as conn:
                states = await job_states(conn, self.jobs, now)
            jobs = tuple(metrics.JobFact(s.name, (now - s.last_run).total_seconds()
                                         if s.last_run is not None else None, s.missed)
                         for s in states)
        leader = self.scheduler is not None and self.scheduler.leader
        return metrics.SchedulerFacts(held, leader, jobs)


class _Failed(Exception):
    """A check's own words for what is wrong."""


async def _run(name: str, check: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except _Failed as err:
        reason = str(err)
    except TimeoutError:
        reason = f"no answer within {CHECK_TIMEOUT:.0f} s"
    except Exception as err:  # any failure means: not ready; the class names it, no values
        reason = f"unreachable: {type(err).__name__}"
    else:
        return OK
    log.warning("readiness: %s: %s", name, reason)
    return reason


def _platform_reason(err: Exception) -> str:
    errcode = getattr(err, "errcode", None)  # the WeCom client's WecomError
    if errcode is not None:
        return f"refused: errcode {errcode}"
    name = type(err).__name__
    if name in ("InvalidToken", "Forbidden", "Unauthorized"):  # Telegram's 401 / 403
        return f"refused: {name}"
    return f"unreachable: {name}"


def build_web_app(db: AsyncEngine | None, routes: list[BaseRoute], *,
                  clock: Callable[[], dt.datetime] = utcnow,
                  readiness: Readiness | None = None) -> Starlette:
    """`readiness`: what /readyz checks and /metrics adds about the scheduler; without it
    /readyz checks the database only."""
    if readiness is None and db is not None:
        readiness = Readiness(db, clock=clock)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def readyz(request: Request) -> JSONResponse:
        if readiness is None:
            return JSONResponse({"ok": False, "failing": ["database"],
                                 "checks": {"database": "not configured"}}, status_code=503)
        checks = await readiness.check()
        failing = [name for name, result in checks.items() if result != OK]
        return JSONResponse({"ok": not failing, "failing": failing, "checks": checks},
                            status_code=503 if failing else 200)

    async def metrics_page(request: Request) -> Response:
        backlog = facts = None
        if db is not None:
            try:
                backlog = await metrics.outbox_backlog(db, clock())
                facts = await readiness.scheduler_facts()
            except Exception as err:  # the counters are still worth serving
                log.warning("metrics: database unreachable: %s", type(err).__name__)
        return Response(metrics.text(backlog, facts), media_type=metrics.CONTENT_TYPE)

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]),
                             Route("/readyz", readyz, methods=["GET"]),
                             Route("/metrics", metrics_page, methods=["GET"]), *routes])
