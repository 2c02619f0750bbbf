"""The composition root: `bootstrap(config, clock)` wires the registry (with the
capability plugins the config names), the engine, the delivery worker, the
scheduler and the adapters. `run`, `chat`, the operator commands, the tests'
chat harness and the benchmarks all start from it; nothing else wires parts
together."""
from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.adapters.base import Adapter
from bot.config import Config
from bot.core.anonymity import Anonymity
from bot.core.engine import Engine, utcnow
from bot.core.registry import Registry
from bot.delivery import Deliverer
from bot.limits import Limiter, limiter_for
from bot.scheduler import Scheduler, runtime_jobs
from storage.db import create_engine, open_schema, session_factory
from storage.db import migrate as _migrate
from storage.ephemeral import ephemeral_store

# How notices a step queued reach people:
#   background: the delivery worker is woken (`run` with the scheduler role);
#   inline: delivered before the step's reply returns (console, tests);
#   none: left in the outbox for the scheduler process (a web-only worker).
Delivery = Literal["background", "inline", "none"]


def load_plugins(registry: Registry, names: tuple[str, ...] | list[str]) -> Registry:
    """Each plugin package exposes `register(registry)`, which registers everything it owns."""
    for name in names:
        module = importlib.import_module(name)
        register = getattr(module, "register", None)
        if register is None:
            raise RuntimeError(f"plugin {name!r} has no register(registry) function")
        register(registry)
    return registry


def platform_adapters(config: Config, engine: Engine, limiter: Limiter) -> list[Adapter]:
    """An adapter for each chat platform the config sets up (imported only then)."""
    adapters: list[Adapter] = []
    if config.telegram_enabled:
        from bot.adapters.telegram import TelegramAdapter

        adapters.append(TelegramAdapter(config, engine, limiter=limiter))
    if config.wecom_enabled:
        from bot.adapters.wecom import WecomAdapter

        adapters.append(WecomAdapter(config, engine, limiter=limiter))
    return adapters


@dataclass
class App:
    config: Config
    clock: Callable[[], dt.datetime]
    db: AsyncEngine
    sessions: async_sessionmaker
    registry: Registry
    engine: Engine
    adapters: list[Adapter]
    deliverer: Deliverer
    scheduler: Scheduler
    limiter: Limiter
    _owns_db: bool = field(default=True, repr=False)
    _opened: bool = field(default=False, repr=False)

    async def open(self, *, migrate: bool = False) -> async_sessionmaker:
        """Check the database's schema against the code (once), then hand out sessions.
        An empty database is created (initialisation); one at another revision is refused
        with the command to run (storage.db.SchemaMismatch), never migrated: only
        `redshield init` / `migrate` change a schema. `migrate=True` migrates it instead,
        under the migration lock, as `redshield migrate` does (tests, benchmarks)."""
        if not self._opened:
            url, schema = self.config.database.url, self.config.database.schema or None
            if migrate:
                await _migrate(url, schema=schema)
            else:
                await open_schema(url, schema=schema, engine=self.db)
            self._opened = True
        return self.sessions

    async def run_now(self, name: str, work) -> int:
        """Run a job's work once, now; returns how many messages it queued. An operator
        command only queues: the running service's delivery worker sends them, so every
        message passes the same outbox and the same sending limits (ruling 10). It does not
        take the scheduler's lead: the running service holds it (PostgreSQL's advisory lock),
        and the notices' keys keep a message from going out twice."""
        return await self.scheduler.run_once(name, work)

    async def close(self) -> None:
        await self.engine.anonymity.store.close()
        await self.limiter.close()
        if self._owns_db:
            await self.db.dispose()


def bootstrap(config: Config, clock: Callable[[], dt.datetime] = utcnow, *,
              db: AsyncEngine | None = None, registry: Registry | None = None,
              targets: list | None = None, delivery: Delivery = "background") -> App:
    """Everything one process needs, wired. `db` shares an engine the caller owns (tests);
    `registry` replaces the configured plugins; `targets` replaces the platform adapters
    as the places notices are delivered to (the console, a test inbox)."""
    owns_db = db is None
    if db is None:
        db = create_engine(config.database.url, schema=config.database.schema or None)
    sessions = session_factory(db)
    registry = registry or load_plugins(Registry(), config.bot.plugins)
    anonymity = Anonymity(config.security.secret_key, ephemeral_store(config.redis_url))
    engine = Engine(config, sessions, registry, clock, anonymity=anonymity)
    # The platforms' sending limits, one count for every process (Redis, else PostgreSQL).
    limiter = limiter_for(config, anonymity.pseudonym, sessions)
    adapters = platform_adapters(config, engine, limiter) if targets is None else list(targets)
    deliverer = Deliverer(sessions, adapters, engine.media, clock=clock, resolve=engine.resolve)
    if delivery == "inline":
        async def deliver_now() -> None:
            await deliverer.run_once()

        engine.on_outbox = deliver_now
    elif delivery == "background":
        async def wake() -> None:
            deliverer.wake.set()

        engine.on_outbox = wake
    jobs = registry.jobs_for(config) + runtime_jobs(config)
    scheduler = Scheduler(config, db, sessions, engine, jobs, clock=clock)
    return App(config, clock, db, sessions, registry, engine, adapters, deliverer, scheduler,
               limiter, _owns_db=owns_db)
