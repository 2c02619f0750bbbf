"""/me (我的): who I am here; and /lang (语言): the language I am answered in."""
from __future__ import annotations

from bot.core.contract import Choices, Incoming, Option
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_, SUPPORTED
from bot.core.registry import Registry
from bot.core.steps import pick_one
from handlers.hazard.views import my_hazards
from handlers.labels import LANGUAGE_NAMES, ZONE_KIND_LABELS, duration_text, roles_text
from handlers.patrol.progress import progress_text, week_standing
from handlers.weeks import member_weeks, required_minutes, week_of
from storage import patrols as patrol_store


def profile_text(ctx: Ctx) -> str:
    t, m = ctx.t, ctx.member
    zones = t("、").join(f"{z.name}（{t(ZONE_KIND_LABELS.get(z.kind, z.kind))}）" for z in m.zones)
    lines = [
        f"{m.name} · {m.project.name}（{m.project.branch}）",
        t("角色：{roles}").format(roles=roles_text(t, m.role_names) or t("无")),
        t("责任区：{zones}").format(zones=zones or t("未分配")),
        t("语言：{language}").format(language=LANGUAGE_NAMES[ctx.locale]),
    ]
    if m.leave_until is not None:
        lines.append(t("请假至：{date}").format(date=m.leave_until.isoformat()))
    return "\n".join(lines)


async def patrol_summary(ctx: Ctx) -> str:
    """This week's progress, the open patrol, and the last four weeks."""
    t = ctx.t
    done, owed = await week_standing(ctx)
    lines = [progress_text(t, done, owed)]
    required = ctx.config.practice.personal_minutes
    open_ = await patrol_store.open_patrol(ctx.session, ctx.member.id)
    if open_ is not None:
        elapsed = int((ctx.now - open_.started_at).total_seconds() // 60)
        lines.append(t("进行中的巡查：{time} 开始，已 {elapsed}。").format(
            time=open_.started_at.astimezone(ctx.config.tz).strftime("%H:%M"),
            elapsed=duration_text(t, elapsed)))
    elif done < owed:
        lines.append(t("还差 {left}。").format(left=duration_text(t, owed - done)))
    weeks, week = [], week_of(ctx.now, ctx.config.tz)
    for _ in range(4):
        week = week.previous()
        weeks.append(week)
    history = await member_weeks(ctx.session, ctx.member.id, weeks)
    lines.append(t("前四周："))
    for w, minutes in zip(weeks, history):
        mark = "✅" if minutes >= required_minutes(required, ctx.member.joined_at, w) else "❌"
        if ctx.member.joined_at >= w.end:
            mark = "—"
        lines.append(f"  {w.start.month}-{w.start.day:02d} {mark} {duration_text(t, minutes)}")
    return "\n".join(lines)


lang_flow = Flow("lang")


def register(registry: Registry) -> None:
    registry.flow(lang_flow)
    registry.command(Command("me", me, N_("我的信息"), words=("我的",)))
    registry.command(Command("lang", language, N_("切换语言"), words=("语言", "language")))


async def ask_language(ctx: Ctx) -> Choices:
    options = tuple(Option(LANGUAGE_NAMES[code], code) for code in SUPPORTED)
    return Choices(ctx.t("请选择语言："), options)


@pick_one(lang_flow, ask_language)
async def pick(ctx: Ctx, code: str) -> None:
    ctx.member.locale = code
    ctx.set_locale(code)
    ctx.finish()
    ctx.say(ctx.t("好的，以后用中文和您交流。"))


async def me(ctx: Ctx, msg: Incoming) -> None:
    parts = [profile_text(ctx), await patrol_summary(ctx), await my_hazards(ctx)]
    ctx.say("\n\n".join(p for p in parts if p))


async def language(ctx: Ctx, msg: Incoming) -> None:
    await ctx.start(lang_flow)
