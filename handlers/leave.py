"""/leave (请假): a member asks for leave from a chosen day to a chosen day; the branch
secretary approves (`/leave list` shows what waits and who is away). A member on leave
is not reminded, and owes less that week (handlers/weeks.py says how much).

Leave comes from two places, merged everywhere: approved requests, and the
directory's `leave_until` (an import column with no start date)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from bot.core.contract import Choices, Incoming, Kind, Notice, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.registry import Registry
from bot.core.steps import ask_text
from handlers import roles
from handlers.dates import local, parse_day, parse_id
from handlers.notices import translator_for
from storage.directory import get_member, members_with_roles
from storage.models import LeaveRequest, LeaveStatus, Member

flow = Flow("leave", N_("请假申请"))


def register(registry: Registry) -> None:
    registry.flow(flow)
    registry.command(Command("leave", leave_command, N_("请假"), words=(N_("请假"),), takes_args=True,
                             roles=roles.PATROLLERS))


MAX_DAYS = 92  # leave longer than three months goes through the secretary by hand
UNREADABLE = N_("没看懂这个日期，请点按钮或输入如 12-10。")


def span_text(start: dt.date, until: dt.date) -> str:
    return f"{start:%m-%d}" if start == until else f"{start:%m-%d}–{until:%m-%d}"


def _first(ctx: Ctx) -> dt.date:
    """The chosen first day (today for a request begun before the start was asked)."""
    chosen = ctx.data.get("start")
    return dt.date.fromisoformat(chosen) if chosen else local(ctx, ctx.now).date()


def _day(msg: Incoming, today: dt.date) -> dt.date | None:
    """A tapped button's day, or a typed one (the next such day from `today`)."""
    if msg.kind is Kind.text:
        return parse_day(msg.text, today, prefer="future")
    try:
        return dt.date.fromisoformat(msg.choice or "")
    except ValueError:
        return None


async def ask_start(ctx: Ctx) -> Choices:
    t = ctx.t
    today = local(ctx, ctx.now).date()
    return Choices(t("从哪天开始请假？点按钮或输入日期，如 12-10。"),
                   (Option(t("今天"), today.isoformat()),
                    Option(t("明天"), (today + dt.timedelta(days=1)).isoformat())))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_start)
async def start(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    today = local(ctx, ctx.now).date()
    first = _day(msg, today)
    if first is None:
        return await ctx.reject(t(UNREADABLE))
    if first < today:
        return await ctx.reject(t("请假不能从过去的日期开始。"))
    if first > today + dt.timedelta(days=MAX_DAYS):
        return await ctx.reject(t("只能申请三个月内开始的请假。"))
    ctx.data["start"] = first.isoformat()
    await ctx.goto(until)


async def ask_until(ctx: Ctx) -> Choices:
    t = ctx.t
    first = _first(ctx)
    sunday = first + dt.timedelta(days=6 - first.weekday())
    options = [Option(t("当天"), first.isoformat())]
    if sunday != first:
        options.append(Option(t("到本周日"), sunday.isoformat()))
    options.append(Option(t("到下周日"), (sunday + dt.timedelta(days=7)).isoformat()))
    return Choices(t("从 {start} 起，请假到哪一天（含）？点按钮或输入日期，如 12-10。").format(
        start=f"{first:%m-%d}"), tuple(options))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_until)
