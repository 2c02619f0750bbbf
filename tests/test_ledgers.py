"""台账: `redshield export` and /export write one workbook with a sheet per ledger, read
back here with openpyxl against what the database holds."""
from __future__ import annotations

import argparse
import datetime as dt
import io
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bot.bootstrap import bootstrap, load_plugins
from bot.core.contract import Document
from bot.core.registry import CliError, Registry
from storage.models import (
    EduRecord,
    Hazard,
    HazardStatus,
    LeaveRequest,
    LeaveStatus,
    Lesson,
    LessonAttendance,
    Patrol,
    StarEntry,
    TeamPatrol,
    TeamPatrolMember,
    ViolationEntry,
    ViolationReport,
    ViolationStatus,
)
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
JOINED = dt.datetime(2026, 10, 1, tzinfo=SH)
SHEETS = ["个人巡查", "每周汇总", "团队巡查", "隐患排查治理台账", "违章举报", "请假", "行为安全之星",
          "红盾课堂", "课堂签到", "责任区教育"]


def at(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026) -> dt.datetime:
    """A moment on the site's clock (the tests' clock is Mon 2026-11-23 10:00)."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SH)


@pytest.fixture
async def site(db) -> dict[str, int]:
    """Project P1 in November 2026: two patrols of 张三 (one with a note "=1+1") and one of
    李安监, and one of last year; a team patrol; an overdue and a closed hazard; an
    anonymous and a named violation report; a leave request; two star entries; a lesson
    with two check-ins; a zone education record. Bound: u1 secretary, u3 safety officer,
    u4 张三 (a plain member)."""
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1", name="江湾项目")
        zone = await f.zone(s, p, "施工现场A区")
        ids = {"project": p.id, "zone": zone.id}
        for key, name, roles, uid in (("secretary", "王书记", ("member", "secretary"), "u1"),
                                      ("officer", "李安监", ("member", "safety_officer"), "u3"),
                                      ("member", "张三", ("member",), "u4")):
            m = await f.member(s, p, name, roles=roles, joined_at=JOINED)
            await f.bind(s, m, external_id=uid)
            ids[key] = m.id
        ids["worker"] = (await f.member(s, p, "马强", roles=("worker",), crew="钢筋班",
                                        joined_at=JOINED)).id
        ids["named"] = (await f.member(s, p, "钱实名", roles=("worker",), crew="架子班",
                                       joined_at=JOINED)).id
        other = await f.project(s, code="P2", name="别的项目")
        stranger = await f.member(s, other, "外人", roles=("member",), joined_at=JOINED)

        def patrol(member, start, minutes, **extra):
            return Patrol(member_id=member, project_id=extra.pop("project", p.id), zone_id=zone.id,
                          started_at=start, ended_at=start + dt.timedelta(minutes=minutes),
                          created_at=start, **extra)

        s.add_all([
            patrol(ids["member"], at(11, 17, 9), 70, note="=1+1", logged_afterwards=True),
            patrol(ids["member"], at(11, 19, 14), 60),
            patrol(ids["officer"], at(11, 18, 8), 45, off_site=True, accepted=True),
            patrol(ids["member"], at(12, 31, 23, year=2025), 30),  # last year: not in 2026's ledger
            patrol(stranger.id, at(11, 18, 8), 90, project=other.id),
        ])
        team = TeamPatrol(project_id=p.id, leader_id=ids["secretary"], joint_with_safety=True,
                          started_at=at(11, 20, 15), ended_at=at(11, 20, 16, 30))
        s.add(team)
        await s.flush()
        s.add_all([TeamPatrolMember(team_patrol_id=team.id, member_id=ids["member"],
                                    joined_at=at(11, 20, 15, 5)),
                   TeamPatrolMember(team_patrol_id=team.id, member_id=ids["officer"],
                                    joined_at=at(11, 20, 15, 10))])
        overdue = Hazard(project_id=p.id, year=2026, number=7, zone_id=zone.id, category="脚手架",
                         grade="major", description="@SUM(A1)", requirement="立即加固",
                         reporter_id=ids["member"], assignee_id=ids["worker"],
                         deadline=dt.date(2026, 11, 20), status=HazardStatus.open,
                         created_at=at(11, 16, 9))
        closed = Hazard(project_id=p.id, year=2026, number=8, zone_id=zone.id, category="文明施工",
                        grade="general", description="通道堆放钢管", assignee_text="木工班",
                        reporter_id=ids["officer"], deadline=dt.date(2026, 11, 21),
                        status=HazardStatus.closed, measures="已清理",
                        rectified_at=at(11, 19, 16), rechecked_by_id=ids["officer"],
                        closed_at=at(11, 20, 9), created_at=at(11, 18, 11))
        s.add_all([overdue, closed])
        await s.flush()
        ids["overdue"], ids["closed"] = overdue.id, closed.id
        anonymous = ViolationReport(project_id=p.id, zone_id=zone.id, kind="未戴安全帽", description="东侧",
                                    status=ViolationStatus.confirmed, receipt_hash="a" * 64,
                                    received_at=at(11, 17, 14), notify_after=at(11, 17, 15))
        named = ViolationReport(project_id=p.id, kind="违章作业", description="钱实名看见的",
                                status=ViolationStatus.hazard, receipt_hash="b" * 64,
                                named_member_id=ids["named"], hazard_id=overdue.id,
                                received_at=at(11, 18, 9), notify_after=at(11, 18, 10))
        s.add_all([anonymous, named])
        await s.flush()
        s.add_all([ViolationEntry(report_id=anonymous.id, author="reporter", text="钱实名不在此",
                                  at=at(11, 17, 14)),
                   ViolationEntry(report_id=anonymous.id, author="officer", officer_id=ids["officer"],
                                  text="已批评教育", at=at(11, 17, 16))])
        s.add(LeaveRequest(member_id=ids["member"], start=dt.date(2026, 11, 25),
                           until=dt.date(2026, 11, 26), reason="探亲", status=LeaveStatus.pending,
                           created_at=at(11, 21)))
        s.add_all([
            StarEntry(project_id=p.id, worker_id=ids["worker"], points=3, source="star",
                      reason="正确佩戴安全帽", note="-主动提醒工友", given_by_id=ids["secretary"],
                      at=at(11, 19, 11)),
            StarEntry(project_id=p.id, worker_id=ids["worker"], points=5, source="event",
                      reason="举报属实", ref="violation:1", at=at(11, 20, 12)),
        ])
        lesson = Lesson(project_id=p.id, title="+高处作业安全", form="安全培训", starts_at=at(11, 19, 19),
                        ends_at=at(11, 19, 20), place="会议室", audience="all", crews=[],
                        organiser_id=ids["secretary"], headcount=20, completed_at=at(11, 20, 8),
                        created_at=at(11, 10))
        s.add(lesson)
        await s.flush()
        s.add_all([LessonAttendance(lesson_id=lesson.id, member_id=ids["member"],
                                    checked_in_at=at(11, 19, 19, 2)),
                   LessonAttendance(lesson_id=lesson.id, member_id=ids["officer"],
                                    checked_in_at=at(11, 19, 19, 5))])
        s.add(EduRecord(project_id=p.id, zone_id=zone.id, member_id=ids["member"], kind="班前讲话",
                        topic="临边防护", crew="钢筋班", headcount=12, day=dt.date(2026, 11, 18),
                        recorded_at=at(11, 18, 8)))
    return ids


async def run_export(config, db, clock, *argv) -> int:
    """`redshield export ARGS` as the CLI runs it: the registered command, a wired App."""
    registry = load_plugins(Registry(), config.bot.plugins)
    command = registry.cli_commands["export"]
    parser = argparse.ArgumentParser()
    command.arguments(parser)
    app = bootstrap(config, clock, db=db.engine, registry=registry, targets=[])
    try:
        return await command.run(app, parser.parse_args(list(argv)))
    finally:
        await app.close()


def rows(ws) -> list[tuple]:
    return list(ws.iter_rows(min_row=2, values_only=True))


def column(ws, header: str) -> list:
    headers = [c.value for c in ws[1]]
    i = headers.index(header)
    return [r[i] for r in rows(ws)]


def every_text(book) -> str:
    return "\n".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row
                     if c.value is not None)


async def test_cli_writes_every_ledger(config, db, clock, site, tmp_path, capsys):
    out = tmp_path / "ledger.xlsx"
    assert await run_export(config, db, clock, "--project", "P1", "--out", str(out)) == 0
    assert "个人巡查 3" in capsys.readouterr().out
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == SHEETS
    for ws in book.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
        assert ws.auto_filter.ref.endswith(str(ws.max_row)), ws.title
        assert all(isinstance(c.value, str) and c.value for c in ws[1]), ws.title
        assert ws.column_dimensions["A"].width >= 6

    ws = book["个人巡查"]
    assert [c.value for c in ws[1]] == ["成员", "责任区", "开始", "结束", "时长（分钟）", "补记", "自动结束",
                                        "不在现场", "备注"]
    assert rows(ws) == [
        ("张三", "施工现场A区", dt.datetime(2026, 11, 17, 9), dt.datetime(2026, 11, 17, 10, 10), 70,
         "是", "否", "否", "=1+1"),
        ("李安监", "施工现场A区", dt.datetime(2026, 11, 18, 8), dt.datetime(2026, 11, 18, 8, 45), 45,
         "否", "否", "是", None),
        ("张三", "施工现场A区", dt.datetime(2026, 11, 19, 14), dt.datetime(2026, 11, 19, 15), 60,
         "否", "否", "否", None),
    ]
    assert ws["I2"].data_type == "s" and ws["I2"].value == "=1+1"
    assert ws["C2"].is_date and ws["C2"].number_format.startswith("yyyy-mm-dd")

    ws = book["每周汇总"]
    assert [c.value for c in ws[1]][:3] == ["周次", "周一", "成员"]
    weekly = {(r[0], r[2]): r for r in rows(ws)}
    # From the week they joined (W40) to this week (W48), the three members (workers owe
    # no patrol); weeks before anyone joined have no rows.
    assert {w for w, _ in weekly} == {f"2026-W{n:02d}" for n in range(40, 49)}
    assert {m for _, m in weekly} == {"王书记", "李安监", "张三"}
    assert weekly[("2026-W47", "张三")][3:] == (130, 120, 120, "是")
    assert weekly[("2026-W47", "李安监")][3:] == (45, 120, 120, "否")
    assert weekly[("2026-W47", "王书记")][1] == dt.datetime(2026, 11, 16)

    ws = book["团队巡查"]
    assert rows(ws) == [(dt.datetime(2026, 11, 20), dt.datetime(2026, 11, 20, 15),
                         dt.datetime(2026, 11, 20, 16, 30), "王书记", "张三、李安监", 90, "是")]

    ws = book["隐患排查治理台账"]
    assert len(rows(ws)) == 2
    assert column(ws, "编号") == ["红盾整改〔2026〕0007号", "红盾整改〔2026〕0008号"]
    assert column(ws, "整改责任人") == ["马强", "木工班"]
    assert column(ws, "等级") == ["重大隐患", "一般隐患"]
    assert column(ws, "状态") == ["待整改", "已销项"]
    assert column(ws, "超期") == ["是", "否"]
    assert column(ws, "已历天数") == [7, 2]  # open since the 16th (today the 23rd); closed on the 20th
    assert column(ws, "复查人") == [None, "李安监"]
    assert column(ws, "销项时间") == [None, dt.datetime(2026, 11, 20, 9)]
    assert column(ws, "整改期限")[0] == dt.datetime(2026, 11, 20)
    assert column(ws, "隐患描述")[0] == "@SUM(A1)" and ws["G2"].data_type == "s"

    ws = book["违章举报"]
    assert [c.value for c in ws[1]] == ["收到时间", "区域", "类型", "状态", "处理结果"]
    assert rows(ws) == [
        (dt.datetime(2026, 11, 17, 14), "施工现场A区", "未戴安全帽", "属实，已处理", "已批评教育"),
        (dt.datetime(2026, 11, 18, 9), None, "违章作业", "已转为隐患整改", "已转隐患 红盾整改〔2026〕0007号"),
    ]

    assert rows(book["请假"]) == [("张三", dt.datetime(2026, 11, 25), dt.datetime(2026, 11, 26), "探亲",
                                   "待审批")]
    ws = book["行为安全之星"]
    assert rows(ws) == [
        (dt.datetime(2026, 11, 19, 11), "马强", "钢筋班", 3, "点赞", "正确佩戴安全帽", "-主动提醒工友", "王书记"),
        (dt.datetime(2026, 11, 20, 12), "马强", "钢筋班", 5, "事件", "举报属实", None, "系统"),
    ]
    assert ws["G2"].data_type == "s"
    ws = book["红盾课堂"]
    assert rows(ws) == [(dt.datetime(2026, 11, 19), dt.datetime(2026, 11, 19, 19), "+高处作业安全",
                         "安全培训", "会议室", "全体", "王书记", 2, 20, "是")]
    assert ws["C2"].data_type == "s"
    assert rows(book["课堂签到"]) == [
        ("+高处作业安全", dt.datetime(2026, 11, 19, 19), "张三", dt.datetime(2026, 11, 19, 19, 2)),
        ("+高处作业安全", dt.datetime(2026, 11, 19, 19), "李安监", dt.datetime(2026, 11, 19, 19, 5)),
    ]
    assert rows(book["责任区教育"]) == [(dt.datetime(2026, 11, 18), "施工现场A区", "张三", "班前讲话",
                                          "临边防护", "钢筋班", 12)]

    # Who sent a report is in no ledger, nor what they wrote; the other project's neither.
    text = every_text(book)
    assert "钱实名" not in text and "东侧" not in text and "外人" not in text


async def test_no_formula_is_stored(config, db, clock, site, tmp_path):
    """The raw sheet XML holds the typed texts as strings, never as <f> formulas."""
    import zipfile

    out = tmp_path / "ledger.xlsx"
    await run_export(config, db, clock, "--project", "P1", "--out", str(out))
    with zipfile.ZipFile(out) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not any("<f>" in x or "<f " in x for x in sheets)
    every = "".join(sheets)
    assert "<t>=1+1</t>" in every and "<t>@SUM(A1)</t>" in every


async def test_cli_period_filters_by_each_rows_date(config, db, clock, site, tmp_path):
    out = tmp_path / "ledger.xlsx"
    assert await run_export(config, db, clock, "--project", "P1", "--from", "2026-11-18",
                            "--to", "2026-11-19", "--out", str(out)) == 0
    book = openpyxl.load_workbook(out)
    assert len(rows(book["个人巡查"])) == 2
    assert rows(book["团队巡查"]) == []
    assert column(book["隐患排查治理台账"], "编号") == ["红盾整改〔2026〕0008号"]
    assert len(rows(book["违章举报"])) == 1
    assert rows(book["请假"]) == []
    assert len(rows(book["行为安全之星"])) == 1
    assert len(rows(book["红盾课堂"])) == 1 and len(rows(book["课堂签到"])) == 2
    assert len(rows(book["责任区教育"])) == 1
    assert {r[0] for r in rows(book["每周汇总"])} == {"2026-W47"}

    assert await run_export(config, db, clock, "--project", "P1", "--from", "2025-12-01",
                            "--to", "2025-12-31", "--out", str(out)) == 0
    book = openpyxl.load_workbook(out)
    assert rows(book["个人巡查"]) == [("张三", "施工现场A区", dt.datetime(2025, 12, 31, 23),
                                      dt.datetime(2025, 12, 31, 23, 30), 30, "否", "否", "否", None)]
    assert rows(book["隐患排查治理台账"]) == []


@pytest.mark.parametrize("argv, message", [
    (("--from", "2026-13-01"), "--from"),
    (("--to", "yesterday"), "--to"),
    (("--from", "2026-12-01", "--to", "2026-11-01"), "after"),
])
async def test_cli_refuses_bad_dates(config, db, clock, site, tmp_path, argv, message):
    with pytest.raises(CliError, match=message):
        await run_export(config, db, clock, "--project", "P1", *argv, "--out", str(tmp_path / "x.xlsx"))
    assert not (tmp_path / "x.xlsx").exists()


async def test_cli_unknown_project(config, db, clock, site, tmp_path):
    with pytest.raises(CliError, match="no project 'NOPE'"):
        await run_export(config, db, clock, "--project", "NOPE", "--out", str(tmp_path / "x.xlsx"))


# ---- /export


def documents(said) -> list[Document]:
    return [r for r in said.replies if isinstance(r, Document)]


async def test_export_in_chat_sends_this_months_workbook(chat, site):
    secretary = chat.user("u1")
    said = await secretary.say("/export")
    assert said.buttons[:3] == ["本月", "上月", "今年"]
    said = await secretary.tap("本月")
    [doc] = documents(said)
    assert doc.filename == "台账-P1-2026-11.xlsx" and "江湾项目" in doc.caption
    book = openpyxl.load_workbook(io.BytesIO(doc.data))
    assert book.sheetnames == SHEETS
    assert len(rows(book["个人巡查"])) == 3  # November only: not last year's
    assert column(book["隐患排查治理台账"], "超期") == ["是", "否"]
    assert "钱实名" not in every_text(book)


async def test_export_last_month_and_the_year(chat, site):
    said = await chat.user("u3").say("/export last")
    [doc] = documents(said)
    assert doc.filename == "台账-P1-2026-10.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(doc.data))
    assert rows(book["个人巡查"]) == [] and rows(book["隐患排查治理台账"]) == []
    said = await chat.user("u3").say("/export year")
    [doc] = documents(said)
    assert doc.filename == "台账-P1-2026.xlsx"
    assert len(rows(openpyxl.load_workbook(io.BytesIO(doc.data))["行为安全之星"])) == 2


async def test_a_plain_member_gets_no_workbook(chat, site):
    for text in ("/export", "/export month", "导出台账"):
        said = await chat.user("u4").say(text)
        assert documents(said) == [] and "本月" not in said.buttons
        assert any(word in said.text for word in ("安监", "书记", "权限", "只有")), said.text
