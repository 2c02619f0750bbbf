"""Dialog state rows: one per (platform, chat, user)."""
from __future__ import annotations

import copy
import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from storage.models import DialogState


async def load(session: AsyncSession, platform: str, chat_id: str, user_id: str, *, lock: bool = True):
    # Locked on PostgreSQL so two workers never advance one dialog at once. A lock writes
    # the transaction's id into the row: a step that must leave no trace reads without it
    # (and never changes the row).
    return await session.get(
        DialogState, (platform, chat_id, user_id), with_for_update=lock
    )


async def save(
    session: AsyncSession,
    key: tuple[str, str, str],
    *,
    flow: str,
    step: str,
    token: str,
    data: dict,
    now: dt.datetime,
    timeout: dt.timedelta,
) -> None:
    row = await session.get(DialogState, key)
    if row is None:
        row = DialogState(platform=key[0], chat_id=key[1], user_id=key[2])
        session.add(row)
    row.flow, row.step, row.token = flow, step, token
    row.data = copy.deepcopy(data)
    flag_modified(row, "data")  # nested lists changed in place compare equal to the old value
    row.updated_at = now
    row.expires_at = now + timeout


async def delete(session: AsyncSession, key: tuple[str, str, str]) -> None:
    row = await session.get(DialogState, key)
    if row is not None:
        await session.delete(row)


async def purge_expired(session: AsyncSession, now: dt.datetime) -> int:
    """Dialogs nobody came back to: what they held (drafts) is not kept."""
    import sqlalchemy as sa

    result = await session.execute(sa.delete(DialogState).where(
        DialogState.expires_at < sa.bindparam("now", now, type_=DialogState.expires_at.type)))
    return result.rowcount
