"""/stars (行为安全之星排行), `redshield stars`, and the console demo's month of stars: what
counts (withdrawn entries do not, deductions subtract), who reads whose name (RULINGS 11),
the operator's month in text and JSON."""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
from collections import Counter

import pytest
import sqlalchemy as sa

from bot.bootstrap import bootstrap, load_plugins
from bot.core.registry import CliError, Registry
from handlers.stars.views import month_span, parse_month
from storage import stars as ledger
from storage.models import (
    Member,
    StarActivity,
    StarAward,
    StarEntry,
    StarReward,
)
from tests import factories as f

SH = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no DST: a fixed offset will do


def at(month: int, day: int, hour: int = 10) -> dt.datetime:
    """A moment of 2026 on the site's clock (the tests' clock is Mon 2026-11-23 10:00)."""
    return dt.datetime(2026, month, day, hour, tzinfo=SH)


@pytest.fixture
async def site(db) -> dict[str, int]:
    """Project P1 this November (points after withdrawals and deductions):
      何立新 (电工班) 3+3 = 6 · 周小兵 (架子班) 3 + event 5 − deduction 3 = 5
      马强 (钢筋班) 2+2 = 4, and a 3 withdrawn (7 if it counted) · 吴海 (架子班) 2 − 5 = −3
    and in October 马强 10 more (the year: 马强 14). Another project's worker has 50.
    Bound: u1 secretary, u2 union, u3 safety officer, u4 plain member, u5 马强 (a worker),
    u6 committee."""
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1", name="江湾项目")
        ids = {}
        for key, name, roles, uid in (
                ("secretary", "王书记", ("member", "secretary"), "u1"),
                ("union", "孙工会", ("union",), "u2"),
                ("officer", "李安监", ("member", "safety_officer"), "u3"),
                ("member", "张三", ("member",), "u4"),
                ("committee", "党委刘", ("committee",), "u6")):
            m = await f.member(s, p, name, roles=roles)
            await f.bind(s, m, external_id=uid)
            ids[key] = m.id
        for key, name, crew, trade in (("ma", "马强", "钢筋班", "钢筋工"),
                                       ("zhou", "周小兵", "架子班", "架子工"),
                                       ("he", "何立新", "电工班", "电工"),
                                       ("wu", "吴海", "架子班", "架子工")):
            ids[key] = (await f.member(s, p, name, roles=("worker",), crew=crew, trade=trade)).id
        await f.bind(s, await s.get(Member, ids["ma"]), external_id="u5")

        def star(worker, points, reason, when, by="member", **extra):
            return ledger.add(s, project_id=p.id, worker_id=ids[worker], points=points,
                              source=extra.pop("source", "star"), reason=reason,
                              given_by_id=ids[by] if by else None, at=when, **extra)

        await star("ma", 10, "制止违章", at(10, 15), by="secretary")  # last month
        await star("ma", 2, "文明施工", at(11, 18))
        await star("ma", 2, "正确佩戴安全帽/系挂安全带", at(11, 19))
        wrong = await star("ma", 3, "主动报告隐患", at(11, 20))
        await star("ma", -3, "主动报告隐患", at(11, 20, 11), source="withdrawal",
                   withdraws_id=wrong.id, note="点错了人")
        await star("zhou", 3, "制止违章", at(11, 20), by="secretary")
        await star("zhou", 5, "violation_confirmed", at(11, 21), by=None, source="event",
                   ref="violation:1")
        await star("zhou", -3, "未戴安全帽", at(11, 22), by="officer", source="deduction",
                   note="3号楼未戴安全帽")
        await star("he", 3, "制止违章", at(11, 20), by="secretary")
        await star("he", 3, "主动报告隐患", at(11, 21), by="secretary")
        await star("wu", 2, "文明施工", at(11, 20), by="secretary")
        await star("wu", -5, "未系安全带", at(11, 21), by="officer", source="deduction",
                   note="临边作业未系安全带")
        s.add(StarActivity(project_id=p.id, kind="为工友送安全", day=dt.date(2026, 11, 12),
                           place="工人生活区", headcount=30, recorded_by_id=ids["union"],
                           recorded_at=at(11, 12, 18)))
        s.add(StarReward(project_id=p.id, report_id=None, points=5, reason="violation_confirmed",
                         credited_at=at(11, 10), claimed_at=at(11, 16)))
        other = await f.project(s, code="P2", name="别的项目")
        stranger = await f.member(s, other, "外人", roles=("worker",), crew="钢筋班")
        s.add(StarEntry(project_id=other.id, worker_id=stranger.id, points=50, source="star",
                        reason="制止违章", at=at(11, 20)))
        ids["project"] = p.id
    return ids


