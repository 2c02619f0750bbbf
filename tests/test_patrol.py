"""Personal patrols, patrols logged afterwards, forgotten patrols, team patrols and
the week's accounting, with the clock in the test's hand."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from handlers.patrol import close_forgotten
from handlers.team import close_forgotten_team
from handlers.weeks import parse_week, project_weeks, required_minutes, week_of
from storage.models import Patrol, PatrolPhoto, Project, TeamPatrol, Zone
from tests import factories as f
from tests.chatbot import Said

SH = ZoneInfo("Asia/Shanghai")
SITE_A = (31.2304, 121.4737)  # centre of 施工现场A区's geofence (200 m)


def shanghai(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


@pytest.fixture
async def site(db):
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1")
        a = await f.zone(s, p, "施工现场A区")
        a.latitude, a.longitude, a.radius_m = *SITE_A, 200
        b = await f.zone(s, p, "生活区", kind="生活区")
        other = await f.project(s, code="P2", name="别的项目")
        far = await f.zone(s, other, "别的现场")
        zhang = await f.member(s, p, "张三", roles=("member", "vanguard"), zones=[a])
        leader = await f.member(s, p, "李队长", roles=("member", "vanguard", "leader"), zones=[b])
        secretary = await f.member(s, p, "王书记", roles=("member", "secretary"))
        for m, uid in ((zhang, "u1"), (leader, "u2"), (secretary, "u3")):
            await f.bind(s, m, external_id=uid)
    return {"project": p.id, "a": a.id, "b": b.id, "far": far.id, "zhang": zhang.id,
            "leader": leader.id}


async def patrols(db) -> list[Patrol]:
    async with db.sessions() as s:
        return list((await s.execute(sa.select(Patrol).order_by(Patrol.id))).scalars())


async def start_patrol(user, zone="施工现场A区", where=SITE_A):
    said = await user.say("巡查")
    assert said.buttons[0] == "施工现场A区"  # the member's own zone first
    started = await user.tap(zone)  # the tap starts it; the location is an addition
    added = await (user.location(*where) if where else user.say("跳过"))
    return Said(started.replies + added.replies)


# ---- personal patrol


async def test_start_and_end_with_the_week_progress(chat, site, clock, db):
    zhang = chat.user("u1")
    said = await start_patrol(zhang)
    assert "巡查开始：施工现场A区，10:00" in said and "不在现场" not in said
    assert "本周 0分钟 / 2小时" in said and "结束巡查" in said.buttons

    clock.advance(minutes=45)
    said = await zhang.tap("结束巡查")
    assert "已 45分钟" in said
    said = await zhang.say("跳过")
    assert "用时 45分钟" in said and "本周 45分钟 / 2小时 ▓▓▓░░░░░░░" in said
    [p] = await patrols(db)
    assert p.ended_at - p.started_at == dt.timedelta(minutes=45) and not p.off_site


async def test_start_outside_the_geofence_is_kept_and_marked(chat, site, db):
    said = await start_patrol(chat.user("u1"), where=(31.2404, 121.4737))  # ~1.1 km north
    assert "巡查开始" in said and "不在现场" in said and "约 1112 米" in said
    assert (await patrols(db))[0].off_site


async def test_zone_without_geofence_is_not_checked(chat, site, db):
    said = await start_patrol(chat.user("u1"), zone="生活区", where=(0.0, 0.0))
    assert "巡查开始：生活区" in said and "不在现场" not in said


async def test_a_second_start_offers_to_end_the_open_one(chat, site, db):
    zhang = chat.user("u1")
    await start_patrol(zhang, where=None)
    said = await zhang.say("/patrol")
    assert "结束巡查（施工现场A区，10:00 开始" in said and "跳过" in said
    assert len(await patrols(db)) == 1


async def test_end_with_none_open(chat, site):
    said = await chat.user("u1").say("/patrol end")
    assert "没有进行中的巡查" in said and said.buttons == ["开始巡查"]


async def test_zone_of_another_project_is_refused(chat, site, db):
    zhang = chat.user("u1")
    question = (await zhang.say("巡查")).choices
    from bot.core.contract import Kind

    said = await zhang.send(Kind.choice, choice=f"z{site['far']}", token=question.token)
    assert "不属于您的项目" in said and "请选择巡查区域" in said
    assert await patrols(db) == []


async def test_photos_during_a_patrol_stay_on_it_and_start_a_report(chat, site, db):
    zhang = chat.user("u1")
    await start_patrol(zhang)
    said = await zhang.photo()
    assert "已收到 1 张照片" in said
    await zhang.say("完成")
    said = await zhang.say("取消")
    async with db.sessions() as s:
        assert len((await s.execute(sa.select(PatrolPhoto))).all()) == 1


# ---- logged afterwards


async def log_until_duration(user, day="周一 11-23", time="08:00"):
    await user.say("补记")
    await user.tap(day) if day else None
    return await user.tap(time)


async def test_log_a_patrol_afterwards(chat, site, db, clock):
    clock.now = shanghai(2026, 11, 25, 18, 0)  # Wednesday evening
    zhang = chat.user("u1")
    said = await zhang.say("补记")
    assert said.buttons[:3] == ["周一 11-23", "周二 11-24", "周三 11-25"]
    assert "周四 11-26" not in said.buttons  # not in the future
    await zhang.tap("周二 11-24")
    await zhang.say("9:30")
    await zhang.tap("1小时30分")
    await zhang.tap("施工现场A区")
    said = await zhang.say("手机没电了")
    assert "已补记：周二 11-24 09:30，施工现场A区，1小时30分" in said
    assert "本周 1小时30分 / 2小时" in said
    [p] = await patrols(db)
    assert p.logged_afterwards and p.note == "手机没电了"


@pytest.mark.parametrize("typed, answer", [("0", "5 分钟到 4小时"), ("25小时", "5 分钟到 4小时"),
                                           ("abc", "请输入分钟数")])
async def test_bad_durations(chat, site, clock, typed, answer):
    clock.now = shanghai(2026, 11, 25, 18, 0)
    zhang = chat.user("u1")
    await log_until_duration(zhang)
    said = await zhang.say(typed)
    assert answer in said and "巡查了多长时间" in said


async def test_future_and_too_old_dates_are_refused(chat, site, clock):
    clock.now = shanghai(2026, 11, 25, 18, 0)
    zhang = chat.user("u1")
    await zhang.say("补记")
    assert "不能补记将来" in await zhang.say("11-26")
    assert "只能补记本周和上周" in await zhang.say("11-15")
    said = await zhang.say("11-16")  # last week's Monday is fine
    assert "几点开始" in said


async def test_a_time_later_today_is_the_future(chat, site, clock):
    clock.now = shanghai(2026, 11, 25, 18, 0)
    zhang = chat.user("u1")
    await zhang.say("补记")
    await zhang.tap("周三 11-25")
    assert "还没到" in await zhang.say("19:00")
    await zhang.say("17:00")
    assert "结束时间在将来" in await zhang.tap("2小时")


async def test_overlap_is_refused(chat, site, clock, db):
    clock.now = shanghai(2026, 11, 25, 18, 0)
    zhang = chat.user("u1")
    await log_until_duration(zhang, time="08:00")
    await zhang.tap("2小时")
    await zhang.tap("施工现场A区")
    await zhang.tap("无")
    await log_until_duration(zhang, time="08:00")
    await zhang.say("9:00")  # not a duration: must be minutes
    said = await zhang.say("60")
    assert "重叠" in said and "几点开始" in said
    assert len(await patrols(db)) == 1


async def test_a_location_where_text_is_expected(chat, site, clock):
    clock.now = shanghai(2026, 11, 25, 18, 0)
    zhang = chat.user("u1")
    await zhang.say("补记")
    said = await zhang.location(*SITE_A)
    assert "请点击下面的按钮" in said and "哪一天" in said


# ---- forgotten patrols


async def test_forgotten_patrol_is_closed_at_the_cap_and_can_be_corrected(chat, site, clock, db, config):
    zhang = chat.user("u1")
    await start_patrol(zhang)
    clock.advance(hours=3)
    async with db.sessions() as s, s.begin():
        assert await close_forgotten(s, clock(), config) == []  # not yet
    clock.advance(hours=2)
    async with db.sessions() as s, s.begin():
        [notice] = await close_forgotten(s, clock(), config)
    [p] = await patrols(db)
    assert p.auto_closed and p.ended_at - p.started_at == dt.timedelta(minutes=240)
    assert notice.member_id == site["zhang"] and "已按 4小时 自动结束" in notice.replies[0].prompt

    fix = notice.replies[0].options[0]
    said = await zhang.tap(fix.label, choices=notice.replies[0])
    assert "实际几点结束" in said
    assert "不晚于现在" in await zhang.say("15:30")  # over the cap
    said = await zhang.say("11:15")
    assert "已更正：10:00–11:15，用时 1小时15分" in said
    [p] = await patrols(db)
    assert not p.auto_closed and p.ended_at - p.started_at == dt.timedelta(minutes=75)


# ---- the week


async def test_a_patrol_across_the_week_boundary_counts_in_both(chat, site, clock, db, config):
    clock.now = shanghai(2026, 11, 29, 23, 30)  # Sunday
    zhang = chat.user("u1")
    await start_patrol(zhang)
    clock.now = shanghai(2026, 11, 30, 0, 30)  # Monday
    await zhang.say("巡查")
    said = await zhang.say("跳过")
    assert "用时 1小时" in said and "本周 30分钟 / 2小时" in said
    async with db.sessions() as s:
        for week in ("2026-W48", "2026-W49"):
            weeks = await project_weeks(s, parse_week(week, SH), 120, 120, site["project"])
            minutes = {m.name: m.minutes for m in weeks[site["project"]].members}
            assert minutes == {"张三": 30, "李队长": 0, "王书记": 0}


def test_a_member_joining_mid_week_owes_a_share():
    week = parse_week("2026-W48", SH)
    assert required_minutes(120, shanghai(2026, 11, 20, 9, 0), week) == 120  # before the week
    assert required_minutes(120, shanghai(2026, 11, 25, 15, 0), week) == 90  # Wed: 5 of 7 days
    assert required_minutes(120, shanghai(2026, 11, 29, 8, 0), week) == 20  # Sunday
    assert required_minutes(120, shanghai(2026, 12, 1, 8, 0), week) == 0  # after it


async def test_week_totals_take_two_queries_whatever_the_size(db, site, clock):
    async with db.sessions() as s, s.begin():
        zone = await s.get(Zone, site["a"])
        project = await s.get(Project, site["project"])
        for i in range(30):
            m = await f.member(s, project, f"队员{i}", zones=[zone])
            s.add(Patrol(member_id=m.id, project_id=project.id, zone_id=zone.id,
                         started_at=clock() + dt.timedelta(hours=1),
                         ended_at=clock() + dt.timedelta(hours=1, minutes=i), created_at=clock()))
    statements = []
    sa.event.listen(db.engine.sync_engine, "before_cursor_execute",
                    lambda *args: statements.append(args[2]))
    async with db.sessions() as s:
        weeks = await project_weeks(s, week_of(clock(), SH), 120, 120)
    assert len(statements) == 2
    minutes = {m.name: m.minutes for m in weeks[site["project"]].members}
    assert minutes["队员29"] == 29 and minutes["张三"] == 0 and len(minutes) == 33


async def test_week_view_for_the_secretary_only(chat, site, clock):
    zhang = chat.user("u1")
    await start_patrol(zhang, where=(31.3, 121.4))
    clock.advance(minutes=130)
    await zhang.say("巡查")
    await zhang.say("跳过")
    assert "没有使用此功能的权限" in await zhang.say("/week")
    secretary = chat.user("u3")
    said = await secretary.say("周报")
    # Off site: counted once a safety officer accepts it ([practice] off_site_credit).
    assert "2026-W48" in said and "个人巡查：0/3 人达标" in said
    assert "❌ 张三 0分钟 （差 2小时） · 不在现场1（待认可1，未计 2小时10分）" in said
    assert "❌ 李队长 0分钟 （差 2小时）" in said
    assert "团队巡查：0分钟 / 2小时 ❌" in said
    assert "2026-W47" in await secretary.tap("上一周")


async def test_me_shows_the_week_and_the_last_four(chat, site, clock):
    zhang = chat.user("u1")
    await start_patrol(zhang)
    clock.advance(minutes=30)
    said = await zhang.say("我的")
    assert "本周 0分钟 / 2小时" in said and "进行中的巡查：10:00 开始，已 30分钟" in said
    assert "前四周" in said


# ---- team patrol


async def test_only_leader_or_secretary_starts_a_team_patrol(chat, site, db):
    said = await chat.user("u1").say("/team")
    assert "由先锋队长或党支部书记发起" in said
    async with db.sessions() as s:
        assert (await s.execute(sa.select(TeamPatrol))).first() is None


async def test_team_patrol_joined_in_the_group_and_counted_for_the_project(chat, site, clock, db):
    leader = chat.user("u2", chat_id="g1", group=True)
    zhang = chat.user("u1", chat_id="g1", group=True)
    await leader.say("/team")
    said = await leader.tap("联合安监巡查")
    assert "团队巡查开始（联合安监）" in said and "加入团队巡查" in said.buttons
    assert "张三 已加入团队巡查（共 2 人）" in await zhang.tap("加入团队巡查", choices=said.choices)
    assert "您已在团队巡查中" in await zhang.tap("加入团队巡查", choices=said.choices)
    assert "只有先锋队长或党支部书记" in await zhang.say("/team end")

    clock.advance(minutes=80)
    said = await leader.tap("结束团队巡查", choices=said.choices)
    assert "用时 1小时20分，2 人参加" in said and "本周团队巡查 1小时20分 / 2小时" in said
    async with db.sessions() as s:
        weeks = await project_weeks(s, week_of(clock(), SH), 120, 120, site["project"])
    pw = weeks[site["project"]]
    assert pw.team_minutes == 80 and all(m.minutes == 0 for m in pw.members)  # not personal time


async def test_leader_adds_members_by_name(chat, site, db):
    leader = chat.user("u2")
    await leader.say("团队巡查")
    await leader.tap("先锋队巡查")
    said = await leader.say("/team add")
    assert "✓ 李队长" in said.buttons and "张三" in said.buttons
    said = await leader.tap("张三")
    assert "✓ 张三" in said.buttons and "已加入 2 人" in said
    assert "共 2 人" in await leader.tap("完成")


async def test_forgotten_team_patrol_is_closed_at_the_cap(chat, site, clock, db, config):
    leader = chat.user("u2")
    await leader.say("/team")
    await leader.tap("先锋队巡查")
    clock.advance(hours=6)
    async with db.sessions() as s, s.begin():
        assert await close_forgotten_team(s, clock(), config) == 1
    async with db.sessions() as s:
        team = (await s.execute(sa.select(TeamPatrol))).scalar_one()
    assert team.auto_closed and team.ended_at - team.started_at == dt.timedelta(hours=4)
