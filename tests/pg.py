"""Statements on the PostgreSQL test server itself (creating and dropping schemas of a
test's own), outside any test database fixture."""
from __future__ import annotations

import os

import sqlalchemy as sa

from storage.db import create_engine

PG_URL = os.environ.get("REDSHIELD_TEST_DATABASE_URL")


async def on_server(statement: str) -> None:
    engine = create_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()
