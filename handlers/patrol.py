"""/patrol (巡查): a member's own zone patrol, started and ended with a tap, and
/log (补记): a patrol entered afterwards, done without the phone."""
from __future__ import annotations

import datetime as dt
import math
import re

import sqlalchemy as sa

from bot.core.contract import AskLocation, Choices, Incoming, Kind, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.registry import Registry
from handlers import geo
from handlers.labels import day_text, duration_text
from handlers.weeks import progress_bar, required_minutes, week_of
from storage import patrols as store
from storage.models import Patrol, Zone

END_BUTTON = "/patrol end"


async def week_standing(ctx: Ctx) -> tuple[int, int]:
    """(minutes done, minutes required) of the member's personal patrol this week."""
    week = week_of(ctx.now, ctx.config.tz)
    done = await store.minutes_of_member(ctx.session, ctx.member.id, week.start, week.end)
    return done, required_minutes(ctx.config.practice.personal_minutes, ctx.member.joined_at, week)


def progress_text(t, done: int, required: int) -> str:
    """本周 1小时30分 / 2小时 ▓▓▓▓▓▓▓░░░"""
    line = t("本周 {done} / {required}").format(done=duration_text(t, done),
                                                required=duration_text(t, required))
    return f"{line} {progress_bar(done, required)}" + (" ✅" if done >= required else "")


async def week_progress(ctx: Ctx) -> str:
    return progress_text(ctx.t, *await week_standing(ctx))


