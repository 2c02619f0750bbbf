"""The rectification loop: /rectify (the assignee's after-photos and measures) and
/recheck (pass and close, 销项, or send back with a reason)."""
from __future__ import annotations

from bot.core.contract import DONE, AskPhoto, Choices, Image, Incoming, Kind, Notice, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.registry import Registry
from handlers.hazard.common import STATUS, can_recheck, can_rectify, notice_pdf, parse_ref, ref, summary
from handlers.hazard.report import OFFICERS, media, take_photo
from handlers.notices import translator_for
from handlers.patrol import local
from storage import hazards as store
from storage.models import Hazard, HazardPhoto, HazardStatus, Member


async def find(ctx: Ctx, text: str) -> Hazard | None:
    """The hazard a command names, within the member's own project only."""
    parsed = parse_ref(text, local(ctx, ctx.now).year)
    if parsed is None:
        return None
    return await store.by_number(ctx.session, ctx.member.project_id, *parsed)


def build(registry: Registry) -> None:
    rectify = registry.flow(Flow("rectify"))
    send_back = registry.flow(Flow("send_back"))

    # ---- /rectify

    async def ask_after_photos(ctx: Ctx):
        n = len(ctx.data.get("photos", []))
        prompt = (ctx.t("提交整改：请拍整改后的照片（1–9 张），发完点“完成”。") if n == 0 else
                  ctx.t("已收到 {n} 张照片。继续发送，或点“完成”。").format(n=n))
        return AskPhoto(prompt, many=True)

    @rectify.step("photos", accepts={Kind.photo, Kind.choice}, ask=ask_after_photos)
    async def got_after_photo(ctx: Ctx, msg: Incoming) -> None:
        photos = ctx.data.setdefault("photos", [])
        if msg.kind is Kind.photo:
            await take_photo(ctx, msg, photos)
            await ctx.ask_again()
        elif msg.choice == DONE and photos:
            await ctx.goto("measures")
        else:
            ctx.say(ctx.t("销项需要整改后的照片，请至少发送一张。"))
            await ctx.ask_again()

    async def ask_measures(ctx: Ctx):
        return Text(ctx.t("采取了哪些整改措施？（例如：已补齐扣件并重新验收）"))

    @rectify.step("measures", accepts={Kind.text}, ask=ask_measures)
    async def got_measures(ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        measures = msg.text.strip()
        if len(measures) < 2:
            ctx.say(t("请写明整改措施。"))
            await ctx.ask_again()
            return
        hazard = await store.load(ctx.session, ctx.data["hazard_id"])
        photos = ctx.data["photos"]
        ctx.finish()
        if hazard.status not in (HazardStatus.open.value, HazardStatus.rectifying.value):
            ctx.say(t("{number} 现在是“{status}”，不能再提交整改。").format(
                number=hazard.notice_number, status=t(STATUS[hazard.status])))
            return
        hazard.photos.extend(HazardPhoto(stage="after", media_name=p["name"], evidence=p["evidence"],
                                         added_at=ctx.now) for p in photos)
        hazard.measures, hazard.status = measures[:1000], HazardStatus.review.value
        hazard.rectified_by_id, hazard.rectified_at = ctx.member.id, ctx.now
        await ctx.session.flush()
        event = await store.record(ctx.session, hazard, ctx.member.id, "submitted", ctx.now,
                                   hazard.measures)
        hazard = await store.load(ctx.session, hazard.id)
        ctx.say(t("✅ 已提交整改，等待复查：{number}").format(number=hazard.notice_number))
        await ask_reviewers(ctx, hazard, event.id)

    async def ask_reviewers(ctx: Ctx, hazard: Hazard, submission: int) -> None:
        """Before and after photos, with the two buttons, to whoever may re-check."""
        candidates = [hazard.reporter] + await store.members_with_roles(
            ctx.session, hazard.project_id, OFFICERS)
        seen = set()
        for member in candidates:
            if member.id in seen or not can_recheck(member, hazard):
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
            replies.append(Image(await store_.read(photo.media_name), caption=caption,
                                 filename=photo.media_name.split("/")[-1]))
        replies.append(Choices(tr("复查结果："), (
            Option(tr("通过销项"), f"/recheck {ref(hazard)} pass"),
            Option(tr("退回"), f"/recheck {ref(hazard)} back"))))
        return tuple(replies)

    async def rectify_command(ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        parts = msg.text.split()
        hazard = await find(ctx, parts[0]) if parts else None
        if hazard is None:
            ctx.say(t("没有找到这个隐患。请发送如 /rectify 2026-3。"))
            return
        if not can_rectify(ctx.member, hazard):
            ctx.say(t("只有整改责任人可以提交 {number} 的整改。").format(number=hazard.notice_number))
            return
        if hazard.status not in (HazardStatus.open.value, HazardStatus.rectifying.value):
            ctx.say(t("{number} 现在是“{status}”，无需整改。").format(
                number=hazard.notice_number, status=t(STATUS[hazard.status])))
            return
        if parts[1:2] == ["start"]:
            if hazard.status == HazardStatus.open.value:
                hazard.status = HazardStatus.rectifying.value
                await store.record(ctx.session, hazard, ctx.member.id, "started", ctx.now)
            ctx.send(Choices(t("{number} 已开始整改。完成后点“提交整改”。").format(
                number=hazard.notice_number), (Option(t("提交整改"), f"/rectify {ref(hazard)}"),)))
            return
        await ctx.start(rectify, {"hazard_id": hazard.id, "photos": []})

    # ---- /recheck

    async def ask_reason(ctx: Ctx):
        return Text(ctx.t("请写明退回的原因，责任人会收到。"))

    @send_back.step("reason", accepts={Kind.text}, ask=ask_reason)
    async def got_reason(ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        reason = msg.text.strip()
        if len(reason) < 2:
            ctx.say(t("请写明退回的原因。"))
            await ctx.ask_again()
            return
        hazard = await store.load(ctx.session, ctx.data["hazard_id"])
        ctx.finish()
        if hazard.status != HazardStatus.review.value or not can_recheck(ctx.member, hazard):
            ctx.say(t("{number} 已不在待复查状态。").format(number=hazard.notice_number))
            return
        hazard.status = HazardStatus.open.value
        event = await store.record(ctx.session, hazard, ctx.member.id, "returned", ctx.now,
                                   reason[:1000])
        ctx.say(t("已退回 {number}，责任人会收到原因。").format(number=hazard.notice_number))
        rectifier = hazard.assignee or hazard.rectified_by
        if rectifier is not None:
            tr = translator_for(rectifier, ctx.config.locale.default)
            ctx.notify(Notice(rectifier.id, (Choices(
                tr("{number} 复查未通过，已退回重新整改。\n原因：{reason}").format(
                    number=hazard.notice_number, reason=reason[:1000]),
                (Option(tr("提交整改"), f"/rectify {ref(hazard)}"),)),),
                kind="hazard_returned", key=f"hazard_returned:{event.id}"))

    async def recheck_command(ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        parts = msg.text.split()
        hazard = await find(ctx, parts[0]) if parts else None
        if hazard is None:
            ctx.say(t("没有找到这个隐患。请发送如 /recheck 2026-3。"))
            return
        if hazard.status == HazardStatus.closed.value:
            ctx.say(t("{number} 已销项，无需再复查。").format(number=hazard.notice_number))
            return
        if hazard.status != HazardStatus.review.value:
            ctx.say(t("{number} 还没有提交整改，现在是“{status}”。").format(
                number=hazard.notice_number, status=t(STATUS[hazard.status])))
            return
        if not can_recheck(ctx.member, hazard):
            ctx.say(t("您不能复查 {number}：复查须由发现人或安监人员进行，不能由整改人本人复查；"
                      "重大隐患只能由安监人员或党支部书记销项。").format(number=hazard.notice_number))
            return
        action = parts[1] if len(parts) > 1 else ""
        if action == "pass":
            await close(ctx, hazard)
        elif action == "back":
            await ctx.start(send_back, {"hazard_id": hazard.id})
        else:
            for reply in await review_card(ctx, hazard, ctx.member):
                ctx.send(reply)

    async def close(ctx: Ctx, hazard: Hazard) -> None:
        t = ctx.t
        hazard.status, hazard.closed_at = HazardStatus.closed.value, ctx.now
        hazard.rechecked_by_id = ctx.member.id
        await ctx.session.flush()
        await store.record(ctx.session, hazard, ctx.member.id, "closed", ctx.now)
        hazard = await store.load(ctx.session, hazard.id)
        ctx.say(t("✅ {number} 已销项。").format(number=hazard.notice_number))
        ctx.send(await notice_pdf(t, hazard, media(ctx), ctx.config.tz))
        for person in {m.id: m for m in (hazard.reporter, hazard.assignee, hazard.rectified_by)
                       if m is not None and m.id != ctx.member.id}.values():
            tr = translator_for(person, ctx.config.locale.default)
            ctx.notify(Notice(person.id, (
                Text(tr("✅ {number} 复查通过，已销项。").format(number=hazard.notice_number)),
                await notice_pdf(tr, hazard, media(ctx), ctx.config.tz)),
                kind="hazard_closed", key=f"hazard_closed:{hazard.id}:{person.id}"))

    registry.command(Command("rectify", rectify_command, N_("提交整改"), words=("整改",),
                             takes_args=True, listed=False))
    registry.command(Command("recheck", recheck_command, N_("复查隐患"), words=("复查",),
                             takes_args=True, listed=False))
