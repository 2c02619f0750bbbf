"""/edu (教育): a member records the safety education they gave in their own
responsibility zone: a 晨会, 班前讲话, 专题培训 or 谈心谈话, with its topic, the 班组, how
many took part, the day and an optional photo. Of a 谈心谈话 only the topic, the 班组
and how many talked is kept: what was said is never asked for, and no photo either.

The records show in /me (this month), in the secretary's /week and in the weekly
report (each zone's patrols and education this month); storage/edu.py counts them."""
from __future__ import annotations

import datetime as dt
import re

from bot.core.contract import SKIP, AskPhoto, Choices, Incoming, Kind, Option
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.registry import Registry
from bot.core.steps import ask_text, pick_one, too_long
from handlers import photos as photo_rules
from handlers import roles
from handlers.dates import parse_number, today
from handlers.day_steps import held_on
from handlers.zones import squeeze, zone_options
from storage import edu as store
from storage import stars as directory_crews
from storage.models import EduRecord, Zone

flow = Flow("edu", N_("责任区教育记录"))

KINDS = (N_("晨会"), N_("班前讲话"), N_("专题培训"), N_("谈心谈话"))
TALK = KINDS[3]  # 谈心谈话: no content, no photo
HEADCOUNTS = (5, 10, 20, 50)
TALK_HEADCOUNTS = (1, 2, 3, 5)
MAX_HEADCOUNT = 500
MAX_AGE_DAYS = 14  # recorded while it is remembered; older ones are not taken in chat
TOPIC_MIN, TOPIC_MAX = 2, 100
NEW_CREW_MAX = 20  # a 班组 name typed when the directory knows none
CREW_MAX = 50
CREWS_LISTED = 10  # 班组 buttons; others are typed
ANY_CREW = "any"
CREWS = "_crews"  # dialog working state: the 班组 the buttons stood for
SKIP_WORDS = (N_("跳过"), N_("不拍照"), N_("保存"))  # typed at the photo question

NO_ZONE = N_("您还没有分配责任区，无法记录责任区教育。请联系党支部书记在名册中为您分配责任区。")
NOT_MINE = N_("只能记录您自己责任区的教育，请点按钮选择。")


def register(registry: Registry) -> None:
    registry.flow(flow)
    registry.command(Command("edu", edu_command, N_("记录责任区安全教育"), words=(N_("教育"),),
                             roles=roles.PATROLLERS))


async def edu_command(ctx: Ctx, msg: Incoming) -> None:
    if not ctx.member.zones:  # said before any question: nothing to fill in and lose
        ctx.say(ctx.t(NO_ZONE))
        return
    await ctx.start(flow)


def _talk(ctx: Ctx) -> bool:
    return ctx.data.get("kind") == TALK


def _own(ctx: Ctx) -> list[Zone]:
    return list(ctx.member.zones)


# ---- kind, then zone (asked only of a member with several)


async def ask_kind(ctx: Ctx) -> Choices:
    return Choices(ctx.t("记录哪种责任区教育？"),
                   tuple(Option(ctx.t(k), f"k{i}") for i, k in enumerate(KINDS)))


@pick_one(flow, ask_kind)
async def kind(ctx: Ctx, value: str) -> None:
    ctx.data["kind"] = KINDS[int(value[1:])]
    own = _own(ctx)
    if len(own) == 1:
        ctx.data["zone_id"] = own[0].id
        return await ctx.goto(topic)
    await ctx.goto(zone)


async def ask_zone(ctx: Ctx) -> Choices:
    return Choices(ctx.t("在哪个责任区？"), zone_options(_own(ctx)))


def _typed_zone(ctx: Ctx, text: str) -> tuple[Zone | None, str]:
    """One of the member's zones by its number, its name or a part only it has."""
    own, typed = _own(ctx), squeeze(text)
    offered = ctx.data.get("_offered", [])
    if typed.isascii() and typed.isdecimal() and 1 <= int(typed) <= len(offered):
        value = offered[int(typed) - 1][1]
        found = [z for z in own if f"z{z.id}" == value]
    else:
        found = [z for z in own if squeeze(z.name) == typed] or \
            [z for z in own if typed and typed in squeeze(z.name)]
    if len(found) == 1:
        return found[0], ""
    return None, ctx.t(NOT_MINE)


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_zone)
async def zone(ctx: Ctx, msg: Incoming) -> None:
    if msg.kind is Kind.text:
        chosen, why = _typed_zone(ctx, msg.text)
    else:  # a button can be forged: only the member's own zones count
        value = msg.choice or ""
        chosen = next((z for z in _own(ctx) if re.fullmatch(r"z\d{1,9}", value)
                       and z.id == int(value[1:])), None)
        why = ctx.t(NOT_MINE)
    if chosen is None:
        return await ctx.reject(why)
    ctx.data["zone_id"] = chosen.id
    await ctx.goto(topic)


