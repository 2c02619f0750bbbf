"""Points given by people: /star (点赞) for safe behaviour a member saw, /deduct (扣分) by an
officer for a confirmed violation, and /star undo (撤回) with a reason kept. The ledger
is only ever added to: a withdrawal is an entry of its own (storage/stars.py)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from bot.core.contract import SKIP, AskPhoto, Choices, Incoming, Kind, Notice, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.registry import Registry
from bot.core.steps import ask_text, pick_one, too_long
from handlers import photos as photo_rules
from handlers import roles
from handlers.dates import day_span, local, parse_id, parse_number
from handlers.notices import translator_for
from handlers.stars.events import reason_label
from handlers.stars.workers import pick_worker, worker_label, worker_of
from handlers.violation.common import KINDS
from handlers.zones import squeeze
from storage import stars as ledger
from storage.directory import get_member, unreachable_members
from storage.models import Member, StarEntry

NOTE_MAX = 200
REASON_MIN, REASON_MAX = 2, 200
WITHDRAWABLE = ("star", "deduction")  # what a giver may take back; officers also events
SKIP_WORDS = (N_("跳过"), N_("提交"), N_("直接提交"))  # typed at the photo question: no note

star_flow = Flow("star", N_("点赞"))
undo_flow = Flow("star_undo", N_("撤回积分"))
deduct_flow = Flow("deduct", N_("扣分"))


def register(registry: Registry) -> None:
    for flow in (star_flow, undo_flow, deduct_flow):
        registry.flow(flow)
    registry.command(Command("star", star_command, N_("为工友点赞（行为安全之星）"),
                             words=(N_("点赞"),), roles=roles.STAR_GIVERS, takes_args=True))
    registry.command(Command("deduct", deduct_command, N_("扣分（经核实的违章）"),
                             words=(N_("扣分"),), roles=roles.OFFICERS, takes_args=True,
                             private_only=True))  # a worker's deduction is not for a group


# ---- the clock: a local day for the per-day limit, a local month for totals


def month_span(tz, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The local month `now` falls in, as UTC moments [start, end)."""
    first = now.astimezone(tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first.replace(tzinfo=None) + dt.timedelta(days=32)).replace(day=1, tzinfo=tz)
    return first.astimezone(dt.UTC), following.astimezone(dt.UTC)


async def month_points(session, config, worker: Member, now: dt.datetime) -> int:
    """A worker's points this month: what counts (withdrawn entries and withdrawals left out)."""
    start, end = month_span(config.tz, now)
    return sum(e.points for e in await ledger.entries(session, worker.project_id, start, end,
                                                      worker_id=worker.id))


async def reachable(ctx: Ctx, worker: Member) -> bool:
    """Whether a message can reach the worker (a bound account, or a WeCom userid)."""
    return worker.id not in await unreachable_members(ctx.session, [worker.id])


def _points(points: int) -> str:
    return f"+{points}" if points > 0 else str(points)


async def _worker(ctx: Ctx) -> Member | None:
    return await worker_of(ctx, ctx.data.get("worker_id"))


# ---- /star


async def star_command(ctx: Ctx, msg: Incoming) -> None:
    parts = msg.text.split()
    if parts[:1] == ["undo"]:
        if len(parts) != 2:
            ctx.say(ctx.t("要撤回，请在点赞或扣分成功的消息里点“撤回”，或发送 /star undo 编号。"))
            return
        await undo(ctx, parts[1])
        return
    await star_worker.begin(ctx, msg.text)


@pick_worker(star_flow, N_("点赞哪位工友？输入姓名或班组，或点下面的按钮。"), sources=("star",),
             myself=N_("不能给自己点赞，请选择其他工友。"), name="worker")
async def star_worker(ctx: Ctx, worker: Member) -> None:
    ctx.data["worker_id"] = worker.id
    if not await open_behaviours(ctx, worker):
        ctx.say(ctx.t("今天您已为 {worker}点过所有行为（每项每天最多 {n} 次），请选择其他工友。")
                .format(worker=worker_label(ctx.t, worker), n=ctx.config.stars.per_worker_per_day))
        return await ctx.goto(star_worker.step)
    await ctx.goto(behaviour)


async def given_today(ctx: Ctx, worker: Member, name: str) -> int:
    start, end = day_span(ctx)
    return await ledger.given_count(ctx.session, ctx.member.id, worker.id, name, start, end)


async def open_behaviours(ctx: Ctx, worker: Member) -> list[str]:
    """The behaviours this member may still star this worker for today."""
    limit = ctx.config.stars.per_worker_per_day
    return [name for name in ctx.config.stars.behaviours
            if await given_today(ctx, worker, name) < limit]


