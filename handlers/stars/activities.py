"""/activity (群星闪耀): the union or the branch records an activity it held (为工友送安全,
a safety knowledge and skills contest, the 青年安全生产示范岗 selection, another): kind,
day, place, headcount, photos and a note. They count in the project's monthly and annual
figures (storage.star_activities)."""
from __future__ import annotations

import datetime as dt

from bot.core.contract import Choices, Incoming, Kind, Option
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.registry import Registry
from bot.core.steps import ask_text, pick_one
from handlers import photos as photo_rules
from handlers import roles
from handlers.dates import parse_number
from handlers.day_steps import held_on
from storage import star_activities as store
from storage.models import StarActivity, StarActivityPhoto

flow = Flow("activity", N_("群星闪耀活动记录"))

KINDS = (N_("为工友送安全"), N_("安全知识技能竞赛"), N_("青年安全生产示范岗评选"), N_("其他"))
MAX_AGE_DAYS = 60  # older activities are recorded by hand, not from memory in chat
MAX_HEADCOUNT = 5000
HEADCOUNTS = (10, 20, 50)


def register(registry: Registry) -> None:
    registry.flow(flow)
    registry.command(Command("activity", activity_command, N_("记录群星闪耀活动"), words=(N_("群星闪耀"),),
                             roles=roles.STAR_GIVERS))


async def activity_command(ctx: Ctx, msg: Incoming) -> None:
    await ctx.start(flow)


async def ask_kind(ctx: Ctx) -> Choices:
    return Choices(ctx.t("记录哪类群星闪耀活动？"),
                   tuple(Option(ctx.t(k), f"k{i}") for i, k in enumerate(KINDS)))


@pick_one(flow, ask_kind)
async def kind(ctx: Ctx, value: str) -> None:
    ctx.data["kind"] = KINDS[int(value[1:])]
    await ctx.goto(day)


@held_on(flow, N_("活动是哪天举办的？点按钮或输入日期，如 12-01。"), max_age_days=MAX_AGE_DAYS,
         future=N_("只能记录已经举办的活动，日期不能晚于今天。"), too_old=N_("只能记录 {n} 天内举办的活动。"))
async def day(ctx: Ctx, held: dt.date) -> None:
    ctx.data["day"] = held.isoformat()
    await ctx.goto(place)


@ask_text(flow, N_("在哪里举办？（如：钢筋加工场）"), empty=N_("请写明地点，至少 2 个字。"),
          min_len=2, max_len=100)
async def place(ctx: Ctx, text: str) -> None:
    ctx.data["place"] = text
    await ctx.goto(headcount)


async def ask_headcount(ctx: Ctx) -> Choices:
    return Choices(ctx.t("多少人参加？点按钮或输入人数，如 35。"),
                   tuple(Option(str(n), str(n)) for n in HEADCOUNTS))


@flow.step(accepts={Kind.choice, Kind.text}, ask=ask_headcount)
async def headcount(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    if msg.kind is Kind.choice and not ctx.offered(msg.choice):
        return await ctx.reject()
    count = parse_number(msg.choice if msg.kind is Kind.choice else msg.text)
    if count is None:
        return await ctx.reject(t("请输入人数，如 35。"))
    if not 1 <= count <= MAX_HEADCOUNT:
        return await ctx.reject(t("人数应在 1 到 {max} 之间。").format(max=MAX_HEADCOUNT))
    ctx.data["headcount"] = count
    await ctx.goto(photos)


@photo_rules.collect_photos(flow, N_("请发送活动照片（最多 9 张），发完点“完成”；没有照片点“跳过”。"),
                            keep=photo_rules.keep_evidence, required=None)
async def photos(ctx: Ctx, kept: list) -> None:
    await ctx.goto(note)


@ask_text(flow, N_("备注（可不填，如：发放安全帽 30 顶）："), skip=N_("跳过"), max_len=300)
async def note(ctx: Ctx, text: str | None) -> None:
    d, t = ctx.data, ctx.t
    activity = await store.add(ctx.session, StarActivity(
        project_id=ctx.member.project_id, kind=d["kind"], day=dt.date.fromisoformat(d["day"]),
        place=d["place"], headcount=d["headcount"], note=text, recorded_by_id=ctx.member.id,
        recorded_at=ctx.now,
        photos=[StarActivityPhoto(media_name=p["name"], added_at=ctx.now) for p in d.get("photos", [])]))
    ctx.finish()
    summary = t("✅ 已记录：{day} {kind} · {place} · {n} 人").format(
        day=f"{activity.day:%m-%d}", kind=t(activity.kind), place=activity.place, n=activity.headcount)
    if activity.photos:
        summary += t(" · 照片 {n} 张").format(n=len(activity.photos))
    ctx.say(summary)
