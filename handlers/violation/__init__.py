"""Violation reports (违规举报): anonymous by default, followed with a receipt code;
read, answered and settled by the project's officers."""
from __future__ import annotations

import datetime as dt

from bot.core.contract import Choices, Notice, Option
from bot.core.registry import Registry
from bot.scheduler import daily, every
from handlers import roles
from handlers.notices import translator_for
from handlers.violation import officers, report
from storage import violations as store
from storage.directory import members_with_roles
from storage.media import MediaStore

__all__ = ["due_officer_notices", "purge", "register"]


def register(registry: Registry) -> None:
    for flow in (report.flow, report.track_flow, report.add_flow, officers.reply_flow):
        registry.flow(flow)
    for command in (*report.commands, officers.command):
        registry.command(command)
    registry.job("violation_notices", every(1), due_officer_notices, catch_up=False)
    registry.job("retention", lambda config: daily(config.schedule.retention_cleanup, config.tz),
                 purge_job)
    registry.cli("reports", "violation reports as an officer sees them (no identities)",
                 officers.cli_reports, officers.cli_arguments)


async def due_officer_notices(session, now: dt.datetime, config) -> list[Notice]:
    """Tell officers of reports whose random notice moment has come. The notice says
    only that a report arrived, so neither its content nor its time points at anyone."""
    notices = []
    for r in await store.due_for_officers(session, now):
        r.officers_notified_at = now
        for officer in await members_with_roles(session, r.project_id, roles.OFFICERS):
            tr = translator_for(officer, config.locale.default)
            notices.append(Notice(officer.id, (Choices(
                tr("收到一条违章举报（#{id}，{kind}）。").format(id=r.id, kind=tr(r.kind)),
                (Option(tr("查看"), f"/violations {r.id}"),)),),
                kind="violation_new", key=f"violation_new:{r.id}:{officer.id}"))
    await session.flush()
    return notices


async def purge(session, now: dt.datetime, config) -> int:
    """Retention: reports and their photos older than violation_retention_days go,
    as do the daily keys of days before yesterday."""
    media = MediaStore(config.media.dir)
    old = await store.expired(session, now - dt.timedelta(days=config.practice.violation_retention_days))
    names = {e.media_name for r in old for e in r.entries if e.media_name}
    for r in old:
        await session.delete(r)
    await session.flush()
    for name in names - await store.media_still_used(session, names):
        media.path(name).unlink(missing_ok=True)
    today = now.astimezone(config.tz).date()
    await store.forget_days_before(session, today - dt.timedelta(days=1))
    return len(old)


async def purge_job(session, now: dt.datetime, config) -> list:
    await purge(session, now, config)
    return []