def section(said, title: str) -> list[str]:
    """The lines under one 【…】 heading of /stars."""
    lines, out, inside = said.text.splitlines(), [], False
    for line in lines:
        if line.startswith("【"):
            inside = title in line
            continue
        if inside:
            if not line[:1].isdigit():
                break
            out.append(line)
    return out


# ---- /stars


async def test_ranking_counts_what_stands_for_the_secretary(chat, site):
    said = await chat.user("u1").say("/stars")
    assert "⭐ 行为安全之星 · 江湾项目" in said
    # Withdrawn stars and withdrawals out, deductions subtracted, another project not here.
    assert section(said, "11月排行") == ["1. 何立新（电工班）6 分", "2. 周小兵（架子班）5 分",
                                        "3. 马强（钢筋班）4 分"]
    assert section(said, "11月班组") == ["1. 电工班 6 分", "2. 钢筋班 4 分", "3. 架子班 2 分"]
    assert section(said, "2026年") == ["1. 马强（钢筋班）14 分", "2. 何立新（电工班）6 分",
                                      "3. 周小兵（架子班）5 分"]
    ranked = section(said, "11月排行") + section(said, "2026年")
    assert "外人" not in said and not any("吴海" in line for line in ranked)  # −3: not ranked
    assert "群星闪耀活动：本月 1 次，30 人次参加" in said
    assert "匿名举报奖励：本月记入 1 个，领取 1 个" in said
    assert "【我的点赞】本月 4 次" in said and "撤回" not in said  # gave 4, none withdrawn
    assert said.buttons == ["为工友点赞"]  # no proposal open: nothing to confirm


@pytest.mark.parametrize("uid", ["u2", "u3", "u6"])
async def test_union_officer_and_committee_read_every_name(chat, site, uid):
    said = await chat.user(uid).say("行为安全之星")
    assert section(said, "11月排行")[0] == "1. 何立新（电工班）6 分"
    assert "工友（未公开）" not in said


async def test_a_plain_member_reads_no_name_without_consent_but_their_own_stars(chat, site):
    said = await chat.user("u4").say("积分")
    assert section(said, "11月排行") == ["1. 工友（未公开）6 分",
                                        "2. 工友（未公开）5 分",
                                        "3. 工友（未公开）4 分"]
    assert "何立新" not in said and "周小兵" not in said
    assert "1. 电工班 6 分" in said  # 班组 are named to everyone
    assert "匿名举报奖励" not in said  # claims counted only for the union and secretary
    # 我的点赞: every star they gave this month, newest first, the withdrawn one marked.
    mine = said.text.split("【我的点赞】")[1].splitlines()
    assert all(re.match(r"#\d+ ", line) for line in mine[1:4])  # the number /star undo takes
    mine = [re.sub(r"^#\d+ ", "", line) for line in mine]
    assert mine[0] == "本月 3 次（撤回 1 次）"
    assert mine[1:4] == ["11-20 马强 主动报告隐患 +3（已撤回）", "11-19 马强 正确佩戴安全帽/系挂安全带 +2",
                         "11-18 马强 文明施工 +2"]
    assert "我的积分" not in said  # not a worker


async def test_a_public_star_shows_that_name_only(chat, site, db):
    async with db.sessions() as s, s.begin():
        s.add(StarAward(project_id=site["project"], month=dt.date(2026, 10, 1),
                        worker_id=site["he"], rank=1, points=6, status="confirmed", public=True,
                        created_at=at(11, 1)))
        s.add(StarAward(project_id=site["project"], month=dt.date(2026, 10, 1),
                        worker_id=site["zhou"], rank=2, points=5, status="confirmed",
                        public=None, created_at=at(11, 1)))
    said = await chat.user("u4").say("/stars")
    assert section(said, "11月排行")[:2] == ["1. 何立新（电工班）6 分", "2. 工友（未公开）5 分"]


async def test_a_worker_reads_their_own_name_and_points(chat, site):
    said = await chat.user("u5").say("/stars")
    assert section(said, "11月排行") == ["1. 工友（未公开）6 分",
                                        "2. 工友（未公开）5 分", "3. 马强（钢筋班）4 分"]
    assert "我的积分：本月 4 分，本年 14 分" in said
    assert "我的点赞" not in said  # a worker gives no stars
    assert said.buttons == []  # and has nothing to tap


async def test_in_a_group_the_secretary_shows_only_what_anyone_may_see(chat, site):
    said = await chat.user("u1", chat_id="g1", group=True).say("/stars")
    assert section(said, "11月排行")[0] == "1. 工友（未公开）6 分"
    assert "我的点赞" not in said and said.buttons == []


