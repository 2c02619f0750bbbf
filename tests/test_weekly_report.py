"""The weekly report: the week's counts from real rows (with rows just outside the
week), the phone-sized text, and charts whose Chinese actually renders."""
from __future__ import annotations

import datetime as dt
import io
import logging
import warnings
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from bot.core.i18n import Translator
from handlers import weekly_report as wr
from handlers.weeks import MemberWeek, ProjectWeek, parse_week
from storage.models import Hazard, Patrol, TeamPatrol, ViolationReport
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
WEEK = "2026-W47"  # Monday 2026-11-16 00:00 to Monday 2026-11-23 00:00, Shanghai
LONG_AGO = dt.datetime(2026, 1, 1, tzinfo=UTC)
t = Translator("zh_CN")


def sh(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


def hazard(project, reporter, number, created, deadline, closed=None, status=None) -> Hazard:
    return Hazard(project_id=project.id, year=2026, number=number, category="脚手架",
                  grade="general", description=f"隐患{number}", reporter_id=reporter.id,
                  deadline=deadline, created_at=created, closed_at=closed,
                  status=status or ("closed" if closed else "open"))


def violation(project, received, n) -> ViolationReport:
    return ViolationReport(project_id=project.id, kind="未戴安全帽", description="描述",
                           status="new", receipt_hash=f"hash-{project.code}-{n}",
                           received_at=received, notify_after=received)


def patrol(member, start, end) -> Patrol:
    return Patrol(member_id=member.id, project_id=member.project_id, started_at=start,
                  ended_at=end, created_at=start)


@pytest.fixture
async def site(db):
    async with db.sessions() as s, s.begin():
        p1 = await f.project(s, code="P1", name="示例项目")
        p2 = await f.project(s, code="P2", name="别的项目")
        zhang = await f.member(s, p1, "张三", roles=("member", "leader"), joined_at=LONG_AGO)
        li = await f.member(s, p1, "李四", joined_at=LONG_AGO)
        wang = await f.member(s, p1, "王五", joined_at=LONG_AGO)
        qian = await f.member(s, p2, "钱七", roles=("member", "leader"), joined_at=LONG_AGO)
        await f.member(s, p2, "孙八", roles=("worker",), joined_at=LONG_AGO)  # not counted
        s.add_all([
            patrol(zhang, sh(2026, 11, 17, 9, 0), sh(2026, 11, 17, 11, 30)),  # 150 min
            patrol(li, sh(2026, 11, 15, 23, 0), sh(2026, 11, 16, 0, 45)),  # 45 min in the week
            patrol(wang, sh(2026, 11, 23, 8, 0), sh(2026, 11, 23, 11, 0)),  # next week
            patrol(qian, sh(2026, 11, 20, 14, 0), sh(2026, 11, 20, 16, 0)),  # exactly 120
            TeamPatrol(project_id=p1.id, leader_id=zhang.id, started_at=sh(2026, 11, 18, 9, 0),
                       ended_at=sh(2026, 11, 18, 10, 30)),  # 90 min: short
            TeamPatrol(project_id=p2.id, leader_id=qian.id, started_at=sh(2026, 11, 19, 9, 0),
                       ended_at=sh(2026, 11, 19, 11, 10)),  # 130 min: met
        ])
        week_end = dt.date(2026, 11, 23)
        s.add_all([
            # opened in the week, first instant; deadline ahead
            hazard(p1, zhang, 1, sh(2026, 11, 16, 0, 0), week_end + dt.timedelta(days=7)),
            # opened on the last minute of the week, closed at its very end (so still open
            # then), deadline passed: opened and overdue
            hazard(p1, zhang, 2, sh(2026, 11, 22, 23, 59), dt.date(2026, 11, 20),
                   closed=sh(2026, 11, 23, 0, 0)),
            # opened before, closed in the week
            hazard(p1, zhang, 3, sh(2026, 11, 10, 9, 0), dt.date(2026, 11, 12),
                   closed=sh(2026, 11, 18, 9, 0)),
            # opened before, still open (awaiting re-check), deadline the week's Sunday: overdue
            hazard(p1, zhang, 4, sh(2026, 11, 1, 9, 0), dt.date(2026, 11, 22), status="review"),
            # opened before, deadline the next Monday: not overdue yet
            hazard(p1, zhang, 5, sh(2026, 11, 1, 9, 0), week_end, status="rectifying"),
            # a second before the week, closed before it: nothing
            hazard(p1, zhang, 6, sh(2026, 11, 15, 23, 59, 59), dt.date(2026, 11, 14),
                   closed=sh(2026, 11, 15, 23, 59, 59)),
            # the first instant of the next week: nothing, though its deadline has passed
            hazard(p1, zhang, 7, sh(2026, 11, 23, 0, 0), dt.date(2026, 11, 20)),
            # opened and closed within the week
            hazard(p1, zhang, 8, sh(2026, 11, 16, 10, 0), dt.date(2026, 11, 30),
                   closed=sh(2026, 11, 22, 23, 59)),
            # the other project: opened in the week, overdue at its end
            hazard(p2, qian, 1, sh(2026, 11, 17, 10, 0), dt.date(2026, 11, 19)),
        ])
        s.add_all([
            violation(p1, sh(2026, 11, 16, 0, 0), 1),
            violation(p1, sh(2026, 11, 22, 23, 0), 2),
            violation(p1, sh(2026, 11, 15, 23, 0), 3),  # the week before
            violation(p1, sh(2026, 11, 23, 0, 0), 4),  # the week after
            violation(p2, sh(2026, 11, 19, 15, 0), 5),
        ])
    return {"p1": p1.id, "p2": p2.id}


async def reports_of(db, config, project_id=None):
    async with db.sessions() as s:
        return await wr.project_reports(s, config, parse_week(WEEK, SH), project_id)


# ---- the numbers


async def test_counts_of_the_week_per_project(db, config, site):
    p1, p2 = await reports_of(db, config)
    assert (p1.project.code, p1.project.name, p2.project.code) == ("P1", "示例项目", "P2")
    assert str(p1.week) == WEEK
    assert (p1.hazards_opened, p1.hazards_closed, p1.hazards_overdue) == (3, 2, 2)
    assert p1.violation_reports == 2
    assert (p2.hazards_opened, p2.hazards_closed, p2.hazards_overdue) == (1, 0, 1)
    assert p2.violation_reports == 1
    minutes = {m.name: (m.minutes, m.met) for m in p1.patrols.members}
    assert minutes == {"张三": (150, True), "李四": (45, False), "王五": (0, False)}
    assert [(m.name, m.minutes, m.met) for m in p2.patrols.members] == [("钱七", 120, True)]
    assert (p1.patrols.team_minutes, p1.patrols.team_met) == (90, False)
    assert (p2.patrols.team_minutes, p2.patrols.team_met) == (130, True)
    assert (p1.met, p1.total, p2.met, p2.total) == (1, 3, 1, 1)


async def test_one_project(db, config, site):
    [only] = await reports_of(db, config, site["p2"])
    assert only.project.code == "P2" and only.hazards_opened == 1 and only.violation_reports == 1


async def test_a_project_with_nothing_still_has_its_report(db, config, site):
    async with db.sessions() as s, s.begin():
        await f.project(s, code="P3", name="新项目")
    reports = await reports_of(db, config)
    empty = reports[-1]
    assert empty.project.code == "P3" and empty.patrols.members == []
    assert (empty.hazards_opened, empty.hazards_closed, empty.hazards_overdue,
            empty.violation_reports, empty.patrols.team_minutes) == (0, 0, 0, 0, 0)
    assert empty.patrols.team_required == config.practice.team_minutes


async def test_a_constant_number_of_queries_whatever_the_projects(db, config, site):
    async def count_queries() -> int:
        statements = []

        def record(*args):
            statements.append(args[2])

        sa.event.listen(db.engine.sync_engine, "before_cursor_execute", record)
        try:
            reports = await reports_of(db, config)
        finally:
            sa.event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        return len(statements), len(reports)

    few = await count_queries()
    async with db.sessions() as s, s.begin():
        for i in range(6):
            p = await f.project(s, code=f"X{i}", name=f"项目{i}")
            m = await f.member(s, p, f"党员{i}", joined_at=LONG_AGO)
            s.add(hazard(p, m, 1, sh(2026, 11, 17, 9, 0), dt.date(2026, 11, 18)))
            s.add(violation(p, sh(2026, 11, 17, 9, 0), 1))
            s.add(patrol(m, sh(2026, 11, 17, 9, 0), sh(2026, 11, 17, 10, 0)))
    many = await count_queries()
    assert few == (5, 2) and many == (5, 8)


# ---- the text


async def test_text_names_the_short_members_with_their_minutes(db, config, site):
    p1, p2 = await reports_of(db, config)
    text = wr.report_text(t, p1)
    lines = text.splitlines()
    assert lines[0] == "📊 示例项目 · 2+2 周报 · 2026-W47（11-16–11-22）"
    assert lines[1] == "个人巡查：1/3 人达标"
    # furthest behind first; those who met are not listed
    assert lines[2:4] == ["❌ 王五 0分钟 （差 2小时）", "❌ 李四 45分钟 （差 1小时15分）"]
    assert "张三" not in text
    assert "团队巡查：1小时30分 / 2小时 ❌" in lines
    assert "  周三 11-18 09:00 1小时30分：无人登记" in lines  # each team patrol, with who took part
    assert "隐患：新增 3 · 销项 2 · 超期未整改 2" in lines
    assert "违章举报：2 条" in lines
    assert len(lines) == 8
    text2 = wr.report_text(t, p2)
    assert "个人巡查：1/1 人达标" in text2
    assert not any(line.startswith("❌") for line in text2.splitlines())
    assert "团队巡查：2小时10分 / 2小时 ✅" in text2


def synthetic(members: int, short_every: int = 2, name="大项目") -> wr.ProjectReport:
    week = parse_week(WEEK, SH)
    rows = [MemberWeek(i, 1, f"党员{i:03d}", 30 if i % short_every == 0 else 150,
                       120 if i % 7 else 60, 0, 0, 0) for i in range(members)]
    return wr.ProjectReport(wr.ProjectInfo(1, "BIG", name), ProjectWeek(week, rows, 0, 120, 120),
                            0, 0, 0, 0)


def test_text_stays_short_with_many_short_members():
    report = synthetic(60)  # 30 short
    lines = wr.report_text(t, report).splitlines()
    listed = [line for line in lines if line.startswith("❌ 党员")]
    assert len(listed) == 10
    assert "…等 30 人" in lines
    assert len(lines) == 2 + 10 + 1 + 3


async def test_committee_summary_over_two_projects(db, config, site):
    reports = await reports_of(db, config)
    lines = wr.committee_text(t, reports).splitlines()
    assert lines[0] == "📊 各项目 2+2 周报 · 2026-W47（11-16–11-22）"
    assert "示例项目：个人 1/3（33%）· 团队 ❌" in lines
    assert "别的项目：个人 1/1（100%）· 团队 ✅" in lines
    assert "合计：个人 2/4（50%）· 团队达标 1/2 个项目" in lines
    assert "隐患：新增 4 · 销项 2 · 超期未整改 3" in lines
    assert "违章举报：3 条" in lines
    png = wr.committee_chart(t, reports)
    size = open_png(png)
    assert size[0] == 960 and 300 < size[1] < 1000
    with pytest.raises(ValueError):
        wr.committee_text(t, [])


# ---- the charts


def open_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as im:
        im.load()  # decodes every row: a truncated file fails here
        assert im.format == "PNG"
        return im.size


async def test_chart_is_a_png_of_a_phone_friendly_size(db, config, site):
    p1, _ = await reports_of(db, config)
    width, height = open_png(wr.report_chart(t, p1))
    assert width == 960 and 300 < height < 1000


def test_chart_grows_with_the_members_and_stays_sendable():
    sizes = {n: open_png(wr.report_chart(t, synthetic(n))) for n in (5, 40, 200)}
    assert sizes[5][1] < sizes[40][1] < sizes[200][1]
    width, height = sizes[200]
    # Telegram takes a photo up to width + height 10000 and a ratio of 20
    assert width + height <= 10000 and height / width <= 20
    assert open_png(wr.report_chart(t, synthetic(0)))[1] > 300  # no members: still a chart


def cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def render_checked(draw, caplog) -> tuple[list[str], list[str]]:
    """Run draw(); return every complaint about fonts (matplotlib's 'Glyph ... missing
    from font(s)' warnings, the font manager's fallbacks) and the fonts it matched."""
    # The font manager caches its look-ups: forget them so this run logs its own.
    font_manager.fontManager._findfont_cached.cache_clear()
    with warnings.catch_warnings(record=True) as caught, \
            caplog.at_level(logging.DEBUG, logger="matplotlib.font_manager"):
        warnings.simplefilter("always")
        caplog.clear()
        draw()
    logged = [r for r in caplog.records if r.name == "matplotlib.font_manager"]
    problems = [str(w.message) for w in caught if "missing from font" in str(w.message)
                or "findfont" in str(w.message)]
    problems += [r.getMessage() for r in logged if r.levelno >= logging.WARNING]
    matched = [r.getMessage() for r in logged
               if r.getMessage().startswith("findfont: Matching") and " to " in r.getMessage()]
    return problems, matched


def test_the_check_catches_a_font_without_chinese(caplog):
    """The detector itself: Chinese in matplotlib's default font is reported."""
    def draw():
        fig = Figure(figsize=(2, 1))
        FigureCanvasAgg(fig)
        fig.text(0.1, 0.5, "红盾周报", fontfamily="DejaVu Sans")
        fig.savefig(io.BytesIO(), format="png")

    assert any("missing from font" in p for p in render_checked(draw, caplog)[0])

    def draw_unknown():
        fig = Figure(figsize=(2, 1))
        FigureCanvasAgg(fig)
        fig.text(0.1, 0.5, "abc", fontfamily="No Such Font Family")
        fig.savefig(io.BytesIO(), format="png")

    assert any("not found" in p for p in render_checked(draw_unknown, caplog)[0])


async def test_chinese_renders_with_the_cjk_font(db, config, site, caplog):
    reports = await reports_of(db, config)
    for draw in (lambda: wr.report_chart(t, reports[0]),
                 lambda: wr.report_chart(t, synthetic(0)),
                 lambda: wr.report_chart(Translator("en"), synthetic(30)),
                 lambda: wr.committee_chart(t, reports)):
        problems, matched = render_checked(draw, caplog)
        assert problems == []
        # Each look-up of the family the charts name ends at the WenQuanYi file. (Empty
        # texts, such as the unused y label, still measure a line in the default font.)
        cjk_lookups = [m for m in matched
                       if m.startswith("findfont: Matching WenQuanYi Micro Hei:")]
        assert cjk_lookups and all("wqy-microhei.ttc" in m for m in cjk_lookups)


async def test_every_text_of_the_figure_uses_the_cjk_family(db, config, site):
    reports = await reports_of(db, config)
    family = wr.chart_font()
    assert family == "WenQuanYi Micro Hei"
    wanted = font_manager.findfont(font_manager.FontProperties(family=family),
                                   fallback_to_default=False)
    assert wanted.endswith("wqy-microhei.ttc")
    for fig in (wr.report_figure(t, reports[0]), wr.committee_figure(t, reports)):
        fig.canvas.draw()
        texts = [a for a in fig.findobj(Text) if a.get_visible() and a.get_text().strip()]
        shown = "".join(a.get_text() for a in texts)
        assert cjk(shown)
        for a in texts:
            assert a.get_fontfamily()[0] == family, a.get_text()
            assert font_manager.findfont(a.get_fontproperties(),
                                         fallback_to_default=False) == wanted, a.get_text()
    ax = wr.report_figure(t, reports[0]).axes[0]
    names = [label.get_text() for label in ax.get_yticklabels()]
    assert names == ["王五", "李四", "张三"]  # furthest behind at the top


def test_a_missing_font_names_the_setup_script(monkeypatch):
    monkeypatch.setattr(wr, "FONT_FILES", ("/nonexistent/wqy-microhei.ttc",))
    wr.chart_font.cache_clear()
    try:
        with pytest.raises(wr.ChartFontMissing, match="scripts/setup.sh"):
            wr.report_chart(t, synthetic(3))
    finally:
        wr.chart_font.cache_clear()

