"""/report (举报): reporting unsafe behaviour, anonymously by default; and /track
(查询): following it with the receipt code, without ever being identified."""
from __future__ import annotations

import datetime as dt
import random
import secrets

import sqlalchemy as sa

from bot.core.contract import DONE, AskPhoto, Choices, Incoming, Kind, Notice, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.steps import ask_text, pick_one, too_long
from handlers import photos as photo_rules
from handlers import roles
from handlers.notices import translator_for
from handlers.violation.common import (
    KINDS,
    STATUS,
    count_report,
    new_receipt,
    receipt_of_typed,
    reports_today,
    to_the_hour,
    track_failed,
    track_locked,
)
from storage import violations as store
from storage.directory import members_with_roles
from storage.media import MediaStore
from storage.models import Project, ViolationEntry, ViolationReport, ViolationStatus, Zone

# A voice identifies its speaker: anonymous reports take none, and none is stored.
NO_RECORDINGS = N_("为保护举报人，匿名举报不收语音和视频（声音和画面能认出人），没有保存。请用文字描述。")
flow = Flow("violation", N_("举报"), refuses_recordings=NO_RECORDINGS, anonymous=True)
track_flow = Flow("track", N_("举报查询"), refuses_recordings=NO_RECORDINGS, anonymous=True)
add_flow = Flow("track_add", N_("举报补充"), refuses_recordings=NO_RECORDINGS, anonymous=True)
UNSURE = "none"  # the zone button for "不确定"
MAX_TEXT = 2000


# ---- reporting


async def keep_draft_photo(ctx: Ctx, msg: Incoming, already: int) -> str | None:
    """Stripped of everything but its pixels and held in the account-free store until the
    report is sent: a draft leaves no file behind, and no file time before the report."""
    clean = await photo_rules.accept(ctx, msg, already, photo_rules.prepare_anonymous)
    if clean is None:
        return None
    draft = "draft:" + ctx.anonymity.pseudonym("photo", secrets.token_hex(16))
    await ctx.anonymity.store.set(draft, clean, ttl=ctx.config.dialog.timeout_minutes * 60)
    return draft


async def stored_photo(ctx: Ctx, draft: str) -> str | None:
    data = await ctx.anonymity.store.get(draft)
    if data is None:
        return None  # expired with the draft
    await ctx.anonymity.store.delete(draft)
    return await MediaStore(ctx.config.media.dir).save(data, ".jpg")



@photo_rules.collect_photos(flow, N_("可以拍照（最多 9 张），发完点“完成”；没有照片点“跳过”。"),
                            keep=keep_draft_photo, required=None)
async def photos(ctx: Ctx, kept: list) -> None:
    await ctx.goto(zone if ctx.data.get("project_id") else project)


async def ask_project(ctx: Ctx) -> Choices:
    projects = (await ctx.session.execute(sa.select(Project).order_by(Project.name))).scalars()
    return Choices(ctx.t("是哪个项目？"), tuple(Option(p.name, f"p{p.id}") for p in projects))


@pick_one(flow, ask_project)
async def project(ctx: Ctx, value: str) -> None:
    ctx.data["project_id"] = int(value[1:])
    await ctx.goto(zone)


async def ask_zone(ctx: Ctx) -> Choices:
    zones = (await ctx.session.execute(sa.select(Zone).where(
        Zone.project_id == ctx.data["project_id"]).order_by(Zone.id))).scalars()
    options = tuple(Option(z.name, f"z{z.id}") for z in zones)
    return Choices(ctx.t("在哪个区域？"), options + (Option(ctx.t("不确定"), UNSURE),))


@pick_one(flow, ask_zone)
async def zone(ctx: Ctx, value: str) -> None:
    ctx.data["zone_id"] = None if value == UNSURE else int(value[1:])
    await ctx.goto(kind)


async def ask_kind(ctx: Ctx) -> Choices:
    return Choices(ctx.t("什么行为？"), tuple(Option(ctx.t(k), f"k{i}") for i, k in enumerate(KINDS)))


@pick_one(flow, ask_kind)
async def kind(ctx: Ctx, value: str) -> None:
    ctx.data["kind"] = KINDS[int(value[1:])]
    await ctx.goto(description)