async def test_an_open_proposal_offers_the_organisers_a_button(chat, site, db):
    async with db.sessions() as s, s.begin():
        s.add(StarAward(project_id=site["project"], month=dt.date(2026, 10, 1),
                        worker_id=site["ma"], rank=1, points=10, status="proposed",
                        created_at=at(11, 1)))
    assert (await chat.user("u2").say("/stars")).buttons == ["为工友点赞", "确认本月之星"]
    assert (await chat.user("u1").say("/stars")).buttons == ["为工友点赞", "确认本月之星"]
    assert (await chat.user("u3").say("/stars")).buttons == ["为工友点赞"]  # not an organiser


async def test_an_empty_month_says_so(chat, db):
    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        await f.bind(s, await f.member(s, p, "张三"), external_id="u1")
    said = await chat.user("u1").say("/stars")
    assert "本月还没有积分。" in said and "班组】" not in said and "前5名" not in said
    assert "【我的点赞】本月 0 次" in said


# ---- redshield stars


async def run_stars(config, db, clock, capsys, *argv) -> str:
    """`redshield stars ARGS` as the CLI runs it: the registered command, a wired App."""
    registry = load_plugins(Registry(), config.bot.plugins)
    command = registry.cli_commands["stars"]
    parser = argparse.ArgumentParser()
    command.arguments(parser)
    args = parser.parse_args(list(argv))
    app = bootstrap(config, clock, db=db.engine, registry=registry, targets=[])
    capsys.readouterr()
    try:
        assert await command.run(app, args) == 0
    finally:
        await app.close()
    return capsys.readouterr().out


async def test_cli_shows_the_month_with_full_names(config, db, clock, site, capsys):
    out = await run_stars(config, db, clock, capsys, "--project", "P1", "--month", "2026-11")
    lines = out.splitlines()
    assert lines[0] == "江湾项目（P1）· 2026-11 行为安全之星"
    assert lines[1:6] == ["工友（4 人）：", "  1. 何立新  电工班  电工  6 分  2 条",
                          "  2. 周小兵  架子班  架子工  5 分  3 条",
                          "  3. 马强  钢筋班  钢筋工  4 分  2 条",
                          "  4. 吴海  架子班  架子工  -3 分  2 条"]
    assert "  架子班  2 分  5 条" in lines
    assert "匿名举报奖励：记入 1 个（5 分），领取 1 个" in lines
    assert "  2026-11-12  为工友送安全  工人生活区  30 人  照片 0 张" in lines
    assert lines[-1] == ("积分账目：点赞 +18（7 条），事件 +5（1 条），扣分 -8（2 条），"
                         "撤回 -3（1 条）；合计 12")
    assert "外人" not in out


async def test_cli_json_and_a_month_s_stars(config, db, clock, site, capsys):
    async with db.sessions() as s, s.begin():
        s.add(StarAward(project_id=site["project"], month=dt.date(2026, 10, 1),
                        worker_id=site["ma"], rank=1, points=10, status="confirmed", public=True,
                        decided_at=at(11, 1, 9), announced_at=at(11, 1, 11), created_at=at(11, 1, 9)))
    data = json.loads(await run_stars(config, db, clock, capsys, "--project", "P1", "--month", "2026-10",
                                      "--json"))
    assert data["month"] == "2026-10" and data["project"] == "P1"
    assert data["workers"] == [{"id": site["ma"], "name": "马强", "crew": "钢筋班",
                                "trade": "钢筋工", "active": True, "points": 10, "entries": 1}]
    assert data["awards"] == [{"worker_id": site["ma"], "worker": "马强", "crew": "钢筋班",
                               "rank": 1, "points": 10, "status": "confirmed", "public": True,
                               "decided": "2026-11-01T09:00+08:00",
                               "announced": "2026-11-01T11:00+08:00"}]
    assert data["ledger"]["star"] == {"points": 10, "entries": 1}
    assert data["ledger"]["deduction"] == {"points": 0, "entries": 0}
    assert data["activities"] == [] and data["rewards"]["credited"] == 0

    november = json.loads(await run_stars(config, db, clock, capsys, "--project", "P1", "--json"))
    assert november["month"] == "2026-11"  # this month on the site's clock by default
    assert [(c["crew"], c["points"]) for c in november["crews"]] == [
        ("电工班", 6), ("钢筋班", 4), ("架子班", 2)]
    assert november["total"] == 12 and november["rewards"]["claimed"] == 1
    assert november["ledger"]["withdrawal"] == {"points": -3, "entries": 1}


