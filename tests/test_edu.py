"""责任区教育 (/edu): a member records the education they gave in their own zone, by taps
or typed answers; a 谈心谈话 keeps no content and no photo; a member without a zone, or
someone else's zone, is refused. The records show in /me, the secretary's /week (and
`redshield week --json`) and the weekly report's zone lines. And the console demo's
红盾课堂: lessons, a competition with attempts and education records on an empty database."""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.core.contract import Kind
from bot.core.i18n import Translator
from handlers import weekly_report as wr
from handlers.weeks import parse_week
from storage import edu as store
from storage import lesson_records
from storage.media import MediaStore
from storage.models import (
    EduRecord,
    Lesson,
    LessonAttendance,
    LessonFile,
    Member,
    Patrol,
    Question,
    Quiz,
    QuizAttempt,
    Zone,
    member_zones,
)
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
LONG_AGO = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
t = Translator("zh_CN")
# The clock starts on Monday 2026-11-23 10:00 Shanghai (week 2026-W48).


def sh(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


@pytest.fixture
async def site(db):
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1")
        a = await f.zone(s, p, "施工现场A区")
        b = await f.zone(s, p, "工人生活区", kind="生活区")
        c = await f.zone(s, p, "项目办公区", kind="办公区")
        people = {"project": p.id, "A": a.id, "B": b.id, "C": c.id}
        for uid, name, roles, zones, crew in (
                ("u1", "张三", ("member",), [a, b], None),
                ("u2", "李四", ("member", "vanguard"), [c], None),
                ("u3", "王书记", ("member", "secretary"), [c], None),
                ("u4", "赵无区", ("member",), [], None),
                ("u5", "马强", ("worker",), [], "钢筋班"),
                ("u6", "周小兵", ("worker",), [], "架子班")):
            m = await f.member(s, p, name, roles=roles, zones=zones, joined_at=LONG_AGO, crew=crew)
            await f.bind(s, m, external_id=uid)
            people[name] = m.id
        other = await f.project(s, code="P2", name="别的项目")
        people["elsewhere"] = (await f.zone(s, other, "别处A区")).id
    return people


async def records(db) -> list[EduRecord]:
    async with db.sessions() as s:
        return list((await s.execute(sa.select(EduRecord).order_by(EduRecord.id))).scalars())


# ---- recording


async def test_a_record_by_taps_with_a_photo(chat, site, db, config):
    zhang = chat.user("u1")
    said = await zhang.say("/edu")
    assert said.buttons == ["晨会", "班前讲话", "专题培训", "谈心谈话", "取消"]
    said = await zhang.tap("晨会")
    assert "哪个责任区" in said
    assert said.buttons == ["施工现场A区", "工人生活区", "取消"]  # his own zones only
    said = await zhang.tap("施工现场A区")
    assert "教育主题" in said and "（发送“取消”退出）" in said
    assert "至少 2 个字" in await zhang.say("雪")
    assert "最多 100 字" in await zhang.say("防" * 101)
    said = await zhang.say("冬季防滑")
    assert "面向哪个班组" in said
    assert said.buttons == ["架子班", "钢筋班", "不限班组", "取消"]
    said = await zhang.tap("钢筋班")
    assert "参加人数" in said and said.buttons == ["5", "10", "20", "50", "取消"]
    for typed in ("0", "501", "好多人"):
        assert "人数" in await zhang.say(typed)
    said = await zhang.tap("10")
    assert "是哪天" in said and said.buttons == ["今天", "昨天", "取消"]
    said = await zhang.tap("今天")
    assert "现场照片" in said
    assert "请发送一张照片" in await zhang.say("好的")
    said = await zhang.photo()
    assert said.text == "✅ 已记录：11-23 晨会 · 施工现场A区 · 钢筋班 · 10 人 · 主题：冬季防滑 · 附照片"

    [record] = await records(db)
    assert (record.project_id, record.zone_id, record.member_id, record.kind, record.topic,
            record.crew, record.headcount, record.day) == (
        site["project"], site["A"], site["张三"], "晨会", "冬季防滑", "钢筋班", 10,
        dt.date(2026, 11, 23))
    assert await MediaStore(config.media.dir).read(record.photo)
    assert "没看懂" in await zhang.say("晨会")  # the flow is over


async def test_a_record_by_typed_answers_and_no_photo(chat, site, db):
    li = chat.user("u2")  # one zone: not asked which
    await li.say("教育")
    said = await li.say("班前讲话")
    assert "教育主题" in said and "哪个责任区" not in said
    await li.say("  高处作业   系挂安全带 ")
    # A 班组 the directory does not know, or a sentence, is refused; part of a known one is it.
    assert "没有这个班组" in await li.say("新来的 电工组")
    assert "没有这个班组" in await li.say("谈心谈话：与钢筋工老王谈家里困难")
    said = await li.say("钢筋")
    assert "参加人数" in said
    await li.say("十二人")
    assert "不能晚于今天" in await li.say("明天")
    assert "14 天内" in await li.say("11-08")
    assert "没看懂这个日期" in await li.say("上上上周")
    said = await li.say("11-20")  # typed, looking back
    assert "现场照片" in said
    said = await li.say("不拍照，直接保存")
    assert said.text == ("✅ 已记录：11-20 班前讲话 · 项目办公区 · 钢筋班 · 12 人 · "
                         "主题：高处作业 系挂安全带")
    [record] = await records(db)
    assert (record.zone_id, record.crew, record.headcount, record.day, record.photo) == (
        site["C"], "钢筋班", 12, dt.date(2026, 11, 20), None)


async def test_a_known_crew_typed_and_any_crew(chat, site, db):
    zhang = chat.user("u1")
    await zhang.say("/edu")
    await zhang.tap("专题培训")
    assert "教育主题" in await zhang.say("工人生活区")  # a zone typed by its name
    await zhang.say("宿舍用电安全")
    await zhang.say("钢筋 班")  # the known 班组, with a space
    await zhang.say("35")
    await zhang.tap("昨天")
    await zhang.say("跳过")
    await zhang.say("/edu")
    await zhang.tap("专题培训")
    await zhang.say("1")  # the first button: 施工现场A区
    await zhang.say("临边防护")
    said = await zhang.say("3")  # the third button, as WeCom's numbered text is answered
    assert "参加人数" in said
    await zhang.say("20")
    await zhang.tap("今天")
    said = await zhang.say("跳过")
    assert said.text == "✅ 已记录：11-23 专题培训 · 施工现场A区 · 20 人 · 主题：临边防护"
    first, second = await records(db)
    assert (first.zone_id, first.crew, first.day) == (site["B"], "钢筋班", dt.date(2026, 11, 22))
    assert (second.zone_id, second.crew) == (site["A"], None)


async def test_a_talk_asks_no_photo_and_keeps_no_content(chat, site, db):
    zhang = chat.user("u1")
    await zhang.say("/edu")
    await zhang.tap("谈心谈话")
    said = await zhang.tap("工人生活区")
    assert "谈话主题" in said and "只写主题，不写谈话内容" in said
    said = await zhang.say("节后返岗安全提醒")
    assert "和哪个班组谈的" in said
    said = await zhang.tap("架子班")
    assert "谈话人数" in said and said.buttons == ["1", "2", "3", "5", "取消"]
    said = await zhang.photo()  # nothing of a talk is photographed
    assert "这一步不需要照片，照片没有保存" in said
    await zhang.tap("2")
    said = await zhang.tap("今天")
    assert said.text == "✅ 已记录：11-23 谈心谈话 · 工人生活区 · 架子班 · 2 人 · 主题：节后返岗安全提醒"
    assert "照片" not in said.text
    [record] = await records(db)
    assert (record.kind, record.topic, record.crew, record.headcount, record.photo) == (
        "谈心谈话", "节后返岗安全提醒", "架子班", 2, None)
    # Nowhere to keep what was said: the table has who, where, when, topic, crew and count.
    assert {c.name for c in EduRecord.__table__.columns} == {
        "id", "project_id", "zone_id", "member_id", "kind", "topic", "crew", "headcount",
        "photo", "day", "recorded_at"}


async def test_a_member_without_a_zone_is_told_whom_to_ask(chat, site, db):
    nobody = chat.user("u4")
    said = await nobody.say("/edu")
    assert "还没有分配责任区" in said and "党支部书记" in said and not said.buttons
    assert "没看懂" in await nobody.say("晨会")  # no question was opened
    assert "没有使用此功能的权限" in await chat.user("u5").say("/edu")  # a worker
    assert await records(db) == []


async def test_not_someone_elses_zone(chat, site, db):
    zhang = chat.user("u1")
    await zhang.say("/edu")
    await zhang.tap("晨会")
    asked = zhang.last.choices
    for forged in (f"z{site['C']}", f"z{site['elsewhere']}", "z99999", "zz"):
        said = await zhang.send(Kind.choice, choice=forged, token=asked.token)
        assert "只能记录您自己责任区的教育" in said
    assert "只能记录您自己责任区的教育" in await zhang.say("项目办公区")  # 李四's
    assert "只能记录您自己责任区的教育" in await zhang.say("别处A区")  # another project's
    assert "只能记录您自己责任区的教育" in await zhang.say("区")  # both of his: which?
    await zhang.tap("施工现场A区", asked)
    await zhang.say("冬季防滑")
    await zhang.tap("钢筋班")
    await zhang.say("12")
    await zhang.tap("今天")
    async with db.sessions() as s, s.begin():  # the directory moves the zone meanwhile
        await s.execute(sa.delete(member_zones).where(member_zones.c.member_id == site["张三"],
                                                      member_zones.c.zone_id == site["A"]))
    said = await zhang.say("跳过")
    assert "已不由您负责，没有保存" in said
    assert await records(db) == []


# ---- where the records show


def record(site, who: str, zone: str, day: dt.date, kind="晨会", topic="冬季防滑") -> EduRecord:
    return EduRecord(project_id=site["project"], zone_id=site[zone], member_id=site[who], kind=kind,
                     topic=topic, crew="钢筋班", headcount=10, day=day,
                     recorded_at=dt.datetime(2026, 11, 23, tzinfo=dt.UTC))


async def test_me_counts_this_months_education(chat, site, db):
    zhang, li = chat.user("u1"), chat.user("u2")
    assert "责任区教育" not in await zhang.say("/me")  # none yet: no line
    async with db.sessions() as s, s.begin():
        s.add_all([record(site, "张三", "A", dt.date(2026, 11, 1)),
                   record(site, "张三", "B", dt.date(2026, 11, 20), kind="谈心谈话"),
                   record(site, "张三", "A", dt.date(2026, 10, 31)),  # last month
                   record(site, "李四", "C", dt.date(2026, 11, 2))])
    assert "本月责任区教育 2 次" in await zhang.say("/me")
    assert "本月责任区教育 1 次" in await li.say("/me")
    assert "责任区教育" not in await chat.user("u5").say("/me")  # a worker


async def test_the_secretarys_week_lists_who_educated(chat, site, db, app, capsys):
    secretary = chat.user("u3")
    assert "责任区教育" not in await secretary.say("/week")
    async with db.sessions() as s, s.begin():
        s.add_all([record(site, "张三", "A", dt.date(2026, 11, 23)),
                   record(site, "张三", "B", dt.date(2026, 11, 29)),  # the week's Sunday
                   record(site, "李四", "C", dt.date(2026, 11, 24)),
                   record(site, "李四", "C", dt.date(2026, 11, 22)),  # the week before
                   record(site, "张三", "A", dt.date(2026, 11, 30))])  # the week after
    lines = (await secretary.say("/week")).text.splitlines()
    at = lines.index("责任区教育：")
    assert lines[at + 1:at + 3] == ["  张三 教育 2 次", "  李四 教育 1 次"]
    said = await secretary.say("/week 2026-W47")
    assert "  李四 教育 1 次" in said and "张三 教育" not in said

    capsys.readouterr()
    args = argparse.Namespace(project="P1", week="2026-W48", json=True)
    assert await app.registry.cli_commands["week"].run(app, args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["education"] == [
        {"member_id": site["张三"], "name": "张三", "records": 2},
        {"member_id": site["李四"], "name": "李四", "records": 1}]


def patrol(site, who: str, zone: str | None, start: dt.datetime) -> Patrol:
    return Patrol(member_id=site[who], project_id=site["project"],
                  zone_id=site[zone] if zone else None, started_at=start,
                  ended_at=start + dt.timedelta(hours=2), created_at=start)


@pytest.fixture
async def month(db, site):
    """Patrols and education in and around November, for the zones' month lines."""
    async with db.sessions() as s, s.begin():
        s.add_all([
            patrol(site, "张三", "A", sh(2026, 11, 1, 0, 0)),  # the month's first instant
            patrol(site, "张三", "A", sh(2026, 11, 17, 9, 0)),
            patrol(site, "李四", "C", sh(2026, 11, 22, 23, 0)),  # the week's last hour
            patrol(site, "张三", "A", sh(2026, 10, 31, 23, 59)),  # October
            patrol(site, "张三", "A", sh(2026, 11, 23, 8, 0)),  # the next week
            patrol(site, "张三", None, sh(2026, 11, 18, 9, 0)),  # no zone: in no zone's line
            record(site, "张三", "A", dt.date(2026, 11, 1)),
            record(site, "张三", "A", dt.date(2026, 11, 22), kind="谈心谈话"),
            record(site, "李四", "C", dt.date(2026, 11, 5)),
            record(site, "张三", "A", dt.date(2026, 10, 31)),  # October
            record(site, "张三", "A", dt.date(2026, 11, 23)),  # the next week
        ])


async def test_the_weekly_report_has_each_zones_month(db, config, site, month):
    async with db.sessions() as s:
        [report] = await wr.project_reports(s, config, parse_week("2026-W47", SH), site["project"],
                                            zones=True)
        plain = await wr.project_reports(s, config, parse_week("2026-W47", SH), site["project"])
    lines = wr.report_text(t, report).splitlines()
    assert lines[-4:] == ["责任区（11-01–11-22）：",
                          "  施工现场A区：巡查 2 次 · 教育 2 次",
                          "  工人生活区：巡查 0 次 · 教育 0 次",
                          "  项目办公区：巡查 1 次 · 教育 1 次"]
    assert "责任区（" not in wr.report_text(t, plain[0])  # not asked for

    async with db.sessions() as s:
        counts = await store.zone_kind_counts(s, site["project"], dt.date(2026, 11, 1),
                                              dt.date(2026, 12, 1))
    assert counts == {(site["A"], "晨会"): 2, (site["A"], "谈心谈话"): 1, (site["C"], "晨会"): 1}


async def test_a_mid_week_report_counts_the_month_up_to_now(db, config, site, month, clock):
    async with db.sessions() as s:
        [report] = await wr.project_reports(s, config, parse_week("2026-W48", SH), site["project"],
                                            now=clock(), zones=True)
    text = wr.report_text(t, report)
    assert "责任区（11-01–11-23）：" in text
    assert "  施工现场A区：巡查 3 次 · 教育 3 次" in text


async def test_monday_s_report_to_the_secretary_has_the_zone_lines(db, config, site, month, clock):
    async with db.sessions() as s:
        notices = await wr.weekly_report_notices(s, clock(), config)
    [to_secretary] = [n for n in notices if n.member_id == site["王书记"]]
    text = to_secretary.replies[0].text
    assert "2026-W47" in text and "  施工现场A区：巡查 2 次 · 教育 2 次" in text


async def test_the_zone_lines_take_one_query_whatever_the_projects(db, config, site, month):
    async def queries(**kw) -> int:
        statements = []

        def count(*args):
            statements.append(args[2])

        sa.event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        try:
            async with db.sessions() as s:
                await wr.project_reports(s, config, parse_week("2026-W47", SH), **kw)
        finally:
            sa.event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        return len(statements)

    plain, with_zones = await queries(), await queries(zones=True)
    async with db.sessions() as s, s.begin():
        for i in range(4):
            p = await f.project(s, code=f"X{i}", name=f"项目{i}")
            await f.zone(s, p, f"区域{i}")
    assert with_zones == plain + 1 == await queries(zones=True)


async def test_storage_lists_by_member_and_project(db, site):
    async with db.sessions() as s, s.begin():
        s.add_all([record(site, "张三", "A", dt.date(2026, 11, 1), topic="第一次"),
                   record(site, "张三", "B", dt.date(2026, 11, 20), topic="第二次"),
                   record(site, "李四", "C", dt.date(2026, 11, 10), topic="李四的"),
                   record(site, "张三", "A", dt.date(2026, 12, 1), topic="下个月"),
                   record(site, "周小兵", "C", dt.date(2026, 10, 15), topic="十月"),
                   record(site, "李四", "C", dt.date(2026, 10, 16), topic="十月")])
    async with db.sessions() as s:
        counts = await store.member_counts(s, site["project"], dt.date(2026, 11, 1), dt.date(2026, 12, 1))
        assert [(c.name, c.records) for c in counts] == [("张三", 2), ("李四", 1)]
        # A tie goes by member id, the same on every database (by name 周 would come first
        # here, and names sort by each database's collation).
        assert site["李四"] < site["周小兵"]
        counts = await store.member_counts(s, site["project"], dt.date(2026, 10, 1), dt.date(2026, 11, 1))
        assert [(c.name, c.records) for c in counts] == [("李四", 1), ("周小兵", 1)]
        mine = await store.member_records(s, site["张三"], dt.date(2026, 11, 1), dt.date(2026, 12, 1))
        assert [r.topic for r in mine] == ["第二次", "第一次"]  # newest first
        assert await store.member_count(s, site["张三"], dt.date(2026, 11, 2),
                                        dt.date(2026, 12, 2)) == 2
        rows = await store.project_records(s, site["project"], dt.date(2026, 11, 1),
                                           dt.date(2026, 12, 1))
        assert [(r.record.topic, r.member, r.zone) for r in rows] == [
            ("第一次", "张三", "施工现场A区"), ("李四的", "李四", "项目办公区"),
            ("第二次", "张三", "工人生活区")]
        await s.execute(sa.delete(Zone).where(Zone.id == site["B"]))  # a zone removed
        rows = await store.project_records(s, site["project"], dt.date(2026, 11, 20),
                                           dt.date(2026, 11, 21))
        assert [(r.record.topic, r.zone) for r in rows] == [("第二次", None)]


# ---- the console demo


async def test_the_demo_has_lessons_a_competition_and_education(app, db, config, clock, tmp_path):
    from bot.adapters.console import ConsoleChat
    from bot.demo import console_user_id, load_demo

    clock.now = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)  # Wednesday 10:00 Shanghai
    assert (await load_demo(app)).created
    async with db.sessions() as s:
        members = {m.id: m for m in (await s.execute(
            sa.select(Member).options(sa.orm.selectinload(Member.zones)))).scalars()}
        lessons = list((await s.execute(sa.select(Lesson).order_by(Lesson.starts_at))).scalars())
        attended = list((await s.execute(sa.select(LessonAttendance))).scalars())
        files = list((await s.execute(sa.select(LessonFile))).scalars())
        [quiz] = (await s.execute(sa.select(Quiz))).scalars()
        attempts = list((await s.execute(sa.select(QuizAttempt))).scalars())
        bank = {q.id: q for q in (await s.execute(sa.select(Question))).scalars()}
        educated = list((await s.execute(sa.select(EduRecord))).scalars())
        # As the record's rule counts it: the completed ones are complete by it too.
        states = [await lesson_records.record_state(s, lesson.id) for lesson in lessons]
    by_name = {m.name: m for m in members.values()}

    past = [lesson for lesson in lessons if lesson.ends_at <= clock.now]
    coming = [lesson for lesson in lessons if lesson.starts_at > clock.now]
    assert [(lesson.form, lesson.title, members[lesson.organiser_id].name) for lesson in past] == [
        ("党课", "冬季施工安全", "王红梅"), ("安全培训", "临时用电三级配电", "李建国"),
        ("小品", "安全帽的故事", "张伟")]
    assert all(clock.now - lesson.starts_at <= dt.timedelta(weeks=5) for lesson in past)
    assert len(coming) == 1 and coming[0].starts_at - clock.now < dt.timedelta(days=14)
    assert [bool(lesson.completed_at) for lesson in past] == [True, True, False]
    assert [state.complete for state in states[:len(past)]] == [True, True, False]
    assert all(lesson.headcount for lesson in past) and past[-1].summary is None
    for lesson in past:
        came = [a for a in attended if a.lesson_id == lesson.id]
        assert len(came) >= 3
        assert "陈静" not in {members[a.member_id].name for a in came}  # no account to check in with
    assert {f.kind for f in files} == {"photo", "signin", "link"}
    for kept in files:  # real pictures, so the record's photos open
        if kept.kind == "link":
            assert kept.url.startswith("https://pan.example.com/") and kept.title
            continue
        assert (await MediaStore(config.media.dir).read(kept.media_name))[:2] == b"\xff\xd8"

    assert quiz.title == "12月安全知识竞赛"
    assert (quiz.opens_on, quiz.closes_on) == (dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert len(bank) >= 10 and quiz.question_count == 10  # the bank of questions_demo.toml
    assert len(attempts) >= 4 and all(a.finished_at and a.finished_at <= clock.now
                                       for a in attempts)
    names = {members[a.member_id].name for a in attempts}
    assert {"马强", "周小兵"} <= names and "王红梅" not in names  # the demo user tries it
    for a in attempts:
        assert len(a.question_ids) == len(a.answers) == 10
        assert a.score == sum(bank[q].answer == answer
                              for q, answer in zip(a.question_ids, a.answers))
    assert len({a.score for a in attempts}) > 1

    assert 10 <= len(educated) <= 14
    for e in educated:  # each by a member who owns the zone, within the last month
        assert e.zone_id in {z.id for z in members[e.member_id].zones}
        assert dt.date(2026, 11, 1) <= e.day <= dt.date(2026, 12, 2)
        assert e.photo is None
    assert len({e.zone_id for e in educated}) == 3 and "谈心谈话" in {e.kind for e in educated}

    out = io.StringIO()
    chat = ConsoleChat(app.engine, console_user_id(by_name["王红梅"]), out=out,
                       files_dir=tmp_path / "files")
    for line in ("/me", "/week", "/edu", "取消"):
        await chat.send(line)
    shown = out.getvalue()
    assert "本月责任区教育 1 次" in shown
    assert "责任区教育：" in shown and "王红梅 教育 1 次" in shown
    assert "记录哪种责任区教育" in shown


async def test_the_demo_without_its_question_file_has_a_competition_untried(
        app, db, config, clock, monkeypatch, tmp_path):
    from bot.demo import load_demo
    from handlers.lessons import demo

    monkeypatch.setattr(demo, "QUESTIONS_FILE", tmp_path / "missing.toml")
    assert (await load_demo(app)).created
    async with db.sessions() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(Question))).scalar_one() == 0
        [quiz] = (await s.execute(sa.select(Quiz))).scalars()
        assert (await s.execute(sa.select(QuizAttempt))).first() is None
        assert (await s.execute(sa.select(sa.func.count()).select_from(Lesson))).scalar_one() == 4
    assert quiz.title == "11月安全知识竞赛"  # the clock's month
