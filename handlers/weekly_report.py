"""The weekly report of the 2+2 practice: per project a short text and a chart of
each member's personal patrol minutes, plus one summary across projects for the
branch committee (分公司党委). Sent on Monday morning for the week before; also
`redshield report --week`.

It tells what happened, by the week rules of handlers/weeks.py: members on
leave all week are shown as 请假 and not counted; minutes not counted (forgotten
patrols after their last sign of life, off-site patrols not accepted) are named
with who and how many; each team patrol lists who took part; a week in which
nobody owed anything shows "—". A week not yet over is reported as of now: a
hazard is overdue only once its deadline has passed by now. Each zone's line tells
its patrols and 责任区教育 in the month of the report's last day, up to that day.

Charts are drawn with matplotlib's object API (a `Figure` on an Agg canvas, no
pyplot and no change to the global rcParams), with Debian's WenQuanYi Micro Hei
for the Chinese text: every text artist names that family itself.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import io
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.core.contract import Image, Notice, Text
from bot.core.i18n import Translator
from bot.core.registry import CliError, Registry
from bot.scheduler import weekly
from handlers import roles
from handlers.labels import duration_text
from handlers.notices import translator_for
from handlers.operator import project_of
from handlers.patrol.progress import days_text
from handlers.week_view import member_marks, personal_line, team_lines
from handlers.weeks import ProjectWeek, Week, parse_week, project_weeks, week_of
from storage import edu as edu_store
from storage.models import Hazard, Member, MemberRole, Project, UTCDateTime, ViolationReport


def register(registry: Registry) -> None:
    registry.job("weekly_report", lambda config: weekly(config.schedule.weekly_report, config.tz),
                 weekly_report_notices)
    registry.cli("report", "the weekly report: text and chart per project", cli_report,
                 cli_arguments)


SHORT_LISTED = 10  # short members named in the text; the rest are counted
ZONES_LISTED = 12  # zones with a line of their own; the rest are counted
NAME_CHARS = 10  # longer names are cut in the charts

FONT_FILES = (  # Debian's fonts-wqy-microhei, installed by scripts/setup.sh
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
)

MET_COLOUR = "#2e7d32"
SHORT_COLOUR = "#c62828"
LEAVE_COLOUR = "#78909c"
TEAM_SHORT_COLOUR = "#ef6c00"
LINE_COLOUR = "#37474f"
WIDTH_IN = 6.4  # 960 pixels wide at DPI: a phone screen's width
DPI = 150


class ChartFontMissing(RuntimeError):
    pass


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class ProjectReport:
    project: ProjectInfo
    patrols: ProjectWeek  # personal minutes per member, the project's team minutes
    hazards_opened: int  # reported during the week
    hazards_closed: int  # closed (销项) during the week
    hazards_overdue: int  # still open at the week's end (or now) with the deadline passed
    violation_reports: int  # received during the week
    as_of: dt.datetime | None = None  # set when the week is not over yet: counted up to now
    # Each zone's patrols and education in the month of the week's last day counted
    # (project_reports(..., zones=True)); empty when not asked for or without zones.
    zones: tuple[edu_store.ZoneActivity, ...] = ()

    @property
    def week(self) -> Week:
        return self.patrols.week

    @property
    def met(self) -> int:
        return self.patrols.met_count

    @property
    def counted_to(self) -> dt.datetime:
        """The end of what was counted: the week's end, or now in a week not over."""
        return self.as_of or self.week.end

    @property
    def total(self) -> int:
        """Members who owed minutes this week (not those on leave all week)."""
        return len(self.patrols.owing)


def _at(value: dt.datetime, name: str):
    return sa.bindparam(name, value, type_=UTCDateTime())


