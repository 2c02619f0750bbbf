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
from bot.bootstrap import App, bootstrap
from bot.config import Config
from bot.core.registry import Registry
from bot.web import Readiness, build_web_app

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


async def serve(config: Config, registry: Registry, *, role: str = "all", port: int | None = None,
                ready: asyncio.Event | None = None) -> None:
    """Run until SIGINT / SIGTERM; then finish what is in flight, give up the scheduler
    lock and stop every adapter."""
    web, scheduling = role in ("all", "web"), role in ("all", "scheduler")
    # A web-only worker leaves what it queues to the scheduler's delivery worker.
    app = bootstrap(config, registry=registry, delivery="background" if scheduling else "none")
    try:
        # A schema at another revision than the code's is refused here (the message names
        # `redshield migrate`); only an empty database is created.
        await app.open()
        await _serve(app, web, scheduling, port, ready)
    finally:
        await app.close()


async def _serve(app: App, web: bool, scheduling: bool, port: int | None,
                 ready: asyncio.Event | None) -> None:
    config, adapters = app.config, app.adapters
    routes = [r for a in adapters for r in a.routes()] if web else []
    # /readyz: this process's adapters' tokens, and (on SQLite) its own scheduler's lead.
    readiness = Readiness(app.db, config, adapters=adapters, scheduler=app.scheduler if scheduling else None,
                          jobs=list(app.scheduler.jobs.values()), clock=app.clock)
    web_app = build_web_app(app.db, routes, clock=app.clock, readiness=readiness)
    server = _Server(uvicorn.Config(web_app, host=config.server.host,
                                    port=port or config.server.port, log_level="warning",
                                    lifespan="off", timeout_graceful_shutdown=10))
    started: list[Adapter] = []
    stop = asyncio.Event()
    scheduler, delivering = app.scheduler if scheduling else None, None
    try:
        for adapter in adapters:
            await adapter.start(receive=web)
            started.append(adapter)
            log.info("%s adapter started (%s)", adapter.platform, "receiving" if web else "sending only")
        if scheduler is not None:
            await scheduler.start()
            # One deliverer at a time (the leader): pacing holds, and leftover claims are its own.
            delivering = asyncio.create_task(
                app.deliverer.run_forever(stop, idle=2.0, allowed=lambda: scheduler.leader))
        log.info("role %s; web server on http://%s:%s", "all" if web and scheduling else
                 "web" if web else "scheduler", config.server.host, port or config.server.port)
        if ready is not None:
            ready.set()
        await server.serve()
    finally:
        if scheduler is not None:
            await scheduler.stop()
        stop.set()
        if delivering is not None:
            app.deliverer.wake.set()
            await delivering
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
        log.info("stopped")
