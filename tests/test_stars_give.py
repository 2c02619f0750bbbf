"""Points given by people (issue 16): /star (点赞) by typed name or a tap, a worker added
in chat, the limits (not oneself, once a day per behaviour), /star undo with a reason,
/deduct by officers only, and a ledger that is only ever added to."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.models import Member, MemberRole, OutboxMessage, StarEntry
from tests import factories as f

HELMET = "正确佩戴安全帽/系挂安全带 +2"
TIDY = "文明施工 +1"


@pytest.fixture
async def site(db):
    """A project with a Party member, an officer, a plain member and a union member (bound);
    workers 马强 and 马小军 of 钢筋班 (no account), 刘伟 of 木工班 (bound), and 王工, a member
    who is also a worker. Member ids by name."""
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1")
        ids = {}
        for name, roles, crew, uid in (
            ("张三", ("member",), None, "u1"),
            ("陈静", ("member",), None, "u2"),
            ("李安监", ("member", "safety_officer"), None, "u3"),
            ("周工会", ("union",), None, "u4"),
            ("王工", ("member", "worker"), "电工班", "u5"),
            ("马强", ("worker",), "钢筋班", None),
            ("马小军", ("worker",), "钢筋班", None),
            ("刘伟", ("worker",), "木工班", "w1"),
            ("赵强", ("assignee",), None, "u6"),
        ):
            m = await f.member(s, p, name, roles=roles, crew=crew)
            if uid:
                await f.bind(s, m, external_id=uid)
            ids[name] = m.id
        other = await f.project(s, code="P2", name="别的项目")
        ids["外地工友"] = (await f.member(s, other, "外地工友", roles=("worker",))).id
    return ids


async def entries(db) -> list[StarEntry]:
    async with db.sessions() as s:
        return list((await s.execute(sa.select(StarEntry).order_by(StarEntry.id))).scalars())


def undo_id(said) -> str:
    [value] = [o.value for o in said.choices.options if o.label == "撤回"]
    assert re.fullmatch(r"/star undo \d+", value)
    return value.split()[-1]


async def star(user, name: str, behaviour: str = HELMET):
    await user.say(f"/star {name}")
    await user.tap(behaviour)
    return await user.say("不拍照，直接提交")  # the photo question's skip button


# ---- giving a star


async def test_a_star_by_typed_name_is_saved_and_totalled(chat, site, db):
    zhang = chat.user("u1")
    said = await zhang.say("/star 马强")
    assert "为 马强（钢筋班）点赞" in said and HELMET in said.buttons and "取消" in said.buttons
    said = await zhang.tap(HELMET)
    assert said.replies[-1].skip_label == "不拍照，直接提交"
    said = await zhang.say("不拍照，直接提交")
    assert "✅ 已为 马强（钢筋班）点赞：正确佩戴安全帽/系挂安全带 +2 分。TA 本月 2 分。" in said
    assert said.buttons == ["撤回"]
    [entry] = await entries(db)
    assert (entry.worker_id, entry.points, entry.source, entry.reason, entry.given_by_id,
            entry.photo, entry.note) == (site["马强"], 2, "star", "正确佩戴安全帽/系挂安全带",
                                         site["张三"], None, None)
    assert f"/star undo {entry.id}" == said.choices.options[0].value

    await zhang.say("/star 马强")
    await zhang.tap(TIDY)
    assert "TA 本月 3 分" in await zhang.say("跳过")  # a word for the skip button, not a note
    assert (await entries(db))[-1].note is None


async def test_search_by_part_of_a_name_or_crew_then_a_tap(chat, site, db):
    zhang = chat.user("u1")
    said = await zhang.say("点赞")
    assert "点赞哪位工友？输入姓名或班组" in said and said.buttons == ["➕ 添加新工友", "取消"]
    said = await zhang.say("钢筋")
    assert "找到 2 位工友" in said
    assert set(said.buttons) == {"马强 · 钢筋班", "马小军 · 钢筋班", "➕ 添加新工友", "取消"}
    said = await zhang.say("无此人")
    assert "没有找到“无此人”" in said and "➕ 添加新工友" in said.buttons
    assert "“陈静”在名册中不是工友" in await zhang.say("陈静")
    assert "不能给自己点赞" in await zhang.say("张三")
    await zhang.say("马")  # several again, then a tap
    assert "为 马小军（钢筋班）点赞" in await zhang.tap("马小军 · 钢筋班")
    await zhang.tap(TIDY)
    await zhang.say("在3号楼清理了通道上的钢筋头")  # a note instead of a photo
    [entry] = await entries(db)
    assert entry.worker_id == site["马小军"] and entry.note == "在3号楼清理了通道上的钢筋头"

    said = await zhang.say("/star")  # the worker just starred comes first, as a button
    assert said.buttons[0] == "马小军 · 钢筋班"
    assert "为 马小军（钢筋班）点赞" in await zhang.tap("马小军 · 钢筋班")


async def test_more_matches_than_buttons_asks_to_type_more(chat, site, db):
    async with db.sessions() as s, s.begin():
        p = (await s.get(Member, site["马强"])).project_id
        for i in range(9):
            s.add(Member(project_id=p, name=f"杨{i}号", joined_at=f.NOW, crew="架子班",
                         roles=[MemberRole(role="worker")]))
    said = await chat.user("u1").say("/star 架子班")
    assert "只列出前 8 位" in said and len(said.buttons) == 8 + 2


async def test_a_worker_added_in_chat(chat, site, db):
    union = chat.user("u4")  # the union may star, and add whom they star
    await union.say("/star")
    assert "新工友的姓名" in await union.tap("➕ 添加新工友")
    assert "不是工友" in await union.say("陈静")  # a Party member's name
    assert "2–20" in await union.say("赵")
    said = await union.say("赵六")
    assert "赵六 是哪个班组的" in said and {"钢筋班", "木工班", "电工班"} <= set(said.buttons)
    said = await union.say("架子班")
    assert "已添加工友 赵六（架子班）" in said and "为 赵六（架子班）点赞" in said
    async with db.sessions() as s:
        added = (await s.execute(sa.select(Member).where(Member.name == "赵六"))).scalar_one()
        assert added.crew == "架子班" and added.active
        roles = (await s.execute(sa.select(MemberRole.role).where(
            MemberRole.member_id == added.id))).scalars().all()
        assert roles == ["worker"]
    await union.tap(TIDY)
    await union.say("不拍照，直接提交")
    assert [e.worker_id for e in await entries(db)] == [added.id]

    # A name the directory has already: that worker is used, nobody is added twice.
    await union.say("/star")
    await union.tap("➕ 添加新工友")
    said = await union.say("马强")
    assert "名册里已有工友 马强（钢筋班）" in said and "为 马强（钢筋班）点赞" in said
    async with db.sessions() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(Member)
                                .where(Member.name == "马强"))).scalar_one() == 1


async def test_no_star_for_oneself(chat, site, db):
    wang = chat.user("u5")  # a member who is also a worker
    said = await wang.say("/star 王工")
    assert "不能给自己点赞" in said and "点赞哪位工友" in said
    await wang.tap("➕ 添加新工友")
    assert "不能给自己点赞" in await wang.say("王工")
    assert await entries(db) == []


async def test_the_same_behaviour_once_a_day_per_worker(chat, site, db, clock):
    zhang = chat.user("u1")
    await star(zhang, "马强", TIDY)
    said = await zhang.say("/star 马强")
    assert "今天已点过：文明施工" in said and TIDY not in said.buttons and HELMET in said.buttons
    said = await zhang.say("文明施工")  # typed all the same
    assert "今天您已为 马强（钢筋班）点过“文明施工”（每项每天最多 1 次）" in said
    assert HELMET in said.buttons
    await zhang.say("取消")
    assert TIDY in (await chat.user("u2").say("/star 马强")).buttons  # another giver may

    clock.advance(hours=14)  # past midnight in Shanghai: a new day
    assert "TA 本月 2 分" in await star(zhang, "马强", TIDY)
    assert [e.points for e in await entries(db)] == [1, 1]


async def test_a_photo_is_kept_with_the_star(chat, site, db, config):
    zhang = chat.user("u1")
    await zhang.say("/star 刘伟")
    await zhang.tap(HELMET)
    said = await zhang.photo()
    assert "照片已收到" in said and "不写了，提交" in said.buttons
    assert "✅ 已为 刘伟（木工班）点赞" in await zhang.tap("不写了，提交")
    [entry] = await entries(db)
    assert entry.photo and (Path(config.media.dir) / entry.photo).is_file()


async def test_the_worker_is_told_when_bound(chat, site, db):
    await star(chat.user("u1"), "刘伟", TIDY)
    told = chat.notices(site["刘伟"])
    assert "👍 张三 为您点赞：文明施工 +1 分。本月累计 1 分。" in told
    await star(chat.user("u1"), "马强", TIDY)  # no account: nothing queued for him
    async with db.sessions() as s:
        kinds = (await s.execute(sa.select(OutboxMessage.member_id, OutboxMessage.kind))).all()
    assert kinds == [(site["刘伟"], "star_given")]


async def test_star_is_for_the_roles_that_give_stars(chat, site):
    assert "没有使用此功能的权限" in await chat.user("u6").say("/star")  # a crew lead
    assert "/star 点赞" in await chat.user("u1").say("/help")
    assert "/star 点赞" not in await chat.user("w1").say("/help")  # a worker gets, not gives


# ---- withdrawing


async def test_the_giver_withdraws_with_a_reason_and_the_ledger_keeps_both(chat, site, db):
    zhang = chat.user("u1")
    ident = undo_id(await star(zhang, "刘伟"))
    chat.notices(site["刘伟"])
    [before] = await entries(db)
    said = await zhang.tap("撤回")
    assert "撤回刘伟（木工班）的“正确佩戴安全帽/系挂安全带 +2 分”" in said and "原因" in said
    assert "至少 2 个字" in await zhang.say("错")
    said = await zhang.say("点错人了")
    assert "已撤回" in said and "原因：点错人了" in said and "TA 本月 0 分" in said
    assert "已撤回。原因：点错人了。本月累计 0 分" in chat.notices(site["刘伟"])

    original, withdrawal = await entries(db)
    assert [getattr(original, c.key) for c in StarEntry.__table__.columns] == \
        [getattr(before, c.key) for c in StarEntry.__table__.columns]  # never edited
    assert (withdrawal.points, withdrawal.source, withdrawal.reason, withdrawal.note,
            withdrawal.given_by_id, withdrawal.withdraws_id) == (
        -2, "withdrawal", "正确佩戴安全帽/系挂安全带", "点错人了", site["张三"], original.id)
    assert sum(e.points for e in await entries(db)) == 0

    assert "已经撤回过了" in await zhang.say(f"/star undo {ident}")
    assert "撤回记录，不能再撤回" in await zhang.say(f"/star undo {withdrawal.id}")
    assert "没有这条积分记录" in await zhang.say("/star undo 999")
    assert "没有这条积分记录" in await zhang.say("/star undo 马强")
    assert len(await entries(db)) == 2


async def test_only_the_giver_in_time_or_an_officer_withdraws(chat, site, db, clock):
    ident = undo_id(await star(chat.user("u1"), "马强"))
    assert "只能撤回自己给的积分" in await chat.user("u2").say(f"/star undo {ident}")
    clock.advance(hours=25)
    assert "已超过 24 小时" in await chat.user("u1").say(f"/star undo {ident}")
    officer = chat.user("u3")
    assert "请写明原因" in await officer.say(f"/star undo {ident}")
    assert "已撤回马强（钢筋班）的" in await officer.say("经核实不属实")
    withdrawal = (await entries(db))[-1]
    assert withdrawal.given_by_id == site["李安监"] and withdrawal.withdraws_id == int(ident)


async def test_event_points_and_other_projects(chat, site, db):
    async with db.sessions() as s, s.begin():
        event = StarEntry(project_id=(await s.get(Member, site["马强"])).project_id,
                          worker_id=site["马强"], points=5, source="event",
                          reason="violation_confirmed", ref="violation:1", at=f.NOW)
        far = StarEntry(project_id=(await s.get(Member, site["外地工友"])).project_id,
                        worker_id=site["外地工友"], points=1, source="star", reason="文明施工",
                        at=f.NOW)
        s.add_all([event, far])
    assert "只能由安监或党支部书记撤回" in await chat.user("u1").say(f"/star undo {event.id}")
    assert "没有这条积分记录" in await chat.user("u3").say(f"/star undo {far.id}")
    officer = chat.user("u3")
    await officer.say(f"/star undo {event.id}")
    assert "已撤回" in await officer.say("重复计分")
    assert sum(e.points for e in await entries(db) if e.worker_id == site["马强"]) == 0


# ---- deductions


async def test_deductions_are_for_officers_with_a_reason(chat, site, db):
    assert "没有使用此功能的权限" in await chat.user("u2").say("/deduct")
    assert "没有使用此功能的权限" in await chat.user("u1").say("扣分")
    await star(chat.user("u1"), "刘伟", TIDY)
    chat.notices(site["刘伟"])

    officer = chat.user("u3")
    said = await officer.say("/deduct 刘伟")
    assert "刘伟（木工班）的违章类别" in said and "未戴安全帽" in said.buttons
    said = await officer.tap("未戴安全帽")
    assert said.buttons == ["2 分", "5 分", "10 分", "取消"]
    assert "1–20" in await officer.say("99")
    assert "1–20" in await officer.say("零")
    assert "扣分原因" in await officer.say("7")
    assert "至少 2 个字" in await officer.say(" ")
    said = await officer.say("现场核实，未戴安全帽进入作业面")
    assert "已扣分：刘伟（木工班），未戴安全帽 -7 分" in said and "TA 本月 -6 分" in said
    assert said.buttons == ["撤回"]
    star_, deduction = await entries(db)
    assert (deduction.points, deduction.source, deduction.reason, deduction.note,
            deduction.given_by_id) == (-7, "deduction", "未戴安全帽", "现场核实，未戴安全帽进入作业面",
                                       site["李安监"])
    assert "⚠️ 您因“未戴安全帽”被扣 7 分" in chat.notices(site["刘伟"])

    said = await officer.say("/deduct")  # whom they deducted from comes first
    assert said.buttons[0] == "刘伟 · 木工班"
    await officer.tap("刘伟 · 木工班")
    await officer.tap("其他")
    await officer.tap("5 分")
    said = await officer.say("第二次")
    assert "TA 本月 -11 分" in said


async def test_an_officer_cannot_deduct_from_themselves(chat, site, db):
    async with db.sessions() as s, s.begin():
        p = (await s.get(Member, site["马强"])).project_id
        boss = Member(project_id=p, name="钱安监", joined_at=f.NOW,
                      roles=[MemberRole(role="safety_officer"), MemberRole(role="worker")])
        s.add(boss)
        await s.flush()
        await f.bind(s, boss, external_id="u7")
    assert "不能给自己扣分" in await chat.user("u7").say("/deduct 钱安监")
    assert await entries(db) == []