def _count_if(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def zone_month(week: Week, counted_to: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The month the zones' lines cover: from the 1st of the month of the last day counted
    to the end of what was counted (local moments)."""
    last_day = (counted_to.astimezone(week.tz) - dt.timedelta(microseconds=1)).date()
    return dt.datetime.combine(last_day.replace(day=1), dt.time(0), tzinfo=week.tz), \
        counted_to.astimezone(week.tz)


async def project_reports(session: AsyncSession, config, week: Week,
                          project_id: int | None = None,
                          now: dt.datetime | None = None, *,
                          zones: bool = False) -> list[ProjectReport]:
    """The week's report of one project, or of every project (ordered by code), in five
    queries whatever the number of projects (six `zones`: each zone's patrols and
    education this month). A week not over by `now` is reported as of `now`."""
    practice = config.practice
    ws, we = _at(week.start, "ws"), _at(week.end, "we")
    # A hazard is overdue at the week's end (or now, in a week not over) when its deadline
    # day is over by then: the same rule as the daily overdue check.
    as_of = week.end if now is None or now >= week.end else now
    end_day = as_of.astimezone(week.tz).date()

    projects = sa.select(Project.id, Project.code, Project.name).order_by(Project.code)
    if project_id is not None:
        projects = projects.where(Project.id == project_id)
    projects = (await session.execute(projects)).all()

    weeks = await project_weeks(session, week, practice.personal_minutes,
                                practice.team_minutes, project_id, practice.off_site_credit)

    open_at_end = sa.or_(Hazard.closed_at.is_(None), Hazard.closed_at >= _at(as_of, "as_of"))
    hazards = (
        sa.select(
            Hazard.project_id,
            _count_if(Hazard.created_at >= ws).label("opened"),
            _count_if(sa.and_(Hazard.closed_at >= ws, Hazard.closed_at < we)).label("closed"),
            _count_if(sa.and_(open_at_end, Hazard.deadline < end_day)).label("overdue"),
        )
        # Only hazards that existed during the week and were not closed before it.
        .where(Hazard.created_at < we, sa.or_(Hazard.closed_at.is_(None), Hazard.closed_at >= ws))
        .group_by(Hazard.project_id)
    )
    if project_id is not None:
        hazards = hazards.where(Hazard.project_id == project_id)
    hazard_counts = {r.project_id: r for r in (await session.execute(hazards)).all()}

    reports = (
        sa.select(ViolationReport.project_id, sa.func.count())
        .where(ViolationReport.received_at >= ws, ViolationReport.received_at < we)
        .group_by(ViolationReport.project_id)
    )
    if project_id is not None:
        reports = reports.where(ViolationReport.project_id == project_id)
    report_counts = dict((await session.execute(reports)).all())

    zone_counts = await edu_store.zone_activity(session, *zone_month(week, as_of), week.tz,
                                                project_id) if zones else {}

    out = []
    for p in projects:
        pw = weeks.get(p.id) or ProjectWeek(week, [], 0, practice.team_minutes,
                                            practice.personal_minutes)
        h = hazard_counts.get(p.id)
        out.append(ProjectReport(
            ProjectInfo(p.id, p.code, p.name), pw,
            int(h.opened) if h else 0, int(h.closed) if h else 0, int(h.overdue) if h else 0,
            int(report_counts.get(p.id, 0)), as_of if as_of < week.end else None,
            tuple(zone_counts.get(p.id, ())),
        ))
    return out


# ---------------------------------------------------------------- text


def _dates(week: Week) -> dict:
    return {"week": str(week), "start": week.start.strftime("%m-%d"),
            "end": week.days()[-1].strftime("%m-%d")}


def _share(met: int, total: int) -> str:
    return f"{round(100 * met / total)}%" if total else "—"


def _title(t: Translator, report: ProjectReport) -> str:
    line = t("📊 {project} · 2+2 周报 · {week}（{start}–{end}）").format(
        project=report.project.name, **_dates(report.week))
    if report.as_of is not None:  # the week is not over: say when it was counted
        line += " " + t("（截至 {time}）").format(
            time=report.as_of.astimezone(report.week.tz).strftime("%m-%d %H:%M"))
    return line


def short_members(report: ProjectReport):
    """Members short of their minutes, furthest behind first."""
    return sorted((m for m in report.patrols.members if m.owes and not m.met),
                  key=lambda m: (-m.left, m.name))


def _hazard_line(t: Translator, opened: int, closed: int, overdue: int) -> str:
    return t("隐患：新增 {opened} · 销项 {closed} · 超期未整改 {overdue}").format(
        opened=opened, closed=closed, overdue=overdue)


def _listed(t: Translator, items: list[str]) -> str:
    shown = t("；").join(items[:SHORT_LISTED])
    return shown + (t("…等 {n} 人").format(n=len(items)) if len(items) > SHORT_LISTED else "")


def leave_and_flags(t: Translator, report: ProjectReport) -> list[str]:
    """Who was on leave all week, and whose minutes were not all counted, and why."""
    pw, lines = report.patrols, []
    away = [t("{name}（{days}）").format(name=m.name, days=days_text(t, m.leave_days))
            for m in pw.away]
    if away:
        lines.append(t("🏖 请假（不计入）：{who}").format(who=_listed(t, away)))
    flagged = [f"{m.name} " + t("、").join(member_marks(t, m))
               for m in sorted(pw.members, key=lambda m: (-m.uncounted, m.name))
               if m.uncounted or m.off_site_undecided]
    if flagged:
        lines.append(t("⚠️ 未计入：{who}").format(who=_listed(t, flagged)))
    return lines


def zone_lines(t: Translator, report: ProjectReport) -> list[str]:
    """责任区 11-01–11-22: then per zone 施工现场A区：巡查 5 次 · 教育 3 次."""
    if not report.zones:
        return []
    start, end = zone_month(report.week, report.counted_to)
    last = (end - dt.timedelta(microseconds=1)).date()
    lines = [t("责任区（{start}–{end}）：").format(start=f"{start:%m-%d}", end=f"{last:%m-%d}")]
    lines += ["  " + t("{zone}：巡查 {patrols} 次 · 教育 {education} 次").format(
        zone=z.name, patrols=z.patrols, education=z.education) for z in report.zones[:ZONES_LISTED]]
    if len(report.zones) > ZONES_LISTED:
        lines.append("  " + t("…等 {n} 个责任区").format(n=len(report.zones)))
    return lines


def report_text(t: Translator, report: ProjectReport) -> str:
    pw = report.patrols
    lines = [_title(t, report), personal_line(t, pw)]
    short = short_members(report)
    for m in short[:SHORT_LISTED]:
        lines.append(f"❌ {m.name} {duration_text(t, m.minutes)} "
                     + t("（差 {left}）").format(left=duration_text(t, m.left)))
    if len(short) > SHORT_LISTED:
        lines.append(t("…等 {n} 人").format(n=len(short)))  # 等 N 人: N in all
    lines += leave_and_flags(t, report)
    lines += team_lines(t, pw)
    lines.append(_hazard_line(t, report.hazards_opened, report.hazards_closed,
                              report.hazards_overdue))
    lines.append(t("违章举报：{n} 条").format(n=report.violation_reports))
    lines += zone_lines(t, report)
    return "\n".join(lines)


def project_summary(t: Translator, r: ProjectReport) -> str:
    mark = "✅" if r.patrols.team_met else "❌"
    if not r.total:  # nobody owed anything this week
        return t("{project}：个人 — · 团队 {mark}").format(project=r.project.name, mark=mark)
    return t("{project}：个人 {met}/{total}（{share}）· 团队 {mark}").format(
        project=r.project.name, met=r.met, total=r.total, share=_share(r.met, r.total), mark=mark)


def total_summary(t: Translator, reports: list[ProjectReport]) -> str:
    met, total = sum(r.met for r in reports), sum(r.total for r in reports)
    teams = sum(1 for r in reports if r.patrols.team_met)
    if not total:
        return t("合计：个人 — · 团队达标 {teams}/{projects} 个项目").format(
            teams=teams, projects=len(reports))
    return t("合计：个人 {met}/{total}（{share}）· 团队达标 {teams}/{projects} 个项目").format(
        met=met, total=total, share=_share(met, total), teams=teams, projects=len(reports))


def committee_text(t: Translator, reports: list[ProjectReport]) -> str:
    """One summary across projects for the branch committee (分公司党委)."""
    if not reports:
        raise ValueError("committee_text needs at least one project report")
    lines = [t("📊 各项目 2+2 周报 · {week}（{start}–{end}）").format(**_dates(reports[0].week))]
    lines += [project_summary(t, r) for r in reports]
    lines.append(total_summary(t, reports))
    lines.append(_hazard_line(t, sum(r.hazards_opened for r in reports),
                              sum(r.hazards_closed for r in reports),
                              sum(r.hazards_overdue for r in reports)))
    lines.append(t("违章举报：{n} 条").format(n=sum(r.violation_reports for r in reports)))
    return "\n".join(lines)


# ---------------------------------------------------------------- charts


@lru_cache(maxsize=1)
def chart_font() -> str:
    """The CJK font family for charts, registered with matplotlib's font manager."""
    from matplotlib import font_manager

    for path in FONT_FILES:
        if Path(path).exists():
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
    raise ChartFontMissing("no Chinese font for charts (looked for "
                           + ", ".join(FONT_FILES)
                           + "): run scripts/setup.sh (it installs Debian's fonts-wqy-microhei)")


def _rows_layout(n: int) -> tuple[float, float]:
    """(inches per bar, label font size) for n bars: roomy for a few, compact for
    hundreds, never so small that a name cannot be read."""
    row = 0.36 if n <= 15 else max(0.2, 0.36 - (n - 15) * 0.004)
    return row, max(7.0, min(10.0, row * 72 * 0.45))


def _cut(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[:NAME_CHARS - 1] + "…"


def _figure(rows: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    row, size = _rows_layout(rows)
    fig = Figure(figsize=(WIDTH_IN, 1.9 + row * max(rows, 3)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, size


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _style_axes(ax, family: str, size: float) -> None:
    ax.tick_params(axis="x", labelsize=size)
    for label in ax.get_xticklabels():
        label.set_fontfamily(family)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _minute_ticks(top: float) -> list[int]:
    """Ticks on whole hours (or half hours for a short axis), at most about eight."""
    step = next((s for s in (30, 60, 120, 240, 480, 960) if top / s <= 8),
                1440 * math.ceil(top / 8 / 1440))
    return list(range(0, int(top) + 1, step))


def _colour(m) -> str:
    return LEAVE_COLOUR if m.away else MET_COLOUR if m.met else SHORT_COLOUR


def _bar_text(t: Translator, m) -> str:
    """After a member's bar: the minutes counted (or 请假), and what was not counted."""
    text = duration_text(t, m.minutes)
    if m.away:
        text = t("请假中") + (f" {text}" if m.minutes else "")
    elif m.leave_days:
        text += " · " + t("请假{n}天").format(n=len(m.leave_days))
    if m.uncounted:
        text += " · " + t("未计 {duration}").format(duration=duration_text(t, m.uncounted))
    if m.off_site_undecided:
        text += " · " + t("待认可{n}").format(n=m.off_site_undecided)
    return text


def _bars(ax, t: Translator, members, top: float, required: int, family: str, size: float):
    """One bar per member, with its label and value; returns the legend entries it adds."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    y = list(range(len(members)))
    ax.barh(y, [m.minutes for m in members], height=0.7, color=[_colour(m) for m in members])
    ax.set_yticks(y, labels=[_cut(m.name) for m in members], fontfamily=family, fontsize=size)
    for label, m in zip(ax.get_yticklabels(), members):
        label.set_color(_colour(m))  # even with no bar at all
    ax.set_ylim(len(members) - 0.5, -0.5)  # first member at the top
    handles, owe_less = [], False
    for i, m in enumerate(members):
        ax.text(m.minutes + top * 0.01, i, _bar_text(t, m), va="center",
                fontfamily=family, fontsize=size * 0.9, color=LINE_COLOUR)
        if 0 < m.required < required:  # joined during the week, or on leave part of it
            owe_less = True
            ax.plot([m.required, m.required], [i - 0.42, i + 0.42], color=LINE_COLOUR,
                    linewidth=1.5)
    if any(m.away for m in members):
        handles.append(Patch(color=LEAVE_COLOUR, label=t("请假（不计入）")))
    if owe_less:
        handles.append(Line2D([], [], color=LINE_COLOUR, linewidth=1.5,
                              label=t("应巡查（新加入或请假，按天折算）")))
    return handles


def report_figure(t: Translator, report: ProjectReport):
    """The chart as a matplotlib Figure: each member's personal minutes counted as a bar
    (green met, red short, grey on leave; furthest behind at the top, those on leave at
    the bottom), what was not counted beside it, the requirement as a dashed line."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    family = chart_font()
    pw = report.patrols
    members = sorted(pw.members, key=lambda m: (m.away, m.minutes, m.name))
    fig, size = _figure(len(members))
    ax = fig.add_subplot()
    ax.set_title("\n".join((
        t("{project} · {week}（{start}–{end}）").format(project=report.project.name,
                                                     **_dates(pw.week)),
        personal_line(t, pw) + "    " + t("团队巡查：{done} / {required} {mark}").format(
            done=duration_text(t, pw.team_minutes), required=duration_text(t, pw.team_required),
            mark=t("达标") if pw.team_met else t("未达标")),
    )), fontfamily=family, fontsize=11, loc="left")
    required = pw.personal_required
    top = max([m.minutes for m in members] + [required]) * 1.25 or 60
    if any(m.uncounted or m.off_site_undecided for m in members):
        top *= 1.3  # room for "· 未计 3小时" after the bars
    ax.set_xlim(0, top)
    ax.set_xticks(_minute_ticks(top))
    ax.axvline(required, color=LINE_COLOUR, linestyle="--", linewidth=1.2)
    handles = [Patch(color=MET_COLOUR, label=t("达标")),
               Patch(color=SHORT_COLOUR, label=t("未达标")),
               Line2D([], [], color=LINE_COLOUR, linestyle="--",
                      label=t("要求 {required}").format(required=duration_text(t, required)))]
    if not members:
        ax.set_yticks([])
        ax.text(0.5, 0.5, t("没有党员"), transform=ax.transAxes, ha="center", va="center",
                fontfamily=family, fontsize=12)
    else:
        handles += _bars(ax, t, members, top, required, family, size)
    fig.legend(handles=handles, prop={"family": family, "size": size},
               loc="outside lower center", ncols=2 if len(handles) > 3 else len(handles),
               frameon=False)
    ax.set_xlabel(t("个人巡查（分钟）"), fontfamily=family, fontsize=size)
    _style_axes(ax, family, size)
    return fig


def report_chart(t: Translator, report: ProjectReport) -> bytes:
    """The project's chart as PNG bytes."""
    return _png(report_figure(t, report))


def committee_figure(t: Translator, reports: list[ProjectReport]):
    """Per project: the share of members who met their personal minutes (bar length)
    and whether the team patrol was met (bar colour), with the totals in the title."""
    from matplotlib.patches import Patch

    if not reports:
        raise ValueError("committee_figure needs at least one project report")
    family = chart_font()
    fig, size = _figure(len(reports))
    ax = fig.add_subplot()
    ax.set_title("\n".join((
        t("各项目 2+2 巡查 · {week}（{start}–{end}）").format(**_dates(reports[0].week)),
        total_summary(t, reports),
    )), fontfamily=family, fontsize=11, loc="left")
    y = list(range(len(reports)))
    shares = [100 * r.met / r.total if r.total else 0 for r in reports]
    ax.barh(y, shares, height=0.7,
            color=[MET_COLOUR if r.patrols.team_met else TEAM_SHORT_COLOUR for r in reports])
    ax.set_yticks(y, labels=[_cut(r.project.name) for r in reports], fontfamily=family,
                  fontsize=size)
    ax.set_ylim(len(reports) - 0.5, -0.5)  # first project at the top
    ax.set_xlim(0, 140)  # room for the numbers after a full bar
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.axvline(100, color=LINE_COLOUR, linestyle="--", linewidth=1)
    for i, (r, share) in enumerate(zip(reports, shares)):
        ax.text(share + 1.5, i, f"{r.met}/{r.total} · {_share(r.met, r.total)}" if r.total else "—",
                va="center",
                fontfamily=family, fontsize=size * 0.9, color=LINE_COLOUR)
    fig.legend(handles=[Patch(color=MET_COLOUR, label=t("团队巡查达标")),
                        Patch(color=TEAM_SHORT_COLOUR, label=t("团队巡查未达标"))],
               prop={"family": family, "size": size}, loc="outside lower center", ncols=2,
               frameon=False)
    ax.set_xlabel(t("个人巡查达标人数占比（%）"), fontfamily=family, fontsize=size)
    _style_axes(ax, family, size)
    return fig


def committee_chart(t: Translator, reports: list[ProjectReport]) -> bytes:
    """The committee's summary chart as PNG bytes."""
    return _png(committee_figure(t, reports))


async def weekly_report_notices(session, now: dt.datetime, config) -> list[Notice]:
    """Monday's report of the week before: each project's text and chart to its
    secretaries and safety officers, one cross-project summary to the committee."""
    week = week_of(now, config.tz).previous()
    reports = await project_reports(session, config, week, zones=True)
    if not reports:
        return []
    by_project = {r.project.id: r for r in reports}
    readers = (await session.execute(
        sa.select(Member).where(Member.active.is_(True), Member.roles.any(
            MemberRole.role.in_(roles.SUPERVISORS)))
        .options(selectinload(Member.roles)).order_by(Member.id))).scalars()
    rendered: dict[tuple, tuple[str, bytes]] = {}  # one chart per report and language

    async def render(key, text_of, chart_of, t):
        if key not in rendered:
            # A chart of a big project takes seconds to draw: not on the event loop.
            rendered[key] = (text_of(t), await asyncio.to_thread(chart_of, t))
        return rendered[key]

    notices = []
    for member in readers:
        t = translator_for(member, config.locale.default)
        if roles.has(member, roles.COMMITTEE):
            text, png = await render(("all", t.locale), lambda t: committee_text(t, reports),
                                     lambda t: committee_chart(t, reports), t)
            name = f"{week}-summary.png"
        elif member.project_id in by_project:
            r = by_project[member.project_id]
            text, png = await render((r.project.id, t.locale),
                                     lambda t, r=r: report_text(t, r), lambda t, r=r: report_chart(t, r), t)
            name = f"{week}-{r.project.code}.png"
        else:
            continue
        notices.append(Notice(member.id, (Text(text), Image(png, filename=name)),
                              kind="weekly_report", key=f"weekly:{member.id}:{week}"))
    return notices


# ---- redshield report


def cli_arguments(p) -> None:
    p.add_argument("--week", nargs="?", const="last", default="last",
                   help="ISO week, e.g. 2026-W47 (default: last week)")
    p.add_argument("--project", help="project code (default: every project, and the summary)")
    p.add_argument("--out", type=Path, default=Path("reports"), help="folder for the files")


async def cli_report(app, args) -> int:
    config = app.config
    try:
        week = (week_of(app.clock(), config.tz).previous() if args.week == "last"
                else parse_week(args.week, config.tz))
    except ValueError as err:
        raise CliError(str(err)) from None
    sessions = await app.open()
    async with sessions() as s:
        project_id = (await project_of(s, args.project)).id if args.project else None
        found = await project_reports(s, config, week, project_id, now=app.clock(), zones=True)
    t = Translator(config.locale.default)
    args.out.mkdir(parents=True, exist_ok=True)
    for r in found:
        text = report_text(t, r)
        print(text + "\n")
        (args.out / f"{week}-{r.project.code}.txt").write_text(text + "\n", encoding="utf-8")
        (args.out / f"{week}-{r.project.code}.png").write_bytes(report_chart(t, r))
    if not args.project and found:
        summary = committee_text(t, found)
        print(summary)
        (args.out / f"{week}-summary.txt").write_text(summary + "\n", encoding="utf-8")
        (args.out / f"{week}-summary.png").write_bytes(committee_chart(t, found))
    print(f"files in {args.out}/")
    return 0
