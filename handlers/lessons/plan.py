"""/lesson (红盾课堂): the secretary plans a lesson in chat (title, form, day, start,
duration, place, audience, organiser), its audience is told, the organiser learns how
check-in works, and everyone is reminded before it starts. `/lesson cancel ID` (the
planner, a secretary or the organiser) calls it off and tells the audience.

The announcement never carries the check-in code (RULINGS 12): the organiser shows it
in the room (handlers/lessons/checkin.py)."""
from __future__ import annotations

import datetime as dt

from bot.core.contract import Choices, Incoming, Kind, Notice, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_, Translator
from bot.core.registry import Registry
from bot.core.steps import ask_text, pick_one, too_long
from bot.scheduler import every
from handlers import people, roles
from handlers.dates import local, parse_clock, parse_day, parse_id, parse_minutes
from handlers.labels import day_text
from handlers.lessons.checkin import moment_text
from handlers.notices import translator_for, unreachable_line
from handlers.zones import chosen_zone, project_zones, squeeze
from storage import lessons as store
from storage import stars
from storage.directory import unreachable_members
from storage.models import Lesson, Member

REMINDER_JOB = "lesson_reminders"

# What a lesson may be: safety woven into the branch's own forms, and the company's trainings.
FORMS = (N_("党课"), N_("主题党日"), N_("学习会"), N_("小品"), N_("话剧"), N_("微电影"), N_("视频"),
         N_("书法"), N_("绘画"), N_("打油诗"), N_("安全培训"), N_("其他"))
AUDIENCE_LABELS = {store.MANAGERS: N_("管理人员"), store.WORKERS: N_("劳务班组"),
                   store.ALL: N_("全体"), store.CREWS: N_("选择班组")}
START_TIMES = ("08:00", "12:30", "14:00", "19:00")
DURATIONS = ((30, N_("30 分钟")), (60, N_("1 小时")), (90, N_("1.5 小时")), (120, N_("2 小时")),
             (240, N_("半天")))  # 半天: a morning or an afternoon
TITLE_MIN, TITLE_MAX = 2, 100
PLACE_MIN, PLACE_MAX = 2, 100
AHEAD_DAYS = 90  # planned further out, a lesson is a wish, not a plan
MIN_MINUTES, MAX_MINUTES = 10, 600
ZONE_BUTTONS = 8
ME, DONE_CREWS = "me", "done"
NO_RIGHT = N_("红盾课堂由党支部书记安排。")

flow = Flow("lesson", N_("红盾课堂安排"))


def register(registry: Registry) -> None:
    registry.flow(flow)
    # Open to every member: a lesson's organiser may cancel it (lesson_command checks who
    # may do what); /help lists it for the planners.
    registry.command(Command("lesson", lesson_command, N_("安排红盾课堂"), words=(N_("红盾课堂"),),
                             takes_args=True, private_only=True, shown_to=roles.LESSON_PLANNERS))
    registry.job(REMINDER_JOB, every(5), remind, catch_up=False)


# ---- how a lesson reads (other parts of 红盾课堂 use these too)


def form_text(t: Translator, form: str) -> str:
    return t(form)


def audience_text(t: Translator, lesson: Lesson) -> str:
    """管理人员 · 劳务班组 · 全体, or the chosen 班组: 钢筋班、木工班."""
    if lesson.audience == store.CREWS:
        return t("、").join(lesson.crews or ())
    return t(AUDIENCE_LABELS.get(lesson.audience, lesson.audience))


def times(t: Translator, tz, lesson: Lesson) -> tuple[str, str, str]:
    """(day, start, end) on the project's clock: 周二 11-24, 14:00, 15:00 (次日 01:00 past midnight)."""
    start, end = lesson.starts_at.astimezone(tz), lesson.ends_at.astimezone(tz)
    until = f"{end:%H:%M}" if end.date() == start.date() \
        else t("次日 {time}").format(time=f"{end:%H:%M}")
    return day_text(t, start.date()), f"{start:%H:%M}", until


