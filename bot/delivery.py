"""Delivering notices (messages to members that are not replies) through the
adapters of the platforms each member uses.

Sent after the step that made them is committed; a crash in between loses
them. The outbox of the scheduler's issue replaces this with rows written in
the same transaction.
"""
from __future__ import annotations

import logging
from typing import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.adapters.base import Adapter
from bot.core.contract import Notice
from storage.models import Identity, Member

log = logging.getLogger("redshield.delivery")


async def addresses(sessions: async_sessionmaker, member_ids: set[int]) -> dict[int, list[tuple[str, str]]]:
    """member id -> [(platform, external id)] of every reachable account."""
    out: dict[int, list[tuple[str, str]]] = {m: [] for m in member_ids}
    async with sessions() as s:
        rows = await s.execute(sa.select(Identity.member_id, Identity.platform, Identity.external_id)
                               .where(Identity.member_id.in_(member_ids),
                                      Identity.unreachable_since.is_(None)))
        for member_id, platform, external_id in rows:
            out[member_id].append((platform, external_id))
        wecom = await s.execute(sa.select(Member.id, Member.wecom_userid)
                                .where(Member.id.in_(member_ids), Member.wecom_userid.is_not(None)))
        for member_id, userid in wecom:
            if ("wecom", userid) not in out[member_id]:
                out[member_id].append(("wecom", userid))
    return out


def make_notifier(sessions: async_sessionmaker,
                  adapters: list[Adapter]) -> Callable[[list[Notice]], Awaitable[None]]:
    by_platform = {a.platform: a for a in adapters}

    async def notify(notices: list[Notice]) -> None:
        where = await addresses(sessions, {n.member_id for n in notices})
        for notice in notices:
            targets = [(p, x) for p, x in where.get(notice.member_id, []) if p in by_platform]
            if not targets:
                log.info("notice %s: member has no reachable account", notice.kind)
            for platform, external_id in targets:
                try:
                    await by_platform[platform].deliver(external_id, list(notice.replies))
                except Exception:
                    log.exception("notice %s could not be delivered on %s", notice.kind, platform)

    return notify
