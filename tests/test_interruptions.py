"""Nothing a member types is lost (issue 13): a look-up in the middle of a question
answers and asks the question again; another flow asks first; a photo never
starts a second report; a question left to expire is named on the next message."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from storage.models import Hazard
from tests import factories as f
from tests.chatbot import hazard_until
from tests.test_hazard import hazards


@pytest.fixture
async def site(db):
    return await f.hazard_site(db)


async def half_a_hazard(user):
    """/hazard, photo, 完成, zone, category, grade, description, requirement, assignee."""
    said = await hazard_until(user, "assignee")
    assert "整改期限" in said
    return said


async def test_a_look_up_answers_and_the_hazard_goes_on(chat, site, db):
    zhang = chat.user("u1")
    await half_a_hazard(zhang)
    said = await zhang.say("/me")
    assert "张三 · 示例项目" in said
    assert "整改期限" in said.choices.prompt and "3天" in said.buttons  # asked again
    said = await zhang.tap("3天")  # the question's buttons still work after the look-up
    assert "请确认" in said
    assert "已登记" in await zhang.tap("确认提交")
    assert len(await hazards(db)) == 1


async def test_help_and_the_week_table_are_look_ups_too(chat, site):
    secretary = chat.user("u4")
    await half_a_hazard(secretary)
    assert "整改期限" in await secretary.say("帮助")
    said = await secretary.say("/week")
    assert "个人巡查" in said and "整改期限" in said
    assert "请确认" in await secretary.tap("7天")


async def test_another_flow_asks_before_dropping_the_report(chat, site, db):
    zhang = chat.user("u1")
    await half_a_hazard(zhang)
    said = await zhang.say("/leave")
    assert "您有一份未完成的隐患报告（已填 7 项）。" in said
    assert said.buttons == ["继续填写", "放弃并开始新的"]
    said = await zhang.tap("继续填写")
    assert "整改期限" in said and "请假" not in said
    assert "请确认" in await zhang.tap("3天")

    said = await zhang.say("/leave")
    assert "已填 8 项" in said
    said = await zhang.tap("放弃并开始新的")
    assert "从哪天开始请假" in said
    assert await hazards(db) == []


async def test_answering_the_flow_instead_of_the_question_goes_on(chat, site):
    zhang = chat.user("u1")
    question = await half_a_hazard(zhang)
    assert "未完成的隐患报告" in await zhang.say("/patrol")
    said = await zhang.tap("3天", question.choices)  # the open question's own button: it goes on
    assert "请确认" in said


async def test_a_rectification_survives_a_look_up_and_its_photo_is_its_own(chat, site, db):
    finder, crew = chat.user("u1"), chat.user("u2")
    await hazard_until(finder)

    assert "整改后的照片" in await crew.say("/rectify 1")
    assert "赵强" in await crew.say("/me")
    said = await crew.photo()
    assert "已收到 1 张照片" in said
    assert "整改措施" in await crew.say("完成")
    assert "等待复查" in await crew.say("已补齐扣件")
    assert len(await hazards(db)) == 1  # the after-photo started no second report
    async with db.sessions() as s:
        hazard = (await s.execute(sa.select(Hazard))).scalar_one()
    assert hazard.status.value == "review"


async def test_a_photo_at_a_text_step_is_said_to_be_unused(chat, site, db):
    zhang = chat.user("u1")
    await hazard_until(zhang, "grade")
    said = await zhang.photo()  # at the description
    assert "这一步不需要照片，照片没有保存。" in said and "请简要描述隐患" in said
    assert await hazards(db) == []


async def test_a_button_from_a_notice_is_a_look_up_too(chat, site, db, clock):
    finder, secretary = chat.user("u1"), chat.user("u4")
    await secretary.say("/leave")  # the secretary's own question stays open
    await finder.say("/leave")
    await finder.tap("今天")
    await finder.tap("到本周日")
    await finder.say("回家探亲")
    request = chat.notices(site["secretary"])
    said = await secretary.tap("批准", request.choices)
    assert "已批准 张三 请假" in said and "从哪天开始请假" in said


async def test_a_question_left_to_expire_is_named(chat, site, clock):
    zhang = chat.user("u1")
    await half_a_hazard(zhang)
    clock.advance(hours=2)
    said = await zhang.say("/me")
    assert "您未完成的隐患报告（已填 7 项）已超时，没有保存，请重新开始。" in said
    assert "张三 · 示例项目" in said


# ---- free text the bot must not pretend to understand


async def to_the_assignee(user):
    await user.say("/hazard")
    await user.photo()
    await user.say("完成")
    await user.say("施工现场")  # a zone by a part only it has
    await user.tap("脚手架")
    await user.tap("一般隐患")
    await user.say("缺少扣件")
    return await user.tap("跳过")


async def test_a_typed_assignee_resolves_to_the_member(chat, site, db):
    zhang = chat.user("u1")
    assert "整改责任人" in await to_the_assignee(zhang)
    assert "整改期限" in await zhang.say(" 赵 强 ")  # spaces ignored
    await zhang.tap("3天")
    await zhang.tap("确认提交")
    [h] = await hazards(db)
    assert h.assignee_id == site["crew"] and h.assignee_text is None
    assert "您有一份隐患整改通知书" in chat.notices(site["crew"])


async def test_a_near_name_is_offered_and_an_unknown_one_is_confirmed(chat, site, db):
    zhang = chat.user("u1")
    await to_the_assignee(zhang)
    said = await zhang.say("赵")
    assert "本项目没有“赵”。您是指 赵强 吗？" in said
    assert said.buttons == ["赵强", "按外部人员登记（不通知）", "取消"]
    said = await zhang.say("钱班长")  # typed again: not near anyone
    assert "本项目没有“钱班长”。可以重新输入姓名" in said
    said = await zhang.tap("按外部人员登记（不通知）")
    assert "整改期限" in said
    said = await zhang.tap("3天")
    assert "钱班长（外部人员，不通知）" in said
    await zhang.tap("确认提交")
    [h] = await hazards(db)
    assert h.assignee_id is None and h.assignee_text == "钱班长"


async def test_long_text_is_refused_with_the_limit_never_cut(chat, site, db):
    zhang = chat.user("u1")
    await hazard_until(zhang, "grade")
    said = await zhang.say("扣" * 1200)
    assert "太长了：最多 1000 字，这次 1200 字。" in said and "请简要描述隐患" in said
    assert "整改要求" in await zhang.say("扣" * 1000)


async def test_a_zone_part_shared_by_two_zones_asks_for_a_tap(chat, site):
    zhang = chat.user("u1")
    await zhang.say("/hazard")
    await zhang.photo()
    await zhang.say("完成")
    said = await zhang.say("区")
    assert "有 2 个区域包含“区”" in said
    assert "本项目没有“食堂”这个区域" in await zhang.say("食堂")
    assert "隐患类别" in await zhang.say("生活")


async def test_track_without_a_code_is_a_look_up(chat, site):
    zhang = chat.user("u1")
    await half_a_hazard(zhang)
    said = await zhang.say("查询")
    assert "发送“查询 查询码”" in said and "整改期限" in said.choices.prompt


async def test_nothing_entered_yet_needs_no_asking(chat, site):
    zhang = chat.user("u1")
    await zhang.say("/hazard")  # the first question, nothing sent yet
    said = await zhang.say("/leave")
    assert "从哪天开始请假" in said and "未完成" not in said


async def test_odd_digits_at_a_numbered_choice_are_asked_again(chat, site):
    zhang = chat.user("u1")
    await zhang.say("/hazard")
    await zhang.photo()
    await zhang.say("完成")
    for typed in ("²", "٣", "99999999999999999999"):
        said = await zhang.say(typed)
        assert "隐患在哪个区域" in said and "出错了" not in said
