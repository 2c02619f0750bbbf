"""/lessons (课堂): a project's coming lessons, its past ones with their attendance and
whether their record is complete, and the member's own attendance this year; in a group
only what is coming, when and where (never a check-in code: RULINGS 12).
`redshield lessons --project CODE [--year YYYY] [--json]`: every lesson with its
attendance and files, and the year's attendance per member, for operators."""
from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from bot.core.contract import ChatType, Choices, Incoming, Option, Text
from bot.core.flow import Command, Ctx
from bot.core.i18n import N_, Translator
from bot.core.registry import CliError, Registry
from handlers import roles
from handlers.lessons.plan import audience_text, form_text, when_text
from handlers.operator import project_of
from storage import lessons as store
from storage.models import Lesson

UPCOMING_SHOWN = 5
PAST_SHOWN = 5


def register(registry: Registry) -> None:
    registry.command(Command("lessons", lessons_command, N_("红盾课堂安排与记录"), words=(N_("课堂"),)))
    registry.cli("lessons", "a project's 红盾课堂: every lesson with attendance and files, and "
                 "the year's attendance per member", cli_lessons, cli_arguments)


def year_span(tz: ZoneInfo, year: int) -> tuple[dt.datetime, dt.datetime]:
    """A local year as UTC moments [start, end)."""
    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)

    return midnight(dt.date(year, 1, 1)), midnight(dt.date(year + 1, 1, 1))


def _files(lesson: Lesson, kind: str) -> list:
    return [f for f in lesson.files if f.kind == kind]


# ---- /lessons


async def lessons_text(ctx: Ctx) -> str:
    t, tz, member, session = ctx.t, ctx.config.tz, ctx.member, ctx.session
    in_group = ctx.msg.chat_type is ChatType.group  # read by all: times and places only
    lines = [t("📚 红盾课堂 · {project}").format(project=member.project.name)]
    coming = await store.upcoming(session, member.project_id, ctx.now, limit=UPCOMING_SHOWN)
    lines.append(t("【即将开始】"))
    for lesson in coming:
        line = t("{when}《{title}》· {place}").format(
            when=when_text(t, tz, lesson), title=lesson.title, place=lesson.place)
        if not in_group:  # the number /lessoncode, /record and /lesson cancel take
            line = f"#{lesson.id} " + line
        if not in_group:
            line += t("（{form}，{audience}）").format(form=form_text(t, lesson.form),
                                                     audience=audience_text(t, lesson))
            if lesson.organiser_id == member.id:
                line += t(" · 我组织")
            elif await store.in_audience(session, lesson, member.id):
                line += t(" · 请参加")
        lines.append(line)
    if not coming:
        lines.append(t("暂无安排。"))
    if in_group:
        return "\n".join(lines)

    gone = await store.past(session, member.project_id, ctx.now, limit=PAST_SHOWN)
    if gone:
        counts = await store.attendance_counts(session, [lesson.id for lesson in gone])
        this_year = ctx.now.astimezone(tz).year
        lines.append(t("【往期记录】"))
        for lesson in gone:
            day = lesson.starts_at.astimezone(tz).date()
            line = f"#{lesson.id} " + t("{day}《{title}》（{form}）签到 {n} 人").format(
                day=f"{day:%m-%d}" if day.year == this_year else f"{day:%Y-%m-%d}",
                title=lesson.title, form=form_text(t, lesson.form), n=counts.get(lesson.id, 0))
            if lesson.headcount:
                line += t("，纸质签到 {n} 人").format(n=lesson.headcount)
            line += t("，记录完整") if lesson.completed_at is not None else t("，记录未完成")
            lines.append(line)
    year = ctx.now.astimezone(tz).year
    start, end = year_span(tz, year)
    lines.append(t("本年签到 {n} 次").format(
        n=await store.attended_count(session, member.id, start, end)))
    return "\n".join(lines)


async def lessons_command(ctx: Ctx, msg: Incoming) -> None:
    text = await lessons_text(ctx)
    # No buttons in a group: anyone there may tap them, and planning is private.
    if ctx.msg.chat_type is not ChatType.group and roles.has(ctx.member, roles.LESSON_PLANNERS):
        ctx.send(Choices(text, (Option(ctx.t("安排红盾课堂"), "/lesson"),)))
        return
    ctx.send(Text(text))


# ---- redshield lessons


