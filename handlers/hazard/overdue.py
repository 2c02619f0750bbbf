"""Hazards past their deadline: /overdue (超期) for the officers, and the daily
escalation up the chain (assignee, then safety officers, then the secretary)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.core.contract import Choices, Incoming, Notice, Option
from bot.core.flow import Command, Ctx
from bot.core.i18n import N_
from handlers import roles
from handlers.dates import local
from handlers.hazard.common import STATUS, assignee_text, ref
from handlers.notices import translator_for
from storage import hazards as store
from storage.directory import members_with_roles
from storage.models import Hazard, Member


@dataclass(frozen=True)
class Overdue:
    hazard: Hazard
    days: int


async def find_overdue(session, now: dt.datetime, tz) -> list[Overdue]:
    """Every open hazard past its deadline, and by how many days."""
    today = now.astimezone(tz).date()
    return [Overdue(h, (today - h.deadline).days) for h in await store.overdue(session, today)]


async def overdue_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    today = local(ctx, ctx.now).date()
    late = await store.overdue(ctx.session, today, ctx.member.project_id)
    if not late:
        ctx.say(t("没有超期的隐患。👍"))
        return
    lines = [t("超期隐患 {n} 项：").format(n=len(late))]
    for h in late:
        lines.append(t("{number} · 超期 {days} 天 · {who} · {status}").format(
            number=h.notice_number, days=(today - h.deadline).days,
            who=assignee_text(t, h), status=t(STATUS[h.status])))
    options = tuple(Option(f"{h.year}-{h.number}", f"/hazard {ref(h)}") for h in late[:10])
    ctx.send(Choices("\n".join(lines), options))


command = Command("overdue", overdue_command, N_("超期隐患"), words=(N_("超期"),), roles=roles.SUPERVISORS)


async def overdue_notices(session, now: dt.datetime, config) -> list[Notice]:
    """Each day an open hazard is overdue: its assignee; after escalate_after_days also
    the safety officers; after twice that also the secretary."""
    today = now.astimezone(config.tz).date()
    escalate = config.practice.escalate_after_days
    notices = []
    officers_by_project: dict[int, list[Member]] = {}
    for h in await store.overdue(session, today):
        days = (today - h.deadline).days
        recipients: list[Member] = [h.assignee] if h.assignee else [h.reporter]
        if days >= escalate:
            if h.project_id not in officers_by_project:
                officers_by_project[h.project_id] = await members_with_roles(
                    session, h.project_id, roles.OFFICERS)
            officers = officers_by_project[h.project_id]
            recipients += [o for o in officers if roles.has(o, roles.SAFETY_OFFICER)]
            if days >= 2 * escalate:
                recipients += [o for o in officers if roles.has(o, roles.SECRETARY)]
        for person in {p.id: p for p in recipients}.values():
            t = translator_for(person, config.locale.default)
            text = t("⏰ {number} 已超期 {days} 天（期限 {deadline}，责任人 {who}）。").format(
                number=h.notice_number, days=days, deadline=h.deadline.isoformat(),
                who=assignee_text(t, h))
            options = (Option(t("提交整改"), f"/rectify {ref(h)}"),) if person.id == h.assignee_id \
                else (Option(t("查看"), f"/hazard {ref(h)}"),)
            notices.append(Notice(person.id, (Choices(text, options),), kind="hazard_overdue",
                                  key=f"overdue:{h.id}:{person.id}:{today.isoformat()}"))
    return notices
