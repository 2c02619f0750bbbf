"""Hazard reports and the rectification notice (整改通知书) closed loop:
find -> notice -> rectify -> re-check -> close (销项)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.core.contract import Choices, Incoming, Kind, Option
from bot.core.flow import Command, Ctx
from bot.core.i18n import N_, Translator
from bot.core.registry import Registry
from handlers.hazard import loop, report
from handlers.hazard.common import STATUS, assignee_text, notice_pdf, ref, summary
from handlers.patrol import local
from storage import hazards as store
from storage import patrols as patrol_store
from storage.models import Hazard, PatrolPhoto

OVERDUE_VIEWERS = frozenset({"safety_officer", "secretary", "committee"})


def build(registry: Registry):
    """Registers the hazard commands; returns the report flow (others start it too)."""
    flow = report.build(registry)
    loop.build(registry)

    async def hazard_command(ctx: Ctx, msg: Incoming) -> None:
        arg = msg.text.strip()
        if not arg:
            await report.start_report(ctx, flow)
            return
        hazard = await loop.find(ctx, arg)
        if hazard is None:
            ctx.say(ctx.t("本项目没有这个编号的隐患。"))
            return
        await show(ctx, hazard)

    async def photo_unprompted(ctx: Ctx, msg: Incoming) -> None:
        """A photo out of the blue is a hazard being reported; during a patrol it is
        also kept on the patrol."""
        await report.start_report(ctx, flow, first=msg)
        patrol = await patrol_store.open_patrol(ctx.session, ctx.member.id)
        kept = ctx.data.get("photos") if ctx.dialog else None
        if patrol is not None and kept:  # the stored copy, not the platform's reference
            ctx.session.add(PatrolPhoto(patrol_id=patrol.id, media_name=kept[0]["name"],
                                        taken_at=ctx.now))

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

    registry.command(Command("hazard", hazard_command, N_("报告隐患 / 查看隐患"), words=("隐患",),
                             takes_args=True))
    registry.command(Command("overdue", overdue_command, N_("超期隐患"), words=("超期",),
                             roles=OVERDUE_VIEWERS))
    registry.on_unprompted(Kind.photo, photo_unprompted)
    return flow


async def show(ctx: Ctx, hazard: Hazard) -> None:
    t = ctx.t
    ctx.say(summary(t, hazard, local(ctx, ctx.now).date()))
    ctx.send(await notice_pdf(t, hazard, report.media(ctx), ctx.config.tz))


async def my_hazards(ctx: Ctx) -> str | None:
    """For /me: open hazards the member must rectify, and those they reported."""
    t = ctx.t
    mine, reported = await store.open_for(ctx.session, ctx.member.id)
    if not mine and not reported:
        return None
    today = local(ctx, ctx.now).date()
    lines = []
    if mine:
        lines.append(t("待我整改：{n} 项").format(n=len(mine)))
        lines += [f"  {h.notice_number} · {h.deadline.isoformat()}"
                  + (" ⏰" if h.deadline < today else "") for h in mine[:5]]
    if reported:
        lines.append(t("我报告的未销项隐患：{n} 项").format(n=len(reported)))
        lines += [f"  {h.notice_number} · {t(STATUS[h.status])}" for h in reported[:5]]
    return "\n".join(lines)


@dataclass(frozen=True)
class Overdue:
    hazard: Hazard
    days: int


async def find_overdue(session, now: dt.datetime, tz) -> list[Overdue]:
    """Every open hazard past its deadline, and by how many days (for the scheduler)."""
    today = now.astimezone(tz).date()
    return [Overdue(h, (today - h.deadline).days) for h in await store.overdue(session, today)]


def listing_row(t: Translator, hazard: Hazard, today: dt.date) -> dict:
    return {"number": hazard.notice_number, "ref": ref(hazard), "status": hazard.status,
            "status_label": t(STATUS[hazard.status]), "grade": hazard.grade,
            "category": hazard.category, "zone": hazard.zone.name if hazard.zone else None,
            "assignee": assignee_text(t, hazard), "deadline": hazard.deadline.isoformat(),
            "overdue_days": max(0, (today - hazard.deadline).days)
            if hazard.status != "closed" else 0,
            "reporter": hazard.reporter.name}
