"""/team (团队巡查): the vanguard team's whole-site patrol, started by its leader or
the branch secretary, joined by members with a tap (in the group chat too, or on
the notice each member of the vanguard team gets when it starts).
It counts once for the project, in wall-clock time."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from bot.core.contract import Choices, Incoming, Kind, Notice, Option
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.registry import Registry
from bot.core.steps import pick_one
from bot.scheduler import every, weekly
from handlers import people, roles
from handlers.labels import duration_text
from handlers.notices import translator_for
from handlers.patrol.progress import minutes_between
from handlers.weeks import progress_bar, project_weeks, week_of
from storage import patrols as store
from storage.directory import members_with_roles
from storage.models import Member, MemberRole, TeamPatrol, TeamPatrolMember

start_flow = Flow("team_start", N_("团队巡查"))
add_flow = Flow("team_add", N_("添加队员"))
DONE = "done"


def register(registry: Registry) -> None:
    registry.flow(start_flow)
    registry.flow(add_flow)
    registry.command(Command("team", team_command, N_("团队巡查"), words=(N_("团队巡查"),),
                             takes_args=True, roles=roles.PATROLLERS))
    registry.job("remind_team", lambda config: weekly(config.schedule.team_reminder, config.tz),
                 team_reminders)
    registry.job("close_forgotten_team",
                 lambda config: every(config.schedule.close_forgotten_every_minutes),
                 close_forgotten_job, catch_up=False)


def is_organiser(ctx: Ctx) -> bool:
    return roles.has(ctx.member, roles.ORGANISERS)


async def team_progress(ctx: Ctx) -> str:
    t = ctx.t
    week = week_of(ctx.now, ctx.config.tz)
    done = (await store.team_minutes(ctx.session, week.start, week.end,
                                     ctx.member.project_id)).get(ctx.member.project_id, 0)
    required = ctx.config.practice.team_minutes
    line = t("本周团队巡查 {done} / {required}").format(
        done=duration_text(t, done), required=duration_text(t, required))
    return f"{line} {progress_bar(done, required)}" + (" ✅" if done >= required else "")


async def join(ctx: Ctx, team: TeamPatrol, member_id: int) -> bool:
    """Add a member; False if they were in already."""
    if await ctx.session.get(TeamPatrolMember, (team.id, member_id)) is not None:
        return False
    ctx.session.add(TeamPatrolMember(team_patrol_id=team.id, member_id=member_id,
                                     joined_at=ctx.now))
    await ctx.session.flush()
    return True


def running_buttons(ctx: Ctx) -> tuple[Option, ...]:
    t = ctx.t
    return (Option(t("加入团队巡查"), "/team join"), Option(t("结束团队巡查"), "/team end"))


# ---- starting


async def ask_kind(ctx: Ctx) -> Choices:
    t = ctx.t
    return Choices(t("发起团队巡查："), (Option(t("先锋队巡查"), "alone"),
                                        Option(t("联合安监巡查"), "joint")))


@pick_one(start_flow, ask_kind)
async def kind(ctx: Ctx, chosen: str) -> None:
    t = ctx.t
    ctx.finish()
    if await store.open_team_patrol(ctx.session, ctx.member.project_id) is not None:
        ctx.say(t("本项目已有进行中的团队巡查。"))
        return
    team = TeamPatrol(project_id=ctx.member.project_id, leader_id=ctx.member.id,
                      joint_with_safety=chosen == "joint", started_at=ctx.now)
    ctx.session.add(team)
    await ctx.session.flush()
    await join(ctx, team, ctx.member.id)
    label = t("联合安监") if team.joint_with_safety else t("先锋队")
    ctx.send(Choices(
        t("🚩 团队巡查开始（{kind}），{time}，发起人 {name}。队员请点“加入团队巡查”。").format(
            kind=label, time=ctx.now.astimezone(ctx.config.tz).strftime("%H:%M"),
            name=ctx.member.name),
        running_buttons(ctx)))
    await call_the_team(ctx, team)


async def call_the_team(ctx: Ctx, team: TeamPatrol) -> None:
    """Each member of the vanguard team (but the one who started it) is told, in their own
    language, with a button to join."""
    started = team.started_at.astimezone(ctx.config.tz).strftime("%H:%M")
    for member in await members_with_roles(ctx.session, ctx.member.project_id, roles.TEAM):
        if member.id == ctx.member.id:
            continue
        tr = translator_for(member, ctx.config.locale.default)
        text = tr("🚩 {name} 发起了团队巡查（{kind}），{time} 开始。点按钮加入。").format(
            name=ctx.member.name, time=started,
            kind=tr("联合安监") if team.joint_with_safety else tr("先锋队"))
        ctx.notify(Notice(member.id, (Choices(text, (Option(tr("加入团队巡查"), "/team join"),)),),
                          kind="team_started", key=f"team_started:{team.id}:{member.id}"))


# ---- adding members by hand


async def ask_members(ctx: Ctx) -> Choices:
    t = ctx.t
    team = await store.open_team_patrol(ctx.session, ctx.member.project_id)
    joined = set(await store.team_member_ids(ctx.session, team.id)) if team else set()
    candidates = (await ctx.session.execute(
        sa.select(Member).where(Member.project_id == ctx.member.project_id,
                                Member.active.is_(True),
                                Member.roles.any(MemberRole.role.in_(roles.TEAM)))
        .order_by(Member.id)
    )).scalars()
    options = tuple(Option(("✓ " if m.id in joined else "") + m.name, f"m{m.id}")
                    for m in candidates)
    return Choices(t("点名字添加队员（已加入 {n} 人），添加完点“完成”。").format(n=len(joined)),
                   options + (Option(t("完成"), DONE),))


@add_flow.step(accepts={Kind.choice}, ask=ask_members)
async def pick(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    team = await store.open_team_patrol(ctx.session, ctx.member.project_id)
    if team is None:
        ctx.finish()
        ctx.say(t("团队巡查已经结束了。"))
        return
    if msg.choice == DONE:
        ctx.finish()
        count = len(await store.team_member_ids(ctx.session, team.id))
        ctx.say(t("团队巡查共 {n} 人。").format(n=count))
        return
    member = await people.chosen_member(ctx, msg.choice)
    if member is None:
        ctx.say(t("请从按钮中选择本项目的队员。"))
    else:
        await join(ctx, team, member.id)
    await ctx.goto(pick)


# ---- the command


async def team_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    action = (msg.text.split() or [""])[0].lower()
    team = await store.open_team_patrol(ctx.session, ctx.member.project_id)
    if team is None:
        if action in ("join", "end", "add"):
            ctx.say(t("现在没有进行中的团队巡查。"))
        elif is_organiser(ctx):
            await ctx.start(start_flow)
        else:
            ctx.say(t("团队巡查由先锋队长或党支部书记发起。发起后您可以点“加入团队巡查”。"))
        return
    if action == "join" or (action == "" and not is_organiser(ctx)):
        await join_command(ctx, team)
    elif not is_organiser(ctx):
        ctx.say(t("只有先锋队长或党支部书记可以结束团队巡查或添加队员。"))
    elif action == "end":
        await end_team(ctx, team)
    elif action == "add":
        await ctx.start(add_flow)
    else:
        elapsed = minutes_between(team.started_at, ctx.now)
        ctx.send(Choices(t("团队巡查进行中，已 {elapsed}。").format(elapsed=duration_text(t, elapsed)),
                         running_buttons(ctx) + (Option(t("添加队员"), "/team add"),)))


async def join_command(ctx: Ctx, team: TeamPatrol) -> None:
    t = ctx.t
    if not roles.has(ctx.member, roles.PATROLLERS):
        ctx.say(t("团队巡查只有党员可以加入。"))
    elif await join(ctx, team, ctx.member.id):
        count = len(await store.team_member_ids(ctx.session, team.id))
        ctx.say(t("{name} 已加入团队巡查（共 {n} 人）。").format(name=ctx.member.name, n=count))
    else:
        ctx.say(t("您已在团队巡查中。"))


async def end_team(ctx: Ctx, team: TeamPatrol) -> None:
    t = ctx.t
    cap = dt.timedelta(minutes=ctx.config.practice.max_patrol_minutes)
    team.ended_at = min(ctx.now, team.started_at + cap)
    team.auto_closed = ctx.now > team.started_at + cap
    await ctx.session.flush()
    count = len(await store.team_member_ids(ctx.session, team.id))
    ctx.say(t("🏁 团队巡查结束：用时 {duration}，{n} 人参加。").format(
        duration=duration_text(t, minutes_between(team.started_at, team.ended_at)), n=count))
    ctx.say(await team_progress(ctx))


async def close_forgotten_team(session, now: dt.datetime, config) -> int:
    """Team patrols left open past the cap end at the cap, marked; returns how many."""
    cap = dt.timedelta(minutes=config.practice.max_patrol_minutes)
    closed = await store.forgotten_team_patrols(session, now - cap)
    for team in closed:
        team.ended_at, team.auto_closed = team.started_at + cap, True
    await session.flush()
    return len(closed)


async def close_forgotten_job(session, now: dt.datetime, config) -> list:
    await close_forgotten_team(session, now, config)
    return []  # nobody is told: the cap is in the week's table for the secretary to see


async def team_reminders(session, now: dt.datetime, config) -> list[Notice]:
    """Leaders and the secretary of projects whose team patrol is short this week."""
    week = week_of(now, config.tz)
    practice = config.practice
    weeks = await project_weeks(session, week, practice.personal_minutes, practice.team_minutes)
    short = {pid: pw for pid, pw in weeks.items() if not pw.team_met}
    if not short:
        return []
    organisers = (await session.execute(
        sa.select(Member).where(Member.project_id.in_(short), Member.active.is_(True),
                                Member.roles.any(MemberRole.role.in_(roles.ORGANISERS)))
    )).scalars()
    notices = []
    for m in organisers:
        pw = short[m.project_id]
        t = translator_for(m, config.locale.default)
        text = t("🚩 本周团队巡查 {done} / {required}，还差 {left}。请组织先锋队巡查。").format(
            done=duration_text(t, pw.team_minutes), required=duration_text(t, pw.team_required),
            left=duration_text(t, pw.team_required - pw.team_minutes))
        notices.append(Notice(m.id, (Choices(text, (Option(t("发起团队巡查"), "/team"),)),),
                              kind="remind_team", key=f"remind_team:{m.id}:{week}"))
    return notices
