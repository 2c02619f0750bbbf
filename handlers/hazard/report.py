"""/hazard (隐患): reporting a hazard, from photos to a numbered 整改通知书."""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from bot.core.contract import Choices, Incoming, Kind, Notice, Option, Text
from bot.core.flow import Ctx, Flow
from bot.core.i18n import N_
from bot.core.steps import ask_text, pick_one, too_long
from handlers import people, roles
from handlers import photos as photo_rules
from handlers.dates import local, parse_day
from handlers.hazard import lifecycle
from handlers.hazard.common import CATEGORIES, GRADES, notice, ref, summary
from handlers.notices import translator_for, unreachable_line
from handlers.zones import pick_zone
from storage import hazards as store
from storage import patrols as patrol_store
from storage.directory import members_anywhere_with_roles, members_with_roles, unreachable_members
from storage.models import Hazard, HazardPhoto, Member, ViolationReport, ViolationStatus, Zone

DEADLINE_DAYS = ("0", "3", "7")
OUTSIDE = "outside"  # the assignee is someone outside the directory, who is not notified

flow = Flow("hazard", N_("隐患报告"))


async def keep_beside(ctx: Ctx, msg: Incoming) -> None:
    """A voice note where text is asked: kept as evidence, and the text asked again."""
    kept = await photo_rules.keep_recording(ctx, msg, len(ctx.data.setdefault("photos", [])))
    if kept is not None:
        ctx.data["photos"].append(kept)
        ctx.say(ctx.t("已保存为证据（{what}）。请再用文字简要写一下。").format(
            what=photo_rules.recordings_text(ctx.t, [kept["evidence"]["kind"]])))


async def start_report(ctx: Ctx, first: Incoming | None = None, **data) -> None:
    """Begin a report (a photo may be sent already); the open patrol's zone is the default.
    `data` presets answers, e.g. when an officer turns a violation report into a hazard."""
    patrol = await patrol_store.open_patrol(ctx.session, ctx.member.id)
    preset = {"photos": [], "patrol_id": patrol.id if patrol else None,
              "default_zone": patrol.zone_id if patrol else
              (ctx.member.zones[0].id if ctx.member.zones else None)} | data
    if first is not None:
        kept = await photo_rules.keep_evidence(ctx, first, 0)
        if kept is not None:
            preset["photos"].append(kept)
    ctx.dialog = None
    await ctx.start(flow, preset, at=zone if data.get("photos") else None)


@photo_rules.collect_photos(flow, N_("报告隐患：请拍照发送（1–9 张），发完点“完成”。"),
                            keep=photo_rules.keep_evidence_or_recording,
                            required=photo_rules.NEED_ONE, recordings=True)
async def photos(ctx: Ctx, kept: list) -> None:
    await ctx.goto(zone)


@pick_zone(flow, N_("隐患在哪个区域？"), first=lambda ctx: ctx.data.get("default_zone"))
async def zone(ctx: Ctx, chosen: Zone) -> None:
    ctx.data["zone_id"] = chosen.id
    await ctx.goto(category)


async def ask_category(ctx: Ctx) -> Choices:
    return Choices(ctx.t("隐患类别："), tuple(Option(ctx.t(c), f"c{i}") for i, c in enumerate(CATEGORIES)))


@pick_one(flow, ask_category)
async def category(ctx: Ctx, value: str) -> None:
    ctx.data["category"] = CATEGORIES[int(value[1:])]
    await ctx.goto(grade)


async def ask_grade(ctx: Ctx) -> Choices:
    return Choices(ctx.t("隐患等级："), tuple(Option(ctx.t(label), key) for key, label in GRADES.items()))


@pick_one(flow, ask_grade)
async def grade(ctx: Ctx, value: str) -> None:
    ctx.data["grade"] = value
    await ctx.goto(description)


@ask_text(flow, N_("请简要描述隐患（例如：3号楼5层脚手架缺少扣件）。"), empty=N_("描述不能为空。"),
          min_len=2, recordings=keep_beside)
async def description(ctx: Ctx, text: str) -> None:
    ctx.data["description"] = text
    await ctx.goto(requirement)


