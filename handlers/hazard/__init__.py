"""Hazards (隐患) and the rectification notice (整改通知书) closed loop:
find -> notice -> rectify -> re-check -> close (销项). Everything about hazards
is in this folder: the report and rectification flows, the lifecycle rules,
the overdue escalation job, the views and the notice PDF."""
from __future__ import annotations

from bot.core.contract import Incoming, Kind
from bot.core.flow import Command, Ctx
from bot.core.i18n import N_
from bot.core.registry import Registry
from bot.scheduler import daily
from handlers import roles
from handlers.hazard import common, overdue, rectify, report, views
from handlers.hazard.overdue import find_overdue
from storage import patrols as patrol_store
from storage.models import PatrolPhoto

__all__ = ["find_overdue", "register"]


def register(registry: Registry) -> None:
    for flow in (report.flow, rectify.rectify_flow, rectify.send_back_flow):
        registry.flow(flow)
    registry.command(Command("hazard", hazard_command, N_("报告隐患 / 查看隐患"), words=(N_("隐患"),),
                             takes_args=True, shown_to=roles.PATROLLERS | roles.SUPERVISORS))
    registry.command(overdue.command)
    for command in rectify.commands:
        registry.command(command)
    registry.on_unprompted(Kind.photo, photo_unprompted)
    registry.renderer(common.NOTICE, common.make_notice)  # the 整改通知书, made after commit
    registry.job("overdue_hazards", lambda config: daily(config.schedule.overdue_check, config.tz),
                 overdue.overdue_notices)
    registry.cli("hazards", "a project's hazards and their rectification", views.cli_hazards,
                 views.cli_arguments)


async def hazard_command(ctx: Ctx, msg: Incoming) -> None:
    arg = msg.text.strip()
    if not arg:
        return await report.start_report(ctx)
    hazard = await rectify.find(ctx, arg)
    if hazard is None:
        ctx.say(ctx.t("本项目没有这个编号的隐患。"))
        return
    await views.show(ctx, hazard)


async def photo_unprompted(ctx: Ctx, msg: Incoming) -> None:
    """A photo out of the blue is a hazard being reported; during a patrol it is
    also kept on the patrol."""
    await report.start_report(ctx, first=msg)
    patrol = await patrol_store.open_patrol(ctx.session, ctx.member.id)
    kept = ctx.data.get("photos") if ctx.dialog else None
    if patrol is not None and kept:  # the stored copy, not the platform's reference
        ctx.session.add(PatrolPhoto(patrol_id=patrol.id, media_name=kept[0]["name"],
                                    taken_at=ctx.now))
