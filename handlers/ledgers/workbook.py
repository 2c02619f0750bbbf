"""The 台账 workbook: `collect` reads a project's period into plain rows (in a session),
`render` lays them out as .xlsx bytes (CPU only, for a worker thread).

Every cell is a value, never a formula: a text a member typed ("=1+1", "@SUM(A1)") is
stored as a string, marked to show as typed, so a spreadsheet never evaluates it. Times
are real Excel dates: naive local datetimes on the project's clock."""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bot.core.i18n import N_, Translator
from handlers.hazard.common import GRADES
from handlers.hazard.common import STATUS as HAZARD_STATUS
from handlers.lessons.plan import AUDIENCE_LABELS
from handlers.stars.events import reason_label
from handlers.stars.views import SOURCE_LABELS
from handlers.violation.common import STATUS as VIOLATION_STATUS
from handlers.weeks import project_weeks, week_of
from storage import ledgers as store
from storage.models import HazardStatus, LeaveStatus

LEAVE_STATUS = {LeaveStatus.pending: N_("待审批"), LeaveStatus.approved: N_("已批准"),
                LeaveStatus.rejected: N_("未批准")}
FORMULA_START = ("=", "+", "-", "@")
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
MAX_WIDTH = 50  # characters; longer texts wrap in the cell


@dataclass
class Sheet:
    title: str
    headers: list[str]
    rows: list[tuple]


def _minutes(start: dt.datetime, end: dt.datetime | None) -> int | None:
    return None if end is None else max(0, round((end - start).total_seconds() / 60))


