"""/week (周报): the 2+2 table of a project's week, for the secretary and safety
officers; the same table for `redshield week`."""
from __future__ import annotations

from bot.core.contract import Choices, Incoming, Option
from bot.core.flow import Command, Ctx
from bot.core.i18n import N_, Translator
from bot.core.registry import Registry
from handlers.labels import duration_text
from handlers.weeks import ProjectWeek, Week, parse_week, project_weeks, week_of

VIEWERS = frozenset({"secretary", "safety_officer", "committee"})


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


def build(registry: Registry) -> None:
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
        earlier = week.previous()
        ctx.send(Choices(text, (Option(t("上一周"), f"/week {earlier}"),)))

    registry.command(Command("week", week_command, N_("本周 2+2 巡查情况"), words=("周报",),
                             roles=VIEWERS, takes_args=True))