def when_text(t: Translator, tz, lesson: Lesson) -> str:
    day, start, end = times(t, tz, lesson)
    return t("{day} {start}–{end}").format(day=day, start=start, end=end)


def announcement(t: Translator, tz, lesson: Lesson, organiser: str) -> str:
    """What the audience is told: no check-in code, ever (RULINGS 12)."""
    day, start, end = times(t, tz, lesson)
    return t("📚 红盾课堂：《{title}》（{form}）\n{day} {start}–{end} · {place}\n组织人：{organiser}\n"
             "到场后发送组织人出示的签到码即可签到。").format(
        title=lesson.title, form=form_text(t, lesson.form), day=day, start=start, end=end,
        place=lesson.place, organiser=organiser)


def organiser_howto(t: Translator, lesson: Lesson) -> str:
    return t("开始时发送“签到码 {id}”查看签到码，请到场的人发送签到码签到；没有账号的工友请用纸质签到表，"
             "课后拍照补录。").format(id=lesson.id)


# ---- /lesson


async def lesson_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    parts = msg.text.split()
    if parts[:1] in (["cancel"], ["取消"]):
        if len(parts) != 2:
            ctx.say(t("要取消课堂，请发送 /lesson cancel 编号（编号见发布消息）。"))
            return
        await cancel(ctx, parts[1])
        return
    if parts:
        ctx.say(t("发送 /lesson 安排红盾课堂；取消请发送 /lesson cancel 编号。"))
        return
    if not roles.has(ctx.member, roles.LESSON_PLANNERS):
        ctx.say(t(NO_RIGHT))
        return
    await ctx.start(flow)


@ask_text(flow, N_("安排红盾课堂。课堂主题（2–100 字，如：高处作业防坠落）："),
          empty=N_("主题至少 2 个字。"), min_len=TITLE_MIN, max_len=TITLE_MAX)
async def title(ctx: Ctx, text: str) -> None:
    ctx.data["title"] = text
    await ctx.goto(form)


async def ask_form(ctx: Ctx) -> Choices:
    t = ctx.t
    return Choices(t("课堂形式："), tuple(Option(t(f), f"f{i}") for i, f in enumerate(FORMS)))


@pick_one(flow, ask_form, hint=N_("请点按钮选择课堂形式。"))
async def form(ctx: Ctx, value: str) -> None:
    ctx.data["form"] = FORMS[int(value[1:])]
    await ctx.goto(day)


# ---- when


def _today(ctx: Ctx) -> dt.date:
    return local(ctx, ctx.now).date()


async def ask_day(ctx: Ctx) -> Choices:
    t, today = ctx.t, _today(ctx)
    labels = (N_("今天"), N_("明天"), N_("后天"))
    return Choices(t("哪天上课？点按钮或输入日期，如 12-10、下周三。"), tuple(
        Option(t(label), (today + dt.timedelta(days=i)).isoformat()) for i, label in enumerate(labels)))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_day)
async def day(ctx: Ctx, msg: Incoming) -> None:
    t, today = ctx.t, _today(ctx)
    if msg.kind is Kind.choice:
        chosen = dt.date.fromisoformat(msg.choice) if ctx.offered(msg.choice) else None
    else:
        chosen = parse_day(msg.text, today, prefer="future")
    if chosen is None:
        return await ctx.reject(t("没看懂这个日期，请点按钮或输入如 12-10。"))
    if chosen < today:
        return await ctx.reject(t("不能安排在过去的日期。"))
    if chosen > today + dt.timedelta(days=AHEAD_DAYS):
        return await ctx.reject(t("只能安排 {n} 天内的课堂。").format(n=AHEAD_DAYS))
    ctx.data["day"] = chosen.isoformat()
    await ctx.goto(start)


def _moment(ctx: Ctx, day_iso: str, clock: str) -> dt.datetime:
    """A local day and HH:MM as a UTC moment."""
    hour, minute = (int(x) for x in clock.split(":"))
    local_moment = dt.datetime.combine(dt.date.fromisoformat(day_iso), dt.time(hour, minute),
                                       tzinfo=ctx.config.tz)
    return local_moment.astimezone(dt.UTC)


