"""/log (补记): a patrol entered afterwards, done without the phone (this week or
last), marked as logged afterwards."""
from __future__ import annotations

import datetime as dt
import re

from bot.core.contract import Choices, Incoming, Kind, Option
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.steps import ask_text
from handlers import roles
from handlers.dates import local, parse_clock, parse_day, parse_minutes
from handlers.labels import day_text, duration_text
from handlers.patrol.progress import week_progress
from handlers.weeks import week_of
from handlers.zones import pick_zone
from storage import patrols as store
from storage.models import Patrol, Zone

DURATIONS = (30, 60, 90, 120)
TIMES = ("08:00", "10:00", "14:00", "16:00")
OVERLAP = N_("这段时间与您已有的巡查重叠，请重新选择开始时间。")

flow = Flow("patrol_log", N_("补记巡查"))


async def ask_day(ctx: Ctx) -> Choices:
    t = ctx.t
    today = local(ctx, ctx.now).date()
    days = [d for d in week_of(ctx.now, ctx.config.tz).days() if d <= today]
    options = tuple(Option(day_text(t, d), f"d{d.isoformat()}") for d in days)
    week_ago = today - dt.timedelta(days=7)
    return Choices(t("补记巡查：哪一天？（上周的日期请输入，如 {example}）").format(
        example=f"{week_ago.month}-{week_ago.day}"), options)


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_day)
async def day(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    today = local(ctx, ctx.now).date()
    if msg.kind is Kind.choice:
        tapped = re.fullmatch(r"d\d{4}-\d\d-\d\d", msg.choice or "")
        chosen = dt.date.fromisoformat(msg.choice[1:]) if tapped else None
    else:
        chosen = parse_day(msg.text, today, prefer="past")
    if chosen is None:
        return await ctx.reject(t("没看懂这个日期，请点按钮或输入如 11-20。"))
    if chosen > today:
        return await ctx.reject(t("不能补记将来的巡查。"))
    if chosen < week_of(ctx.now, ctx.config.tz).previous().start.date():
        return await ctx.reject(t("只能补记本周和上周的巡查。"))
    ctx.data["day"] = chosen.isoformat()
    await ctx.goto(start_time)


async def ask_time(ctx: Ctx) -> Choices:
    return Choices(ctx.t("几点开始的？点按钮或输入时间，如 9:30。"), tuple(Option(x, x) for x in TIMES))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_time, name="time")
async def start_time(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    clock = parse_clock(msg.choice if msg.kind is Kind.choice else msg.text)
    if clock is None:
        return await ctx.reject(t("没看懂这个时间，请输入如 9:30 或 14:00。"))
    start = dt.datetime.combine(dt.date.fromisoformat(ctx.data["day"]), clock, tzinfo=ctx.config.tz)
    if start >= ctx.now:
        return await ctx.reject(t("这个时间还没到，不能补记将来的巡查。"))
    ctx.data["start"] = start.isoformat()
    await ctx.goto(duration)


async def ask_duration(ctx: Ctx) -> Choices:
    t = ctx.t
    return Choices(t("巡查了多长时间？点按钮或输入分钟数，如 45。"),
                   tuple(Option(duration_text(t, m), str(m)) for m in DURATIONS))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_duration)
async def duration(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    cap = ctx.config.practice.max_patrol_minutes
    minutes = parse_minutes(msg.choice if msg.kind is Kind.choice else msg.text)
    start = dt.datetime.fromisoformat(ctx.data["start"])
    if minutes is None:
        return await ctx.reject(t("请输入分钟数（如 45）或小时数（如 1.5小时）。"))
    if not 5 <= minutes <= cap:
        return await ctx.reject(t("时长应在 5 分钟到 {cap} 之间。").format(cap=duration_text(t, cap)))
    end = start + dt.timedelta(minutes=minutes)
    if end > ctx.now:
        return await ctx.reject(t("这样结束时间在将来，请检查开始时间和时长。"))
    if await store.overlaps(ctx.session, ctx.member.id, start, end):
        ctx.say(t(OVERLAP))
        return await ctx.goto(start_time)
    ctx.data["minutes"] = minutes
    await ctx.goto(zone)


@pick_zone(flow, N_("巡查的是哪个区域？"))
async def zone(ctx: Ctx, chosen: Zone) -> None:
    ctx.data["zone_id"] = chosen.id
    await ctx.goto(note)


@ask_text(flow, N_("补充说明（如“手机没电”）：输入文字，或点“无”。"), skip=N_("无"), max_len=500)
async def note(ctx: Ctx, text: str | None) -> None:
    t = ctx.t
    start = dt.datetime.fromisoformat(ctx.data["start"])
    minutes = ctx.data["minutes"]
    end = start + dt.timedelta(minutes=minutes)
    if await store.overlaps(ctx.session, ctx.member.id, start, end):  # entered meanwhile
        ctx.say(t(OVERLAP))
        return await ctx.goto(start_time)
    zone_ = await ctx.session.get(Zone, ctx.data["zone_id"])
    ctx.session.add(Patrol(member_id=ctx.member.id, project_id=ctx.member.project_id,
                           zone_id=zone_.id, started_at=start, ended_at=end,
                           logged_afterwards=True, note=text, created_at=ctx.now))
    await ctx.session.flush()
    ctx.finish()
    local_start = local(ctx, start)
    ctx.say(t("✅ 已补记：{day} {time}，{zone}，{duration}（标记为补记）。").format(
        day=day_text(t, local_start.date()), time=local_start.strftime("%H:%M"),
        zone=zone_.name, duration=duration_text(t, minutes)))
    ctx.say(await week_progress(ctx))


async def log_command(ctx: Ctx, msg: Incoming) -> None:
    await ctx.start(flow)


command = Command("log", log_command, N_("补记巡查"), words=(N_("补记"),), roles=roles.PATROLLERS)
