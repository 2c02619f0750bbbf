"""The rectification loop in chat: /rectify (the assignee's after-photos and
measures) and /recheck (pass and close, 销项, or send back with a reason). The
rules themselves are in lifecycle."""
from __future__ import annotations

from bot.core.contract import Choices, Document, Image, Incoming, Notice, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.steps import ask_text
from handlers import labels, roles
from handlers import photos as photo_rules
from handlers.dates import local
from handlers.hazard import lifecycle
from handlers.hazard.common import STATUS, media, notice, parse_ref, ref, summary
from handlers.notices import translator_for
from storage import hazards as store
from storage.directory import members_with_roles
from storage.models import Hazard, HazardStatus, Member

rectify_flow = Flow("rectify", N_("整改提交"))
send_back_flow = Flow("send_back", N_("退回意见"))


async def find(ctx: Ctx, text: str) -> Hazard | None:
    """The hazard a command names, within the member's own project only."""
    parsed = parse_ref(text, local(ctx, ctx.now).year)
    if parsed is None:
        return None
    return await store.by_number(ctx.session, ctx.member.project_id, *parsed)


def state_text(ctx: Ctx, hazard: Hazard) -> str:
    return ctx.t(STATUS[hazard.status])


# ---- /rectify


@photo_rules.collect_photos(rectify_flow, N_("提交整改：请拍整改后的照片（1–9 张），发完点“完成”。"),
                            keep=photo_rules.keep_evidence_or_recording,
                            required=N_("销项需要整改后的照片，请至少发送一张。"), recordings=True)
async def photos(ctx: Ctx, kept: list) -> None:
    await ctx.goto(measures)


@ask_text(rectify_flow, N_("采取了哪些整改措施？（例如：已补齐扣件并重新验收）"),
          empty=N_("请写明整改措施。"), min_len=2)
async def measures(ctx: Ctx, text: str) -> None:
    t = ctx.t
    hazard = await store.load(ctx.session, ctx.data["hazard_id"])
    kept = ctx.data["photos"]
    ctx.finish()
    if hazard.status not in lifecycle.RECTIFIABLE:  # re-checked or closed meanwhile
        ctx.say(t("{number} 现在是“{status}”，不能再提交整改。").format(
            number=hazard.notice_number, status=state_text(ctx, hazard)))
        return
    event = await lifecycle.submit(ctx.session, hazard, ctx.member, ctx.now, text, kept)
    hazard = await store.load(ctx.session, hazard.id)
    ctx.say(t("✅ 已提交整改，等待复查：{number}").format(number=hazard.notice_number))
    await ask_reviewers(ctx, hazard, event.id)


def may_recheck(ctx: Ctx, member: Member, hazard: Hazard) -> bool:
    return lifecycle.can_recheck(member, hazard, ctx.config.practice.rechecked_by)


async def ask_reviewers(ctx: Ctx, hazard: Hazard, submission: int) -> None:
    """Before and after photos, with the two buttons, to whoever may re-check."""
    holders = lifecycle.recheck_roles(hazard, ctx.config.practice.rechecked_by)
    candidates = [hazard.reporter] if hazard.reporter is not None else []
    if holders:
        candidates += await members_with_roles(ctx.session, hazard.project_id, holders)
    seen = set()
    for member in candidates:
        if member.id in seen or not may_recheck(ctx, member, hazard):
            continue
        seen.add(member.id)
        ctx.notify(Notice(member.id, await review_card(ctx, hazard, member),
                          kind="hazard_review", key=f"hazard_review:{submission}:{member.id}"))


async def review_card(ctx: Ctx, hazard: Hazard, reader: Member) -> tuple:
    tr = translator_for(reader, ctx.config.locale.default)
    store_ = media(ctx)
    replies = [Text(tr("请复查：") + "\n" + summary(tr, hazard, local(ctx, ctx.now).date())
                    + "\n" + tr("整改措施：{measures}").format(measures=hazard.measures))]
    for photo in hazard.photos:
        caption = tr("整改前") if photo.stage == "before" else tr("整改后")
        data, filename = await store_.read(photo.media_name), photo.media_name.split("/")[-1]
        if photo_rules.is_recording({"evidence": photo.evidence}):  # to be listened to, as a file
            replies.append(Document(data, filename, caption=caption))
        else:
            replies.append(Image(data, caption=caption, filename=filename))
    replies.append(Choices(tr("复查结果："), (
        Option(tr("通过销项"), f"/recheck {ref(hazard)} pass"),
        Option(tr("退回"), f"/recheck {ref(hazard)} back"))))
    return tuple(replies)


async def rectify_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    parts = msg.text.split()
    if not parts:
        return await my_open_hazards(ctx)
    hazard = await find(ctx, parts[0])
    if hazard is None:
        ctx.say(t("没有找到这个隐患。请发送如 /rectify 2026-3。"))
    elif not lifecycle.can_rectify(ctx.member, hazard):
        ctx.say(t("只有整改责任人可以提交 {number} 的整改。").format(number=hazard.notice_number))
    elif hazard.status not in lifecycle.RECTIFIABLE:
        ctx.say(t("{number} 现在是“{status}”，无需整改。").format(
            number=hazard.notice_number, status=state_text(ctx, hazard)))
    elif parts[1:2] == ["start"]:
        await lifecycle.start(ctx.session, hazard, ctx.member, ctx.now)
        ctx.send(Choices(t("{number} 已开始整改。完成后点“提交整改”。").format(
            number=hazard.notice_number), (Option(t("提交整改"), f"/rectify {ref(hazard)}"),)))
    else:
        await ctx.start(rectify_flow, {"hazard_id": hazard.id, "photos": []})


