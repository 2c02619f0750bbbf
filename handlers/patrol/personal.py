"""/patrol (巡查): a member's own zone patrol, started with a tap on the zone and
ended with a tap; the location is checked against the zone's geofence."""
from __future__ import annotations

import datetime as dt
import math

from bot.core.contract import AskLocation, Choices, Incoming, Kind, Option
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from handlers import geo, roles
from handlers.dates import local
from handlers.labels import duration_text
from handlers.patrol import fix, logged
from handlers.patrol.fix import fix_command
from handlers.patrol.progress import minutes_between, week_progress
from handlers.zones import project_zones, zone_of, zone_options
from storage import patrols as store
from storage.models import Patrol, Zone

END_BUTTON = "/patrol end"
LOG = "log"  # the zone question's button for a patrol done without the phone

start_flow = Flow("patrol", N_("巡查"))
end_flow = Flow("patrol_end", N_("结束巡查"))


# ---- starting


async def ask_zone(ctx: Ctx) -> Choices:
    options = zone_options(await project_zones(ctx)) + (Option(ctx.t("📝 补记以前的巡查"), LOG),)
    return Choices(ctx.t("开始巡查：请选择巡查区域。"), options)


@start_flow.step(accepts={Kind.choice, Kind.text}, ask=ask_zone)
async def zone(ctx: Ctx, msg: Incoming) -> None:
    """The tap starts the patrol; the location is an optional addition, not a gate."""
    t = ctx.t
    if msg.kind is Kind.choice and msg.choice == LOG:
        ctx.dialog = None
        return await ctx.start(logged.flow)
    chosen, why = await zone_of(ctx, msg)
    if chosen is None:
        return await ctx.reject(why)
    if await store.open_patrol(ctx.session, ctx.member.id) is not None:
        ctx.finish()  # started meanwhile from another phone
        ctx.say(t("您已有进行中的巡查。发送“巡查”可结束它。"))
        return
    patrol = Patrol(member_id=ctx.member.id, project_id=ctx.member.project_id, zone_id=chosen.id,
                    started_at=ctx.now, created_at=ctx.now)
    ctx.session.add(patrol)
    await ctx.session.flush()
    ctx.say(t("✅ 巡查开始：{zone}，{time}。").format(
        zone=chosen.name, time=local(ctx, ctx.now).strftime("%H:%M")))
    ctx.data.update(patrol_id=patrol.id, _optional=True)  # saved: what follows may be left
    await ctx.goto(start_location)


async def ask_start_location(ctx: Ctx) -> AskLocation:
    return AskLocation(ctx.t("请发送您现在的位置，用于核对是否在责任区内；不方便可点“跳过”。"),
                       skippable=True)


@start_flow.step(accepts={Kind.location, Kind.choice}, ask=ask_start_location, name="location")
async def start_location(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    patrol = await ctx.session.get(Patrol, ctx.data["patrol_id"])
    ctx.finish()
    if patrol is None or patrol.ended_at is not None:
        ctx.say(t("这次巡查已经结束了。"))
        return
    if msg.kind is Kind.location:
        patrol.start_latitude, patrol.start_longitude = msg.latitude, msg.longitude
        place = await ctx.session.get(Zone, patrol.zone_id)
        away = geo.outside(place, msg.latitude, msg.longitude) if place else None
        if away is not None:
            patrol.off_site = True
            ctx.say(t("⚠️ 您距{zone}约 {m} 米，不在区域范围内，本次巡查已标记为“不在现场”。").format(
                zone=place.name, m=round(away) if math.isfinite(away) else "?"))
            if ctx.config.practice.off_site_credit == "accepted":
                ctx.say(t("不在现场的巡查需安监认可后才计入本周。"))
    ctx.send(Choices(
        await week_progress(ctx) + "\n" + t("发现隐患可直接拍照发送。巡查结束时点下面的按钮。"),
        (Option(t("结束巡查"), END_BUTTON),)))


# ---- ending


async def ask_end_location(ctx: Ctx) -> AskLocation:
    t = ctx.t
    patrol = await ctx.session.get(Patrol, ctx.data["patrol_id"])
    zone_ = await ctx.session.get(Zone, patrol.zone_id) if patrol.zone_id else None
    return AskLocation(
        t("结束巡查（{zone}，{time} 开始，已 {elapsed}）。请发送位置，或点“跳过”直接结束。").format(
            zone=zone_.name if zone_ else "—", time=local(ctx, patrol.started_at).strftime("%H:%M"),
            elapsed=duration_text(t, minutes_between(patrol.started_at, ctx.now))),
        skippable=True)


@end_flow.step(accepts={Kind.location, Kind.choice}, ask=ask_end_location, name="location")
async def end_location(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    patrol = await ctx.session.get(Patrol, ctx.data["patrol_id"], with_for_update=True)
    ctx.finish()
    if patrol is None or patrol.ended_at is not None:
        ctx.say(t("这次巡查已经结束了。"))
        return
    cap = dt.timedelta(minutes=ctx.config.practice.max_patrol_minutes)
    patrol.ended_at = min(ctx.now, patrol.started_at + cap)
    patrol.auto_closed = ctx.now > patrol.started_at + cap
    if msg.kind is Kind.location:
        patrol.end_latitude, patrol.end_longitude = msg.latitude, msg.longitude
    await ctx.session.flush()
    if patrol.off_site and ctx.config.practice.off_site_credit == "accepted":
        for notice in await fix.review_notices(ctx.session, patrol, ctx.member.name, ctx.config):
            ctx.notify(notice)  # the officers hear at once (the job's keys are the same)
    minutes = minutes_between(patrol.started_at, patrol.ended_at)
    ctx.say(t("巡查结束，用时 {duration}。").format(duration=duration_text(t, minutes)))
    if patrol.auto_closed:
        ctx.say(t("超过 {cap} 的部分不计入。").format(
            cap=duration_text(t, ctx.config.practice.max_patrol_minutes)))
    ctx.say(await week_progress(ctx))


# ---- the command


async def patrol_command(ctx: Ctx, msg: Incoming) -> None:
    arg = (msg.text.split() or [""])[0].lower()
    open_ = await store.open_patrol(ctx.session, ctx.member.id)
    if arg == "fix":
        await fix_command(ctx, msg)
    elif open_ is not None:
        await ctx.start(end_flow, {"patrol_id": open_.id})
    elif arg == "end":
        ctx.send(Choices(ctx.t("现在没有进行中的巡查。"), (Option(ctx.t("开始巡查"), "/patrol"),)))
    else:
        await ctx.start(start_flow)


command = Command("patrol", patrol_command, N_("开始 / 结束巡查"), words=(N_("巡查"),), takes_args=True,
                  roles=roles.PATROLLERS)
