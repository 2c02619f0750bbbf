"""/violations (举报处理): the project's safety officers and secretary read reports
(never who sent them), reply, and settle them — or turn one into a hazard."""
from __future__ import annotations

from bot.core.contract import Choices, Image, Incoming, Kind, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.registry import Registry
from handlers.violation.common import STATUS, VIEWERS
from storage import violations as store
from storage.media import MediaStore
from storage.models import ViolationEntry, ViolationReport

SETTLE = {"confirmed", "unfounded"}


async def find(ctx: Ctx, text: str) -> ViolationReport | None:
    """A report of the officer's own project, by its number."""
    if not text.isdigit():
        return None
    report = await store.load(ctx.session, int(text))
    return report if report is not None and report.project_id == ctx.member.project_id else None


def build(registry: Registry, hazard_flow: Flow) -> None:
    reply_flow = registry.flow(Flow("violation_reply"))

    async def ask_reply(ctx: Ctx):
        return Text(ctx.t("请输入回复，举报人查询时会看到（不会知道是谁举报的）。"))

    @reply_flow.step("text", accepts={Kind.text}, ask=ask_reply)
    async def got_reply(ctx: Ctx, msg: Incoming) -> None:
        text = msg.text.strip()
        if not text:
            await ctx.ask_again()
            return
        ctx.session.add(ViolationEntry(report_id=ctx.data["report_id"], author="officer",
                                       officer_id=ctx.member.id, text=text[:2000], at=ctx.now))
        ctx.finish()
        ctx.say(ctx.t("✅ 已回复。"))

    async def show(ctx: Ctx, report: ViolationReport) -> None:
        t = ctx.t
        lines = [t("举报 #{id} · {kind} · {status}").format(
                     id=report.id, kind=t(report.kind), status=t(STATUS[report.status])),
                 t("区域：{zone}").format(zone=report.zone.name if report.zone else t("不确定")),
                 t("收到：{time}").format(time=report.received_at.astimezone(ctx.config.tz)
                                        .strftime("%Y-%m-%d %H:00")),
                 report.description]
        if report.named_member_id is not None:
            lines.append(t("实名举报"))
        for e in report.entries:
            if e.text:
                who = t("举报人补充") if e.author == "reporter" else t("回复")
                lines.append(f"{who}：{e.text}")
        ctx.say("\n".join(lines))
        media = MediaStore(ctx.config.media.dir)
        for e in report.entries:
            if e.media_name:
                ctx.send(Image(await media.read(e.media_name), filename=e.media_name.split("/")[-1]))
        if report.status == "new":
            ctx.send(Choices(t("处理："), (
                Option(t("回复"), f"/violations {report.id} reply"),
                Option(t("属实已处理"), f"/violations {report.id} confirmed"),
                Option(t("不属实"), f"/violations {report.id} unfounded"),
                Option(t("转为隐患"), f"/violations {report.id} hazard"))))

    async def violations_command(ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        parts = msg.text.split()
        if not parts:
            open_ = await store.listing(ctx.session, ctx.member.project_id, open_only=True)
            if not open_:
                ctx.say(t("没有待处理的举报。"))
                return
            ctx.send(Choices(t("待处理的举报 {n} 项：").format(n=len(open_)), tuple(
                Option(f"#{r.id} {t(r.kind)}", f"/violations {r.id}") for r in open_[:20])))
            return
        report = await find(ctx, parts[0])
        if report is None:
            ctx.say(t("本项目没有这个编号的举报。"))
            return
        action = parts[1] if len(parts) > 1 else ""
        if not action:
            await show(ctx, report)
        elif report.status != "new":
            ctx.say(t("举报 #{id} 已处理：{status}。").format(id=report.id, status=t(STATUS[report.status])))
        elif action == "reply":
            await ctx.start(reply_flow, {"report_id": report.id})
        elif action in SETTLE:
            report.status, report.closed_at = action, ctx.now
            ctx.say(t("举报 #{id}：{status}。举报人查询时会看到。").format(
                id=report.id, status=t(STATUS[action])))
        elif action == "hazard":
            photos = [{"name": e.media_name, "evidence": {}} for e in report.entries if e.media_name]
            ctx.dialog = None
            await ctx.start(hazard_flow, {"photos": photos, "patrol_id": None,
                                          "default_zone": report.zone_id, "violation_id": report.id},
                            at="zone" if photos else None)
        else:
            ctx.say(t("本项目没有这个编号的举报。"))

    registry.command(Command("violations", violations_command, N_("处理违章举报"),
                             words=("举报处理",), roles=VIEWERS, takes_args=True))
