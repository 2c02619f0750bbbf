"""/me (我的): who I am here; and /lang (语言): the language I am answered in."""
from __future__ import annotations

from bot.core.contract import Choices, Incoming, Option
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_, SUPPORTED
from bot.core.registry import Registry
from bot.core.steps import pick_one
from handlers import roles
from handlers.hazard.views import my_hazards
from handlers.labels import LANGUAGE_NAMES, ZONE_KIND_LABELS, duration_text, roles_text
from handlers.leave import my_leave
from handlers.lessons.edu import my_education
from handlers.patrol.progress import standing, standing_text
from handlers.weeks import member_weeks, week_of
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
    return "\n".join(lines)


async def patrol_summary(ctx: Ctx) -> str:
    """This week's progress (🏖 when on leave), the open patrol, and the last four weeks."""
    t = ctx.t
    mine = await standing(ctx)
    lines = [standing_text(t, mine)]
    open_ = await patrol_store.open_patrol(ctx.session, ctx.member.id)
    if open_ is not None:
        elapsed = int((ctx.now - open_.started_at).total_seconds() // 60)
        lines.append(t("进行中的巡查：{time} 开始，已 {elapsed}。").format(
            time=open_.started_at.astimezone(ctx.config.tz).strftime("%H:%M"),
            elapsed=duration_text(t, elapsed)))
    elif mine.minutes < mine.required:
        lines.append(t("还差 {left}。").format(left=duration_text(t, mine.required - mine.minutes)))
    weeks, week = [], week_of(ctx.now, ctx.config.tz)
    for _ in range(4):
        week = week.previous()
        weeks.append(week)
    practice = ctx.config.practice
    history = await member_weeks(ctx.session, ctx.member, weeks, practice.personal_minutes,
                                 practice.off_site_credit)
    lines.append(t("前四周："))
    for w, past in zip(weeks, history):
        if not past.joined:
            mark = "—"  # before they joined: nothing owed, nothing to show
        elif past.away:
            mark = t("🏖 请假")
        else:
            mark = ("✅" if past.minutes >= past.required else "❌") + " " + \
                duration_text(t, past.minutes)
        lines.append(f"  {w.start.month}-{w.start.day:02d} {mark}")
    return "\n".join(lines)


lang_flow = Flow("lang", N_("语言设置"))


def register(registry: Registry) -> None:
    registry.flow(lang_flow)
    registry.command(Command("me", me, N_("我的信息"), words=(N_("我的"),)))
    registry.command(Command("lang", language, N_("切换语言"), words=(N_("语言"), "language")))


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
    # The 2+2 is the Party members' practice: a worker or a crew lead sees their hazards only.
    patrols = await patrol_summary(ctx) if roles.has(ctx.member, roles.MEMBER) else None
    parts = [profile_text(ctx), await my_leave(ctx), patrols, await my_education(ctx),
             await my_hazards(ctx)]
    ctx.say("\n\n".join(p for p in parts if p))


async def language(ctx: Ctx, msg: Incoming) -> None:
    await ctx.start(lang_flow)