def _full_today(ctx: Ctx, worker: Member, name: str) -> str:
    return ctx.t("今天您已为 {worker}点过“{behaviour}”（每项每天最多 {n} 次），请选择其他行为。").format(
        worker=worker_label(ctx.t, worker), behaviour=ctx.t(name),
        n=ctx.config.stars.per_worker_per_day)


async def ask_behaviour(ctx: Ctx) -> Choices:
    t = ctx.t
    worker = await _worker(ctx)
    points = ctx.config.stars.behaviours
    open_ = await open_behaviours(ctx, worker) if worker else list(points)
    lines = [t("为 {worker}点赞：看到了什么安全行为？").format(
        worker=worker_label(t, worker) if worker else "")]
    done = [t(n) for n in points if n not in open_]
    if done:
        lines.append(t("今天已点过：{names}").format(names=t("、").join(done)))
    return Choices("\n".join(lines), tuple(
        Option(f"{t(name)} +{points[name]}", f"b{i}") for i, name in enumerate(points)
        if name in open_))


@star_flow.step(accepts={Kind.choice, Kind.text}, ask=ask_behaviour)
async def behaviour(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    worker = await _worker(ctx)
    if worker is None:
        ctx.finish()
        ctx.say(t("这位工友已不在名册中，没有保存。"))
        return
    names = list(ctx.config.stars.behaviours)
    if msg.kind is Kind.choice:
        index = int(msg.choice[1:]) if ctx.offered(msg.choice) and msg.choice[1:].isdecimal() \
            else len(names)
        name = names[index] if index < len(names) else None
    else:  # the behaviour typed without its points
        name = next((n for n in names if squeeze(t(n)) == squeeze(msg.text) or
                     squeeze(n) == squeeze(msg.text)), None)
    if name is None:
        return await ctx.reject(t("请点按钮选择行为。"))
    if await given_today(ctx, worker, name) >= ctx.config.stars.per_worker_per_day:
        return await ctx.reject(_full_today(ctx, worker, name))
    ctx.data["behaviour"] = name
    await ctx.goto(photo)


async def ask_photo(ctx: Ctx) -> AskPhoto:
    t = ctx.t
    return AskPhoto(t("可以拍一张照片作证，或写一句备注；也可以直接提交。"), skippable=True,
                    skip_label=t("不拍照，直接提交"))


@star_flow.step(accepts={Kind.photo, Kind.choice, Kind.text}, ask=ask_photo)
async def photo(ctx: Ctx, msg: Incoming) -> None:
    if msg.kind is Kind.photo:
        kept = await photo_rules.keep_evidence(ctx, msg, 0)
        if kept is None:  # not an image: keep_evidence said so
            return await ctx.ask_again()
        ctx.data["photo"] = kept["name"]
        return await ctx.goto(note)
    if msg.kind is Kind.choice:
        if msg.choice != SKIP:
            return await ctx.reject()
        return await give_star(ctx, None)
    text = msg.text.strip()  # a note instead of a photo
    if not text:
        return await ctx.reject()
    if squeeze(text) in {squeeze(ctx.t(w)) for w in SKIP_WORDS}:
        return await give_star(ctx, None)
    if len(text) > NOTE_MAX:
        return await ctx.reject(too_long(ctx, len(text), NOTE_MAX))
    await give_star(ctx, text)


@ask_text(star_flow, N_("照片已收到。再写一句备注吗？（如：在5楼临边主动提醒工友系安全带）"),
          skip=N_("不写了，提交"), max_len=NOTE_MAX)
async def note(ctx: Ctx, text: str | None) -> None:
    await give_star(ctx, text)


async def give_star(ctx: Ctx, text: str | None) -> None:
    t = ctx.t
    worker, name, photo_name = await _worker(ctx), ctx.data["behaviour"], ctx.data.get("photo")
    ctx.finish()
    if worker is None:
        ctx.say(t("这位工友已不在名册中，没有保存。"))
        return
    if await given_today(ctx, worker, name) >= ctx.config.stars.per_worker_per_day:
        ctx.say(t("今天您已为 {worker}点过“{behaviour}”，没有重复保存。").format(
            worker=worker_label(t, worker), behaviour=t(name)))
        return
    points = ctx.config.stars.behaviours[name]
    entry = await ledger.add(ctx.session, project_id=worker.project_id, worker_id=worker.id,
                             points=points, source="star", reason=name, note=text,
                             photo=photo_name, given_by_id=ctx.member.id, at=ctx.now)
    total = await month_points(ctx.session, ctx.config, worker, ctx.now)
    ctx.send(Choices(t("✅ 已为 {worker}点赞：{behaviour} +{points} 分。TA 本月 {total} 分。").format(
        worker=worker_label(t, worker), behaviour=t(name), points=points, total=total),
        (Option(t("撤回"), f"/star undo {entry.id}"),)))
    if await reachable(ctx, worker):
        tr = translator_for(worker, ctx.config.locale.default)
        ctx.notify(Notice(worker.id, (Text(
            tr("👍 {giver} 为您点赞：{behaviour} +{points} 分。本月累计 {total} 分。").format(
                giver=ctx.member.name, behaviour=tr(name), points=points, total=total)),),
            kind="star_given", key=f"star_given:{entry.id}"))


# ---- /star undo ID


async def _entry(ctx: Ctx, entry_id: int, *, lock: bool = False) -> StarEntry | None:
    stmt = sa.select(StarEntry).where(StarEntry.id == entry_id)
    if lock:  # two people withdrawing one entry at once: the second waits, then sees it done
        stmt = stmt.with_for_update()
    entry = (await ctx.session.execute(stmt)).scalar_one_or_none()
    return entry if entry is not None and entry.project_id == ctx.member.project_id else None


async def undo_refusal(ctx: Ctx, entry: StarEntry | None) -> str | None:
    """Why this member may not withdraw this entry now (None: they may)."""
    t = ctx.t
    if entry is None:
        return t("没有这条积分记录。")
    if entry.source == "withdrawal":
        return t("这是一条撤回记录，不能再撤回。")
    if await ledger.is_withdrawn(ctx.session, entry.id):
        return t("这条积分已经撤回过了。")
    if local(ctx, entry.at).date().replace(day=1) != local(ctx, ctx.now).date().replace(day=1):
        # A closed month's figures (and its stars) stay as they were published.
        return t("这条积分属于已结束的月份，不能再撤回。")
    if roles.has(ctx.member, roles.OFFICERS):
        return None  # officers may correct any entry of their project, any time
    if entry.source not in WITHDRAWABLE:
        return t("系统自动计入的积分只能由安监或党支部书记撤回。")
    if entry.given_by_id != ctx.member.id:
        return t("只能撤回自己给的积分；如有错误请联系安监或党支部书记。")
    hours = ctx.config.stars.withdraw_hours
    if ctx.now - entry.at > dt.timedelta(hours=hours):
        return t("已超过 {hours} 小时，不能再撤回；如有错误请联系安监或党支部书记。").format(hours=hours)
    return None


async def undo(ctx: Ctx, ident: str) -> None:
    number = parse_id(ident)
    entry = await _entry(ctx, number) if number else None
    refusal = await undo_refusal(ctx, entry)
    if refusal is not None:
        ctx.say(refusal)
        return
    await ctx.start(undo_flow, {"entry_id": entry.id})


async def _entry_text(ctx: Ctx, entry: StarEntry) -> str:
    worker = await get_member(ctx.session, entry.worker_id)
    return ctx.t("{worker}的“{reason} {points} 分”").format(
        worker=worker_label(ctx.t, worker), reason=reason_label(ctx.t, entry.reason), points=_points(entry.points))


async def ask_undo_reason(ctx: Ctx) -> str:
    entry = await _entry(ctx, ctx.data["entry_id"])
    what = await _entry_text(ctx, entry) if entry else ""
    return ctx.t("撤回{what}：请写明原因（{min}–{max} 字）。").format(
        what=what, min=REASON_MIN, max=REASON_MAX)


@ask_text(undo_flow, ask_undo_reason, empty=N_("请写明撤回的原因（至少 2 个字）。"),
          min_len=REASON_MIN, max_len=REASON_MAX)
async def undo_reason(ctx: Ctx, text: str) -> None:
    t = ctx.t
    entry = await _entry(ctx, ctx.data["entry_id"], lock=True)
    ctx.finish()
    refusal = await undo_refusal(ctx, entry)  # checked again: time passed, someone else acted
    if refusal is not None:
        ctx.say(refusal)
        return
    await ledger.add(ctx.session, project_id=entry.project_id, worker_id=entry.worker_id,
                     points=-entry.points, source="withdrawal", reason=entry.reason, note=text,
                     given_by_id=ctx.member.id, withdraws_id=entry.id, at=ctx.now)
    worker = await get_member(ctx.session, entry.worker_id)
    total = await month_points(ctx.session, ctx.config, worker, ctx.now)
    ctx.say(t("已撤回{what}。原因：{why}。TA 本月 {total} 分。").format(
        what=await _entry_text(ctx, entry), why=text, total=total))
    if worker.active and await reachable(ctx, worker):
        tr = translator_for(worker, ctx.config.locale.default)
        ctx.notify(Notice(worker.id, (Text(
            tr("您的“{reason} {points} 分”已撤回。原因：{why}。本月累计 {total} 分。").format(
                reason=tr(entry.reason), points=_points(entry.points), why=text, total=total)),),
            kind="star_withdrawn", key=f"star_withdrawn:{entry.id}"))


# ---- /deduct


async def deduct_command(ctx: Ctx, msg: Incoming) -> None:
    await deduct_worker.begin(ctx, msg.text)


@pick_worker(deduct_flow, N_("扣哪位工友的分？输入姓名或班组，或点下面的按钮。"),
             sources=("deduction",), myself=N_("不能给自己扣分，请选择其他工友。"), name="worker")
async def deduct_worker(ctx: Ctx, worker: Member) -> None:
    ctx.data["worker_id"] = worker.id
    await ctx.goto(kind)


async def ask_kind(ctx: Ctx) -> Choices:
    t = ctx.t
    worker = await _worker(ctx)
    return Choices(t("{worker}的违章类别：").format(worker=worker_label(t, worker) if worker else ""),
                   tuple(Option(t(k), f"k{i}") for i, k in enumerate(KINDS)))


@pick_one(deduct_flow, ask_kind)
async def kind(ctx: Ctx, value: str) -> None:
    ctx.data["kind"] = KINDS[int(value[1:])]
    await ctx.goto(amount)


def deduction_choices(config) -> list[int]:
    """The points offered: the configured deduction and 2, 5, 10, none above the maximum."""
    top = config.stars.max_deduction
    return sorted({min(p, top) for p in (config.stars.deduction, 2, 5, 10)})


async def ask_amount(ctx: Ctx) -> Choices:
    t = ctx.t
    return Choices(t("扣多少分？点按钮，或输入 1–{max} 的整数。").format(
        max=ctx.config.stars.max_deduction),
        tuple(Option(t("{n} 分").format(n=n), f"p{n}") for n in deduction_choices(ctx.config)))


@deduct_flow.step(accepts={Kind.choice, Kind.text}, ask=ask_amount)
async def amount(ctx: Ctx, msg: Incoming) -> None:
    top = ctx.config.stars.max_deduction
    if msg.kind is Kind.choice:
        value = int(msg.choice[1:]) if ctx.offered(msg.choice) and msg.choice[1:].isdecimal() \
            else None
    else:
        value = parse_number(msg.text.strip().removesuffix("分"))
    if value is None or not 1 <= value <= top:
        return await ctx.reject(ctx.t("请输入 1–{max} 的整数分值。").format(max=top))
    ctx.data["points"] = value
    await ctx.goto(deduct_reason)


@ask_text(deduct_flow, N_("请写明扣分原因（核实的情况，2–200 字）："),
          empty=N_("请写明扣分原因（至少 2 个字）。"), min_len=REASON_MIN, max_len=REASON_MAX)
async def deduct_reason(ctx: Ctx, text: str) -> None:
    t = ctx.t
    worker, kind_, points = await _worker(ctx), ctx.data["kind"], ctx.data["points"]
    ctx.finish()
    if worker is None:
        ctx.say(t("这位工友已不在名册中，没有保存。"))
        return
    entry = await ledger.add(ctx.session, project_id=worker.project_id, worker_id=worker.id,
                             points=-points, source="deduction", reason=kind_, note=text,
                             given_by_id=ctx.member.id, at=ctx.now)
    total = await month_points(ctx.session, ctx.config, worker, ctx.now)
    ctx.send(Choices(t("已扣分：{worker}，{kind} -{points} 分。原因：{why}。TA 本月 {total} 分。").format(
        worker=worker_label(t, worker), points=points, kind=t(kind_), why=text, total=total),
        (Option(t("撤回"), f"/star undo {entry.id}"),)))
    if await reachable(ctx, worker):
        tr = translator_for(worker, ctx.config.locale.default)
        ctx.notify(Notice(worker.id, (Text(
            tr("⚠️ 您因“{kind}”被扣 {points} 分。原因：{why}。本月累计 {total} 分。").format(
                kind=tr(kind_), points=points, why=text, total=total)),),
            kind="star_deducted", key=f"star_deducted:{entry.id}"))