async def my_open_hazards(ctx: Ctx) -> None:
    """/rectify alone: the hazards waiting for my rectification, one button each."""
    t = ctx.t
    mine, _ = await store.open_for(ctx.session, ctx.member.id)
    mine = [h for h in mine if h.status in lifecycle.RECTIFIABLE]
    if not mine:
        ctx.say(t("您没有待整改的隐患。"))
        return
    today = local(ctx, ctx.now).date()
    lines = [t("待您整改的隐患 {n} 项，点编号提交整改：").format(n=len(mine))]
    lines += [f"{h.notice_number} · {h.deadline.isoformat()}" + (" ⏰" if h.deadline < today else "")
              for h in mine[:10]]
    ctx.send(Choices("\n".join(lines), tuple(Option(ref(h), f"/rectify {ref(h)}") for h in mine[:10])))


# ---- /recheck


@ask_text(send_back_flow, N_("请写明退回的原因，责任人会收到。"), empty=N_("请写明退回的原因。"),
          min_len=2)
async def reason(ctx: Ctx, text: str) -> None:
    t = ctx.t
    hazard = await store.load(ctx.session, ctx.data["hazard_id"])
    ctx.finish()
    if hazard.status is not HazardStatus.review or not may_recheck(ctx, ctx.member, hazard):
        ctx.say(t("{number} 已不在待复查状态。").format(number=hazard.notice_number))
        return
    event = await lifecycle.send_back(ctx.session, hazard, ctx.member, ctx.now, text)
    ctx.say(t("已退回 {number}，责任人会收到原因。").format(number=hazard.notice_number))
    rectifier = hazard.assignee or hazard.rectified_by
    if rectifier is not None:
        tr = translator_for(rectifier, ctx.config.locale.default)
        ctx.notify(Notice(rectifier.id, (Choices(
            tr("{number} 复查未通过，已退回重新整改。\n原因：{reason}").format(
                number=hazard.notice_number, reason=text),
            (Option(tr("提交整改"), f"/rectify {ref(hazard)}"),)),),
            kind="hazard_returned", key=f"hazard_returned:{event.id}"))


async def recheck_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    parts = msg.text.split()
    hazard = await find(ctx, parts[0]) if parts else None
    action = parts[1] if len(parts) > 1 else ""
    if hazard is None:
        ctx.say(t("没有找到这个隐患。请发送如 /recheck 2026-3。"))
    elif hazard.status is HazardStatus.closed:
        ctx.say(t("{number} 已销项，无需再复查。").format(number=hazard.notice_number))
    elif hazard.status is not HazardStatus.review:
        ctx.say(t("{number} 还没有提交整改，现在是“{status}”。").format(
            number=hazard.notice_number, status=state_text(ctx, hazard)))
    elif not may_recheck(ctx, ctx.member, hazard):
        ctx.say(not_yours(ctx, hazard))
    elif action == "pass":
        await close(ctx, hazard)
    elif action == "back":
        await ctx.start(send_back_flow, {"hazard_id": hazard.id})
    else:
        for reply in await review_card(ctx, hazard, ctx.member):
            ctx.send(reply)


def not_yours(ctx: Ctx, hazard: Hazard) -> str:
    """Why this member may not re-check: the rule that applies to them, in one line."""
    t, number = ctx.t, hazard.notice_number
    if ctx.member.id in (hazard.assignee_id, hazard.rectified_by_id):
        return t("您不能复查 {number}：整改责任人和提交整改的人不能复查这项整改。").format(number=number)
    if hazard.grade == "major":
        return t("您不能复查 {number}：重大隐患只能由安监人员或党支部书记销项。").format(number=number)
    rechecked_by = ctx.config.practice.rechecked_by
    who = labels.roles_text(t, set(lifecycle.recheck_roles(hazard, rechecked_by)))
    if lifecycle.FINDER not in rechecked_by:
        return t("您不能复查 {number}：一般隐患由{roles}复查。").format(number=number, roles=who)
    if not who:
        return t("您不能复查 {number}：一般隐患只由发现人复查。").format(number=number)
    return t("您不能复查 {number}：一般隐患由发现人或{roles}复查。").format(number=number, roles=who)


async def close(ctx: Ctx, hazard: Hazard) -> None:
    t = ctx.t
    await lifecycle.close(ctx.session, hazard, ctx.member, ctx.now)
    hazard = await store.load(ctx.session, hazard.id)
    ctx.say(t("✅ {number} 已销项。").format(number=hazard.notice_number))
    ctx.send(notice(t, hazard))
    for person in {m.id: m for m in (hazard.reporter, hazard.assignee, hazard.rectified_by)
                   if m is not None and m.id != ctx.member.id}.values():
        tr = translator_for(person, ctx.config.locale.default)
        ctx.notify(Notice(person.id, (
            Text(tr("✅ {number} 复查通过，已销项。").format(number=hazard.notice_number)),
            notice(tr, hazard)),
            kind="hazard_closed", key=f"hazard_closed:{hazard.id}:{person.id}"))


commands = (
    Command("rectify", rectify_command, N_("我的整改：提交整改"), words=(N_("整改"),), takes_args=True,
            shown_to=frozenset({roles.ASSIGNEE})),
    Command("recheck", recheck_command, N_("复查隐患"), words=(N_("复查"),), takes_args=True, listed=False),
)