@ask_text(flow, N_("整改要求（可选）：输入文字，或点“跳过”。"), skip=N_("跳过"))
async def requirement(ctx: Ctx, text: str | None) -> None:
    ctx.data["requirement"] = text
    await ctx.goto(assignee)


async def ask_assignee(ctx: Ctx) -> Choices:
    people = await members_with_roles(ctx.session, ctx.member.project_id, {roles.ASSIGNEE})
    return Choices(ctx.t("整改责任人：点名字，或输入姓名。"),
                   tuple(Option(m.name, f"m{m.id}") for m in people))


@flow.step(accepts={Kind.text, Kind.choice}, ask=ask_assignee)
async def assignee(ctx: Ctx, msg: Incoming) -> None:
    await take_assignee(ctx, msg)


async def take_assignee(ctx: Ctx, msg: Incoming) -> None:
    """A tap on a member, or a typed name resolved to one (spaces and case ignored);
    otherwise near matches are offered, or the name is kept as an outside person."""
    if msg.kind is Kind.choice:
        member = await people.chosen_member(ctx, msg.choice)
        if member is None:
            return await ctx.reject(ctx.t("责任人必须是本项目的人员，请从按钮中选择。"))
        return await set_assignee(ctx, member.id, None)
    typed = msg.text.strip()
    if not typed:
        return await ctx.reject()
    if len(typed) > 50:
        return await ctx.reject(too_long(ctx, len(typed), 50))
    exact, near = await people.by_typed_name(ctx, typed)
    if exact is not None:
        return await set_assignee(ctx, exact.id, None)
    ctx.data["typed_assignee"] = typed
    ctx.data["near"] = [m.id for m in near]
    await ctx.goto(assignee_check)


async def ask_assignee_check(ctx: Ctx) -> Choices:
    t, typed = ctx.t, ctx.data["typed_assignee"]
    near = [await ctx.session.get(Member, i) for i in ctx.data["near"]]
    if near:
        prompt = t("本项目没有“{name}”。您是指 {who} 吗？").format(
            name=typed, who=t("、").join(m.name for m in near))
    else:
        prompt = t("本项目没有“{name}”。可以重新输入姓名，或按外部人员登记（系统不会通知他）。").format(
            name=typed)
    options = tuple(Option(m.name, f"m{m.id}") for m in near)
    return Choices(prompt, options + (Option(t("按外部人员登记（不通知）"), OUTSIDE),))


@flow.step(accepts={Kind.text, Kind.choice}, ask=ask_assignee_check)
async def assignee_check(ctx: Ctx, msg: Incoming) -> None:
    if msg.kind is Kind.choice and msg.choice == OUTSIDE:
        return await set_assignee(ctx, None, ctx.data["typed_assignee"])
    await take_assignee(ctx, msg)


async def set_assignee(ctx: Ctx, member_id: int | None, outside: str | None) -> None:
    for key in ("typed_assignee", "near"):
        ctx.data.pop(key, None)
    ctx.data.update(assignee_id=member_id, assignee_text=outside)
    await ctx.goto(deadline)


async def ask_deadline(ctx: Ctx) -> Choices:
    t = ctx.t
    return Choices(t("整改期限：点按钮，或输入日期（如 12-05）。"),
                   (Option(t("今天"), "0"), Option(t("3天"), "3"), Option(t("7天"), "7")))


@flow.step(accepts={Kind.text, Kind.choice}, ask=ask_deadline)
async def deadline(ctx: Ctx, msg: Incoming) -> None:
    today = local(ctx, ctx.now).date()
    if msg.kind is Kind.choice and msg.choice in DEADLINE_DAYS:
        chosen = today + dt.timedelta(days=int(msg.choice))
    else:
        chosen = parse_day(msg.text, today, prefer="future") if msg.kind is Kind.text else None
    if chosen is None:
        return await ctx.reject(ctx.t("没看懂这个日期，请点按钮或输入如 12-05。"))
    if chosen < today:
        return await ctx.reject(ctx.t("期限不能早于今天。"))
    if chosen > today + dt.timedelta(days=366):
        return await ctx.reject(ctx.t("期限太远了，请在一年之内。"))
    ctx.data["deadline"] = chosen.isoformat()
    await ctx.goto(confirm)


