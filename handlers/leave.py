"""/leave (请假): a member on leave is not reminded. The branch secretary approves."""
from __future__ import annotations

import datetime as dt

from bot.core.contract import Choices, Incoming, Kind, Notice, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.registry import Registry
from bot.core.steps import ask_text
from handlers import roles
from handlers.dates import local, parse_day
from handlers.notices import translator_for
from storage.directory import get_member, members_with_roles
from storage.models import LeaveRequest, LeaveStatus

flow = Flow("leave")


def register(registry: Registry) -> None:
    registry.flow(flow)
    registry.command(Command("leave", leave_command, N_("请假"), words=("请假",), takes_args=True))


async def ask_until(ctx: Ctx) -> Choices:
    t = ctx.t
    today = local(ctx, ctx.now).date()
    sunday = today + dt.timedelta(days=6 - today.weekday())
    options = (Option(t("今天"), today.isoformat()),
               Option(t("到本周日"), sunday.isoformat()),
               Option(t("到下周日"), (sunday + dt.timedelta(days=7)).isoformat()))
    return Choices(t("请假到哪一天（含）？点按钮或输入日期，如 12-10。"), options)


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_until)
async def until(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    today = local(ctx, ctx.now).date()
    try:
        last = (dt.date.fromisoformat(msg.choice) if msg.kind is Kind.choice
                else parse_day(msg.text, today))
    except ValueError:
        last = None
    if last is None:
        return await ctx.reject(t("没看懂这个日期，请点按钮或输入如 12-10。"))
    if last < today:
        return await ctx.reject(t("请假结束日期不能早于今天。"))
    if last > today + dt.timedelta(days=92):
        return await ctx.reject(t("请假最长三个月；更长的请联系党支部书记。"))
    ctx.data["until"] = last.isoformat()
    await ctx.goto(reason)


@ask_text(flow, N_("请假事由（如：回家探亲、外出培训）："), empty=N_("请写明事由。"), min_len=2,
          max_len=500)
async def reason(ctx: Ctx, text: str) -> None:
    t = ctx.t
    request = LeaveRequest(member_id=ctx.member.id, start=local(ctx, ctx.now).date(),
                           until=dt.date.fromisoformat(ctx.data["until"]), reason=text,
                           status=LeaveStatus.pending, created_at=ctx.now)
    ctx.session.add(request)
    await ctx.session.flush()
    ctx.finish()
    if roles.has(ctx.member, roles.SECRETARY):  # nobody above them on the project
        request.status, request.decided_by_id, request.decided_at = (
            LeaveStatus.approved, ctx.member.id, ctx.now)
        ctx.say(t("✅ 已登记请假至 {until}，期间不会提醒您巡查。").format(until=request.until.isoformat()))
        return
    ctx.say(t("已提交请假申请（至 {until}），等待党支部书记批准。").format(until=request.until.isoformat()))
    for secretary in await members_with_roles(ctx.session, ctx.member.project_id, {roles.SECRETARY}):
        tr = translator_for(secretary, ctx.config.locale.default)
        ctx.notify(Notice(secretary.id, (Choices(
            tr("{name} 申请请假至 {until}。事由：{reason}").format(
                name=ctx.member.name, until=request.until.isoformat(), reason=request.reason),
            (Option(tr("批准"), f"/leave approve {request.id}"),
             Option(tr("不批准"), f"/leave reject {request.id}"))),),
            kind="leave_request", key=f"leave_request:{request.id}:{secretary.id}"))


async def decide(ctx: Ctx, action: str, ident: str) -> None:
    t = ctx.t
    request = await ctx.session.get(LeaveRequest, int(ident)) if ident.isdigit() else None
    member = await get_member(ctx.session, request.member_id) if request else None
    if member is None or member.project_id != ctx.member.project_id:
        ctx.say(t("没有这个请假申请。"))
        return
    if not roles.has(ctx.member, roles.SECRETARY):
        ctx.say(t("请假由党支部书记批准。"))
        return
    if request.status is not LeaveStatus.pending:
        ctx.say(t("这个申请已经处理过了。"))
        return
    approved = action == "approve"
    request.status = LeaveStatus.approved if approved else LeaveStatus.rejected
    request.decided_by_id, request.decided_at = ctx.member.id, ctx.now
    ctx.say((t("已批准 {name} 请假至 {until}。") if approved else t("已不批准 {name} 的请假。"))
            .format(name=member.name, until=request.until.isoformat()))
    tr = translator_for(member, ctx.config.locale.default)
    text = (tr("✅ 您的请假（至 {until}）已批准，期间不会提醒您巡查。") if approved
            else tr("您的请假申请（至 {until}）未被批准。")).format(until=request.until.isoformat())
    ctx.notify(Notice(member.id, (Text(text),), kind="leave_decided", key=f"leave_decided:{request.id}"))


async def leave_command(ctx: Ctx, msg: Incoming) -> None:
    parts = msg.text.split()
    if len(parts) == 2 and parts[0] in ("approve", "reject"):
        await decide(ctx, parts[0], parts[1])
    else:
        await ctx.start(flow)