@ask_text(flow, N_("请描述看到的情况（什么时间、什么地方、什么行为）。"), empty=N_("描述不能为空。"),
          min_len=2, max_len=MAX_TEXT)
async def description(ctx: Ctx, text: str) -> None:
    ctx.data["description"] = text
    await ctx.goto(submit)


async def ask_submit(ctx: Ctx) -> Choices:
    t = ctx.t
    options = (Option(t("匿名提交"), "anonymous"),)
    if ctx.member is not None:
        options += (Option(t("实名举报（可获行为安全之星积分）"), "named"),)
    return Choices(t("提交方式："), options)


@pick_one(flow, ask_submit)
async def submit(ctx: Ctx, value: str) -> None:
    t, d = ctx.t, ctx.data
    named = value == "named" and ctx.member is not None
    if await over_limit(ctx):
        ctx.finish()
        return
    code, digest = new_receipt()
    delay = ctx.config.practice.violation_notify_delay_minutes
    received = to_the_hour(ctx.now)
    names = [await stored_photo(ctx, draft) for draft in d["photos"]]
    ctx.session.add(ViolationReport(
        project_id=d["project_id"], zone_id=d["zone_id"], kind=d["kind"],
        description=d["description"], status=ViolationStatus.new, receipt_hash=digest,
        named_member_id=ctx.member.id if named else None, received_at=received,
        # From the end of the hour on: the officers' notice says nothing finer either.
        notify_after=received + dt.timedelta(hours=1, seconds=random.uniform(0, delay * 60)),
        entries=[ViolationEntry(author="reporter", media_name=name, at=received)
                 for name in names if name],
    ))
    await count_report(ctx)
    ctx.finish()  # the draft never was in the database: it goes with the account-free store
    ctx.say(t("✅ 已提交。查询码：{code}\n只显示这一次，请截图或抄下。发送“查询 {code}”查看处理进展和回复。")
            .format(code=code))


async def over_limit(ctx: Ctx) -> bool:
    limit = ctx.config.practice.violation_daily_limit
    if await reports_today(ctx) >= limit:
        ctx.say(ctx.t("今天已提交 {n} 次举报，达到每日上限，请明天再来。").format(n=limit))
        return True
    return False


async def report_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    if await over_limit(ctx):
        return
    project_id = ctx.member.project_id if ctx.member else None
    code = msg.text.strip()
    if code:  # from a project's link or QR code: report-<project code>
        found = (await ctx.session.execute(
            sa.select(Project).where(Project.code == code))).scalar_one_or_none()
        if found is None:
            ctx.say(t("没有找到项目 {code}，请从列表中选择。").format(code=code[:32]))
        else:
            project_id = found.id
    ctx.say(t("🔒 匿名举报：不记录您的账号、姓名和聊天，照片会去除位置等信息。"
              "但照片和描述的内容本身可能让人认出您。"))
    await ctx.start(flow, {"photos": [], "project_id": project_id})


# ---- following up


async def ask_code(ctx: Ctx) -> Text:
    return Text(ctx.t("请输入查询码（12位，如 7KQM-X4PD-93RT）。"))


@track_flow.step(accepts={Kind.text}, ask=ask_code)
async def code(ctx: Ctx, msg: Incoming) -> None:
    ctx.finish()
    await look_up(ctx, msg.text)


async def look_up(ctx: Ctx, typed: str) -> None:
    t = ctx.t
    if await track_locked(ctx):
        ctx.say(t("查询次数太多，请稍后再试。"))
        return
    found = await store.by_receipt(ctx.session, await receipt_of_typed(typed))
    if found is None:
        await track_failed(ctx)
        ctx.say(t("查询码不正确。"))
        return
    # While the reporter may add to it, the open dialog knows the report: it is gone
    # when they finish, cancel or let it expire (expired dialogs are purged).
    ctx.dialog = None
    await ctx.start(add_flow, {"report_id": found.id})