def local(ctx: Ctx, moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(ctx.config.tz)


async def project_zones(ctx: Ctx) -> list[Zone]:
    """The member's own zones first, then the rest of the project's."""
    own = list(ctx.member.zones)
    others = (await ctx.session.execute(
        sa.select(Zone).where(Zone.project_id == ctx.member.project_id,
                              Zone.id.not_in([z.id for z in own]) if own else sa.true())
        .order_by(Zone.id)
    )).scalars()
    return own + list(others)


def zone_options(zones: list[Zone]) -> tuple[Option, ...]:
    return tuple(Option(z.name, f"z{z.id}") for z in zones)


async def chosen_zone(ctx: Ctx, value: str | None) -> Zone | None:
    """The zone a button names, if it belongs to the member's project (buttons can be forged)."""
    if not value or not re.fullmatch(r"z\d+", value):
        return None
    zone = await ctx.session.get(Zone, int(value[1:]))
    return zone if zone is not None and zone.project_id == ctx.member.project_id else None


async def take_zone(ctx: Ctx, msg: Incoming, then: str) -> None:
    """A zone step's answer: kept, and on to step `then`; or refused and asked again."""
    zone = await chosen_zone(ctx, msg.choice)
    if zone is None:
        ctx.say(ctx.t("这个区域不属于您的项目，请从按钮中选择。"))
        await ctx.ask_again()
        return
    ctx.data["zone_id"] = zone.id
    await ctx.goto(then)


def build(registry: Registry) -> None:
    start = registry.flow(Flow("patrol"))
    end = registry.flow(Flow("patrol_end"))

    # ---- starting

    async def ask_zone(ctx: Ctx):
        zones = await project_zones(ctx)
        options = zone_options(zones) + (Option(ctx.t("📝 补记以前的巡查"), "log"),)
        return Choices(ctx.t("开始巡查：请选择巡查区域。"), options)

    @start.step("zone", accepts={Kind.choice}, ask=ask_zone)
    async def got_zone(ctx: Ctx, msg: Incoming) -> None:
        if msg.choice == "log":
            await ctx.start(log)
        else:
            await take_zone(ctx, msg, then="location")

    async def ask_start_location(ctx: Ctx):
        return AskLocation(ctx.t("请发送您现在的位置，用于核对是否在责任区内；不方便可点“跳过”。"),
                           skippable=True)

    @start.step("location", accepts={Kind.location, Kind.choice}, ask=ask_start_location)
    async def got_start_location(ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        if await store.open_patrol(ctx.session, ctx.member.id) is not None:
            ctx.finish()  # started meanwhile from another phone
            ctx.say(t("您已有进行中的巡查。发送“巡查”可结束它。"))
            return
        zone = await ctx.session.get(Zone, ctx.data["zone_id"])
        patrol = Patrol(member_id=ctx.member.id, project_id=ctx.member.project_id,
                        zone_id=zone.id, started_at=ctx.now, created_at=ctx.now)
        warning = None
        if msg.kind is Kind.location:
            patrol.start_latitude, patrol.start_longitude = msg.latitude, msg.longitude
            away = geo.outside(zone, msg.latitude, msg.longitude)
            if away is not None:
                patrol.off_site = True
                warning = t("⚠️ 您距{zone}约 {m} 米，不在区域范围内，本次巡查已标记为“不在现场”。").format(
                    zone=zone.name, m=round(away) if math.isfinite(away) else "?")
        ctx.session.add(patrol)
        await ctx.session.flush()
        ctx.finish()
        ctx.say(t("✅ 巡查开始：{zone}，{time}。").format(
            zone=zone.name, time=local(ctx, ctx.now).strftime("%H:%M")))
        if warning:
            ctx.say(warning)
        ctx.send(Choices(
            await week_progress(ctx) + "\n" + t("发现隐患可直接拍照发送。巡查结束时点下面的按钮。"),
            (Option(t("结束巡查"), END_BUTTON),)))

    # ---- ending

    async def ask_end_location(ctx: Ctx):
        t = ctx.t
        patrol = await ctx.session.get(Patrol, ctx.data["patrol_id"])
        zone = await ctx.session.get(Zone, patrol.zone_id) if patrol.zone_id else None
        elapsed = int((ctx.now - patrol.started_at).total_seconds() // 60)
        return AskLocation(
            t("结束巡查（{zone}，{time} 开始，已 {elapsed}）。请发送位置，或点“跳过”直接结束。").format(
                zone=zone.name if zone else "—", time=local(ctx, patrol.started_at).strftime("%H:%M"),
                elapsed=duration_text(t, elapsed)),
            skippable=True)

    @end.step("location", accepts={Kind.location, Kind.choice}, ask=ask_end_location)
    async def got_end_location(ctx: Ctx, msg: Incoming) -> None:
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
        minutes = int((patrol.ended_at - patrol.started_at).total_seconds() // 60)
        ctx.say(t("巡查结束，用时 {duration}。").format(duration=duration_text(t, minutes)))
        if patrol.auto_closed:
            ctx.say(t("超过 {cap} 的部分不计入。").format(
                cap=duration_text(t, ctx.config.practice.max_patrol_minutes)))
        ctx.say(await week_progress(ctx))

    async def begin_end(ctx: Ctx, patrol: Patrol) -> None:
        await ctx.start(end, {"patrol_id": patrol.id})

    # ---- the command

    async def patrol_command(ctx: Ctx, msg: Incoming) -> None:
        arg = (msg.text.split() or [""])[0].lower()
        open_ = await store.open_patrol(ctx.session, ctx.member.id)
        if arg == "fix":
            await fix_command(ctx, msg)
        elif open_ is not None:
            await begin_end(ctx, open_)
        elif arg == "end":
            ctx.send(Choices(ctx.t("现在没有进行中的巡查。"),
                             (Option(ctx.t("开始巡查"), "/patrol"),)))
        else:
            await ctx.start(start)

    registry.command(Command("patrol", patrol_command, N_("开始 / 结束巡查"), words=("巡查",),
                             takes_args=True))

    log = build_log(registry)
    fix_command = build_fix(registry)


# ---- logged afterwards


DURATIONS = (30, 60, 90, 120)
TIMES = ("08:00", "10:00", "14:00", "16:00")


def parse_day(text: str, today: dt.date) -> dt.date | None:
    """"2026-11-20", "11-20", "11/20", "11月20日", "20日"; None if not a date."""
    text = text.strip().replace("/", "-").replace(".", "-")
    m = re.fullmatch(r"(?:(\d{4})-)?(\d{1,2})-(\d{1,2})", text) or \
        re.fullmatch(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]?", text)
    try:
        if m:
            return dt.date(int(m.group(1) or today.year), int(m.group(2)), int(m.group(3)))
        m = re.fullmatch(r"(\d{1,2})[日号]", text)
        if m:
            return today.replace(day=int(m.group(1)))
    except ValueError:
        return None
    return None


def parse_clock(text: str) -> dt.time | None:
    """"14:30", "14：30", "1430", "14点", "14点30"; None if not a time of day."""
    text = text.strip().replace("：", ":")
    m = (re.fullmatch(r"(\d{1,2}):(\d{2})", text) or re.fullmatch(r"(\d{2})(\d{2})", text)
         or re.fullmatch(r"(\d{1,2})[点时](?:(\d{1,2})分?)?", text))
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    return dt.time(hour, minute) if hour < 24 and minute < 60 else None


def parse_minutes(text: str) -> int | None:
    """"45", "45分钟", "1.5小时", "2h", "1小时30分"; None if not a duration."""
    text = text.strip().lower().replace(" ", "")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(?:小时|h|hours?)", text)
    if m:
        return round(float(m.group(1)) * 60)
    m = re.fullmatch(r"(\d+)(?:小时|h)(\d+)(?:分钟?|m|min)?", text)
    if m:
        return int(m.group(1)) * 60 + int(m.group(2))
    m = re.fullmatch(r"(\d+)(?:分钟?|m|min|minutes?)?", text)
    return int(m.group(1)) if m else None


def build_log(registry: Registry) -> Flow:
    log = registry.flow(Flow("patrol_log"))

    def week_start(ctx: Ctx) -> dt.date:
        return week_of(ctx.now, ctx.config.tz).previous().start.date()

    async def ask_day(ctx: Ctx):
        t = ctx.t
        today = local(ctx, ctx.now).date()
        days = [d for d in week_of(ctx.now, ctx.config.tz).days() if d <= today]
        options = tuple(Option(day_text(t, d), f"d{d.isoformat()}") for d in days)
        return Choices(t("补记巡查：哪一天？（上周的日期请输入，如 {example}）").format(
            example=f"{(today - dt.timedelta(days=7)).month}-{(today - dt.timedelta(days=7)).day}"),
            options)

    @log.step("day", accepts={Kind.choice, Kind.text}, ask=ask_day)
    async def got_day(ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        today = local(ctx, ctx.now).date()
        if msg.kind is Kind.choice:
            day = dt.date.fromisoformat(msg.choice[1:]) if re.fullmatch(r"d\d{4}-\d\d-\d\d", msg.choice or "") else None
        else:
            day = parse_day(msg.text, today)
        if day is None:
            ctx.say(t("没看懂这个日期，请点按钮或输入如 11-20。"))
        elif day > today:
            ctx.say(t("不能补记将来的巡查。"))
        elif day < week_start(ctx):
            ctx.say(t("只能补记本周和上周的巡查。"))
        else:
            ctx.data["day"] = day.isoformat()
            await ctx.goto("time")
            return
        await ctx.ask_again()

    async def ask_time(ctx: Ctx):
        return Choices(ctx.t("几点开始的？点按钮或输入时间，如 9:30。"),
                       tuple(Option(x, x) for x in TIMES))

    @log.step("time", accepts={Kind.choice, Kind.text}, ask=ask_time)
    async def got_time(ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        clock = parse_clock(msg.choice if msg.kind is Kind.choice else msg.text)
        if clock is None:
            ctx.say(t("没看懂这个时间，请输入如 9:30 或 14:00。"))
            await ctx.ask_again()
            return
        start = dt.datetime.combine(dt.date.fromisoformat(ctx.data["day"]), clock,
                                    tzinfo=ctx.config.tz)
        if start >= ctx.now:
            ctx.say(t("这个时间还没到，不能补记将来的巡查。"))
            await ctx.ask_again()
            return
        ctx.data["start"] = start.isoformat()
        await ctx.goto("duration")

    async def ask_duration(ctx: Ctx):
        t = ctx.t
        return Choices(t("巡查了多长时间？点按钮或输入分钟数，如 45。"),
                       tuple(Option(duration_text(t, m), str(m)) for m in DURATIONS))

    @log.step("duration", accepts={Kind.choice, Kind.text}, ask=ask_duration)
    async def got_duration(ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        cap = ctx.config.practice.max_patrol_minutes
        minutes = parse_minutes(msg.choice if msg.kind is Kind.choice else msg.text)
        start = dt.datetime.fromisoformat(ctx.data["start"])
        if minutes is None:
            ctx.say(t("请输入分钟数（如 45）或小时数（如 1.5小时）。"))
        elif not 5 <= minutes <= cap:
            ctx.say(t("时长应在 5 分钟到 {cap} 之间。").format(cap=duration_text(t, cap)))
        elif start + dt.timedelta(minutes=minutes) > ctx.now:
            ctx.say(t("这样结束时间在将来，请检查开始时间和时长。"))
        elif await store.overlaps(ctx.session, ctx.member.id, start,
                                  start + dt.timedelta(minutes=minutes)):
            ctx.say(t("这段时间与您已有的巡查重叠，请重新选择开始时间。"))
            await ctx.goto("time")
            return
        else:
            ctx.data["minutes"] = minutes
            await ctx.goto("zone")
            return
        await ctx.ask_again()

    async def ask_zone(ctx: Ctx):
        return Choices(ctx.t("巡查的是哪个区域？"), zone_options(await project_zones(ctx)))

    @log.step("zone", accepts={Kind.choice}, ask=ask_zone)
    async def got_zone(ctx: Ctx, msg: Incoming) -> None:
        await take_zone(ctx, msg, then="note")

    async def ask_note(ctx: Ctx):
        return Choices(ctx.t("补充说明（如“手机没电”）：输入文字，或点“无”。"),
                       (Option(ctx.t("无"), "none"),))

    @log.step("note", accepts={Kind.choice, Kind.text}, ask=ask_note)
    async def got_note(ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        note = msg.text.strip()[:500] if msg.kind is Kind.text else None
        start = dt.datetime.fromisoformat(ctx.data["start"])
        minutes = ctx.data["minutes"]
        end = start + dt.timedelta(minutes=minutes)
        if await store.overlaps(ctx.session, ctx.member.id, start, end):
            # Another patrol was entered meanwhile.
            ctx.say(t("这段时间与您已有的巡查重叠，请重新选择开始时间。"))
            await ctx.goto("time")
            return
        zone = await ctx.session.get(Zone, ctx.data["zone_id"])
        ctx.session.add(Patrol(member_id=ctx.member.id, project_id=ctx.member.project_id,
                               zone_id=zone.id, started_at=start, ended_at=end,
                               logged_afterwards=True, note=note, created_at=ctx.now))
        await ctx.session.flush()
        ctx.finish()
        local_start = local(ctx, start)
        ctx.say(t("✅ 已补记：{day} {time}，{zone}，{duration}（标记为补记）。").format(
            day=day_text(t, local_start.date()), time=local_start.strftime("%H:%M"),
            zone=zone.name, duration=duration_text(t, minutes)))
        ctx.say(await week_progress(ctx))

    async def log_command(ctx: Ctx, msg: Incoming) -> None:
        await ctx.start(log)

    registry.command(Command("log", log_command, N_("补记巡查"), words=("补记",)))
    return log


# ---- forgotten patrols


def build_fix(registry: Registry):
    """Correcting the end of a patrol that was closed automatically."""
    fix = registry.flow(Flow("patrol_fix"))

    async def ask_end(ctx: Ctx):
        t = ctx.t
        patrol = await ctx.session.get(Patrol, ctx.data["patrol_id"])
        return Text(t("这次巡查 {day} {time} 开始。实际几点结束的？请输入时间，如 11:30。").format(
            day=day_text(t, local(ctx, patrol.started_at).date()),
            time=local(ctx, patrol.started_at).strftime("%H:%M")))

    @fix.step("end", accepts={Kind.text}, ask=ask_end)
    async def got_end(ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        patrol = await ctx.session.get(Patrol, ctx.data["patrol_id"], with_for_update=True)
        clock = parse_clock(msg.text)
        if clock is None:
            ctx.say(t("没看懂这个时间，请输入如 9:30 或 14:00。"))
            await ctx.ask_again()
            return
        started = local(ctx, patrol.started_at)
        end = dt.datetime.combine(started.date(), clock, tzinfo=ctx.config.tz)
        if end <= started:
            end += dt.timedelta(days=1)  # past midnight
        cap = dt.timedelta(minutes=ctx.config.practice.max_patrol_minutes)
        if end - started > cap or end > ctx.now:
            ctx.say(t("结束时间应在开始后 {cap} 以内，且不晚于现在。").format(
                cap=duration_text(t, int(cap.total_seconds() // 60))))
            await ctx.ask_again()
            return
        if await store.overlaps(ctx.session, ctx.member.id, patrol.started_at, end,
                                exclude_id=patrol.id):
            ctx.say(t("这段时间与您已有的巡查重叠，请重新输入。"))
            await ctx.ask_again()
            return
        patrol.ended_at, patrol.auto_closed = end, False
        await ctx.session.flush()
        ctx.finish()
        minutes = int((end - started).total_seconds() // 60)
        ctx.say(t("已更正：{start}–{end}，用时 {duration}。").format(
            start=started.strftime("%H:%M"), end=end.strftime("%H:%M"),
            duration=duration_text(t, minutes)))
        ctx.say(await week_progress(ctx))

    async def fix_command(ctx: Ctx, msg: Incoming) -> None:
        parts = msg.text.split()
        patrol = None
        if len(parts) == 2 and parts[1].isdigit():
            patrol = await ctx.session.get(Patrol, int(parts[1]))
        if patrol is None or patrol.member_id != ctx.member.id or not patrol.auto_closed:
            ctx.say(ctx.t("没有需要更正的巡查。"))
            return
        await ctx.start(fix, {"patrol_id": patrol.id})

    return fix_command


async def close_forgotten(session, now: dt.datetime, config) -> list:
    """Close patrols left open longer than max_patrol_minutes at that cap, mark them,
    and return a notice for each member, with a button to correct the end time."""
    from bot.core.contract import Notice
    from handlers.notices import translator_for
    from storage.directory import get_member

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
