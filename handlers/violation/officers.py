"""/violations (举报处理): the project's safety officers and secretary read reports
(never who sent them), reply, and settle them — or turn one into a hazard."""
from __future__ import annotations

import json

from bot.core.contract import Choices, Image, Incoming, Option
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_, Translator
from bot.core.steps import ask_text
from handlers import roles
from handlers.dates import parse_id
from handlers.hazard import report as hazard_report
from handlers.operator import project_of
from handlers.violation.common import STATUS
from storage import violations as store
from storage.media import MediaStore
from storage.models import ViolationEntry, ViolationReport, ViolationStatus

SETTLE = {ViolationStatus.confirmed.value, ViolationStatus.unfounded.value}

reply_flow = Flow("violation_reply", N_("举报回复"))


async def find(ctx: Ctx, text: str) -> ViolationReport | None:
    """A report of the officer's own project, by its number."""
    number = parse_id(text)
    if number is None:
        return None
    found = await store.load(ctx.session, number)
    return found if found is not None and found.project_id == ctx.member.project_id else None


@ask_text(reply_flow, N_("请输入回复，举报人查询时会看到（不会知道是谁举报的）。"), max_len=2000,
          name="text")
async def reply(ctx: Ctx, text: str) -> None:
    ctx.session.add(ViolationEntry(report_id=ctx.data["report_id"], author="officer",
                                   officer_id=ctx.member.id, text=text, at=ctx.now))
    ctx.finish()
    ctx.say(ctx.t("✅ 已回复。"))


async def show(ctx: Ctx, found: ViolationReport) -> None:
    t = ctx.t
    lines = [t("举报 #{id} · {kind} · {status}").format(
                 id=found.id, kind=t(found.kind), status=t(STATUS[found.status])),
             t("区域：{zone}").format(zone=found.zone.name if found.zone else t("不确定")),
             t("收到：{time}").format(time=found.received_at.astimezone(ctx.config.tz)
                                    .strftime("%Y-%m-%d %H:00")),
             found.description]
    if found.named_member_id is not None:
        lines.append(t("实名举报"))
    for e in found.entries:
        if e.text:
            who = t("举报人补充") if e.author == "reporter" else t("回复")
            lines.append(f"{who}：{e.text}")
    ctx.say("\n".join(lines))
    media = MediaStore(ctx.config.media.dir)
    for e in found.entries:
        if e.media_name:
            ctx.send(Image(await media.read(e.media_name), filename=e.media_name.split("/")[-1]))
    if found.status is ViolationStatus.new:
        ctx.send(Choices(t("处理："), (
            Option(t("回复"), f"/violations {found.id} reply"),
            Option(t("属实已处理"), f"/violations {found.id} confirmed"),
            Option(t("不属实"), f"/violations {found.id} unfounded"),
            Option(t("转为隐患"), f"/violations {found.id} hazard"))))


async def open_list(ctx: Ctx) -> None:
    t = ctx.t
    open_ = await store.listing(ctx.session, ctx.member.project_id, open_only=True)
    if not open_:
        ctx.say(t("没有待处理的举报。"))
        return
    ctx.send(Choices(t("待处理的举报 {n} 项：").format(n=len(open_)), tuple(
        Option(f"#{r.id} {t(r.kind)}", f"/violations {r.id}") for r in open_[:20])))


async def violations_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    parts = msg.text.split()
    if not parts:
        return await open_list(ctx)
    found = await find(ctx, parts[0])
    action = parts[1] if len(parts) > 1 else ""
    if found is None:
        ctx.say(t("本项目没有这个编号的举报。"))
    elif not action:
        await show(ctx, found)
    elif found.status is not ViolationStatus.new:
        ctx.say(t("举报 #{id} 已处理：{status}。").format(id=found.id, status=t(STATUS[found.status])))
    elif action == "reply":
        await ctx.start(reply_flow, {"report_id": found.id})
    elif action in SETTLE:
        found.status, found.closed_at = ViolationStatus(action), ctx.now
        if found.status is ViolationStatus.confirmed:
            await ctx.emit("violation_confirmed", report=found)
        ctx.say(t("举报 #{id}：{status}。举报人查询时会看到。").format(
            id=found.id, status=t(STATUS[found.status])))
    elif action == "hazard":
        photos = [{"name": e.media_name, "evidence": {}} for e in found.entries if e.media_name]
        await hazard_report.start_report(ctx, photos=photos, patrol_id=None,
                                         default_zone=found.zone_id, violation_id=found.id)
    else:
        ctx.say(t("本项目没有这个编号的举报。"))


command = Command("violations", violations_command, N_("处理违章举报"), words=(N_("举报处理"),),
                  roles=roles.OFFICERS, takes_args=True)


# ---- redshield reports


def cli_arguments(p) -> None:
    p.add_argument("--project", required=True, help="project code")
    p.add_argument("--json", action="store_true", help="machine-readable output")


async def cli_reports(app, args) -> int:
    """Violation reports as an officer sees them: never an identity."""
    sessions = await app.open()
    async with sessions() as s:
        project = await project_of(s, args.project)
        found = await store.listing(s, project.id)
    t, tz = Translator(app.config.locale.default), app.config.tz
    rows = [{"id": r.id, "kind": r.kind, "status": r.status.value, "status_label": t(STATUS[r.status]),
             "zone": r.zone.name if r.zone else None, "description": r.description,
             "received": r.received_at.astimezone(tz).strftime("%Y-%m-%d %H:00"),
             "named": r.named_member_id is not None,
             "photos": sum(1 for e in r.entries if e.media_name),
             "replies": [e.text for e in r.entries if e.author == "officer" and e.text]}
            for r in found]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(f"{project.code}: no violation reports")
    for r in rows:
        print(f"#{r['id']}  {r['received']}  {r['kind']}  {r['status_label']}  "
              f"{r['zone'] or '-'}  {r['description'][:40]}")
    return 0
