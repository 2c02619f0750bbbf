"""Hazard reports and the rectification loop, as the people involved live it."""
from __future__ import annotations

import asyncio
import io

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage
from pypdf import PdfReader

from bot.core.contract import Document, Image, Kind
from handlers.hazard import find_overdue
from storage.models import Hazard, HazardEvent, HazardPhoto
from tests import factories as f
from tests.chatbot import jpeg


@pytest.fixture
async def site(db):
    return await f.hazard_site(db)


async def report(user, *, grade="一般隐患", assignee="赵强", deadline="3天", photos=1):
    for _ in range(photos):
        said = await user.photo()
    await user.say("完成")
    await user.tap("施工现场A区")
    await user.tap("脚手架")
    await user.tap(grade)
    await user.say("3号楼5层脚手架缺少扣件")
    await user.tap("跳过")
    if assignee == "赵强":
        await user.tap(assignee)
    elif assignee in ("李安监", "王书记"):  # in the directory, typed
        await user.say(assignee)
    else:  # someone outside the directory: kept as typed once the reporter confirms it
        assert "本项目没有" in await user.say(assignee)
        await user.tap("按外部人员登记（不通知）")
    said = await user.tap(deadline)
    assert "请确认" in said
    return said


def pdf_text(said_or_doc) -> str:
    doc = said_or_doc if isinstance(said_or_doc, Document) else \
        next(r for r in said_or_doc.replies if isinstance(r, Document))
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(doc.data)).pages)


async def hazards(db) -> list[Hazard]:
    async with db.sessions() as s:
        return list((await s.execute(sa.select(Hazard).order_by(Hazard.id))).scalars())


async def test_the_whole_loop_with_a_rejection_and_a_second_attempt(chat, site, db, clock):
    finder, crew, officer = chat.user("u1"), chat.user("u2"), chat.user("u3")
    await report(finder)
    said = await finder.tap("确认提交")
    assert "已登记：红盾整改〔2026〕0001号" in said
    text = pdf_text(said)
    for field in ("隐患整改通知书", "红盾整改〔2026〕0001号", "示例项目", "施工现场A区", "张三",
                  "脚手架", "一般隐患", "3号楼5层脚手架缺少扣件", "赵强", "2026-11-26"):
        assert field in text, field

    notice = chat.notices(site["crew"])
    assert "您有一份隐患整改通知书" in notice and pdf_text(notice)
    assert notice.buttons == ["开始整改", "提交整改"]
    said = await crew.tap("开始整改", choices=notice.choices)
    assert "已开始整改" in said

    await crew.tap("提交整改")
    assert "请至少发送一张" in await crew.say("完成")
    await crew.photo(jpeg("green"))
    await crew.say("完成")
    said = await crew.say("已补齐扣件")
    assert "已提交整改，等待复查" in said

    to_finder, to_officer = chat.notices(site["finder"]), chat.notices(site["officer"])
    assert "请复查" in to_finder and "请复查" in to_officer
    images = [r for r in to_finder.replies if isinstance(r, Image)]
    assert [i.caption for i in images] == ["整改前", "整改后"]
    assert chat.notices(site["crew"]).replies == []  # the assignee never re-checks

    said = await finder.tap("退回", choices=to_finder.choices)
    assert "退回的原因" in said
    await finder.say("扣件型号不对")
    back = chat.notices(site["crew"])
    assert "复查未通过" in back and "扣件型号不对" in back

    await crew.tap("提交整改", choices=back.choices)
    await crew.photo(jpeg("blue"))
    await crew.say("完成")
    await crew.say("已更换为合格扣件")
    review = chat.notices(site["officer"])
    said = await officer.tap("通过销项", choices=review.choices)
    assert "已销项" in said
    closed = pdf_text(said)
    assert "整改措施" in closed and "已更换为合格扣件" in closed and "李安监" in closed
    assert "已销项" in chat.notices(site["crew"])

    [h] = await hazards(db)
    assert h.status == "closed" and h.rechecked_by_id == site["officer"]
    async with db.sessions() as s:
        events = [(e.action, e.actor_id) for e in (await s.execute(
            sa.select(HazardEvent).order_by(HazardEvent.id))).scalars()]
        stages = [p.stage for p in (await s.execute(sa.select(HazardPhoto).order_by(HazardPhoto.id))).scalars()]
    assert events == [("reported", site["finder"]), ("started", site["crew"]),
                      ("submitted", site["crew"]), ("returned", site["finder"]),
                      ("submitted", site["crew"]), ("closed", site["officer"])]
    assert stages == ["before", "after", "after"]

    assert "已销项，无需再复查" in await officer.say("/recheck 2026-1 pass")


