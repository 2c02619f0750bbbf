"""/week (周报): the 2+2 table of a project's week, for the secretary and safety
officers; the same table for `redshield week` (and `--json`). It shows what
happened: who is on leave (🏖, not counted), what was not counted and why
(forgotten patrols after their last sign of life, off-site patrols not accepted),
the off-site patrols awaiting the safety officer, who took part in each team
patrol, and who the bot's messages cannot reach (📵: never bound, or blocked). A week
in which nobody owed anything shows "—". Below the 2+2, who recorded 责任区教育 that
week and how often (handlers/lessons/edu.py)."""
from __future__ import annotations

import json

from bot.core.contract import Choices, Incoming, Option
from bot.core.flow import Command, Ctx
from bot.core.i18n import N_, Translator
from bot.core.registry import CliError, Registry
from handlers import roles
from handlers.labels import day_text, duration_text
from handlers.notices import UNREACHABLE_MARK, unreachable_legend
from handlers.operator import project_of
from handlers.patrol.fix import may_review
from handlers.patrol.progress import day_runs, days_text, minutes_between
from handlers.weeks import MemberWeek, ProjectWeek, Week, parse_week, project_weeks, week_of
from storage import edu as edu_store
from storage import patrols as store
from storage.directory import unreachable_members

NAMES_LISTED = 8  # team patrol members named on a line; the rest are counted
PENDING_LISTED = 5  # off-site patrols awaiting a decision, listed in the table


def register(registry: Registry) -> None:
    registry.command(Command("week", week_command, N_("本周 2+2 巡查情况"), words=(N_("周报"),),
                             roles=roles.SUPERVISORS, takes_args=True))
    registry.cli("week", "the 2+2 table of a project's week", cli_week, cli_arguments)


def personal_line(t: Translator, pw: ProjectWeek) -> str:
    """个人巡查：2/3 人达标, or — when nobody owed anything this week."""
    if not pw.owing:
        return t("个人巡查：—")
    return t("个人巡查：{met}/{total} 人达标").format(met=pw.met_count, total=len(pw.owing))


def member_marks(t: Translator, m: MemberWeek) -> list[str]:
    """What the secretary should know of a member's patrols: logged afterwards, off site
    (awaiting the safety officer), closed automatically, and the minutes not counted."""
    marks = []
    if m.logged_afterwards:
        marks.append(t("补记{n}").format(n=m.logged_afterwards))
    if m.off_site:
        detail = [t("待认可{n}").format(n=m.off_site_undecided)] if m.off_site_undecided else []
        if m.off_site_uncounted:
            detail.append(t("未计 {duration}").format(
                duration=duration_text(t, m.off_site_uncounted)))
        marks.append(t("不在现场{n}").format(n=m.off_site)
                     + (t("（{detail}）").format(detail=t("，").join(detail)) if detail else ""))
    if m.auto_closed:
        marks.append(t("自动结束{n}").format(n=m.auto_closed) + (t("（{detail}）").format(
            detail=t("未计 {duration}").format(duration=duration_text(t, m.forgotten_uncounted)))
            if m.forgotten_uncounted else ""))
    return marks


def member_line(t: Translator, pw: ProjectWeek, m: MemberWeek, unreachable: bool = False) -> str:
    name = f"{m.name}{UNREACHABLE_MARK}" if unreachable else m.name
    if m.away:
        line = f"🏖 {name} " + t("请假 {days}").format(days=days_text(t, m.leave_days))
        if m.minutes:
            line += f" {duration_text(t, m.minutes)}"
        return line
    line = f"{'✅' if m.met else '❌'} {name} {duration_text(t, m.minutes)}"
    if not m.met:
        line += " " + t("（差 {left}）").format(left=duration_text(t, m.left))
    if m.required < pw.personal_required:  # joined during the week, or on leave part of it
        line += " " + t("[应 {required}]").format(required=duration_text(t, m.required))
    marks = member_marks(t, m)
    if m.leave_days:
        marks.append(t("🏖 请假 {days}").format(days=days_text(t, m.leave_days)))
    if marks:
        line += " · " + t("、").join(marks)
    return line


