"""Forgotten patrols: closed by the scheduler at the cap, and /patrol fix N, the
member's correction of the end time."""
from __future__ import annotations

import datetime as dt

from bot.core.contract import Choices, Incoming, Kind, Notice, Option, Text
from bot.core.flow import Ctx, Flow
from handlers.dates import local, parse_clock
from handlers.labels import day_text, duration_text
from handlers.notices import translator_for
from handlers.patrol.progress import minutes_between, week_progress
from storage import patrols as store
from storage.directory import get_member
from storage.models import Patrol

flow = Flow("patrol_fix")


async def ask_end(ctx: Ctx) -> Text:
    t = ctx.t
    patrol = await ctx.session.get(Patrol, ctx.data["patrol_id"])
    started = local(ctx, patrol.started_at)
    return Text(t("这次巡查 {day} {time} 开始。实际几点结束的？请输入时间，如 11:30。").format(
        day=day_text(t, started.date()), time=started.strftime("%H:%M")))


@flow.step(accepts={Kind.text}, ask=ask_end)
async def end(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    patrol = await ctx.session.get(Patrol, ctx.data["patrol_id"], with_for_update=True)
    clock = parse_clock(msg.text)
    if clock is None:
        return await ctx.reject(t("没看懂这个时间，请输入如 9:30 或 14:00。"))
    started = local(ctx, patrol.started_at)
    ended = dt.datetime.combine(started.date(), clock, tzinfo=ctx.config.tz)
    if ended <= started:
        ended += dt.timedelta(days=1)  # past midnight
    cap = ctx.config.practice.max_patrol_minutes
    if ended - started > dt.timedelta(minutes=cap) or ended > ctx.now:
        return await ctx.reject(t("结束时间应在开始后 {cap} 以内，且不晚于现在。").format(
            cap=duration_text(t, cap)))
    if await store.overlaps(ctx.session, ctx.member.id, patrol.started_at, ended,
                            exclude_id=patrol.id):
        return await ctx.reject(t("这段时间与您已有的巡查重叠，请重新输入。"))
    patrol.ended_at, patrol.auto_closed = ended, False
    await ctx.session.flush()
    ctx.finish()
    ctx.say(t("已更正：{start}–{end}，用时 {duration}。").format(
        start=started.strftime("%H:%M"), end=ended.strftime("%H:%M"),
        duration=duration_text(t, minutes_between(started, ended))))
    ctx.say(await week_progress(ctx))


async def fix_command(ctx: Ctx, msg: Incoming) -> None:
    """/patrol fix N: only a patrol of one's own that was closed automatically."""
    parts = msg.text.split()
    patrol = None
    if len(parts) == 2 and parts[1].isdigit():
        patrol = await ctx.session.get(Patrol, int(parts[1]))
    if patrol is None or patrol.member_id != ctx.member.id or not patrol.auto_closed:
        ctx.say(ctx.t("没有需要更正的巡查。"))
        return
    await ctx.start(flow, {"patrol_id": patrol.id})


async def close_forgotten(session, now: dt.datetime, config) -> list[Notice]:
    """Close patrols left open longer than max_patrol_minutes at that cap, mark them,
    and return a notice for each member, with a button to correct the end time."""
    cap = dt.timedelta(minutes=config.practice.max_patrol_minutes)
    notices = []
    for patrol in await store.forgotten(session, now - cap):
        patrol.ended_at, patrol.auto_closed = patrol.started_at + cap, True
        member = await get_member(session, patrol.member_id)
        t = translator_for(member, config.locale.default)
        started = patrol.started_at.astimezone(config.tz)
        text = t("您 {day} {time} 开始的巡查一直没有结束，已按 {cap} 自动结束并计入。"
                 "如果实际结束时间不同，请点下面的按钮更正。").format(
            day=day_text(t, started.date()), time=started.strftime("%H:%M"),
            cap=duration_text(t, config.practice.max_patrol_minutes))
        notices.append(Notice(member.id, (Choices(text, (
            Option(t("更正结束时间"), f"/patrol fix {patrol.id}"),)),),
            kind="patrol_closed", key=f"patrol_closed:{patrol.id}"))
    await session.flush()
    return notices