async def ask_confirm(ctx: Ctx) -> Choices:
    t, d = ctx.t, ctx.data
    place = await ctx.session.get(Zone, d["zone_id"])
    who = (t("{name}（外部人员，不通知）").format(name=d["assignee_text"]) if d["assignee_text"]
           else (await ctx.session.get(Member, d["assignee_id"])).name)
    lines = [t("请确认："),
             t("{grade} · {category} · {zone}").format(grade=t(GRADES[d["grade"]]),
                                                      category=t(d["category"]), zone=place.name),
             d["description"],
             t("整改要求：{requirement}").format(requirement=d["requirement"] or "—"),
             t("整改责任人：{who}").format(who=who),
             t("整改期限：{deadline}").format(deadline=d["deadline"]),
             t("照片 {n} 张").format(n=sum(not photo_rules.is_recording(p) for p in d["photos"]))]
    attached = photo_rules.recordings_text(t, [p["evidence"]["kind"] for p in d["photos"]
                                              if photo_rules.is_recording(p)])
    if attached:
        lines.append(attached)
    return Choices("\n".join(lines), (Option(t("确认提交"), "yes"),))


@pick_one(flow, ask_confirm)
async def confirm(ctx: Ctx, value: str) -> None:
    hazard = await save(ctx)
    ctx.finish()
    audience = await who_hears(ctx, hazard)  # its queries before the number is taken

    async def numbered() -> None:
        # The project's counter row stays locked from here to the commit: this is the
        # step's last write (ctx.last), and nothing slow follows it (no query; the PDF is
        # made after the commit, common.notice).
        hazard.number = await store.next_number(ctx.session, hazard.project_id, hazard.year)
        await ctx.session.flush()
        announce(ctx, hazard, audience)

    ctx.last(numbered)


async def save(ctx: Ctx) -> Hazard:
    """The hazard, saved under a provisional number of its own (negative, never shown):
    its notice number is taken last (confirm)."""
    d, now = ctx.data, ctx.now
    year = local(ctx, now).year
    violation = await ctx.session.get(ViolationReport, d["violation_id"]) if d.get("violation_id") \
        else None  # an officer turned this violation report into the hazard
    hazard = Hazard(
        project_id=ctx.member.project_id, year=year, zone_id=d["zone_id"],
        patrol_id=d.get("patrol_id"), category=d["category"], grade=d["grade"],
        description=d["description"], requirement=d["requirement"], reporter_id=ctx.member.id,
        assignee_id=d["assignee_id"], assignee_text=d["assignee_text"],
        deadline=dt.date.fromisoformat(d["deadline"]),
        number=-1 - secrets.randbelow(2**31 - 2),  # unique among uncommitted ones, 1 in 2^31
        photos=[HazardPhoto(stage="before", media_name=p["name"], evidence=p["evidence"],
                            added_at=now) for p in d["photos"]],
    )
    await lifecycle.reported(ctx.session, hazard, ctx.member, now)
    if violation is not None:
        violation.status, violation.hazard_id, violation.closed_at = ViolationStatus.hazard, hazard.id, now
    await ctx.emit("hazard_recorded", hazard=hazard, violation=violation)
    return await store.load(ctx.session, hazard.id)


@dataclass(frozen=True)
class Audience:
    """Who is told of a new hazard, looked up before its number is taken."""

    officers: list[Member]
    committee: list[Member]
    cut_off: dict[int, str]  # member id -> why the bot's messages do not reach them


async def who_hears(ctx: Ctx, hazard: Hazard) -> Audience:
    to_assignee = hazard.assignee is not None and hazard.assignee_id != ctx.member.id
    officers, committee = [], []
    if hazard.grade == "major":
        officers = await members_with_roles(ctx.session, hazard.project_id, roles.OFFICERS)
        committee = await members_anywhere_with_roles(ctx.session, {roles.COMMITTEE})
    cut_off = await unreachable_members(
        ctx.session, {m.id for m in officers + committee} | ({hazard.assignee_id} if to_assignee else set()))
    return Audience(officers, committee, cut_off)