# ---- topic, 班组, headcount, day


def ask_topic_text(ctx: Ctx) -> str:
    t = ctx.t
    if _talk(ctx):
        return t("谈话主题（{min}–{max} 字，只写主题，不写谈话内容），如：节后返岗安全提醒：").format(
            min=TOPIC_MIN, max=TOPIC_MAX)
    return t("教育主题（{min}–{max} 字），如：冬季防滑：").format(min=TOPIC_MIN, max=TOPIC_MAX)


@ask_text(flow, ask_topic_text, empty=N_("请写明主题，至少 2 个字。"), min_len=TOPIC_MIN,
          max_len=TOPIC_MAX)
async def topic(ctx: Ctx, text: str) -> None:
    ctx.data["topic"] = " ".join(text.split())  # one line in every list it shows in
    await ctx.goto(crew)


async def ask_crew(ctx: Ctx) -> Choices:
    t = ctx.t
    crews = (await directory_crews.crews(ctx.session, ctx.member.project_id))[:CREWS_LISTED]
    ctx.data[CREWS] = crews
    prompt = t("和哪个班组谈的？点按钮，或输入班组名称。") if _talk(ctx) else \
        t("面向哪个班组？点按钮，或输入班组名称。")
    return Choices(prompt, tuple(Option(c, f"c{i}") for i, c in enumerate(crews))
                   + (Option(t("不限班组"), ANY_CREW),))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_crew)
async def crew(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    crews = ctx.data.get(CREWS) or []
    choice = msg.choice if msg.kind is Kind.choice else None
    typed = msg.text.strip() if msg.kind is Kind.text else ""
    if typed.isascii() and typed.isdecimal() and 1 <= int(typed) <= len(crews) + 1:
        # A button's number, as WeCom's numbered text fallback is answered: no 班组 is "2".
        choice = f"c{int(typed) - 1}" if int(typed) <= len(crews) else ANY_CREW
    if choice is not None:
        if choice == ANY_CREW:
            chosen = None
        elif re.fullmatch(r"c\d{1,3}", choice) and int(choice[1:]) < len(crews) \
                and (msg.kind is Kind.text or ctx.offered(choice)):
            chosen = crews[int(choice[1:])]
        else:
            return await ctx.reject()
    else:
        chosen = " ".join(msg.text.split())
        if not chosen:
            return await ctx.reject(t("请输入班组名称，或点下面的按钮。"))
        if len(chosen) > CREW_MAX:
            return await ctx.reject(too_long(ctx, len(chosen), CREW_MAX))
        # A known 班组, typed with other spaces or case or in part ("钢筋" for 钢筋班), keeps
        # its known spelling. Anything else is refused while the directory knows 班组: a
        # typed sentence must not become a 班组 (nor carry what a talk was about).
        known = await directory_crews.crews(ctx.session, ctx.member.project_id)
        exact = [c for c in known if squeeze(c) == squeeze(chosen)]
        partial = [c for c in known if squeeze(chosen) in squeeze(c)]
        if exact or len(partial) == 1:
            chosen = (exact or partial)[0]
        elif known:
            return await ctx.reject(t("没有这个班组，请点按钮选择，或点“不限班组”。"))
        elif len(chosen) > NEW_CREW_MAX:
            return await ctx.reject(too_long(ctx, len(chosen), NEW_CREW_MAX))
    ctx.data["crew"] = chosen
    await ctx.goto(headcount)


async def ask_headcount(ctx: Ctx) -> Choices:
    t = ctx.t
    if _talk(ctx):
        prompt, counts = t("谈话人数？点按钮或输入人数，如 2。"), TALK_HEADCOUNTS
    else:
        prompt, counts = t("参加人数？点按钮或输入人数，如 12。"), HEADCOUNTS
    return Choices(prompt, tuple(Option(str(n), f"n{n}") for n in counts))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_headcount)
