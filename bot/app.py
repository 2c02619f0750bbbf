"""Wiring: the engine with the product's handlers on a database."""
from __future__ import annotations

from typing import Callable

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.config import Config
from bot.core.engine import Engine, utcnow
from handlers import build_registry


def build_engine(config: Config, sessions: async_sessionmaker, clock: Callable = utcnow) -> Engine:
    return Engine(config, sessions, build_registry(), clock)