async def test_the_assignee_cannot_close_and_strangers_cannot_see(chat, site):
    finder, crew = chat.user("u1"), chat.user("u2")
    await report(finder)
    await finder.tap("确认提交")
    await crew.say("/rectify 1")
    await crew.photo()
    await crew.say("完成")
    await crew.say("整改完毕")
    assert "您不能复查" in await crew.say("/recheck 1 pass")
    assert "本项目没有这个编号" in await chat.user("u9").say("/hazard 1")
    assert "没有找到这个隐患" in await chat.user("u9").say("/rectify 1")
    said = await finder.say("/hazard 1")
    assert "待复查" in said and any(isinstance(r, Document) for r in said.replies)


async def test_major_hazard_alerts_officers_and_only_they_close_it(chat, site):
    finder, crew = chat.user("u1"), chat.user("u2")
    await report(finder, grade="重大隐患")
    await finder.tap("确认提交")
    for officer in ("officer", "secretary"):
        assert "重大隐患" in chat.notices(site[officer])
    await crew.say("/rectify 1")
    await crew.photo()
    await crew.say("完成")
    await crew.say("已整改")
    assert chat.notices(site["finder"]).replies == []  # the finder may not close a major one
    assert "重大隐患只能由安监人员或党支部书记销项" in await finder.say("/recheck 1 pass")
    assert "已销项" in await chat.user("u4").say("/recheck 1 pass")


async def rectified(chat, crew: str = "u2", number: int = 1, **report_as) -> None:
    """Hazard `number`, which 张三 found, rectified by `crew`: waiting for its re-check."""
    finder = chat.user("u1")
    await report(finder, **report_as)
    await finder.tap("确认提交")
    rectifier = chat.user(crew)
    await rectifier.say(f"/rectify {number}")
    await rectifier.photo()
    await rectifier.say("完成")
    assert "等待复查" in await rectifier.say("已整改")


def recheck_bot(config, clock, db, rechecked_by):
    from tests.chatbot import TestBot, test_app

    practice = config.practice.model_copy(update={"rechecked_by": tuple(rechecked_by)})
    return TestBot(test_app(config.model_copy(update={"practice": practice}), clock, db))


async def test_the_secretary_rechecks_a_general_hazard_by_default(chat, site, db):
    await rectified(chat)
    review = chat.notices(site["secretary"])
    assert "请复查" in review  # asked, beside the finder and the safety officer
    assert "已销项" in await chat.user("u4").tap("通过销项", choices=review.choices)
    [h] = await hazards(db)
    assert h.status == "closed" and h.rechecked_by_id == site["secretary"]


async def test_with_only_finders_listed_an_officer_may_not_recheck_a_general_hazard(site, db, config, clock):
    bot = recheck_bot(config, clock, db, ["finder"])
    await rectified(bot)
    assert bot.notices(site["officer"]).replies == [] and bot.notices(site["secretary"]).replies == []
    said = await bot.user("u3").say("/recheck 1 pass")
    assert "您不能复查" in said and "一般隐患只由发现人复查" in said
    assert "请复查" in bot.notices(site["finder"])
    assert "已销项" in await bot.user("u1").say("/recheck 1 pass")


