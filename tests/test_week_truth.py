"""What the branch secretary sees is what happened (issue 13, the week's truth): leave is
shown and not counted as short; forgotten and off-site patrols count by the rule in
[practice] and are flagged with the minutes not counted; weeks nobody owed show "—";
a report of a week not over counts overdue hazards as of now; a team patrol names who
took part and calls the vanguard team. Each in /week, `redshield week --json`, the
weekly report (text and chart) and /me, as it applies."""
from __future__ import annotations

import argparse
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from matplotlib.text import Text as ChartText

from bot.core.i18n import Translator
from bot.scheduler import Scheduler
from handlers import weekly_report as wr
from handlers.patrol import sign_of_life
from handlers.weeks import parse_week
from storage.models import Hazard, Member, Patrol, Project
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
LONG_AGO = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SITE_A = (31.2304, 121.4737)  # the centre of 施工现场A区's geofence (200 m)
FAR = (31.2404, 121.4737)  # about 1.1 km north of it
t = Translator("zh_CN")


def shanghai(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


@pytest.fixture
async def site(db):
    """The clock starts on Monday 2026-11-23 10:00 (week 2026-W48)."""
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1")
        a = await f.zone(s, p, "施工现场A区")
        a.latitude, a.longitude, a.radius_m = *SITE_A, 200
        people = {}
        for uid, name, roles in (("u1", "张三", ("member", "vanguard")),
                                 ("u2", "李四", ("member",)),
                                 ("u3", "王书记", ("secretary",)),
                                 ("u4", "孙安监", ("safety_officer",)),
                                 ("u5", "李队长", ("member", "vanguard", "leader"))):
            m = await f.member(s, p, name, roles=roles, zones=[a], joined_at=LONG_AGO)
            await f.bind(s, m, external_id=uid)
            people[name] = m.id
    return people


@pytest.fixture
async def run_job(app, db, config, clock, engine):
    """Run one of the bot's scheduled jobs now, as the one scheduler would."""
    made: list[Scheduler] = []

    async def run(name: str) -> int:
        if not made:
            made.append(Scheduler(config, db.engine, db.sessions, engine,
                                  list(app.scheduler.jobs.values()), clock=clock))
        return await made[0].run_job(name)

    yield run
    for sched in made:
        await sched.release()


async def start_patrol(user, where=SITE_A):
    await user.say("巡查")
    await user.tap("施工现场A区")
    return await (user.location(*where) if where else user.say("跳过"))


async def end_patrol(user):
    await user.say("巡查")
    return await user.say("跳过")


async def week_json(app, capsys, week: str | None = None) -> dict:
    """`redshield week --project P1 --json` as an operator runs it."""
    capsys.readouterr()
    args = argparse.Namespace(project="P1", week=week, json=True)
    assert await app.registry.cli_commands["week"].run(app, args) == 0
    return json.loads(capsys.readouterr().out)


async def report(db, config, clock, week: str = "2026-W48") -> wr.ProjectReport:
    async with db.sessions() as s:
        [only] = await wr.project_reports(s, config, parse_week(week, SH), now=clock())
    return only


def chart_texts(rep: wr.ProjectReport) -> list[str]:
    fig = wr.report_figure(t, rep)
    fig.canvas.draw()
    return [a.get_text() for a in fig.findobj(ChartText) if a.get_visible() and a.get_text()]


def member(data: dict, name: str) -> dict:
    return next(m for m in data["members"] if m["name"] == name)


# ---- 1. leave


async def test_leave_starts_on_a_chosen_day_and_the_secretary_approves_it_from_the_list(chat, site):
    li, secretary = chat.user("u2"), chat.user("u3")
    said = await li.say("/leave")
    assert "从哪天开始请假" in said and said.buttons == ["今天", "明天", "取消"]
    said = await li.tap("明天")
    assert "从 11-24 起，请假到哪一天" in said and "到本周日" in said.buttons
    assert "事由" in await li.say("11-29")
    assert "等待党支部书记批准" in await li.say("外出培训")
    chat.notices(site["王书记"])

    said = await secretary.say("/leave list")
    assert "待批准的请假（1）" in said and "#1 李四 11-24–11-29 · 外出培训" in said
    assert said.buttons == ["批准 李四", "不批准 李四"]
    assert "已批准 李四 请假 11-24–11-29" in await secretary.tap("批准 李四")
    assert "已批准" in chat.notices(site["李四"])
    said = await secretary.say("/leave list")
    assert "请假中及已批准（1）" in said and "🏖 李四 11-24–11-29" in said and said.buttons == []

    # On leave six days of seven, 李四 owes one day's share: 120 × 1/7, rounded up to 5.
    said = await secretary.say("/week")
    assert "❌ 李四 0分钟 （差 20分钟） [应 20分钟] · 🏖 请假 11-24–11-29" in said
    assert "个人巡查：0/3 人达标" in said
    assert "请假名单" in said.buttons
    said = await li.say("/me")
    assert "🏖 请假 11-24–11-29" in said and "本周 0分钟 / 20分钟" in said


async def test_a_leave_a_member_cannot_take_gets_a_short_answer(chat, site, clock):
    li = chat.user("u2")
    await li.say("/leave")
    assert "不能从过去的日期开始" in await li.say("11-20")
    assert "没看懂这个日期" in await li.say("下下个月")
    assert "三个月内开始" in await li.say("2027-06-01")
    await li.say("12-01")
    assert "不能早于开始日期（12-01）" in await li.say("11-30")
    assert "最长三个月" in await li.say("2027-05-01")
    said = await li.tap("当天")
    assert "事由" in said


async def test_only_the_secretary_lists_leave(chat, site):
    assert "请假名单由党支部书记查看" in await chat.user("u2").say("/leave list")
    assert "现在没有待批准或进行中的请假" in await chat.user("u3").say("/leave list")


async def test_a_member_on_leave_all_week_is_shown_on_leave_everywhere_not_short(
        chat, site, db, app, clock, config, capsys):
    async with db.sessions() as s, s.begin():  # the directory says so, with no start
        project = (await s.execute(sa.select(Project))).scalar_one()
        wang = await f.member(s, project, "王五", leave_until=dt.date(2026, 12, 31),
                              joined_at=LONG_AGO)
        await f.bind(s, wang, external_id="u6")
    li = chat.user("u2")
    await li.say("/leave")
    await li.tap("今天")
    await li.tap("到本周日")
    await li.say("回家探亲")
    request = chat.notices(site["王书记"])
    await chat.user("u3").tap("批准", request.choices)
    zhang = chat.user("u1")
    await start_patrol(zhang)
    clock.advance(minutes=130)
    await end_patrol(zhang)

    said = await chat.user("u3").say("/week")
    assert "个人巡查：1/2 人达标" in said  # 张三 and 李队长 owed; 李四 and 王五 did not
    assert "🏖 李四 请假 11-23–11-29" in said and "🏖 王五 请假 11-23–11-29" in said
    assert "❌ 李四" not in said and "❌ 王五" not in said

    data = await week_json(app, capsys)
    assert data["personal"] == {"met": 1, "total": 2, "share": 0.5, "on_leave": 2}
    assert member(data, "李四").items() >= {
        "on_leave": True, "leave_all_week": True, "required": 0, "met": None,
        "leave": [{"from": "2026-11-23", "until": "2026-11-29"}]}.items()
    assert member(data, "张三")["on_leave"] is False and member(data, "张三")["met"] is True

    rep = await report(db, config, clock)
    text = wr.report_text(t, rep)
    assert "个人巡查：1/2 人达标" in text
    assert "🏖 请假（不计入）：李四（11-23–11-29）；王五（11-23–11-29）" in text
    assert "李四 0分钟" not in text
    shown = chart_texts(rep)
    assert "请假中" in shown and "请假（不计入）" in shown  # the bar's text and the legend
    names = [label.get_text() for label in wr.report_figure(t, rep).axes[0].get_yticklabels()]
    assert names[-2:] == ["李四", "王五"]  # those on leave at the bottom, not among the short

    said = await li.say("/me")
    assert "🏖 请假 11-23–11-29" in said and "🏖 本周请假，不要求巡查。" in said
    said = await chat.user("u6").say("/me")
    assert "🏖 请假至 12-31" in said and "🏖 本周请假，不要求巡查。" in said


async def test_the_chart_with_leave_and_flags_is_legible(db, site, config, clock, tmp_path):
    """Draws the chart a secretary receives, with every kind of mark, for a person to look at
    (the file is kept in the test's folder); the texts are the Chinese ones, no emoji."""
    async with db.sessions() as s, s.begin():
        zhang, li, leader = [await s.get(Member, site[n]) for n in ("张三", "李四", "李队长")]
        s.add_all([
            Patrol(member_id=zhang.id, project_id=zhang.project_id, off_site=True,
                   started_at=shanghai(2026, 11, 23, 9), ended_at=shanghai(2026, 11, 23, 11),
                   created_at=LONG_AGO),
            Patrol(member_id=leader.id, project_id=leader.project_id, auto_closed=True,
                   started_at=shanghai(2026, 11, 23, 6), ended_at=shanghai(2026, 11, 23, 10),
                   credited_until=shanghai(2026, 11, 23, 6, 45), created_at=LONG_AGO)])
        li.leave_until = dt.date(2026, 11, 29)
    clock.now = shanghai(2026, 11, 30, 9, 0)
    rep = await report(db, config, clock)
    png = wr.report_chart(t, rep)
    (tmp_path / "chart.png").write_bytes(png)
    shown = chart_texts(rep)
    assert "0分钟 · 未计 2小时 · 待认可1" in shown and "45分钟 · 未计 3小时15分" in shown
    assert "请假中" in shown and not any("🏖" in text or "⚠" in text for text in shown)


# ---- 2. forgotten and off-site patrols


async def test_a_forgotten_patrol_counts_up_to_the_last_sign_of_life(
        chat, site, db, app, clock, capsys, run_job):
    zhang = chat.user("u1")
    await start_patrol(zhang, where=None)  # 10:00
    clock.advance(minutes=50)
    await zhang.say("/me")  # 10:50: the last thing 张三 sent while patrolling
    clock.advance(minutes=20)
    await chat.user("u2").say("/me")  # someone else's message is not 张三's sign of life
    clock.advance(hours=4)
    await run_job("close_forgotten")
    notice = chat.notices(site["张三"])
    assert "已按 4小时 自动结束，只计入到您最后一次发消息的 10:50（50分钟）" in notice
    assert notice.buttons == ["更正结束时间"]

    secretary = chat.user("u3")
    said = await secretary.say("/week")
    assert "❌ 张三 50分钟 （差 1小时10分） · 自动结束1（未计 3小时10分）" in said
    data = await week_json(app, capsys)
    assert member(data, "张三")["minutes"] == 50
    assert member(data, "张三")["not_counted"] == {"forgotten": 190, "off_site": 0}
    rep = await report(db, app.config, clock)
    assert "⚠️ 未计入：张三 自动结束1（未计 3小时10分）" in wr.report_text(t, rep)

    # The member confirms the real end: what they say counts.
    assert "实际几点结束" in await zhang.tap("更正结束时间", notice.choices)
    said = await zhang.say("11:30")
    assert "已更正：10:00–11:30，用时 1小时30分" in said and "本周 1小时30分 / 2小时" in said
    said = await secretary.say("/week")
    assert "❌ 张三 1小时30分 （差 30分钟）" in said and "自动结束" not in said


async def test_the_start_is_a_sign_of_life_too(chat, site, run_job, clock):
    zhang = chat.user("u1")
    await zhang.say("巡查")
    await zhang.tap("施工现场A区")  # 10:00, and nothing more
    clock.advance(hours=5)
    await run_job("close_forgotten")
    assert "只计入到您最后一次发消息的 10:00（0分钟）" in chat.notices(site["张三"])


async def test_a_sign_of_life_is_one_update_without_a_look_up(db, site, clock):
    async with db.sessions() as s, s.begin():
        s.add(Patrol(member_id=site["张三"], project_id=1, started_at=clock(), created_at=clock()))
    statements = []

    def record(*args):
        statements.append(args[2])

    class Ctx:  # what the hook reads of the message's context
        msg = type("Msg", (), {"kind": None})()
        member = type("M", (), {"id": site["张三"]})()
        now = clock() + dt.timedelta(minutes=7)

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.sessions() as s, s.begin():
            Ctx.session = s
            await sign_of_life(Ctx)
            Ctx.member.id = site["李四"]  # no open patrol: the same UPDATE finds nothing
            await sign_of_life(Ctx)
    finally:
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert len(statements) == 2 and all(s.lstrip().upper().startswith("UPDATE") for s in statements)
    async with db.sessions() as s:
        patrol = (await s.execute(sa.select(Patrol))).scalar_one()
    assert patrol.last_seen_at == clock() + dt.timedelta(minutes=7)


async def test_an_off_site_patrol_counts_once_the_safety_officer_accepts_it(
        chat, site, db, app, clock, config, capsys, run_job):
    zhang, officer, secretary = chat.user("u1"), chat.user("u4"), chat.user("u3")
    assert "不在现场" in await start_patrol(zhang, where=FAR)
    clock.advance(minutes=130)
    said = await end_patrol(zhang)
    assert "本周 0分钟 / 2小时" in said
    assert "不在现场的巡查 2小时10分 待安监认可，认可后计入。" in said

    await run_job("off_site_reviews")
    ask = chat.notices(site["孙安监"])
    assert "⚠️ 不在现场的巡查：张三 周一 11-23 10:00 2小时10分（施工现场A区，距区域约 1112 米）" in ask
    assert ask.buttons == ["认可", "不认可"]
    assert chat.notices(site["王书记"]).replies == []  # the project has a safety officer
    assert await run_job("off_site_reviews") == 0  # asked once

    said = await secretary.say("/week")
    assert "❌ 张三 0分钟 （差 2小时） · 不在现场1（待认可1，未计 2小时10分）" in said
    assert "不在现场、待安监认可的巡查 1 次：\n  张三 周一 11-23 10:00 2小时10分" in said
    assert "逐条认可（1）" not in said.buttons  # the safety officer decides
    assert "逐条认可（1）" in (await officer.say("/week")).buttons
    data = await week_json(app, capsys)
    assert [(p["name"], p["minutes"]) for p in data["off_site_awaiting"]] == [("张三", 130)]
    assert member(data, "张三")["off_site_awaiting"] == 1
    assert member(data, "张三")["not_counted"] == {"forgotten": 0, "off_site": 130}
    text = wr.report_text(t, await report(db, config, clock))
    assert "⚠️ 未计入：张三 不在现场1（待认可1，未计 2小时10分）" in text

    assert "由安监人员认可" in await secretary.say("/offsite yes 1")
    said = await officer.tap("认可", ask.choices)
    assert "✅ 已认可：张三 周一 11-23 10:00 2小时10分" in said
    assert "待认可的不在现场巡查都已处理完" in said
    assert "已被安监认可，计入 2小时10分" in chat.notices(site["张三"])
    assert "已经处理过了（已认可）" in await officer.tap("不认可", ask.choices)

    said = await secretary.say("/week")
    assert "✅ 张三 2小时10分 · 不在现场1" in said and "待安监认可" not in said
    assert "未计入" not in wr.report_text(t, await report(db, config, clock))


async def test_the_safety_officer_walks_through_what_waits_one_tap_each(chat, site, clock, run_job):
    zhang, li, officer = chat.user("u1"), chat.user("u2"), chat.user("u4")
    await start_patrol(zhang, where=FAR)
    await start_patrol(li, where=FAR)
    clock.advance(minutes=60)
    await end_patrol(zhang)
    clock.advance(minutes=30)
    await end_patrol(li)

    said = await officer.say("/offsite")
    assert "待认可（共 2 次）：张三 周一 11-23 10:00 1小时" in said
    said = await officer.tap("不认可")
    assert "已不认可：张三" in said and "不计入" in said
    assert "待认可（共 1 次）：李四 周一 11-23 10:00 1小时30分" in said
    said = await officer.tap("认可")
    assert "✅ 已认可：李四" in said and "都已处理完" in said
    assert "未被安监认可，不计入巡查时间" in chat.notices(site["张三"])

    said = await chat.user("u3").say("/week")
    assert "❌ 张三 0分钟 （差 2小时） · 不在现场1（未计 1小时）" in said
    assert "❌ 李四 1小时30分 （差 30分钟） · 不在现场1" in said
    assert "没有这次不在现场的巡查" in await officer.say("/offsite yes 99")


async def test_without_a_safety_officer_the_secretary_decides(chat, site, db, clock, run_job):
    async with db.sessions() as s, s.begin():
        (await s.get(Member, site["孙安监"])).active = False
    await start_patrol(chat.user("u1"), where=FAR)
    clock.advance(minutes=40)
    await end_patrol(chat.user("u1"))
    await run_job("off_site_reviews")
    ask = chat.notices(site["王书记"])
    assert "不在现场的巡查：张三" in ask
    assert "✅ 已认可" in await chat.user("u3").tap("认可", ask.choices)


@pytest.fixture
def lenient(config):
    """A site that counts as before: the whole cap, and off-site patrols at once."""
    return config.model_copy(update={"practice": config.practice.model_copy(
        update={"forgotten_credit": "cap", "off_site_credit": "always"})})


async def test_the_rule_in_practice_can_count_everything_as_before(db, site, lenient, clock):
    from tests.chatbot import TestBot, test_app

    chat = TestBot(test_app(lenient, clock, db))
    zhang = chat.user("u1")
    await start_patrol(zhang, where=FAR)
    clock.advance(minutes=130)
    said = await end_patrol(zhang)
    assert "本周 2小时10分 / 2小时" in said and "待安监认可" not in said
    await start_patrol(chat.user("u2"), where=None)
    clock.advance(hours=5)
    sched = Scheduler(lenient, db.engine, db.sessions, chat.engine,
                      list(chat.app.scheduler.jobs.values()), clock=clock)
    try:
        assert await sched.run_job("off_site_reviews") == 0
        await sched.run_job("close_forgotten")
    finally:
        await sched.release()
    assert "已按 4小时 自动结束并计入" in chat.notices(site["李四"])
    said = await chat.user("u3").say("/week")
    assert "✅ 张三 2小时10分 · 不在现场1" in said and "✅ 李四 4小时 · 自动结束1" in said
    assert "未计" not in said and "待认可" not in said


# ---- 3. weeks nobody owed


async def test_a_week_before_anyone_joined_shows_a_dash_not_a_full_score(
        chat, site, db, app, clock, config, capsys):
    secretary = chat.user("u3")
    said = await secretary.say("/week 2025-W40")
    assert "个人巡查：—" in said and "人达标" not in said and "100%" not in said
    data = await week_json(app, capsys, "2025-W40")
    assert data["personal"] == {"met": None, "total": 0, "share": None, "on_leave": 0}
    assert data["members"] == []
    rep = await report(db, config, clock, "2025-W40")
    assert "个人巡查：—" in wr.report_text(t, rep)
    summary = wr.committee_text(t, [rep])
    assert "示例项目：个人 — · 团队 ❌" in summary and "合计：个人 — · 团队达标 0/1 个项目" in summary
    chart = wr.committee_chart(t, [rep])
    assert chart.startswith(b"\x89PNG")


async def test_me_shows_a_dash_for_weeks_before_joining(chat, db, site, clock):
    async with db.sessions() as s, s.begin():
        (await s.get(Member, site["张三"])).joined_at = shanghai(2026, 11, 11, 9, 0)  # W46, Wed
    said = await chat.user("u1").say("/me")
    lines = said.text.splitlines()
    start = lines.index("前四周：")
    assert lines[start + 1:start + 5] == ["  11-16 ❌ 0分钟", "  11-09 ❌ 0分钟",
                                          "  11-02 —", "  10-26 —"]


# ---- 4. a report of a week not over


async def test_a_mid_week_report_counts_overdue_hazards_as_of_now(db, site, clock, config, app, tmp_path,
                                                                   capsys):
    clock.now = shanghai(2026, 11, 25, 10, 0)  # Wednesday of W48
    async with db.sessions() as s, s.begin():
        for number, deadline in ((1, dt.date(2026, 11, 24)), (2, dt.date(2026, 11, 27))):
            s.add(Hazard(project_id=1, year=2026, number=number, category="脚手架",
                         grade="general", description="缺扣件", reporter_id=site["张三"],
                         deadline=deadline, created_at=shanghai(2026, 11, 23, 9), status="open"))
    rep = await report(db, config, clock)
    text = wr.report_text(t, rep)
    assert "（截至 11-25 10:00）" in text.splitlines()[0]
    assert "隐患：新增 2 · 销项 0 · 超期未整改 1" in text  # Friday's deadline has not passed yet

    capsys.readouterr()
    args = argparse.Namespace(week="2026-W48", project="P1", out=tmp_path)
    await app.registry.cli_commands["report"].run(app, args)
    assert "超期未整改 1" in capsys.readouterr().out

    clock.now = shanghai(2026, 11, 30, 8, 30)  # the week is over: as of its end
    text = wr.report_text(t, await report(db, config, clock))
    assert "截至" not in text and "超期未整改 2" in text


# ---- 5. the team patrol


async def test_a_team_patrol_calls_the_team_and_names_who_took_part(
        chat, site, db, app, clock, config, capsys):
    async with db.sessions() as s, s.begin():
        (await s.get(Member, site["张三"])).locale = "en"
    leader, zhang = chat.user("u5"), chat.user("u1")
    await leader.say("/team")
    await leader.tap("先锋队巡查")
    call = chat.notices(site["张三"])
    assert "started a team patrol" in call and call.buttons == ["Join team patrol"]
    assert chat.notices(site["李四"]).replies == []  # not in the vanguard team
    assert chat.notices(site["李队长"]).replies == []  # started it
    clock.advance(minutes=2)
    assert "张三 joined the team patrol (2 in all)" in await zhang.tap("Join team patrol", call.choices)
    clock.advance(minutes=78)
    await leader.say("/team end")

    said = await chat.user("u3").say("/week")
    assert "团队巡查：1小时20分 / 2小时 ❌\n  周一 11-23 10:00 1小时20分：李队长、张三" in said
    data = await week_json(app, capsys)
    [team] = data["team"]["patrols"]
    assert [m["name"] for m in team["members"]] == ["李队长", "张三"] and team["minutes"] == 80
    text = wr.report_text(t, await report(db, config, clock))
    assert "  周一 11-23 10:00 1小时20分：李队长、张三" in text

    clock.advance(hours=2)  # a second team patrol calls the team again
    await leader.say("/team")
    await leader.tap("联合安监巡查")
    assert "joint with safety dept." in chat.notices(site["张三"])