async def collect(session, config, t: Translator, project, first: dt.date, last: dt.date,
                  now: dt.datetime) -> list[Sheet]:
    """Every ledger of `project` over the local days [first, last], each row by its own
    natural date (a patrol's start, a hazard's finding, a lesson's start...)."""
    tz, practice = config.tz, config.practice
    start = dt.datetime.combine(first, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(dt.UTC)
    today = now.astimezone(tz).date()

    def local(moment: dt.datetime | None) -> dt.datetime | None:
        return None if moment is None else moment.astimezone(tz).replace(tzinfo=None)

    def yes(flag) -> str:
        return t("是") if flag else t("否")

    pid = project.id
    sheets = []

    sheets.append(Sheet(t("个人巡查"), [t("成员"), t("责任区"), t("开始"), t("结束"), t("时长（分钟）"),
                                       t("补记"), t("自动结束"), t("不在现场"), t("备注")],
                        [(name, zone or "", local(p.started_at), local(p.ended_at),
                          _minutes(p.started_at, p.ended_at), yes(p.logged_afterwards),
                          yes(p.auto_closed), yes(p.off_site), p.note or "")
                         for p, name, zone in await store.patrols(session, pid, start, end)]))

    # The week totals by the rules of /week (handlers.weeks): every week the period touches
    # that has begun; a member on leave all week is marked 请假.
    weekly = []
    week = week_of(start, tz)
    while week.start < end and week.start <= now:
        found = await project_weeks(session, week, practice.personal_minutes, practice.team_minutes,
                                    pid, practice.off_site_credit)
        pw = found.get(pid)
        for m in pw.members if pw else ():
            met = t("请假") if m.away else yes(m.met)
            weekly.append((str(week), week.start.replace(tzinfo=None), m.name, m.minutes,
                           practice.personal_minutes, m.required, met))
        week = week.next()
    sheets.append(Sheet(t("每周汇总"), [t("周次"), t("周一"), t("成员"), t("计入分钟"), t("每周标准（分钟）"),
                                       t("本周应巡（分钟）"), t("达标")], weekly))

    sheets.append(Sheet(t("团队巡查"), [t("日期"), t("开始"), t("结束"), t("带队人"), t("参加人员"),
                                       t("时长（分钟）"), t("联合安监")],
                        [(local(team.started_at).date(), local(team.started_at), local(team.ended_at),
                          leader, t("、").join(names), _minutes(team.started_at, team.ended_at),
                          yes(team.joint_with_safety))
                         for team, leader, names in await store.team_patrols(session, pid, start, end)]))

    hazard_rows = []
    for h in await store.hazards(session, pid, start, end):
        closed = h.status == HazardStatus.closed
        found_on = h.created_at.astimezone(tz).date()
        until = h.closed_at.astimezone(tz).date() if closed and h.closed_at else today
        assignee = h.assignee.name if h.assignee else (h.assignee_text or "")
        hazard_rows.append((
            h.notice_number, local(h.created_at), h.reporter.name, h.zone.name if h.zone else "",
            t(h.category), t(GRADES.get(h.grade, h.grade)), h.description, h.requirement or "",
            assignee, h.deadline, local(h.rectified_at), h.measures or "",
            h.rechecked_by.name if h.rechecked_by else "", local(h.closed_at),
            t(HAZARD_STATUS[h.status]), (until - found_on).days, yes(not closed and h.deadline < today)))
    sheets.append(Sheet(t("隐患排查治理台账"),
                        [t("编号"), t("发现时间"), t("发现人"), t("区域"), t("类别（JGJ 59）"), t("等级"),
                         t("隐患描述"), t("整改要求"), t("整改责任人"), t("整改期限"), t("整改完成"),
                         t("整改措施"), t("复查人"), t("销项时间"), t("状态"), t("已历天数"), t("超期")],
                        hazard_rows))

    def outcome(year, number, reply) -> str:
        if number is not None:
            return t("已转隐患 红盾整改〔{year}〕{number:04d}号").format(year=year, number=number)
        return reply or ""

    sheets.append(Sheet(t("违章举报"), [t("收到时间"), t("区域"), t("类型"), t("状态"), t("处理结果")],
                        [(local(received), zone or "", t(kind), t(VIOLATION_STATUS[status]),
                          outcome(year, number, reply))
                         for received, zone, kind, status, year, number, reply
                         in await store.violations(session, pid, start, end)]))

    sheets.append(Sheet(t("请假"), [t("成员"), t("开始日期"), t("结束日期"), t("事由"), t("状态")],
                        [(name, r.start, r.until, r.reason, t(LEAVE_STATUS[r.status]))
                         for r, name in await store.leave(session, pid, first, last)]))

    sheets.append(Sheet(t("行为安全之星"), [t("时间"), t("工友"), t("班组"), t("积分"), t("来源"),
                                         t("事由"), t("说明"), t("给出人")],
                        [(local(e.at), worker, crew or "", e.points,
                          t(SOURCE_LABELS.get(e.source, e.source)), reason_label(t, e.reason), e.note or "",
                          giver if e.given_by_id is not None and giver else t("系统"))
                         for e, worker, crew, giver in await store.star_entries(session, pid, start, end)]))

    sheets.append(Sheet(t("红盾课堂"), [t("日期"), t("开始"), t("主题"), t("形式"), t("地点"), t("对象"),
                                       t("组织人"), t("扫码签到（人）"), t("签到表人数"), t("记录完整")],
                        [(local(lesson.starts_at).date(), local(lesson.starts_at), lesson.title,
                          t(lesson.form), lesson.place,
                          t(AUDIENCE_LABELS.get(lesson.audience, lesson.audience))
                          + (f"（{t('、').join(lesson.crews)}）" if lesson.crews else ""),
                          organiser or "", checkins, lesson.headcount,
                          yes(lesson.completed_at is not None))
                         for lesson, organiser, checkins in await store.lessons(session, pid, start, end)]))

    sheets.append(Sheet(t("课堂签到"), [t("课程"), t("上课时间"), t("成员"), t("签到时间")],
                        [(title, local(starts), name, local(at))
                         for title, starts, name, at in await store.attendance(session, pid, start, end)]))

    sheets.append(Sheet(t("责任区教育"), [t("日期"), t("责任区"), t("成员"), t("形式"), t("主题"),
                                         t("班组"), t("人数")],
                        [(r.day, zone or "", name, t(r.kind), r.topic, r.crew or "", r.headcount)
                         for r, zone, name in await store.education(session, pid, first, last)]))
    return sheets


def _text(value: str) -> str:
    # Control characters are not allowed in the file format: dropped, never an error.
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def _width(value) -> int:
    if isinstance(value, dt.datetime):
        return 16
    if isinstance(value, dt.date):
        return 10
    text = "" if value is None else str(value)
    # A CJK character is about two columns wide.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def render(sheets: list[Sheet]) -> bytes:
    """The workbook as .xlsx bytes: a sheet per ledger, a bold frozen header row, a filter
    over the data, widths fitted to the contents (capped; long texts wrap)."""
    book = Workbook()
    book.remove(book.active)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")
    for sheet in sheets:
        ws = book.create_sheet(sheet.title[:31])
        widths = [_width(h) for h in sheet.headers]
        for col, header in enumerate(sheet.headers, start=1):
            cell = ws.cell(row=1, column=col, value=_text(header))
            cell.data_type = "s"
            cell.font, cell.fill = bold, fill
        for r, row in enumerate(sheet.rows, start=2):
            for col, value in enumerate(row, start=1):
                cell = ws.cell(row=r, column=col)
                if isinstance(value, str):
                    text = _text(value)
                    cell.value = text
                    # Never a formula: openpyxl would store "=..." as one.
                    cell.data_type = "s"
                    if text.startswith(FORMULA_START):
                        cell.quotePrefix = True  # shown, and edited, as typed text
                    if len(text) > MAX_WIDTH:
                        cell.alignment = wrap
                else:
                    cell.value = value
                    if isinstance(value, dt.datetime):
                        cell.number_format = DATETIME_FORMAT
                    elif isinstance(value, dt.date):
                        cell.number_format = DATE_FORMAT
                widths[col - 1] = max(widths[col - 1], _width(value))
        for col, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(col)].width = min(MAX_WIDTH, width + 2)
        ws.freeze_panes = "A2"
        last = get_column_letter(len(sheet.headers))
        ws.auto_filter.ref = f"A1:{last}{max(1, len(sheet.rows) + 1)}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