async def test_without_finder_listed_the_finder_may_not_but_a_major_hazard_keeps_its_rule(
        site, db, config, clock):
    bot = recheck_bot(config, clock, db, ["safety_officer", "leader"])
    await rectified(bot)
    assert bot.notices(site["finder"]).replies == []
    said = await bot.user("u1").say("/recheck 1 pass")
    assert "一般隐患由先锋队长、安监人员复查" in said
    assert "您不能复查" in await bot.user("u4").say("/recheck 1 pass")  # the secretary is not listed
    assert "已销项" in await bot.user("u3").say("/recheck 1 pass")

    # A 重大隐患: the safety officer or the secretary, whatever the list says.
    major = recheck_bot(config, clock, db, ["finder", "leader"])
    finder, crew = major.user("u1"), major.user("u2")
    await report(finder, grade="重大隐患")
    await finder.tap("确认提交")
    for step in ("/rectify 2", None, "完成", "已整改"):
        await (crew.photo() if step is None else crew.say(step))
    assert "重大隐患只能由安监人员或党支部书记销项" in await major.user("u1").say("/recheck 2 pass")
    assert "已销项" in await major.user("u4").say("/recheck 2 pass")


async def test_the_assignee_never_rechecks_even_holding_a_listed_role(chat, site, db):
    """Ruling 7: not the assignee (here the safety officer himself), nor whoever recorded
    the rectification (the finder, for a crew named in text)."""
    await rectified(chat, crew="u3", assignee="李安监")
    assert "请复查" not in chat.notices(site["officer"]) and "请复查" in chat.notices(site["finder"])
    said = await chat.user("u3").say("/recheck 1 pass")
    assert "您不能复查" in said and "不能复查这项整改" in said
    assert "已销项" in await chat.user("u1").say("/recheck 1 pass")

    await rectified(chat, crew="u1", number=2, assignee="钢筋班组（分包）")
    said = await chat.user("u1").say("/recheck 2 pass")
    assert "您不能复查" in said
    assert "已销项" in await chat.user("u4").say("/recheck 2 pass")


async def test_crew_named_in_text(chat, site, db):
    finder = chat.user("u1")
    await report(finder, assignee="钢筋班组（分包）")
    await finder.tap("确认提交")
    [h] = await hazards(db)
    assert h.assignee_id is None and h.assignee_text == "钢筋班组（分包）"
    assert "提交整改" in await finder.say("/rectify 1")  # the finder records for the crew


async def test_numbers_are_unique_when_confirmed_at_the_same_instant(chat, site, db):
    users = [chat.user(u) for u in ("u1", "u3", "u4")]
    for u in users:
        await report(u, grade="一般隐患")
    said = await asyncio.gather(*(u.tap("确认提交") for u in users))
    numbers = sorted(h.number for h in await hazards(db))
    assert numbers == [1, 2, 3], [s.text for s in said]


async def test_bad_input_along_the_report(chat, site, db, clock):
    finder = chat.user("u1")
    await finder.say("隐患")
    assert "请至少发送一张照片" in await finder.say("完成")
    assert "不是照片" in await finder.photo(b"%PDF-1.4 not an image")
    for _ in range(9):
        await finder.photo()
    said = await finder.photo()
    assert "最多 9 张" in said
    await finder.say("完成")
    await finder.tap("施工现场A区")
    await finder.tap("脚手架")
    await finder.tap("一般隐患")
    assert "描述不能为空" in await finder.say(" ")
    await finder.say("临边防护缺失")
    await finder.tap("跳过")
    question = finder.last.choices  # the assignee question
    said = await finder.send(Kind.choice, choice=f"m{site['stranger']}", token=question.token)
    assert "必须是本项目的人员" in said
    await finder.tap("赵强")
    assert "不能早于今天" in await finder.say("11-20")
    said = await finder.say("12-05")
    assert "请确认" in said and "照片 9 张" in said
    assert await hazards(db) == []  # nothing saved before the confirmation


