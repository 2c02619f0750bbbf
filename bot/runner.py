"""`redshield run`: the adapters and web server (role web), the scheduler and the
delivery worker (role scheduler), or all of it in one process (role all).

Several web workers can share one PostgreSQL database behind a load balancer;
exactly one scheduler runs the jobs (the advisory lock decides, so starting two
is harmless). Telegram must use webhook mode then: only one process may poll.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import uvicorn

from bot.adapters.base import Adapter
from bot.app import build_engine
from bot.config import Config
from bot.core.engine import Engine
from bot.delivery import Deliverer
from bot.scheduler import Scheduler, jobs, weekly_report_job
from bot.web import build_web_app

log = logging.getLogger("redshield.run")

ROLES = ("all", "web", "scheduler")


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM once it has stopped serving, which would kill the
    process before the scheduler lock is released and the adapters are stopped;
    here the signal only asks the server to stop, and `serve` finishes the rest."""

    @contextlib.contextmanager
    def capture_signals(self):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def build_adapters(config: Config, engine: Engine) -> list[Adapter]:
    adapters: list[Adapter] = []
    if config.telegram_enabled:
        from bot.adapters.telegram import TelegramAdapter

        adapters.append(TelegramAdapter(config, engine))
    if config.wecom_enabled:
        from bot.adapters.wecom import WecomAdapter

        adapters.append(WecomAdapter(config, engine))
    return adapters


async def serve(config: Config, db_engine, sessions, *, role: str = "all", port: int | None = None,
                ready: asyncio.Event | None = None) -> None:
    """Run until SIGINT / SIGTERM; then finish what is in flight, give up the scheduler
    lock and stop every adapter."""
    web, scheduling = role in ("all", "web"), role in ("all", "scheduler")
    engine = build_engine(config, sessions)
    adapters = build_adapters(config, engine)
    deliverer = Deliverer(sessions, adapters, engine.media) if scheduling else None
    if deliverer is not None:
        async def wake() -> None:
            deliverer.wake.set()

        engine.on_outbox = wake
    # A web-only worker leaves what it queues to the scheduler's delivery worker.
    routes = [r for a in adapters for r in a.routes()] if web else []
    server = _Server(uvicorn.Config(build_web_app(db_engine, routes), host=config.server.host,
                                           port=port or config.server.port, log_level="warning",
                                           lifespan="off", timeout_graceful_shutdown=10))
    started: list[Adapter] = []
    stop = asyncio.Event()
    scheduler, delivering = None, None
    try:
        for adapter in adapters:
            await adapter.start(receive=web)
            started.append(adapter)
            log.info("%s adapter started (%s)", adapter.platform, "receiving" if web else "sending only")
        if scheduling:
            scheduler = Scheduler(config, db_engine, sessions, engine,
                                  jobs(config, weekly_report_job(config)))
            await scheduler.start()
            # One deliverer at a time (the leader): pacing holds, and leftover claims are its own.
            delivering = asyncio.create_task(
                deliverer.run_forever(stop, idle=2.0, allowed=lambda: scheduler.leader))
        log.info("role %s; web server on http://%s:%s", role, config.server.host,
                 port or config.server.port)
        if ready is not None:
            ready.set()
        await server.serve()
    finally:
        if scheduler is not None:
            await scheduler.stop()
        stop.set()
        if delivering is not None:
            deliverer.wake.set()
            await delivering
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
        log.info("stopped")
