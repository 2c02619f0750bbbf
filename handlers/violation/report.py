"""/report (举报): reporting unsafe behaviour, anonymously by default; and /track
(查询): following it with the receipt code, without ever being identified."""
from __future__ import annotations

import datetime as dt
import random

import sqlalchemy as sa

from bot.core.contract import DONE, SKIP, AskPhoto, Choices, Incoming, Kind, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.registry import Registry
from handlers import photos as photo_rules
from handlers.patrol import local
from handlers.violation.common import (KINDS, STATUS, hash_of_typed, new_receipt, sender_key,
                                       to_the_hour)
from storage import attempts
from storage import violations as store
from storage.media import MediaStore
from storage.models import Project, ViolationEntry, ViolationReport, Zone


async def take_photo(ctx: Ctx, msg: Incoming, into: list[str]) -> None:
    """Store a photo stripped of everything but its pixels."""
    clean = await photo_rules.accept(ctx, msg, len(into), photo_rules.prepare_anonymous)
    if clean is not None:
        into.append(await MediaStore(ctx.config.media.dir).save(clean, ".jpg"))


def build(registry: Registry) -> None:
    flow = registry.flow(Flow("violation"))
    track_flow = registry.flow(Flow("track"))
    add_flow = registry.flow(Flow("track_add"))

    # ---- reporting

    async def ask_photos(ctx: Ctx):
        n = len(ctx.data["photos"])
        prompt = (ctx.t("可以拍照（最多 9 张），发完点“完成”；没有照片点“跳过”。") if n == 0 else
                  ctx.t("已收到 {n} 张照片。继续发送，或点“完成”。").format(n=n))
        return AskPhoto(prompt, many=True, skippable=n == 0)

    @flow.step("photos", accepts={Kind.photo, Kind.choice}, ask=ask_photos)
    async def got_photo(ctx: Ctx, msg: Incoming) -> None:
        if msg.kind is Kind.photo:
            await take_photo(ctx, msg, ctx.data["photos"])
            await ctx.ask_again()
        elif msg.choice in (DONE, SKIP):
            await ctx.goto("zone" if ctx.data.get("project_id") else "project")
        else:
            await ctx.ask_again()

    async def ask_project(ctx: Ctx):
        projects = (await ctx.session.execute(sa.select(Project).order_by(Project.name))).scalars()
        return Choices(ctx.t("是哪个项目？"), tuple(Option(p.name, f"p{p.id}") for p in projects))

    @flow.step("project", accepts={Kind.choice}, ask=ask_project)
    async def got_project(ctx: Ctx, msg: Incoming) -> None:
        value = msg.choice or ""
        project = await ctx.session.get(Project, int(value[1:])) if value[1:].isdigit() else None
        if project is None:
            await ctx.ask_again()
            return
        ctx.data["project_id"] = project.id
        await ctx.goto("zone")

    async def ask_zone(ctx: Ctx):
        zones = (await ctx.session.execute(sa.select(Zone).where(
            Zone.project_id == ctx.data["project_id"]).order_by(Zone.id))).scalars()
        options = tuple(Option(z.name, f"z{z.id}") for z in zones)
        return Choices(ctx.t("在哪个区域？"), options + (Option(ctx.t("不确定"), "none"),))

    @flow.step("zone", accepts={Kind.choice}, ask=ask_zone)
    async def got_zone(ctx: Ctx, msg: Incoming) -> None:
        value = msg.choice or ""
        zone = await ctx.session.get(Zone, int(value[1:])) if value[1:].isdigit() else None
        if value != "none" and (zone is None or zone.project_id != ctx.data["project_id"]):
            await ctx.ask_again()
            return
        ctx.data["zone_id"] = zone.id if zone else None
        await ctx.goto("kind")

    async def ask_kind(ctx: Ctx):
        return Choices(ctx.t("什么行为？"), tuple(Option(ctx.t(k), f"k{i}") for i, k in enumerate(KINDS)))

    @flow.step("kind", accepts={Kind.choice}, ask=ask_kind)
    async def got_kind(ctx: Ctx, msg: Incoming) -> None:
        index = (msg.choice or "")[1:]
        if not index.isdigit() or int(index) >= len(KINDS):
            await ctx.ask_again()
            return
        ctx.data["kind"] = KINDS[int(index)]
        await ctx.goto("description")

    async def ask_description(ctx: Ctx):
        return Text(ctx.t("请描述看到的情况（什么时间、什么地方、什么行为）。"))

    @flow.step("description", accepts={Kind.text}, ask=ask_description)
    async def got_description(ctx: Ctx, msg: Incoming) -> None:
        text = msg.text.strip()
        if len(text) < 2:
            ctx.say(ctx.t("描述不能为空。"))
            await ctx.ask_again()
            return
        ctx.data["description"] = text[:2000]
        await ctx.goto("submit")

    async def ask_submit(ctx: Ctx):
        t = ctx.t
        options = (Option(t("匿名提交"), "anonymous"),)
        if ctx.member is not None:
            options += (Option(t("实名举报（可获行为安全之星积分）"), "named"),)
        return Choices(t("提交方式："), options)

    @flow.step("submit", accepts={Kind.choice}, ask=ask_submit)
    async def got_submit(ctx: Ctx, msg: Incoming) -> None:
        named = msg.choice == "named" and ctx.member is not None
        if msg.choice not in ("anonymous", "named"):
            await ctx.ask_again()
            return
        await submit(ctx, named)

    async def submit(ctx: Ctx, named: bool) -> None:
        t, d = ctx.t, ctx.data
        if await over_limit(ctx):
            ctx.finish()
            return
        code, digest = new_receipt()
        delay = ctx.config.practice.violation_notify_delay_minutes
        received = to_the_hour(ctx.now)
        report = ViolationReport(
            project_id=d["project_id"], zone_id=d["zone_id"], kind=d["kind"],
            description=d["description"], status="new", receipt_hash=digest,
            named_member_id=ctx.member.id if named else None, received_at=received,
            notify_after=ctx.now + dt.timedelta(seconds=random.uniform(0, delay * 60)),
            entries=[ViolationEntry(author="reporter", media_name=name, at=received)
                     for name in d["photos"]],
        )
        ctx.session.add(report)
        day = local(ctx, ctx.now).date()
        await store.add_one(ctx.session, day, await sender_key(ctx.session, ctx.msg.platform,
                                                              ctx.msg.user_id, day))
        ctx.finish()  # the draft, keyed by the account, goes with the dialog row
        ctx.say(t("✅ 已提交。查询码：{code}\n只显示这一次，请截图或抄下。发送“查询 {code}”查看处理进展和回复。")
                .format(code=code))

    async def over_limit(ctx: Ctx) -> bool:
        day = local(ctx, ctx.now).date()
        sender = await sender_key(ctx.session, ctx.msg.platform, ctx.msg.user_id, day)
        limit = ctx.config.practice.violation_daily_limit
        if await store.count_of(ctx.session, day, sender) >= limit:
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
            project = (await ctx.session.execute(
                sa.select(Project).where(Project.code == code))).scalar_one_or_none()
            if project is None:
                ctx.say(t("没有找到项目 {code}，请从列表中选择。").format(code=code[:32]))
            else:
                project_id = project.id
        ctx.say(t("🔒 匿名举报：不记录您的账号、姓名和聊天，照片会去除位置等信息。"
                  "但照片和描述的内容本身可能让人认出您。"))
        await ctx.start(flow, {"photos": [], "project_id": project_id})

    # ---- following up

    async def ask_code(ctx: Ctx):
        return Text(ctx.t("请输入查询码（12位，如 7KQM-X4PD-93RT）。"))

    @track_flow.step("code", accepts={Kind.text}, ask=ask_code)
    async def got_code(ctx: Ctx, msg: Incoming) -> None:
        ctx.finish()
        await look_up(ctx, msg.text)

    async def look_up(ctx: Ctx, typed: str) -> None:
        t, cfg = ctx.t, ctx.config.invites
        day = local(ctx, ctx.now).date()
        key = "track:" + await sender_key(ctx.session, ctx.msg.platform, ctx.msg.user_id, day)
        window = dt.timedelta(minutes=cfg.attempt_window_minutes)
        if await attempts.locked_until(ctx.session, key, ctx.now, cfg.max_failed_attempts, window):
            ctx.say(t("查询次数太多，请稍后再试。"))
            return
        report = await store.by_receipt(ctx.session, hash_of_typed(typed))
        if report is None:
            await attempts.record_failure(ctx.session, key, ctx.now, window)
            ctx.say(t("查询码不正确。"))
            return
        await attempts.clear(ctx.session, key)
        # While the reporter may add to it, the open dialog knows the report: it is gone
        # when they finish, cancel or let it expire (expired dialogs are purged).
        ctx.dialog = None
        await ctx.start(add_flow, {"report_id": report.id})

    async def ask_offer(ctx: Ctx):
        t = ctx.t
        report = await store.load(ctx.session, ctx.data["report_id"])
        lines = [t("举报（{kind}）· {status}").format(kind=t(report.kind), status=t(STATUS[report.status])),
                 report.description]
        answers = [e for e in report.entries if e.author == "officer" and e.text]
        if answers:
            lines.append(t("安监回复："))
            lines += [f"· {e.text}" for e in answers]
        else:
            lines.append(t("还没有回复。"))
        return Choices("\n".join(lines), (Option(t("补充说明或照片"), "add"),))

    async def ask_addition(ctx: Ctx):
        return AskPhoto(ctx.t("请输入补充说明，或发送照片。"), skippable=False)

    @add_flow.step("offer", accepts={Kind.choice}, ask=ask_offer)
    async def wants_to_add(ctx: Ctx, msg: Incoming) -> None:
        if msg.choice != "add":
            await ctx.ask_again()
            return
        await ctx.goto("add")

    @add_flow.step("add", accepts={Kind.text, Kind.photo}, ask=ask_addition)
    async def got_addition(ctx: Ctx, msg: Incoming) -> None:
        report = await ctx.session.get(ViolationReport, ctx.data["report_id"])
        entry = ViolationEntry(report_id=report.id, author="reporter", at=to_the_hour(ctx.now))
        if msg.kind is Kind.photo:
            names: list[str] = []
            await take_photo(ctx, msg, names)
            if not names:
                await ctx.ask_again()
                return
            entry.media_name = names[0]
        else:
            if not msg.text.strip():
                await ctx.ask_again()
                return
            entry.text = msg.text.strip()[:2000]
        ctx.session.add(entry)
        ctx.finish()
        ctx.say(ctx.t("✅ 已补充。"))

    async def track_command(ctx: Ctx, msg: Incoming) -> None:
        if msg.text.strip():
            await look_up(ctx, msg.text)
        else:
            await ctx.start(track_flow)

    registry.command(Command("report", report_command, N_("匿名举报违章"), words=("举报",),
                             public=True, private_only=True, takes_args=True))
    registry.command(Command("track", track_command, N_("查询举报进展"), words=("查询",),
                             public=True, private_only=True, takes_args=True))