async def headcount(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    if msg.kind is Kind.choice:
        value = msg.choice or ""
        count = int(value[1:]) if ctx.offered(value) and re.fullmatch(r"n\d{1,3}", value) else None
        if count is None:
            return await ctx.reject()
    else:
        count = parse_number(msg.text.strip().removesuffix("人"))
        if count is None:
            return await ctx.reject(t("请输入人数，如 12。"))
    if not 1 <= count <= MAX_HEADCOUNT:
        return await ctx.reject(t("人数应在 1 到 {max} 之间。").format(max=MAX_HEADCOUNT))
    ctx.data["headcount"] = count
    await ctx.goto(day)


@held_on(flow, N_("是哪天？点按钮或输入日期，如 12-01。"), max_age_days=MAX_AGE_DAYS,
         future=N_("只能记录已经进行的教育，日期不能晚于今天。"), too_old=N_("只能记录 {n} 天内的教育。"))
async def day(ctx: Ctx, held: dt.date) -> None:
    ctx.data["day"] = held.isoformat()
    if _talk(ctx):  # a talk leaves no photo: nothing of it but the topic is kept
        return await save(ctx, None)
    await ctx.goto(photo)


# ---- the photo, and saving


async def ask_photo(ctx: Ctx) -> AskPhoto:
    t = ctx.t
    return AskPhoto(t("可以拍一张现场照片；没有照片就直接保存。"), skippable=True,
                    skip_label=t("不拍照，直接保存"))


@flow.step(accepts={Kind.photo, Kind.choice, Kind.text}, ask=ask_photo,
           hint=N_("请发送一张照片，或点“不拍照，直接保存”。"))
async def photo(ctx: Ctx, msg: Incoming) -> None:
    if msg.kind is Kind.photo:
        kept = await photo_rules.keep_evidence(ctx, msg, 0)
        if kept is None:  # not an image: keep_evidence said so
            return await ctx.ask_again()
        return await save(ctx, kept["name"])
    if msg.kind is Kind.choice and msg.choice == SKIP:
        return await save(ctx, None)
    if msg.kind is Kind.text and squeeze(msg.text) in {squeeze(ctx.t(w)) for w in SKIP_WORDS}:
        return await save(ctx, None)
    await ctx.reject(ctx.t("请发送一张照片，或点“不拍照，直接保存”。"))


def record_text(t, record: EduRecord, zone_name: str) -> str:
    """12-02 晨会 · 施工现场A区 · 钢筋班 · 12 人 · 主题：冬季防滑"""
    parts = [f"{record.day:%m-%d} {t(record.kind)}", zone_name]
    if record.crew:
        parts.append(record.crew)
    parts += [t("{n} 人").format(n=record.headcount), t("主题：{topic}").format(topic=record.topic)]
    if record.photo:
        parts.append(t("附照片"))
    return " · ".join(parts)


async def save(ctx: Ctx, photo_name: str | None) -> None:
    t, d = ctx.t, ctx.data
    ctx.finish()
    # The directory may have moved the zone to someone else while the questions were asked.
    own = next((z for z in _own(ctx) if z.id == d.get("zone_id")), None)
    if own is None:
        ctx.say(t("这个责任区已不由您负责，没有保存。"))
        return
    record = await store.add(ctx.session, EduRecord(
        project_id=ctx.member.project_id, zone_id=own.id, member_id=ctx.member.id, kind=d["kind"],
        topic=d["topic"], crew=d.get("crew"), headcount=d["headcount"],
        photo=None if d["kind"] == TALK else photo_name, day=dt.date.fromisoformat(d["day"]),
        recorded_at=ctx.now))
    ctx.say(t("✅ 已记录：{what}").format(what=record_text(t, record, own.name)))


# ---- what other views show


def month_days(day: dt.date) -> tuple[dt.date, dt.date]:
    """The month `day` falls in, as days [first, first of the next)."""
    first = day.replace(day=1)
    return first, (first + dt.timedelta(days=32)).replace(day=1)


async def my_education(ctx: Ctx) -> str | None:
    """/me: 本月责任区教育 N 次, for a member who patrols and has records this month."""
    if not roles.has(ctx.member, roles.PATROLLERS):
        return None
    n = await store.member_count(ctx.session, ctx.member.id, *month_days(today(ctx)))
    return ctx.t("本月责任区教育 {n} 次").format(n=n) if n else None