async def ask_start(ctx: Ctx) -> Choices:
    t = ctx.t
    chosen = dt.date.fromisoformat(ctx.data["day"])
    # Times already past today are not offered (typed ones are refused with the reason).
    offered = [c for c in START_TIMES if _moment(ctx, ctx.data["day"], c) > ctx.now]
    return Choices(t("{day} 几点开始？点按钮或输入时间，如 9:30、下午3点。").format(
        day=day_text(t, chosen)), tuple(Option(c, f"t{c}") for c in offered))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_start)
async def start(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    if msg.kind is Kind.choice:
        clock = msg.choice[1:] if ctx.offered(msg.choice) and msg.choice.startswith("t") else None
    else:
        parsed = parse_clock(msg.text)
        clock = f"{parsed:%H:%M}" if parsed is not None else None
    if clock is None:
        return await ctx.reject(t("没看懂这个时间，请点按钮或输入如 9:30、下午3点。"))
    if _moment(ctx, ctx.data["day"], clock) <= ctx.now:
        return await ctx.reject(t("{time} 已经过了，请选择以后的时间。").format(time=clock))
    ctx.data["start"] = clock
    await ctx.goto(duration)


async def ask_duration(ctx: Ctx) -> Choices:
    t = ctx.t
    return Choices(t("课堂多长时间？点按钮或输入，如 45分钟。"),
                   tuple(Option(t(label), f"d{m}") for m, label in DURATIONS))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_duration)
async def duration(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    if msg.kind is Kind.choice:
        minutes = int(msg.choice[1:]) if ctx.offered(msg.choice) and msg.choice[1:].isdecimal() \
            else None
    else:
        minutes = parse_minutes(msg.text)
    if minutes is None or not MIN_MINUTES <= minutes <= MAX_MINUTES:
        return await ctx.reject(t("请点按钮，或输入 {min}–{max} 分钟之间的时长。").format(
            min=MIN_MINUTES, max=MAX_MINUTES))
    ctx.data["minutes"] = minutes
    await ctx.goto(place)


# ---- where, for whom, by whom


async def ask_place(ctx: Ctx) -> Choices:
    zones = (await project_zones(ctx))[:ZONE_BUTTONS]
    return Choices(ctx.t("在哪里上课？输入地点（如：项目部三楼会议室），或点区域。"),
                   tuple(Option(z.name, f"z{z.id}") for z in zones))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_place)
async def place(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    if msg.kind is Kind.choice:
        zone = await chosen_zone(ctx, msg.choice) if ctx.offered(msg.choice) else None
        if zone is None:
            return await ctx.reject(t("请点按钮，或输入地点。"))
        text = zone.name
    else:
        text = " ".join(msg.text.split())
        if len(text) < PLACE_MIN:
            return await ctx.reject(t("地点至少 2 个字。"))
        if len(text) > PLACE_MAX:
            return await ctx.reject(too_long(ctx, len(text), PLACE_MAX))
    ctx.data["place"] = text
    await ctx.goto(audience)


async def ask_audience(ctx: Ctx) -> Choices:
    t = ctx.t
    return Choices(t("听众是谁？"), tuple(Option(t(label), key) for key, label in AUDIENCE_LABELS.items()))


@pick_one(flow, ask_audience, hint=N_("请点按钮选择听众。"))
async def audience(ctx: Ctx, value: str) -> None:
    if value == store.CREWS:
        crews = await stars.crews(ctx.session, ctx.member.project_id)
        if not crews:
            return await ctx.reject(ctx.t("名册里还没有班组，请选择其他听众。"))
        ctx.data.update(audience=value, crew_names=crews, crews=[])
        return await ctx.goto(crew_pick)
    ctx.data.update(audience=value, crews=[])
    ctx.data.pop("crew_names", None)
    await ctx.goto(organiser)


async def ask_crews(ctx: Ctx) -> Choices:
    t = ctx.t
    chosen = set(ctx.data["crews"])
    lines = [t("选择班组（可多选），选好后点“完成”。")]
    if chosen:
        lines.append(t("已选：{crews}").format(crews=t("、").join(ctx.data["crews"])))
    options = [Option(("✅ " + name) if name in chosen else name, f"c{i}")
               for i, name in enumerate(ctx.data["crew_names"])]
    return Choices("\n".join(lines), (*options, Option(t("完成"), DONE_CREWS)))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_crews)
