"""`redshield run` with chat platforms: every configured adapter and the web server."""
from __future__ import annotations

import asyncio
import logging

import uvicorn

from bot.adapters.base import Adapter
from bot.app import build_engine
from bot.config import Config
from bot.core.engine import Engine
from bot.delivery import Deliverer
from bot.scheduler import Scheduler, jobs, weekly_report_job
from bot.web import build_web_app

log = logging.getLogger("redshield.run")


def build_adapters(config: Config, engine: Engine) -> list[Adapter]:
    adapters: list[Adapter] = []
    if config.telegram_enabled:
        from bot.adapters.telegram import TelegramAdapter

        adapters.append(TelegramAdapter(config, engine))
    if config.wecom_enabled:
        from bot.adapters.wecom import WecomAdapter

        adapters.append(WecomAdapter(config, engine))
    return adapters


async def serve(config: Config, db_engine, sessions, *, ready: asyncio.Event | None = None) -> None:
    """Run until interrupted (SIGINT / SIGTERM), then stop every adapter cleanly."""
    engine = build_engine(config, sessions)
    adapters = build_adapters(config, engine)
    deliverer = Deliverer(sessions, adapters, engine.media)

    async def wake() -> None:
        deliverer.wake.set()

    engine.on_outbox = wake
    app = build_web_app(db_engine, [r for a in adapters for r in a.routes()])
    server = uvicorn.Server(uvicorn.Config(app, host=config.server.host, port=config.server.port,
                                           log_level="warning", lifespan="off"))
    started: list[Adapter] = []
    try:
        for adapter in adapters:
            await adapter.start()
            started.append(adapter)
            log.info("%s adapter started", adapter.platform)
        log.info("web server on http://%s:%s", config.server.host, config.server.port)
        stop = asyncio.Event()
        delivering = asyncio.create_task(deliverer.run_forever(stop))
        scheduler = Scheduler(config, db_engine, sessions, engine, jobs(config, weekly_report_job(config)))
        await scheduler.start()
        if ready is not None:
            ready.set()
        try:
            await server.serve()
        finally:
            await scheduler.stop()
            stop.set()
            deliverer.wake.set()
            await delivering
    finally:
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
