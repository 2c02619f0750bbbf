"""Alembic environment: runs migrations on the async engine the bot itself uses."""
import asyncio

from alembic import context

from storage.db import create_engine
from storage.models import Base

config = context.config


def _run(connection):
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite can only alter tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main():
    engine = create_engine(config.attributes["url"], schema=config.attributes.get("schema"))
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `redshield init`")
asyncio.run(_main())