async def until(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    first = _first(ctx)
    last = _day(msg, first)
    if last is None:
        return await ctx.reject(t(UNREADABLE))
    if last < first:
        return await ctx.reject(t("结束日期不能早于开始日期（{start}）。").format(
            start=f"{first:%m-%d}"))
    if last > first + dt.timedelta(days=MAX_DAYS):
        return await ctx.reject(t("请假最长三个月；更长的请联系党支部书记。"))
    ctx.data["until"] = last.isoformat()
    await ctx.goto(reason)


@ask_text(flow, N_("请假事由（如：回家探亲、外出培训）："), empty=N_("请写明事由。"), min_len=2,
          max_len=500)
async def reason(ctx: Ctx, text: str) -> None:
    t = ctx.t
    request = LeaveRequest(member_id=ctx.member.id, start=_first(ctx),
                           until=dt.date.fromisoformat(ctx.data["until"]), reason=text,
                           status=LeaveStatus.pending, created_at=ctx.now)
    ctx.session.add(request)
    await ctx.session.flush()
    ctx.finish()
    span = span_text(request.start, request.until)
    if roles.has(ctx.member, roles.SECRETARY):  # nobody above them on the project
        request.status, request.decided_by_id, request.decided_at = (
            LeaveStatus.approved, ctx.member.id, ctx.now)
        ctx.say(t("✅ 已登记请假 {span}，期间不会提醒您巡查。").format(span=span))
        return
    ctx.say(t("已提交请假申请（{span}），等待党支部书记批准。").format(span=span))
    await ask_secretaries(ctx, request)


async def ask_secretaries(ctx: Ctx, request: LeaveRequest) -> None:
    for secretary in await members_with_roles(ctx.session, ctx.member.project_id, {roles.SECRETARY}):
        tr = translator_for(secretary, ctx.config.locale.default)
        ctx.notify(Notice(secretary.id, (Choices(
            tr("{name} 申请请假 {span}。事由：{reason}").format(
                name=ctx.member.name, span=span_text(request.start, request.until),
                reason=request.reason),
            (Option(tr("批准"), f"/leave approve {request.id}"),
             Option(tr("不批准"), f"/leave reject {request.id}"))),),
            kind="leave_request", key=f"leave_request:{request.id}:{secretary.id}"))


async def decide(ctx: Ctx, action: str, ident: str) -> None:
    t = ctx.t
    number = parse_id(ident)
    request = await ctx.session.get(LeaveRequest, number) if number else None
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
    span = span_text(request.start, request.until)
    ctx.say((t("已批准 {name} 请假 {span}。") if approved else t("已不批准 {name} 的请假。"))
            .format(name=member.name, span=span))
    tr = translator_for(member, ctx.config.locale.default)
    text = (tr("✅ 您的请假（{span}）已批准，期间不会提醒您巡查。") if approved
            else tr("您的请假申请（{span}）未被批准。")).format(span=span)
    ctx.notify(Notice(member.id, (Text(text),), kind="leave_decided", key=f"leave_decided:{request.id}"))


async def leave_command(ctx: Ctx, msg: Incoming) -> None:
    parts = msg.text.split()
    if len(parts) == 2 and parts[0] in ("approve", "reject"):
        await decide(ctx, parts[0], parts[1])
    elif parts[:1] == ["list"]:
        await list_leave(ctx)
    else:
        await ctx.start(flow)


# ---- who is away


async def on_leave(session, today: dt.date) -> dict[int, dt.date]:
    """member id -> last day of leave, for members on leave today (import or approved)."""
    away: dict[int, dt.date] = {}
    rows = await session.execute(sa.select(Member.id, Member.leave_until)
                                 .where(Member.leave_until >= today))
    for member_id, last in rows:
        away[member_id] = last
    rows = await session.execute(sa.select(LeaveRequest.member_id, LeaveRequest.until).where(
        LeaveRequest.status == LeaveStatus.approved, LeaveRequest.start <= today,
        LeaveRequest.until >= today))
    for member_id, last in rows:
        away[member_id] = max(last, away.get(member_id, last))
    return away


async def requests_from(session, today: dt.date, *, project_id: int | None = None,
                        member_id: int | None = None) -> list[tuple[LeaveRequest, str]]:
    """Pending and approved requests not over by `today`, with the member's name, by start."""
    stmt = (sa.select(LeaveRequest, Member.name).join(Member, Member.id == LeaveRequest.member_id)
            .where(LeaveRequest.status.in_((LeaveStatus.pending, LeaveStatus.approved)),
                   LeaveRequest.until >= today)
            .order_by(LeaveRequest.start, LeaveRequest.id))
    if project_id is not None:
        stmt = stmt.where(Member.project_id == project_id, Member.active.is_(True))
    if member_id is not None:
        stmt = stmt.where(LeaveRequest.member_id == member_id)
    return [(r, name) for r, name in (await session.execute(stmt)).all()]


async def list_leave(ctx: Ctx) -> None:
    """/leave list: what waits for the secretary (a tap each) and who is or will be away."""
    t = ctx.t
    if not roles.has(ctx.member, roles.SECRETARY):
        ctx.say(t("请假名单由党支部书记查看。"))
        return
    today = local(ctx, ctx.now).date()
    found = await requests_from(ctx.session, today, project_id=ctx.member.project_id)
    pending = [(r, n) for r, n in found if r.status is LeaveStatus.pending]
    lines = [t("待批准的请假（{n}）：").format(n=len(pending))] if pending else []
    lines += [f"#{r.id} {n} {span_text(r.start, r.until)} · {r.reason}" for r, n in pending]
    away = [f"🏖 {n} {span_text(r.start, r.until)}" for r, n in found
            if r.status is LeaveStatus.approved]
    listed = await ctx.session.execute(
        sa.select(Member.name, Member.leave_until).where(
            Member.project_id == ctx.member.project_id, Member.active.is_(True),
            Member.leave_until >= today).order_by(Member.leave_until))
    away += [t("🏖 {name} 至 {until}（名册）").format(name=n, until=f"{d:%m-%d}") for n, d in listed]
    if away:
        lines += [t("请假中及已批准（{n}）：").format(n=len(away)), *away]
    if not lines:
        ctx.say(t("现在没有待批准或进行中的请假。"))
        return
    buttons = [b for r, n in pending[:3] for b in (
        Option(t("批准 {name}").format(name=n), f"/leave approve {r.id}"),
        Option(t("不批准 {name}").format(name=n), f"/leave reject {r.id}"))]
    ctx.send(Choices("\n".join(lines), tuple(buttons)) if buttons else Text("\n".join(lines)))


async def my_leave(ctx: Ctx) -> str | None:
    """/me: the member's leave now and to come, and requests awaiting the secretary."""
    t, m = ctx.t, ctx.member
    today = local(ctx, ctx.now).date()
    lines = []
    if m.leave_until is not None and m.leave_until >= today:
        lines.append(t("🏖 请假至 {until}").format(until=f"{m.leave_until:%m-%d}"))
    for r, _ in await requests_from(ctx.session, today, member_id=m.id):
        span = span_text(r.start, r.until)
        lines.append(t("🏖 请假 {span}").format(span=span) if r.status is LeaveStatus.approved
                     else t("请假申请待批准：{span}").format(span=span))
    return "\n".join(lines) or None