async def test_overdue_detection_and_view(chat, site, db, clock, config):
    finder = chat.user("u1")
    await report(finder, deadline="今天")
    await finder.tap("确认提交")
    assert "没有超期" in await chat.user("u3").say("超期")
    clock.advance(days=3)
    said = await chat.user("u3").say("超期")
    assert "超期隐患 1 项" in said and "超期 3 天 · 赵强" in said
    assert "没有使用此功能的权限" in await finder.say("/overdue")
    async with db.sessions() as s:
        [late] = await find_overdue(s, clock(), config.tz)
    assert late.days == 3 and late.hazard.number == 1
    assert "待我整改：1 项" in await chat.user("u2").say("我的")
    assert "我报告的未销项隐患：1 项" in await finder.say("我的")


async def test_a_cancelled_report_keeps_no_row_and_a_saved_one_its_evidence(chat, site, db, config):
    finder = chat.user("u1")
    await finder.photo()
    await finder.say("取消")
    async with db.sessions() as s:
        assert (await s.execute(sa.select(HazardPhoto))).first() is None  # cancelled: no row
    await report(finder)
    await finder.tap("确认提交")
    async with db.sessions() as s:
        photo = (await s.execute(sa.select(HazardPhoto))).scalar_one()
    from storage.media import MediaStore

    stored = PILImage.open(MediaStore(config.media.dir).path(photo.media_name))
    assert photo.evidence["sha256"] and photo.evidence["width"] == 64
    assert stored.size == (64, 48)


async def test_upright_and_evidence_of_a_rotated_photo():
    from handlers.photos import prepare_evidence

    exif = PILImage.Exif()
    exif[0x0112] = 6
    exif[0x0110] = "RedPhone 9"
    upright, evidence = prepare_evidence(jpeg(size=(80, 40), exif=exif.tobytes()))
    assert PILImage.open(io.BytesIO(upright)).size == (40, 80)
    assert evidence["model"] == "RedPhone 9" and evidence["width"] == 80
    assert not PILImage.open(io.BytesIO(upright)).getexif()


def long_text(word: str) -> str:
    """1,000 lines, 20,000 characters: more than any page holds."""
    lines = [f"{word}第{i + 1}行：".ljust(19, "扣") for i in range(1000)]
    return "\n".join(lines).ljust(20_000, "件")


async def test_a_notice_of_a_thousand_lines_lays_out_and_the_hazard_closes(chat, site, db):
    finder, crew, officer = chat.user("u1"), chat.user("u2"), chat.user("u3")
    await report(finder)
    await finder.tap("确认提交")
    await crew.say("/rectify 1")
    await crew.photo(jpeg("green"))
    await crew.say("完成")
    await crew.say("已补齐扣件")
    description, measures = long_text("隐患描述"), long_text("整改措施")
    assert description.count("\n") == 999 and len(description) == 20_000
    async with db.sessions() as s, s.begin():  # as a bulk import or a web form could write
        await s.execute(sa.update(Hazard).values(description=description, measures=measures))

    said = await officer.say("/recheck 1 pass")
    assert "已销项" in said
    [h] = await hazards(db)
    assert h.status == "closed"
    text = pdf_text(said)
    for value in (description, measures):
        assert "\n".join(value.splitlines()[:3]) in text
    assert text.count("（以下 940 行略，完整内容见系统记录）") == 2
    assert "整改措施第60行" in text and "整改措施第61行" not in text
    pages = PdfReader(io.BytesIO(next(r for r in said.replies
                                      if isinstance(r, Document)).data)).pages
    assert 2 <= len(pages) <= 6


def test_any_text_lays_out_in_a_notice():
    """One line of 20,000 characters, very many empty lines, markup, control characters:
    each value is split into rows that fit a page, and cut short with the note."""
    from handlers.hazard.pdf import render_notice

    values = ["扣" * 20_000, "\n" * 5000, "<b>&amp;</b> <br/> & <", "a\x00b\x0bc\x1fd\u2028e",
              "W" * 20_000, "x " * 10_000]
    fields = [(f"字段{i}", v) for i, v in enumerate(values)]
    data = render_notice(fields, "隐患整改通知书", [], "整改前照片",
                         omitted="（以下 {n} 行略）")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "<b>&amp;</b> <br/> & <" in text
    assert "（以下 1 行略）" in text and "（以下 4940 行略）" in text
