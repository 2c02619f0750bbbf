"""/week (周报): the 2+2 table of a project's week, for the secretary and safety
officers; the same table for `redshield week`."""
from __future__ import annotations

import json

from bot.core.contract import Choices, Incoming, Option
from bot.core.flow import Command, Ctx
from bot.core.i18n import N_, Translator
from bot.core.registry import CliError, Registry
from handlers import roles
from handlers.labels import duration_text
from handlers.operator import project_of
from handlers.weeks import ProjectWeek, Week, parse_week, project_weeks, week_of


def register(registry: Registry) -> None:
    registry.command(Command("week", week_command, N_("本周 2+2 巡查情况"), words=("周报",),
                             roles=roles.SUPERVISORS, takes_args=True))
    registry.cli("week", "the 2+2 table of a project's week", cli_week, cli_arguments)


def table_text(t: Translator, project_name: str, pw: ProjectWeek) -> str:
    met = [m for m in pw.members if m.met]
    lines = [t("{project} · {week}（{start}–{end}）").format(
        project=project_name, week=str(pw.week),
        start=pw.week.start.strftime("%m-%d"), end=pw.week.days()[-1].strftime("%m-%d")),
        t("个人巡查：{met}/{total} 人达标").format(met=len(met), total=len(pw.members))]
    for m in sorted(pw.members, key=lambda m: (m.met, m.minutes)):
        marks = []
        if m.logged_afterwards:
            marks.append(t("补记{n}").format(n=m.logged_afterwards))
        if m.off_site:
            marks.append(t("不在现场{n}").format(n=m.off_site))
        if m.auto_closed:
            marks.append(t("自动结束{n}").format(n=m.auto_closed))
        line = f"{'✅' if m.met else '❌'} {m.name} {duration_text(t, m.minutes)}"
        if not m.met:
            line += " " + t("（差 {left}）").format(left=duration_text(t, m.left))
        if m.required < pw.personal_required:  # joined during the week
            line += " " + t("[应 {required}]").format(required=duration_text(t, m.required))
        if marks:
            line += " · " + t("、").join(marks)
        lines.append(line)
    lines.append(t("团队巡查：{done} / {required} {mark}").format(
        done=duration_text(t, pw.team_minutes), required=duration_text(t, pw.team_required),
        mark="✅" if pw.team_met else "❌"))
    return "\n".join(lines)


def table_json(project_code: str, pw: ProjectWeek) -> dict:
    return {
        "project": project_code, "week": str(pw.week),
        "start": pw.week.start.isoformat(), "end": pw.week.end.isoformat(),
        "team": {"minutes": pw.team_minutes, "required": pw.team_required, "met": pw.team_met},
        "members": [{"id": m.member_id, "name": m.name, "minutes": m.minutes,
                     "required": m.required, "met": m.met,
                     "logged_afterwards": m.logged_afterwards, "off_site": m.off_site,
                     "auto_closed": m.auto_closed} for m in pw.members],
    }


async def project_week(session, config, project_id: int, week: Week) -> ProjectWeek:
    practice = config.practice
    weeks = await project_weeks(session, week, practice.personal_minutes,
                                practice.team_minutes, project_id)
    return weeks.get(project_id) or ProjectWeek(week, [], 0, practice.team_minutes,
                                                practice.personal_minutes)


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
    pw = await project_week(ctx.session, ctx.config, ctx.member.project_id, week)
    text = table_text(t, ctx.member.project.name, pw)
    ctx.send(Choices(text, (Option(t("上一周"), f"/week {week.previous()}"),)))


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
    if args.json:
        print(json.dumps(table_json(project.code, pw), ensure_ascii=False, indent=2))
    else:
        print(table_text(Translator(config.locale.default), project.name, pw))
    return 0