def team_lines(t: Translator, pw: ProjectWeek) -> list[str]:
    """The team patrol's total, then each team patrol with who took part."""
    lines = [t("团队巡查：{done} / {required} {mark}").format(
        done=duration_text(t, pw.team_minutes), required=duration_text(t, pw.team_required),
        mark="✅" if pw.team_met else "❌")]
    for team in pw.team_patrols:
        started = team.started_at.astimezone(pw.week.tz)
        names = [name for _, name in team.members]
        who = t("、").join(names[:NAMES_LISTED])
        if len(names) > NAMES_LISTED:
            who += t("等 {n} 人").format(n=len(names))
        lines.append("  " + t("{day} {time} {duration}{joint}：{who}").format(
            day=day_text(t, started.date()), time=f"{started:%H:%M}",
            duration=duration_text(t, minutes_between(team.started_at, team.ended_at)),
            joint=t("（联合安监）") if team.joint_with_safety else "",
            who=who or t("无人登记")))
    return lines


def pending_lines(t: Translator, week: Week, pending) -> list[str]:
    """Off-site patrols of the week awaiting the safety officer's decision."""
    if not pending:
        return []
    lines = [t("不在现场、待安监认可的巡查 {n} 次：").format(n=len(pending))]
    for patrol, name in pending[:PENDING_LISTED]:
        started = patrol.started_at.astimezone(week.tz)
        lines.append(f"  {name} {day_text(t, started.date())} {started:%H:%M} "
                     f"{duration_text(t, minutes_between(patrol.started_at, patrol.ended_at))}")
    if len(pending) > PENDING_LISTED:
        lines.append("  " + t("…等 {n} 次").format(n=len(pending)))
    return lines


def education_lines(t: Translator, education) -> list[str]:
    """责任区教育 of the week: one line per member who recorded any, most first."""
    if not education:
        return []
    lines = [t("责任区教育：")]
    lines += ["  " + t("{name} 教育 {n} 次").format(name=e.name, n=e.records)
              for e in education[:NAMES_LISTED]]
    if len(education) > NAMES_LISTED:
        lines.append("  " + t("…等 {n} 人").format(n=len(education)))
    return lines


def table_text(t: Translator, project_name: str, pw: ProjectWeek, pending=(),
               unreachable: dict[int, str] | None = None, education=()) -> str:
    """The table; `unreachable` (member id -> why, storage.directory.unreachable_members)
    marks who the bot's messages do not reach, with a legend line; `education`
    (storage.edu.member_counts) adds who recorded 责任区教育."""
    unreachable = unreachable or {}
    lines = [t("{project} · {week}（{start}–{end}）").format(
        project=project_name, week=str(pw.week),
        start=pw.week.start.strftime("%m-%d"), end=pw.week.days()[-1].strftime("%m-%d")),
        personal_line(t, pw)]
    for m in sorted(pw.members, key=lambda m: (m.away, m.met, m.minutes)):
        lines.append(member_line(t, pw, m, m.member_id in unreachable))
    lines += team_lines(t, pw)
    lines += pending_lines(t, pw.week, pending)
    lines += education_lines(t, education)
    if any(m.member_id in unreachable for m in pw.members):
        lines.append(unreachable_legend(t))
    return "\n".join(lines)


def member_json(m: MemberWeek, unreachable: dict[int, str]) -> dict:
    return {"id": m.member_id, "name": m.name, "minutes": m.minutes, "required": m.required,
            # null, or why the bot's messages do not reach them: never_bound | blocked
            "unreachable": unreachable.get(m.member_id),
            "met": m.met if m.owes else None,  # null: owed nothing (on leave all week)
            "on_leave": bool(m.leave_days), "leave_all_week": m.away,
            "leave": [{"from": a.isoformat(), "until": b.isoformat()}
                      for a, b in day_runs(m.leave_days)],
            "logged_afterwards": m.logged_afterwards, "off_site": m.off_site,
            "off_site_awaiting": m.off_site_undecided, "auto_closed": m.auto_closed,
            "not_counted": {"off_site": m.off_site_uncounted,
                            "forgotten": m.forgotten_uncounted}}