@pytest.mark.parametrize("month", ["2026-13", "abc", "2026-00", "26-11", "2026-11-01"])
async def test_cli_refuses_a_bad_month(config, db, clock, site, capsys, month):
    with pytest.raises(CliError, match="such as 2026-12"):
        await run_stars(config, db, clock, capsys, "--project", "P1", "--month", month)


async def test_cli_unknown_project(config, db, clock, site, capsys):
    with pytest.raises(CliError, match="no project 'NOPE'"):
        await run_stars(config, db, clock, capsys, "--project", "NOPE")


def test_parse_month_and_local_months():
    assert parse_month("2026-3") == dt.date(2026, 3, 1)
    start, end = month_span(SH, dt.date(2026, 12, 1))
    assert start == dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 12, 31, 16, tzinfo=dt.UTC)


# ---- the console demo


async def test_the_demo_has_a_month_of_stars(app, db, config, clock, tmp_path):
    from bot.adapters.console import ConsoleChat
    from bot.demo import console_user_id, load_demo

    assert (await load_demo(app)).created
    october = month_span(config.tz, dt.date(2026, 10, 1))
    async with db.sessions() as s:
        project_id = (await s.execute(sa.text("SELECT id FROM projects WHERE code = 'DEMO-01'"))
                      ).scalar_one()
        ranking = await ledger.ranking(s, project_id, *october)
        awards = list((await s.execute(sa.select(StarAward).order_by(StarAward.rank))).scalars())
        entries = list((await s.execute(sa.select(StarEntry))).scalars())
        rewards = list((await s.execute(sa.select(StarReward))).scalars())
        activities = list((await s.execute(sa.select(StarActivity))).scalars())
        secretary = (await s.execute(sa.select(Member).where(Member.name == "王红梅"))).scalar_one()

    assert len(ranking) >= config.stars.top
    assert len(awards) == config.stars.top == 3
    assert [a.worker_id for a in awards] == [r.worker_id for r in ranking[:3]]
    assert all(a.month == dt.date(2026, 10, 1) and a.status == "confirmed" and a.announced_at
               for a in awards)
    assert [a.public for a in awards] == [True, None, None]
    sources = Counter(e.source for e in entries)
    assert 55 <= sources["star"] <= 60
    assert (sources["event"], sources["deduction"], sources["withdrawal"]) == (1, 1, 1)
    stars = [e for e in entries if e.source == "star"]
    assert all(e.at < clock.now for e in entries)
    local = [e.at.astimezone(config.tz) for e in stars]
    assert all(8 <= t.hour < 18 and t.weekday() < 6 for t in local)  # working hours
    assert min(local).date() >= dt.date(2026, 10, 1)
    assert any(t.month == 11 for t in local) and any(t.month == 10 for t in local)
    given = Counter((e.given_by_id, e.worker_id, e.reason, t.date()) for e, t in zip(stars, local))
    assert max(given.values()) <= config.stars.per_worker_per_day
    assert len(rewards) == 1 and rewards[0].claimed_at is not None
    assert len(activities) == 2 and all(a.day.month == 10 for a in activities)

    out = io.StringIO()
    await ConsoleChat(app.engine, console_user_id(secretary), out=out,
                      files_dir=tmp_path / "files").send("/stars")
    shown = out.getvalue()
    assert "【11月排行】" in shown and "1. " in shown and "【我的点赞】本月 0 次" not in shown
    assert "（已撤回）" in shown  # the demo user's own withdrawn star
    assert "匿名举报奖励：本月记入 1 个，领取 1 个" in shown


async def test_last_months_announced_stars_head_stars_named_only_with_consent(chat, db, clock):
    """Once announced, last month's stars open /stars: the one who agreed by name, the
    others counted; before the announcement, nothing."""
    clock.now = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="LS")
        reader = await f.member(s, p, "读者", roles=("member",))
        await f.bind(s, reader, external_id="ls-reader")
        awards = []
        for rank, (name, public) in enumerate((("甲工友", True), ("乙工友", None)), start=1):
            w = await f.member(s, p, name, roles=("worker",), crew="钢筋班")
            awards.append(StarAward(project_id=p.id, month=dt.date(2026, 11, 1), worker_id=w.id,
                                    rank=rank, points=10 - rank, status="confirmed", public=public,
                                    created_at=clock.now))
        s.add_all(awards)
    said = await chat.user("ls-reader").say("/stars")
    assert "11月之星" not in said
    async with db.sessions() as s, s.begin():
        for a in (await s.execute(sa.select(StarAward))).scalars():
            a.announced_at = clock.now
    said = await chat.user("ls-reader").say("/stars")
    assert "🌟 11月之星：甲工友（钢筋班）；另有 1 名工友获评" in said
    assert "乙工友" not in said