def announce(ctx: Ctx, hazard: Hazard, audience: Audience) -> None:
    """The notice to the reporter and the assignee; a 重大隐患 also to the officers at once,
    and to the committee when none of the officers can be reached. The reporter is told
    who got the alert, and whom the bot's messages do not reach (to tell them in person)."""
    t, today = ctx.t, local(ctx, ctx.now).date()
    ctx.say(t("✅ 已登记：{number}").format(number=hazard.notice_number))
    ctx.send(notice(t, hazard))
    default = ctx.config.locale.default
    to_assignee = hazard.assignee is not None and hazard.assignee_id != ctx.member.id
    officers, committee, cut_off = audience.officers, audience.committee, audience.cut_off
    if to_assignee:
        tr = translator_for(hazard.assignee, default)
        ctx.notify(Notice(hazard.assignee_id, (
            Text(tr("您有一份隐患整改通知书：") + "\n" + summary(tr, hazard, today)),
            notice(tr, hazard),
            Choices(tr("整改时请点按钮："), (Option(tr("开始整改"), f"/rectify {ref(hazard)} start"),
                                            Option(tr("提交整改"), f"/rectify {ref(hazard)}"))),
        ), kind="hazard_assigned", key=f"hazard_assigned:{hazard.id}"))
        if hazard.assignee_id in cut_off:
            ctx.say(unreachable_line(t, hazard.assignee.name, cut_off[hazard.assignee_id]))
    if hazard.grade == "major":
        alert_major(ctx, hazard, officers, committee, cut_off, today)


def alert_major(ctx: Ctx, hazard: Hazard, officers: list[Member], committee: list[Member],
                cut_off: dict[int, str], today: dt.date) -> None:
    """The safety officers and the secretary at once; if none of them can be reached (and
    the reporter is not one of them), a level up: the committee (分公司党委, every project).
    With nobody reached, the reporter is told to phone."""
    t, default, me = ctx.t, ctx.config.locale.default, ctx.member.id
    others = [o for o in officers if o.id != me]
    for officer in others:
        tr = translator_for(officer, default)
        ctx.notify(Notice(officer.id, (
            Text(tr("⚠️ 重大隐患：{reporter} 刚刚报告").format(reporter=hazard.reporter.name)
                 + "\n" + summary(tr, hazard, today)),
            notice(tr, hazard),
        ), kind="hazard_major", key=f"hazard_major:{hazard.id}:{officer.id}"))
    reached = [o for o in others if o.id not in cut_off]
    missed = [o for o in others if o.id in cut_off]
    names = t("、").join
    if reached or len(others) < len(officers):  # an officer got it, or reported it
        if reached:
            ctx.say(t("已通知：{names}").format(names=names(o.name for o in reached)))
        if missed:
            ctx.say(t("📵 {names} 收不到消息，请当面或电话告知。").format(
                names=names(o.name for o in missed)))
        return
    up = [c for c in committee if c.id != me and c.id not in cut_off]
    for member in up:
        tr = translator_for(member, default)
        ctx.notify(Notice(member.id, (
            Text(tr("⚠️ 重大隐患（{project}）：{reporter} 刚刚报告。本项目的安监和书记都收不到消息，"
                    "请转告他们。").format(project=hazard.project.name, reporter=hazard.reporter.name)
                 + "\n" + summary(tr, hazard, today)),
            notice(tr, hazard),
        ), kind="hazard_major_up", key=f"hazard_major_up:{hazard.id}:{member.id}"))
    if up:
        ctx.say(t("⚠️ 本项目的安监和书记都收不到消息，已上报分公司党委：{names}").format(
            names=names(c.name for c in up)))
        return
    ctx.say(t("⚠️ 这条重大隐患没有通知到任何人：安监、书记和分公司党委都收不到消息。") + "\n"
            + (t("请马上打电话告诉 {names}。").format(names=names(o.name for o in others)) if others
               else t("请马上打电话告诉安监。")))
