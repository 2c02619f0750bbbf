"""What a patrol counts when it is not plain, by the rules in `[practice]`:

- a forgotten patrol (left open past max_patrol_minutes) is closed by the
  scheduler at the cap; it counts up to the member's last sign of life (the last
  message, photo or location they sent while it was open, or its start), or with
  `forgotten_credit = "cap"` the whole cap. The member is told and may correct
  the end (/patrol fix N); what they confirm then counts.
- an off-site patrol (started outside its zone's geofence) counts once a safety
  officer accepts it (with `off_site_credit = "always"`: at once, flagged only).
  When it has ended the project's safety officers (its secretary when it has
  none) get a notice with 认可 / 不认可; /offsite walks through what waits, one
  tap each. Nobody decides on their own patrol.
"""
from __future__ import annotations

import datetime as dt

from bot.core.contract import Choices, Incoming, Kind, Notice, Option, Text
from bot.core.flow import Ctx, Flow
from bot.core.i18n import N_, Translator
from handlers import geo, roles
from handlers.dates import local, parse_clock, parse_id
from handlers.labels import day_text, duration_text
from handlers.notices import translator_for
from handlers.patrol.progress import minutes_between, week_progress
from storage import patrols as store
from storage.directory import get_member, members_with_roles
from storage.models import Member, Patrol, Zone

LAST_SEEN = "last_seen"  # [practice] forgotten_credit: up to the last sign of life
REVIEW_WINDOW = dt.timedelta(days=7)  # off-site patrols ended since then are put to the officer

flow = Flow("patrol_fix", N_("巡查时间更正"))


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
    # As the member confirms it: all of it counts.
    patrol.ended_at, patrol.auto_closed, patrol.credited_until = ended, False, None
    await ctx.session.flush()
    ctx.finish()
    ctx.say(t("已更正：{start}–{end}，用时 {duration}。").format(
        start=started.strftime("%H:%M"), end=ended.strftime("%H:%M"),
        duration=duration_text(t, minutes_between(started, ended))))
    ctx.say(await week_progress(ctx))


async def fix_command(ctx: Ctx, msg: Incoming) -> None:
    """/patrol fix N: only a patrol of one's own that was closed automatically."""
    parts = msg.text.split()
    number = parse_id(parts[1]) if len(parts) == 2 else None
    patrol = await ctx.session.get(Patrol, number) if number else None
    if patrol is None or patrol.member_id != ctx.member.id or not patrol.auto_closed:
        ctx.say(ctx.t("没有需要更正的巡查。"))
        return
    await ctx.start(flow, {"patrol_id": patrol.id})


async def close_forgotten(session, now: dt.datetime, config) -> list[Notice]:
    """Close patrols left open longer than max_patrol_minutes at that cap, mark them,
    count them by the rule, and return a notice for each member, with a button to
    correct the end time."""
    cap = dt.timedelta(minutes=config.practice.max_patrol_minutes)
    notices = []
    for patrol in await store.forgotten(session, now - cap):
        patrol.ended_at, patrol.auto_closed = patrol.started_at + cap, True
        if config.practice.forgotten_credit == LAST_SEEN:
            seen = max(patrol.last_seen_at or patrol.started_at, patrol.started_at)
            patrol.credited_until = min(seen, patrol.ended_at)
        member = await get_member(session, patrol.member_id)
        notices.append(closed_notice(patrol, member, config))
    await session.flush()
    return notices


def closed_notice(patrol: Patrol, member: Member, config) -> Notice:
    t = translator_for(member, config.locale.default)
    started = patrol.started_at.astimezone(config.tz)
    when = {"day": day_text(t, started.date()), "time": started.strftime("%H:%M"),
            "cap": duration_text(t, config.practice.max_patrol_minutes)}
    if patrol.credited_until is None:
        text = t("您 {day} {time} 开始的巡查一直没有结束，已按 {cap} 自动结束并计入。"
                 "如果实际结束时间不同，请点下面的按钮更正。").format(**when)
    else:
        text = t("您 {day} {time} 开始的巡查一直没有结束，已按 {cap} 自动结束，只计入到您最后一次"
                 "发消息的 {seen}（{credited}）。如果实际结束时间不同，请点下面的按钮更正。").format(
            seen=patrol.credited_until.astimezone(config.tz).strftime("%H:%M"),
            credited=duration_text(t, minutes_between(patrol.started_at, patrol.credited_until)),
            **when)
    return Notice(member.id, (Choices(text, (
        Option(t("更正结束时间"), f"/patrol fix {patrol.id}"),)),),
        kind="patrol_closed", key=f"patrol_closed:{patrol.id}")


# ---- off-site patrols: the safety officer's decision


async def reviewers(session, project_id: int) -> list[Member]:
    """Who decides on a project's off-site patrols: its safety officers, or its secretary
    when it has none."""
    found = await members_with_roles(session, project_id, {roles.SAFETY_OFFICER})
    return found or await members_with_roles(session, project_id, {roles.SECRETARY})


async def may_review(ctx: Ctx) -> bool:
    return ctx.member.id in {m.id for m in await reviewers(ctx.session, ctx.member.project_id)}


async def patrol_text(t: Translator, session, patrol: Patrol, name: str, tz) -> str:
    """张三 周一 11-23 10:00 2小时10分（施工现场A区，距区域约 1112 米）"""
    started = patrol.started_at.astimezone(tz)
    zone = await session.get(Zone, patrol.zone_id) if patrol.zone_id else None
    where = zone.name if zone else "—"
    if zone is not None and patrol.start_latitude is not None:
        away = geo.outside(zone, patrol.start_latitude, patrol.start_longitude)
        if away is not None and away != float("inf"):
            where += t("，距区域约 {m} 米").format(m=round(away))
    return t("{name} {day} {time} {duration}（{where}）").format(
        name=name, day=day_text(t, started.date()), time=started.strftime("%H:%M"),
        duration=duration_text(t, minutes_between(patrol.started_at, patrol.ended_at)),
        where=where)