async def crew_pick(ctx: Ctx, msg: Incoming) -> None:
    t, names = ctx.t, ctx.data["crew_names"]
    if msg.kind is Kind.choice and msg.choice == DONE_CREWS and ctx.offered(msg.choice):
        if not ctx.data["crews"]:
            return await ctx.reject(t("请至少选择一个班组。"))
        return await ctx.goto(organiser)
    name = None
    if msg.kind is Kind.choice and ctx.offered(msg.choice) and msg.choice[1:].isdecimal():
        index = int(msg.choice[1:])
        name = names[index] if index < len(names) else None
    elif msg.kind is Kind.text:  # the 班组 typed (a chosen one's label carries ✅)
        name = next((n for n in names if squeeze(n) == squeeze(msg.text)), None)
    if name is None:
        return await ctx.reject(t("请点班组按钮，选好后点“完成”。"))
    chosen = ctx.data["crews"]
    if name in chosen:
        chosen.remove(name)
    else:
        chosen.append(name)
    await ctx.ask_again()


async def ask_organiser(ctx: Ctx) -> Choices:
    t, typed = ctx.t, ctx.data.get("typed_organiser")
    near = [m for m in [await ctx.session.get(Member, i) for i in ctx.data.get("near", [])] if m]
    if typed and near:
        prompt = t("本项目没有“{name}”。您是指 {who} 吗？也可以重新输入姓名。").format(
            name=typed, who=t("、").join(m.name for m in near))
    elif typed:
        prompt = t("本项目没有“{name}”，请重新输入组织人的姓名，或点“我自己”。").format(name=typed)
    else:
        prompt = t("谁组织这次课堂？点“我自己”，或输入组织人的姓名。")
    return Choices(prompt, (Option(t("我自己"), ME), *(Option(m.name, f"m{m.id}") for m in near)))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_organiser)