def table_json(project_code: str, pw: ProjectWeek, pending=(),
               unreachable: dict[int, str] | None = None, education=()) -> dict:
    owing, unreachable = pw.owing, unreachable or {}
    return {
        "project": project_code, "week": str(pw.week),
        "start": pw.week.start.isoformat(), "end": pw.week.end.isoformat(),
        # met and share are null when nobody owed anything this week ("—")
        "personal": {"met": pw.met_count if owing else None, "total": len(owing),
                     "share": round(pw.met_count / len(owing), 3) if owing else None,
                     "on_leave": len(pw.away)},
        "team": {"minutes": pw.team_minutes, "required": pw.team_required, "met": pw.team_met,
                 "patrols": [{"id": p.id, "start": p.started_at.isoformat(),
                              "end": p.ended_at.isoformat(), "minutes": p.minutes,
                              "joint_with_safety": p.joint_with_safety,
                              "auto_closed": p.auto_closed,
                              "members": [{"id": i, "name": n} for i, n in p.members]}
                             for p in pw.team_patrols]},
        "members": [member_json(m, unreachable) for m in pw.members],
        "off_site_awaiting": [{"patrol": p.id, "member_id": p.member_id, "name": name,
                               "start": p.started_at.isoformat(), "end": p.ended_at.isoformat(),
                               "minutes": minutes_between(p.started_at, p.ended_at)}
                              for p, name in pending],
        "education": [{"member_id": e.member_id, "name": e.name, "records": e.records}
                      for e in education],
    }


async def project_week(session, config, project_id: int, week: Week) -> ProjectWeek:
    practice = config.practice
    weeks = await project_weeks(session, week, practice.personal_minutes,
                                practice.team_minutes, project_id, practice.off_site_credit)
    return weeks.get(project_id) or ProjectWeek(week, [], 0, practice.team_minutes,
                                                practice.personal_minutes)


async def awaiting(session, config, project_id: int, week: Week) -> list:
    """The week's off-site patrols awaiting the safety officer (none when they count anyway)."""
    if config.practice.off_site_credit != store.ONCE_ACCEPTED:
        return []
    return await store.undecided_off_site(session, project_id, week.start, week.end)


async def cut_off(session, pw: ProjectWeek) -> dict[int, str]:
    """The table's members the bot's messages do not reach, and why."""
    return await unreachable_members(session, {m.member_id for m in pw.members})


async def educated(session, project_id: int, week: Week):
    """Who recorded 责任区教育 in the week, with how many (storage.edu.member_counts)."""
    return await edu_store.member_counts(session, project_id, week.start.date(), week.end.date())


async def week_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    arg = msg.text.strip()
    current = week_of(ctx.now, ctx.config.tz)
    if not arg:
        week = current
    elif arg.lower() in ("prev", "上周"):
        week = current.previous()
    else:
        try:
            week = parse_week(arg, ctx.config.tz)
        except ValueError:
            ctx.say(t("周次格式如 2026-W47。"))
            return
    project_id = ctx.member.project_id
    pw = await project_week(ctx.session, ctx.config, project_id, week)
    pending = await awaiting(ctx.session, ctx.config, project_id, week)
    unreachable = await cut_off(ctx.session, pw)
    education = await educated(ctx.session, project_id, week)
    options = [Option(t("上一周"), f"/week {week.previous()}")]
    if pending and await may_review(ctx):
        options.insert(0, Option(t("逐条认可（{n}）").format(n=len(pending)), "/offsite"))
    if roles.has(ctx.member, roles.SECRETARY):
        options.append(Option(t("请假名单"), "/leave list"))
    ctx.send(Choices(table_text(t, ctx.member.project.name, pw, pending, unreachable, education),
                     tuple(options)))


# ---- redshield week


def cli_arguments(p) -> None:
    p.add_argument("--project", required=True, help="project code")
    p.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: this week)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


async def cli_week(app, args) -> int:
    config = app.config
    try:
        week = parse_week(args.week, config.tz) if args.week else week_of(app.clock(), config.tz)
    except ValueError as err:
        raise CliError(str(err)) from None
    sessions = await app.open()
    async with sessions() as s:
        project = await project_of(s, args.project)
        pw = await project_week(s, config, project.id, week)
        pending = await awaiting(s, config, project.id, week)
        unreachable = await cut_off(s, pw)
        education = await educated(s, project.id, week)
    if args.json:
        print(json.dumps(table_json(project.code, pw, pending, unreachable, education),
                         ensure_ascii=False, indent=2))
    else:
        print(table_text(Translator(config.locale.default), project.name, pw, pending,
                         unreachable, education))
    return 0