async def ask_offer(ctx: Ctx) -> Choices:
    t = ctx.t
    found = await store.load(ctx.session, ctx.data["report_id"])
    lines = [t("举报（{kind}）· {status}").format(kind=t(found.kind), status=t(STATUS[found.status])),
             found.description]
    answers = [e for e in found.entries if e.author == "officer" and e.text]
    if answers:
        lines.append(t("安监回复："))
        lines += [f"· {e.text}" for e in answers]
    else:
        lines.append(t("还没有回复。"))
    await ctx.emit("report_tracked", report=found, lines=lines)  # others may add lines (a reward)
    return Choices("\n".join(lines), (Option(t("补充说明或照片"), "add"),))


@pick_one(add_flow, ask_offer)
async def offer(ctx: Ctx, value: str) -> None:
    await ctx.goto(addition)


async def ask_addition(ctx: Ctx) -> AskPhoto:
    added = ctx.data.get("added", 0)
    if added:
        prompt = ctx.t("已补充 {n} 条。可以继续发文字或照片，发完点“完成”。").format(n=added)
    else:
        prompt = ctx.t("请输入补充说明，或发送照片（可多条），发完点“完成”。")
    return AskPhoto(prompt, many=True)


@add_flow.step(accepts={Kind.text, Kind.photo, Kind.choice}, ask=ask_addition, name="add")
async def addition(ctx: Ctx, msg: Incoming) -> None:
    """Each piece is kept as it comes: walking away loses nothing already sent."""
    if msg.kind is Kind.choice:
        if msg.choice != DONE:
            return await ctx.reject()
        return await additions_done(ctx)
    entry = ViolationEntry(report_id=ctx.data["report_id"], author="reporter", at=to_the_hour(ctx.now))
    if msg.kind is Kind.photo:
        entry.media_name = await photo_rules.keep_anonymous(ctx, msg, ctx.data.get("photos", 0))
        entry.at = to_the_hour(ctx.now)
        if entry.media_name is None:
            return await ctx.reject()
        ctx.data["photos"] = ctx.data.get("photos", 0) + 1
    elif not msg.text.strip():
        return await ctx.reject()
    elif len(msg.text.strip()) > MAX_TEXT:
        return await ctx.reject(too_long(ctx, len(msg.text.strip()), MAX_TEXT))
    else:
        entry.text = msg.text.strip()
    ctx.session.add(entry)
    ctx.data["added"] = ctx.data.get("added", 0) + 1
    await ctx.ask_again()


async def additions_done(ctx: Ctx) -> None:
    """A report the officers have settled (or turned into a hazard) is not in their list
    any more: they are told of the addition, at a random moment like a new report."""
    added, report_id = ctx.data.get("added", 0), ctx.data["report_id"]
    ctx.finish()
    if not added:
        ctx.say(ctx.t("没有补充内容。"))
        return
    ctx.say(ctx.t("✅ 已补充 {n} 条。").format(n=added))
    found = await store.load(ctx.session, report_id)
    if found.status is ViolationStatus.new:
        return  # the officers see it with the report
    delay = ctx.config.practice.violation_notify_delay_minutes
    when = to_the_hour(ctx.now) + dt.timedelta(hours=1, seconds=random.uniform(0, delay * 60))
    for officer in await members_with_roles(ctx.session, found.project_id, roles.OFFICERS):
        tr = translator_for(officer, ctx.config.locale.default)
        ctx.notify(Notice(officer.id, (Choices(
            tr("举报 #{id} 有新的补充（{n} 条）。").format(id=found.id, n=added),
            (Option(tr("查看"), f"/violations {found.id}"),)),),
            kind="violation_more", key=f"violation_more:{found.id}:{len(found.entries)}:{officer.id}",
            not_before=when))


async def track_command(ctx: Ctx, msg: Incoming) -> None:
    if msg.text.strip():
        await look_up(ctx, msg.text)
    elif ctx.beside_dialog:  # a look-up: how to follow a report, the open question stays
        ctx.say(ctx.t("查询举报：发送“查询 查询码”，如 查询 7KQM-X4PD-93RT。"))
    else:
        await ctx.start(track_flow)


commands = (
    Command("report", report_command, N_("匿名举报违章"), words=(N_("举报"),), public=True,
            private_only=True, takes_args=True),
    Command("track", track_command, N_("查询举报进展"), words=(N_("查询"),), public=True,
            private_only=True, takes_args=True),
)