async def organiser(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    if msg.kind is Kind.choice:
        if msg.choice == ME and ctx.offered(ME):
            return await _set_organiser(ctx, ctx.member.id)
        member = await people.chosen_member(ctx, msg.choice) if ctx.offered(msg.choice) else None
        if member is None:
            return await ctx.reject(t("组织人必须是本项目的人员，请点按钮或输入姓名。"))
        return await _set_organiser(ctx, member.id)
    typed = msg.text.strip()
    if not typed:
        return await ctx.reject()
    if len(typed) > 50:
        return await ctx.reject(too_long(ctx, len(typed), 50))
    exact, near = await people.by_typed_name(ctx, typed)
    if exact is not None:
        return await _set_organiser(ctx, exact.id)
    ctx.data.update(typed_organiser=typed, near=[m.id for m in near])
    await ctx.ask_again()


async def _set_organiser(ctx: Ctx, member_id: int) -> None:
    for key in ("typed_organiser", "near"):
        ctx.data.pop(key, None)
    ctx.data["organiser_id"] = member_id
    await ctx.goto(confirm)


# ---- confirm and publish


def _draft(ctx: Ctx) -> Lesson:
    """The lesson the answers describe, not added to the session."""
    d = ctx.data
    starts = _moment(ctx, d["day"], d["start"])
    return Lesson(project_id=ctx.member.project_id, title=d["title"], form=d["form"],
                  starts_at=starts, ends_at=starts + dt.timedelta(minutes=d["minutes"]),
                  place=d["place"], audience=d["audience"], crews=list(d.get("crews") or []),
                  organiser_id=d["organiser_id"], planned_by_id=ctx.member.id, created_at=ctx.now)


async def _organiser_of(ctx: Ctx, member_id: int | None) -> Member | None:
    member = await ctx.session.get(Member, member_id) if member_id else None
    if member is None or member.project_id != ctx.member.project_id or not member.active:
        return None
    return member


async def ask_confirm(ctx: Ctx) -> Choices:
    t, tz = ctx.t, ctx.config.tz
    lesson = _draft(ctx)
    members = await store.audience_members(ctx.session, lesson)
    cut_off = await unreachable_members(ctx.session, [m.id for m in members])
    organiser_member = await _organiser_of(ctx, lesson.organiser_id)
    heads = t("{n} 人").format(n=len(members))
    if cut_off:
        heads += t("，{n} 人收不到消息").format(n=len(cut_off))
    lines = [t("请确认红盾课堂："),
             t("《{title}》（{form}）").format(title=lesson.title, form=form_text(t, lesson.form)),
             when_text(t, tz, lesson),
             t("地点：{place}").format(place=lesson.place),
             t("听众：{audience}（{heads}）").format(audience=audience_text(t, lesson), heads=heads),
             t("组织人：{name}").format(name=organiser_member.name if organiser_member else "—")]
    return Choices("\n".join(lines), (Option(t("确认发布"), "yes"),))


@pick_one(flow, ask_confirm)
async def confirm(ctx: Ctx, value: str) -> None:
    t = ctx.t
    lesson = _draft(ctx)
    if lesson.starts_at <= ctx.now:  # the question waited while the clock ran on
        ctx.say(t("开始时间已经过了，请重新选择日期和时间。"))
        return await ctx.goto(day)
    organiser_member = await _organiser_of(ctx, lesson.organiser_id)
    if organiser_member is None:
        ctx.say(t("组织人已不在名册中，请重新选择。"))
        return await ctx.goto(organiser)
    ctx.finish()
    if lesson.starts_at <= ctx.now + dt.timedelta(minutes=ctx.config.schedule.lesson_reminder_minutes):
        # Starting within the reminder window: the announcement is the reminder.
        lesson.reminded_at = ctx.now
    ctx.session.add(lesson)
    await ctx.session.flush()
    await publish(ctx, lesson, organiser_member)


async def publish(ctx: Ctx, lesson: Lesson, organiser_member: Member) -> None:
    """Tell the audience and the organiser; tell the planner who heard it."""
    t, tz, default = ctx.t, ctx.config.tz, ctx.config.locale.default
    members = await store.audience_members(ctx.session, lesson)
    cut_off = await unreachable_members(ctx.session, [m.id for m in members] + [organiser_member.id])
    told = 0
    for member in members:
        if member.id in cut_off:
            continue
        tr = translator_for(member, default)
        ctx.notify(Notice(member.id, (Text(announcement(tr, tz, lesson, organiser_member.name)),),
                          kind="lesson_announced", key=f"lesson_announced:{lesson.id}:{member.id}"))
        told += 1
    lines = [t("✅ 已发布红盾课堂 #{id}：《{title}》，{when}。").format(
        id=lesson.id, title=lesson.title, when=when_text(t, tz, lesson)),
        t("已通知 {n} 人。").format(n=told)]
    missed = sum(1 for m in members if m.id in cut_off)
    if missed:
        lines.append(t("另有 {n} 人收不到消息（未绑定或已屏蔽），请另行通知；没有账号的工友用纸质签到表。")
                     .format(n=missed))
    if organiser_member.id == ctx.member.id:
        lines.append(organiser_howto(t, lesson))
    elif organiser_member.id in cut_off:
        lines.append(unreachable_line(t, organiser_member.name, cut_off[organiser_member.id]))
    else:
        tr = translator_for(organiser_member, default)
        ctx.notify(Notice(organiser_member.id, (Text("\n".join([
            tr("📚 {planner} 请您组织红盾课堂 #{id}：《{title}》，{when}，{place}。").format(
                planner=ctx.member.name, id=lesson.id, title=lesson.title,
                when=when_text(tr, tz, lesson), place=lesson.place),
            organiser_howto(tr, lesson)])),), kind="lesson_organiser",
            key=f"lesson_organiser:{lesson.id}"))
        lines.append(t("已通知组织人 {name}。").format(name=organiser_member.name))
    lines.append(t("如需取消，发送 /lesson cancel {id}").format(id=lesson.id))
    ctx.say("\n".join(lines))


# ---- /lesson cancel ID


async def cancel(ctx: Ctx, ident: str) -> None:
    t, tz = ctx.t, ctx.config.tz
    number = parse_id(ident)
    lesson = await store.get(ctx.session, number) if number else None
    if lesson is None or lesson.project_id != ctx.member.project_id:
        ctx.say(t("本项目没有这个课堂。"))
        return
    if not (roles.has(ctx.member, roles.LESSON_PLANNERS)
            or ctx.member.id in (lesson.planned_by_id, lesson.organiser_id)):
        ctx.say(t("课堂只能由安排人或组织人取消。"))
        return
    if lesson.cancelled_at is not None:
        ctx.say(t("这个课堂已经取消过了。"))
        return
    if lesson.ends_at <= ctx.now:
        ctx.say(t("这个课堂已经结束，不能取消。"))
        return
    lesson.cancelled_at = ctx.now
    recipients = {m.id: m for m in await store.audience_members(ctx.session, lesson)}
    for extra in (lesson.organiser_id, lesson.planned_by_id):
        member = await _organiser_of(ctx, extra)
        if member is not None:
            recipients.setdefault(member.id, member)
    recipients.pop(ctx.member.id, None)
    cut_off = await unreachable_members(ctx.session, list(recipients))
    told = 0
    for member in recipients.values():
        if member.id in cut_off:
            continue
        tr = translator_for(member, ctx.config.locale.default)
        day_, start_, _ = times(tr, tz, lesson)
        ctx.notify(Notice(member.id, (Text(tr("❌ 红盾课堂《{title}》（{day} {start}）已取消。").format(
            title=lesson.title, day=day_, start=start_)),),
            kind="lesson_cancelled", key=f"lesson_cancelled:{lesson.id}:{member.id}"))
        told += 1
    ctx.say(t("已取消红盾课堂 #{id}《{title}》，已通知 {n} 人。").format(
        id=lesson.id, title=lesson.title, n=told))


# ---- the reminder before a lesson


async def remind(session, now: dt.datetime, config) -> list[Notice]:
    """Lessons starting within lesson_reminder_minutes, not reminded yet: each reachable
    member of the audience (and the organiser) is reminded, once."""
    until = now + dt.timedelta(minutes=config.schedule.lesson_reminder_minutes)
    notices: list[Notice] = []
    tz, default = config.tz, config.locale.default
    for lesson in await store.starting_between(session, now, until):
        recipients = {m.id: m for m in await store.audience_members(session, lesson)}
        organiser_member = await session.get(Member, lesson.organiser_id) if lesson.organiser_id else None
        if organiser_member is not None and organiser_member.active:
            recipients.setdefault(organiser_member.id, organiser_member)
        cut_off = await unreachable_members(session, list(recipients))
        for member in recipients.values():
            if member.id in cut_off:
                continue
            tr = translator_for(member, default)
            # With its day when not today: a reminder before midnight for a lesson after it.
            text = tr("⏰ {start} 红盾课堂《{title}》，地点：{place}。").format(
                start=moment_text(tz, now, lesson.starts_at), title=lesson.title,
                place=lesson.place)
            if member.id == lesson.organiser_id:
                text += "\n" + tr("您是组织人：") + organiser_howto(tr, lesson)
            notices.append(Notice(member.id, (Text(text),), kind="lesson_reminder",
                                  key=f"lesson_reminder:{lesson.id}:{member.id}"))
        lesson.reminded_at = now
    return notices