def cli_arguments(p) -> None:
    p.add_argument("--project", required=True, help="project code")
    p.add_argument("--year", type=int, help="year of the per-member attendance (default: this year, "
                   "local time)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


async def report(session, config, project, year: int) -> dict:
    """Every lesson of a project, and who attended in `year`, with full names (operators)."""
    tz = config.tz
    t = Translator(config.locale.default)
    found = await store.of_project(session, project.id)
    people = await store.names(session, [x.organiser_id for x in found])
    lessons = []
    for lesson in found:
        start, end = lesson.starts_at.astimezone(tz), lesson.ends_at.astimezone(tz)
        came = await store.attendance(session, lesson.id)
        lessons.append({
            "id": lesson.id, "day": start.date().isoformat(), "start": f"{start:%H:%M}",
            "end": f"{end:%H:%M}", "title": lesson.title, "form": lesson.form,
            "place": lesson.place, "audience": lesson.audience,
            "audience_text": audience_text(t, lesson), "crews": list(lesson.crews or []),
            "organiser": people.get(lesson.organiser_id),
            "attendance": {"count": len(came), "names": [m.name for m, _ in came]},
            "headcount": lesson.headcount,
            "files": {"photos": len(_files(lesson, "photo")), "signin": len(_files(lesson, "signin")),
                      "documents": [f.title or f.media_name for f in _files(lesson, "document")],
                      "links": [f.url for f in _files(lesson, "link")]},
            "summary": lesson.summary, "complete": lesson.completed_at is not None,
            "cancelled": lesson.cancelled_at is not None,
        })
    span_start, span_end = year_span(tz, year)
    members = [{"id": m.id, "name": m.name, "crew": m.crew, "count": len(ids), "lessons": ids}
               for m, ids in await store.attendance_by_member(session, project.id, span_start, span_end)]
    return {"project": project.code, "name": project.name, "lessons": lessons,
            "attendance": {"year": year, "members": members}}


def report_text(t: Translator, data: dict) -> str:
    lines = [t("{name}（{code}）· 红盾课堂（{n} 次）").format(
        name=data["name"], code=data["project"], n=len(data["lessons"]))]
    for x in data["lessons"]:
        lines.append(f"#{x['id']} {x['day']} {x['start']}–{x['end']} 《{x['title']}》 "
                     f"{t(x['form'])} · {x['place']}")
        lines.append("   " + t("听众：{audience} · 组织人：{organiser}").format(
            audience=x["audience_text"], organiser=x["organiser"] or "—"))
        came = x["attendance"]
        line = t("签到 {n} 人").format(n=came["count"])
        if came["names"]:
            line += t("：") + t("、").join(came["names"])
        line += t("；纸质签到 {n} 人").format(n=x["headcount"]) if x["headcount"] is not None \
            else t("；纸质签到 —")
        lines.append("   " + line)
        files = x["files"]
        lines.append("   " + t("资料：照片 {photos} 张，签到表 {signin} 张，文件 {documents} 份，链接 {links} 个")
                     .format(photos=files["photos"], signin=files["signin"],
                             documents=len(files["documents"]), links=len(files["links"])))
        for url in files["links"]:
            lines.append(f"     {url}")
        if x["summary"]:
            lines.append("   " + t("小结：{summary}").format(
                summary=" / ".join(x["summary"].splitlines())))
        state = t("已取消") if x["cancelled"] else t("记录完整") if x["complete"] else t("记录未完成")
        lines.append("   " + t("状态：{state}").format(state=state))
    if not data["lessons"]:
        lines.append("  " + t("还没有红盾课堂。"))
    people = data["attendance"]
    lines.append(t("{year}年签到（按人）：").format(year=people["year"]))
    for m in people["members"]:
        lines.append("  " + t("{name}  {n} 次（{lessons}）").format(
            name=m["name"], n=m["count"], lessons=t("、").join(f"#{i}" for i in m["lessons"])))
    if not people["members"]:
        lines.append("  " + t("（无）"))
    return "\n".join(lines)


async def cli_lessons(app, args) -> int:
    config = app.config
    year = args.year if args.year is not None else app.clock().astimezone(config.tz).year
    if not 2000 <= year <= 2999:
        raise CliError(f"--year must be a year such as 2026, not {args.year!r}")
    sessions = await app.open()
    async with sessions() as s:
        project = await project_of(s, args.project)
        data = await report(s, config, project, year)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(report_text(Translator(config.locale.default), data))
    return 0