def decision_buttons(t: Translator, patrol: Patrol) -> tuple[Option, ...]:
    return (Option(t("认可"), f"/offsite yes {patrol.id}"),
            Option(t("不认可"), f"/offsite no {patrol.id}"))


async def review_notices(session, patrol: Patrol, name: str, config,
                         asked: list[Member] | None = None) -> list[Notice]:
    """The notice asking each reviewer of the patrol's project (but its own member) to
    decide, keyed by patrol and reviewer: asking twice queues nothing new."""
    if asked is None:
        asked = await reviewers(session, patrol.project_id)
    notices = []
    for reviewer in asked:
        if reviewer.id == patrol.member_id:
            continue  # nobody decides on their own patrol
        t = translator_for(reviewer, config.locale.default)
        text = t("⚠️ 不在现场的巡查：{what}。认可后计入本周巡查。").format(
            what=await patrol_text(t, session, patrol, name, config.tz))
        notices.append(Notice(reviewer.id, (Choices(text, decision_buttons(t, patrol)),),
                              kind="off_site_review",
                              key=f"off_site_review:{patrol.id}:{reviewer.id}"))
    return notices


async def off_site_reviews(session, now: dt.datetime, config) -> list[Notice]:
    """Each off-site patrol that ended in the last week awaiting a decision, put to its
    project's reviewers (older ones stay listed in /week and /offsite)."""
    if config.practice.off_site_credit != store.ONCE_ACCEPTED:
        return []
    notices, asked = [], {}
    for patrol, name in await store.undecided_off_site(session, ended_since=now - REVIEW_WINDOW):
        if patrol.project_id not in asked:
            asked[patrol.project_id] = await reviewers(session, patrol.project_id)
        notices += await review_notices(session, patrol, name, config, asked[patrol.project_id])
    return notices


async def offsite_command(ctx: Ctx, msg: Incoming) -> None:
    """/offsite: the next off-site patrol awaiting a decision; /offsite yes|no N decides
    (a tap on a notice or on the previous answer) and shows the next."""
    t = ctx.t
    parts = msg.text.split()
    if ctx.config.practice.off_site_credit != store.ONCE_ACCEPTED:
        ctx.say(t("按本项目的设置，不在现场的巡查直接计入，无需认可。"))
        return
    if not await may_review(ctx):
        ctx.say(t("不在现场的巡查由安监人员认可。"))
        return
    if len(parts) == 2 and parts[0] in ("yes", "no"):
        number = parse_id(parts[1])
        patrol = await ctx.session.get(Patrol, number, with_for_update=True) if number else None
        await decide(ctx, patrol, parts[0] == "yes")
    elif parts:
        ctx.say(t("发送 /offsite 查看待认可的不在现场巡查。"))
        return
    await ask_next(ctx, decided=bool(parts))


async def decide(ctx: Ctx, patrol: Patrol | None, accept: bool) -> None:
    t = ctx.t
    if patrol is None or patrol.project_id != ctx.member.project_id or not patrol.off_site:
        ctx.say(t("没有这次不在现场的巡查。"))
        return
    if patrol.member_id == ctx.member.id:
        ctx.say(t("自己的巡查不能自己认可。"))
        return
    if patrol.ended_at is None:
        ctx.say(t("这次巡查还没有结束，结束后再认可。"))
        return
    if patrol.accepted is not None:
        ctx.say(t("这次巡查已经处理过了（{decision}）。").format(
            decision=t("已认可") if patrol.accepted else t("不认可")))
        return
    patrol.accepted, patrol.accepted_by_id, patrol.accepted_at = accept, ctx.member.id, ctx.now
    await ctx.session.flush()
    member = await get_member(ctx.session, patrol.member_id)
    what = await patrol_text(t, ctx.session, patrol, member.name, ctx.config.tz)
    ctx.say((t("✅ 已认可：{what}，计入本周巡查。") if accept else t("已不认可：{what}，不计入。"))
            .format(what=what))
    tr = translator_for(member, ctx.config.locale.default)
    started = patrol.started_at.astimezone(ctx.config.tz)
    counted = minutes_between(patrol.started_at, patrol.credited_until or patrol.ended_at)
    text = (tr("✅ 您 {day} {time} 开始的巡查（不在现场）已被安监认可，计入 {duration}。") if accept
            else tr("您 {day} {time} 开始的巡查（不在现场）未被安监认可，不计入巡查时间。")).format(
        day=day_text(tr, started.date()), time=started.strftime("%H:%M"),
        duration=duration_text(tr, counted))
    ctx.notify(Notice(member.id, (Text(text),), kind="off_site_decided",
                      key=f"off_site_decided:{patrol.id}"))


async def ask_next(ctx: Ctx, decided: bool) -> None:
    """The oldest off-site patrol of the project still awaiting a decision (not one's own)."""
    t = ctx.t
    waiting = [(p, n) for p, n in await store.undecided_off_site(ctx.session, ctx.member.project_id)
               if p.member_id != ctx.member.id]
    if not waiting:
        ctx.say(t("待认可的不在现场巡查都已处理完。") if decided else t("没有待认可的不在现场巡查。"))
        return
    patrol, name = waiting[0]
    what = await patrol_text(t, ctx.session, patrol, name, ctx.config.tz)
    ctx.send(Choices(t("待认可（共 {n} 次）：{what}。认可后计入本周巡查。").format(
        n=len(waiting), what=what), decision_buttons(t, patrol)))
