"""The monthly 行为安全之星: last month's top workers proposed on the 1st to the union and
the secretary, confirmed / replaced / skipped with taps, the worker's consent to be named,
the announcement to every bound member of the project (once) and the 奖状."""
from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage

from bot.core.contract import Choices, Image
from bot.core.i18n import Translator
from handlers.stars import certificate, monthly
from storage import star_awards as awards
from storage import stars as ledger
from storage.models import OutboxMessage, StarAward
from tests import factories as f
from tests.chatbot import Said

SH = ZoneInfo("Asia/Shanghai")
DEC_1 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=SH).astimezone(dt.UTC)  # when the job fires
NOV = dt.date(2026, 11, 1)
WEAR = "正确佩戴安全帽/系挂安全带"


def sh(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


@pytest.fixture
async def site(db):
    """P1: a secretary and a union member (the organisers), a Party member, five workers
    (马强 bound, the others without accounts); P2: a union member and a worker; P3: a
    secretary and no points. Member ids by name."""
    ids = {}
    async with db.sessions() as s, s.begin():
        p1 = await f.project(s, "P1", "示例项目", "示例项目党支部")
        p2 = await f.project(s, "P2", "别的项目", "别的项目党支部")
        p3 = await f.project(s, "P3", "第三项目", "第三项目党支部")
        for project, name, roles, crew, uid in (
            (p1, "王书记", ("member", "secretary"), None, "sec"),
            (p1, "李工会", ("union",), None, "uni"),
            (p1, "张三", ("member",), None, "zhang"),
            (p1, "马强", ("worker",), "钢筋班", "ma"),
            (p1, "李四", ("worker",), "木工班", None),
            (p1, "王五", ("worker",), "架子班", None),
            (p1, "赵六", ("worker",), "电工班", None),
            (p1, "陈七", ("worker",), "钢筋班", None),
            (p2, "周工会", ("union",), None, "zhou"),
            (p2, "孙八", ("worker",), "泥瓦班", None),
            (p3, "吴书记", ("member", "secretary"), None, "wu"),
        ):
            m = await f.member(s, project, name, roles=roles, crew=crew)
            if uid:
                await f.bind(s, m, external_id=uid)
            ids[name] = m.id
        ids["P1"], ids["P2"], ids["P3"] = p1.id, p2.id, p3.id

        async def give(worker, reason, points, at, source="star", ref=None, project=p1):
            return await ledger.add(s, project_id=project.id, worker_id=ids[worker], points=points,
                                    source=source, reason=reason, given_by_id=ids["张三"],
                                    ref=ref, at=at)

        day = sh(2026, 11, 10, 10, 0)
        await give("马强", WEAR, 2, day)
        await give("马强", WEAR, 2, day + dt.timedelta(days=1))
        await give("马强", "制止违章", 3, day)
        await give("马强", "violation_confirmed", 5, day, source="event", ref="violation:1")
        undone = await give("马强", "文明施工", 1, day)
        await ledger.add(s, project_id=p1.id, worker_id=ids["马强"], points=-1, source="withdrawal",
                         reason="文明施工", given_by_id=ids["张三"], withdraws_id=undone.id, at=day)
        await give("李四", "制止违章", 3, day)
        await give("李四", "制止违章", 3, day + dt.timedelta(days=2))
        await give("李四", "文明施工", 1, day)
        # 王五: one of them on the first morning of November in Shanghai, still October in UTC
        await give("王五", WEAR, 2, sh(2026, 11, 1, 7, 0))
        await give("王五", WEAR, 2, day)
        await give("王五", WEAR, 2, day + dt.timedelta(days=3))
        await give("赵六", "制止违章", 3, day)
        await give("赵六", "文明施工", 1, day)
        await give("陈七", "文明施工", 1, day)
        # 陈七 outside the local month: the last evening of October, the first hour of December
        await give("陈七", "其他", 20, sh(2026, 10, 31, 23, 30))
        await give("陈七", "其他", 20, sh(2026, 12, 1, 0, 30))
        await give("孙八", "文明施工", 1, day, project=p2)
    return ids


async def run(app, clock, job: str, at: dt.datetime | None = None) -> int:
    """One run of a registered job as the scheduler runs it (its notices delivered at once)."""
    if at is not None:
        clock.now = at
    return await app.scheduler.run_once(job, app.scheduler.jobs[job].work)


async def rows(db) -> dict[str, StarAward]:
    async with db.sessions() as s:
        found = (await s.execute(sa.select(StarAward).order_by(StarAward.id))).scalars().all()
    return found


def names_of(db_rows, site) -> dict[str, StarAward]:
    by_id = {v: k for k, v in site.items()}
    return {by_id[a.worker_id]: a for a in db_rows}


def images(said: Said) -> list[Image]:
    return [r for r in said.replies if isinstance(r, Image)]


def decoded(image: Image) -> tuple[tuple[int, int], str]:
    with PILImage.open(io.BytesIO(image.data)) as im:
        im.load()
        assert im.format == "PNG"
        return im.size, im.mode


async def proposed(app, clock, chat, site) -> Choices:
    """Run the 1st-of-month job; the secretary's notice."""
    assert await run(app, clock, monthly.PROPOSE_JOB, DEC_1) == 3  # secretary, union, P2's union
    notice = chat.notices(site["王书记"])
    assert notice.choices is not None
    return notice.choices


# ---- the proposal


async def test_the_first_proposes_last_months_top_three_to_the_organisers(app, chat, clock, db, site):
    job = app.scheduler.jobs[monthly.PROPOSE_JOB]
    fire = job.trigger.get_next_fire_time(None, dt.datetime(2026, 11, 30, 2, tzinfo=dt.UTC))
    assert fire == sh(2026, 12, 1, 9, 0)  # daily: the first run after November ends

    assert await run(app, clock, monthly.PROPOSE_JOB, DEC_1) == 3
    secretary, union = chat.notices(site["王书记"]), chat.notices(site["李工会"])
    assert secretary.text == union.text
    lines = secretary.text.splitlines()
    assert lines[0] == "🌟 2026年11月 行为安全之星 候选（按积分）："
    # the withdrawn star and its withdrawal are not observations; the event has its label
    assert lines[1] == f"1. 马强（钢筋班）12 分：{WEAR} ×2，制止违章 ×1，举报属实 ×1"
    assert lines[2] == "2. 李四（木工班）7 分：制止违章 ×2，文明施工 ×1"
    assert lines[3] == f"3. 王五（架子班）6 分：{WEAR} ×3"  # November 1st local counts
    assert "陈七" not in secretary.text and "赵六" not in secretary.text
    assert secretary.buttons == ["✅ 马强", "🔁 换人：马强", "⏭ 跳过：马强",
                                 "✅ 李四", "🔁 换人：李四", "⏭ 跳过：李四",
                                 "✅ 王五", "🔁 换人：王五", "⏭ 跳过：王五"]
    # others of the project are not asked; each project gets its own; none without points
    assert chat.notices(site["张三"]).replies == [] and chat.notices(site["马强"]).replies == []
    other = chat.notices(site["周工会"])
    assert "1. 孙八（泥瓦班）1 分：文明施工 ×1" in other and "马强" not in other
    assert chat.notices(site["吴书记"]).replies == []

    found = names_of(await rows(db), site)
    assert {n: (a.rank, a.points, a.status, a.month) for n, a in found.items()} == {
        "马强": (1, 12, "proposed", NOV), "李四": (2, 7, "proposed", NOV),
        "王五": (3, 6, "proposed", NOV), "孙八": (1, 1, "proposed", NOV)}
    assert all(a.created_at == DEC_1 for a in found.values())

    # a second run (a restart, a second scheduler) adds nothing and sends nothing
    clock.advance(minutes=5)
    assert await run(app, clock, monthly.PROPOSE_JOB) == 0
    assert len(await rows(db)) == 4
    assert chat.notices(site["王书记"]).replies == []


async def test_only_the_organisers_see_and_use_award(chat, site):
    assert "确认本月行为安全之星" in await chat.user("uni").say("/help")
    zhang = chat.user("zhang")
    assert "确认本月行为安全之星" not in await zhang.say("/help")
    assert "没有使用此功能的权限" in await zhang.say("/monthstar")
    assert "没有使用此功能的权限" in await chat.user("ma").say("评星 confirm 1")
    assert "没有待确认的候选" in await chat.user("sec").say("评星")


# ---- deciding


async def test_confirm_replace_and_skip_by_tapping(app, chat, clock, db, site):
    choices = await proposed(app, clock, chat, site)
    secretary, union = chat.user("sec"), chat.user("uni")
    union_choices = chat.notices(site["李工会"]).choices

    said = await secretary.tap("✅ 马强", choices)
    assert "✅ 已确认：马强（钢筋班），2026年11月 行为安全之星" in said and "已请本人" in said
    asked = chat.notices(site["马强"])
    assert "恭喜您获评 2026年11月 行为安全之星！项目内通报时是否显示您的姓名？" in asked
    assert asked.buttons == ["同意公开姓名", "不公开"]
    # the union taps the same candidate a moment later
    assert "马强（2026年11月）已经处理过了：已确认" in await union.tap("✅ 马强", union_choices)

    said = await union.tap("🔁 换人：李四", union_choices)
    assert "已换下 李四。下一位候选：" in said
    assert "4. 赵六（电工班）4 分：制止违章 ×1，文明施工 ×1" in said  # rank: their place
    assert said.buttons == ["✅ 赵六", "🔁 换人：赵六", "⏭ 跳过：赵六"]
    assert "已跳过 王五" in await secretary.tap("⏭ 跳过：王五", choices)

    listed = await secretary.say("/monthstar")
    assert "4. 赵六" in listed and "马强" not in listed and "李四" not in listed
    said = await secretary.tap("✅ 赵六", listed.choices)
    # 赵六 has no account: the secretary asks in person and taps the answer
    assert "赵六 没有绑定账号，请当面问本人" in said and said.buttons == ["同意公开姓名", "不公开"]
    assert "2026年11月候选已全部处理" in said and "24 小时" in said
    assert "没有待确认的候选" in await secretary.say("/monthstar")

    found = names_of([a for a in await rows(db) if a.project_id == site["P1"]], site)
    assert {n: a.status for n, a in found.items()} == {
        "马强": "confirmed", "李四": "replaced", "王五": "skipped", "赵六": "confirmed"}
    assert (found["赵六"].rank, found["赵六"].points) == (4, 4)
    assert found["马强"].decided_by_id == site["王书记"] and found["马强"].decided_at == DEC_1
    assert found["马强"].consent_asked_at == DEC_1 and found["马强"].public is None
    assert found["李四"].decided_by_id == site["李工会"]

    # unknown numbers and another project's awards get a short answer, and nothing changes
    other = next(a for a in await rows(db) if a.project_id == site["P2"])
    assert "本项目没有这个评选记录" in await secretary.say(f"/monthstar confirm {other.id}")
    assert "本项目没有这个评选记录" in await secretary.say("/monthstar skip 99999")
    assert "本项目没有这个评选记录" in await secretary.say("/monthstar confirm abc")
    assert "发送“评星”查看" in await secretary.say("/monthstar frobnicate 1")
    assert next(a for a in await rows(db) if a.id == other.id).status == "proposed"


async def test_replacing_when_nobody_is_left(app, chat, clock, db, site):
    choices = await proposed(app, clock, chat, site)
    secretary = chat.user("sec")
    await secretary.tap("🔁 换人：马强", choices)  # 赵六 comes in
    said = await secretary.say("/monthstar")
    await secretary.tap("🔁 换人：赵六", said.choices)  # 陈七 comes in
    said = await secretary.tap("🔁 换人：陈七", (await secretary.say("/monthstar")).choices)
    assert "已换下 陈七。" in said and "2026年11月没有更多有积分的工友可以替补" in said
    assert said.choices is None


async def test_a_tap_beside_an_open_flow_answers_and_asks_again(app, chat, clock, db, site):
    choices = await proposed(app, clock, chat, site)
    secretary = chat.user("sec")
    assert "从哪天开始请假" in await secretary.say("/leave")
    said = await secretary.tap("✅ 马强", choices)
    assert "已确认：马强" in said and "放弃" not in said
    assert said.text.splitlines()[-1].startswith("从哪天开始请假")  # the question, again
    assert "请假到哪一天" in await secretary.tap("今天")  # the flow went on where it was
    assert names_of(await rows(db), site)["马强"].status == "confirmed"


# ---- consent and the announcement


async def decide_all(app, chat, clock, site, *, ma_public: str | None, zhao_public: str | None):
    """马强 (bound) and 赵六 (no account) confirmed, 李四 replaced by 赵六, 王五 skipped."""
    choices = await proposed(app, clock, chat, site)
    chat.notices(site["李工会"]), chat.notices(site["周工会"])  # their proposals, read
    secretary = chat.user("sec")
    await secretary.tap("✅ 马强", choices)
    asked = chat.notices(site["马强"]).choices
    await secretary.tap("🔁 换人：李四", choices)
    await secretary.tap("⏭ 跳过：王五", choices)
    said = await secretary.tap("✅ 赵六", (await secretary.say("/monthstar")).choices)
    if zhao_public:
        await secretary.tap(zhao_public, said.choices)
    if ma_public:
        return await chat.user("ma").tap(ma_public, asked)
    return asked


async def test_consent_yes_names_the_star_and_the_announcement_goes_once(app, chat, clock, db, site):
    said = await decide_all(app, chat, clock, site, ma_public="同意公开姓名", zhao_public="不公开")
    assert "谢谢！项目内通报时将显示您的姓名" in said
    # only the worker answers for themself; an answer is given once
    assert "已请 马强 本人回答" in await chat.user("uni").say(
        f"/monthstar public {names_of(await rows(db), site)['马强'].id} no")
    ma_award = names_of(await rows(db), site)["马强"]
    assert "只有获评工友本人可以回答" in await chat.user("zhang").say(f"/monthstar public {ma_award.id} no")
    assert "已经回答过了：同意公开姓名" in await chat.user("ma").say(f"/monthstar public {ma_award.id} no")
    assert names_of(await rows(db), site)["马强"].public is True
    assert names_of(await rows(db), site)["赵六"].public is False

    clock.advance(minutes=15)
    assert await run(app, clock, monthly.ANNOUNCE_JOB) == 4  # every bound member of P1
    expected = ("🌟 2026年11月 行为安全之星：马强（钢筋班）12 分；另有 1 名工友获评。"
                "向他们学习，争做行为安全之星！")
    zhang, ma = chat.notices(site["张三"]), chat.notices(site["马强"])
    secretary, union = chat.notices(site["王书记"]), chat.notices(site["李工会"])
    for told in (zhang, ma, secretary, union):
        assert told.text.splitlines()[0] == expected
        assert "赵六" not in told.text.splitlines()[0]
    assert len(images(zhang)) == 1 and "马强" in images(zhang)[0].caption
    assert len(images(ma)) == 1 and "恭喜您获评" in ma
    # the organisers get every certificate, 赵六's too, to print and hand over
    assert len(images(secretary)) == 2 and len(images(union)) == 2
    assert "赵六 未同意公开姓名" in secretary
    for image in images(secretary):
        assert decoded(image) == ((1754, 1240), "RGB")
    assert chat.notices(site["周工会"]).replies == []  # another project

    clock.advance(minutes=15)
    assert await run(app, clock, monthly.ANNOUNCE_JOB) == 0  # twice: sent once
    assert chat.notices(site["张三"]).replies == []
    async with db.sessions() as s:
        sent = (await s.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "stars_announced"))).scalar_one()
    assert sent == 4
    assert all(a.announced_at is not None for a in await rows(db) if a.project_id == site["P1"])


async def test_no_answer_keeps_the_name_back_until_consent_hours_pass(app, chat, clock, db, site, config):
    await decide_all(app, chat, clock, site, ma_public=None, zhao_public=None)
    clock.advance(hours=1)
    assert await run(app, clock, monthly.ANNOUNCE_JOB) == 0  # 马强 may still answer
    assert chat.notices(site["张三"]).replies == []
    clock.advance(hours=config.stars.consent_hours)
    assert await run(app, clock, monthly.ANNOUNCE_JOB) == 4
    zhang, ma, secretary = (chat.notices(site[n]) for n in ("张三", "马强", "王书记"))
    first = zhang.text.splitlines()[0]
    assert first == "🌟 2026年11月 行为安全之星：2 名工友获评。向他们学习，争做行为安全之星！"
    assert images(zhang) == []  # no certificate of anyone who did not agree
    assert len(images(ma)) == 1 and "马强" in images(ma)[0].caption  # their own
    assert len(images(secretary)) == 2
    # an answer after the announcement is kept, and the worker is told it went out
    award = names_of(await rows(db), site)["马强"]
    said = await chat.user("ma").say(f"/monthstar public {award.id} yes")
    assert "2026年11月的通报已经发出" in said
    assert names_of(await rows(db), site)["马强"].public is True
    assert await run(app, clock, monthly.ANNOUNCE_JOB) == 0


async def test_a_month_with_a_proposal_open_is_not_announced(app, chat, clock, db, site):
    choices = await proposed(app, clock, chat, site)
    secretary = chat.user("sec")
    await secretary.tap("✅ 马强", choices)
    await chat.user("ma").tap("同意公开姓名", chat.notices(site["马强"]).choices)
    clock.advance(days=3)
    assert await run(app, clock, monthly.ANNOUNCE_JOB) == 0  # 李四 and 王五 still proposed
    await secretary.tap("⏭ 跳过：李四", choices)
    said = await secretary.tap("⏭ 跳过：王五", choices)
    assert "2026年11月候选已全部处理" in said
    assert await run(app, clock, monthly.ANNOUNCE_JOB) == 4
    first = chat.notices(site["张三"]).text.splitlines()[0]
    assert first == "🌟 2026年11月 行为安全之星：马强（钢筋班）12 分。向他们学习，争做行为安全之星！"


# ---- the certificate


def test_the_certificate_is_an_a4_png_whatever_the_names():
    t = Translator("zh_CN")
    words = certificate.wording(t, name="马强", crew="钢筋班", project="示例项目",
                                branch="示例项目党支部", month=NOV, day=dt.date(2026, 12, 1))
    assert words.greeting == "马强（钢筋班）："
    assert words.citation == "在示例项目2026年11月“行为安全之星”评选中，安全行为表现突出，被评为“行为安全之星”。"
    assert words.signers == ("示例项目党支部", "工会") and words.date == "2026年12月1日"
    long = certificate.wording(t, name="名" * 100, crew="班" * 100, project="项目" * 100,
                               branch="支部" * 100, month=NOV, day=dt.date(2026, 12, 1))
    for w in (words, long, certificate.wording(Translator("en"), name="Ma Qiang " * 11, crew=None,
                                               project="Project " * 25, branch="B" * 200,
                                               month=NOV, day=dt.date(2026, 12, 1))):
        image = Image(certificate.render(w))
        assert decoded(image) == ((1754, 1240), "RGB")


def test_wrapping_keeps_every_character_and_the_width():
    from PIL import ImageDraw

    draw = ImageDraw.Draw(PILImage.new("RGB", (10, 10)))
    font = certificate.font(40)
    text = "在" + "很长的项目名称" * 20 + "中，表现突出。" + " Supercalifragilistic" * 5 + "x" * 90
    lines = certificate.wrap(draw, text, font, 600, first_indent=80)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert len(lines) > 5
    assert all(draw.textlength(certificate._core(line), font=font) <= 600 for line in lines)
    assert not any(line[:1] in certificate.NO_LINE_START for line in lines)


async def test_the_renderer_makes_the_certificate_of_a_confirmed_star_only(app, chat, clock, db, site, config):
    choices = await proposed(app, clock, chat, site)
    await chat.user("sec").tap("✅ 马强", choices)
    found = names_of(await rows(db), site)
    async with db.sessions() as s:
        work = await certificate.make_certificate(s, config, Translator("zh_CN"), found["马强"].id)
        assert await certificate.make_certificate(s, config, Translator("zh_CN"),
                                                  found["李四"].id) is None  # still proposed
        assert await certificate.make_certificate(s, config, Translator("zh_CN"), 99999) is None
        in_english = await certificate.make_certificate(s, config, Translator("en"), found["马强"].id)
    image = work()
    assert image.filename == f"star-2026-11-{found['马强'].id}.png"
    assert image.caption == "马强 · 2026年11月 行为安全之星奖状"
    assert decoded(image) == ((1754, 1240), "RGB")
    assert decoded(in_english()) == ((1754, 1240), "RGB")
    async with db.sessions() as s:  # the ledger query behind the observations, directly
        start, end = monthly.month_span(NOV, config.tz)
        counts = await awards.observations(s, site["P1"], [site["马强"]], start, end)
    assert list(counts[site["马强"]].items()) == [
        (("star", WEAR), 2), (("star", "制止违章"), 1), (("event", "violation_confirmed"), 1)]


def test_last_month_on_the_local_clock():
    assert monthly.last_month(DEC_1, SH) == NOV
    # 00:30 on January 1st in Shanghai is still December 31st in UTC
    assert monthly.last_month(sh(2027, 1, 1, 0, 30).astimezone(dt.UTC), SH) == dt.date(2026, 12, 1)
    start, end = monthly.month_span(dt.date(2026, 12, 1), SH)
    assert (start, end) == (sh(2026, 12, 1).astimezone(dt.UTC), sh(2027, 1, 1).astimezone(dt.UTC))


async def test_a_month_missed_on_the_first_is_proposed_on_the_next_run(app, chat, clock, db, site):
    """The service was down on the 1st: the 3rd's run proposes November, once."""
    assert await run(app, clock, monthly.PROPOSE_JOB, sh(2026, 12, 3, 9, 0)) == 3
    assert "2026年11月" in chat.notices(site["王书记"])
    assert await run(app, clock, monthly.PROPOSE_JOB, sh(2026, 12, 4, 9, 0)) == 0
    assert len(await rows(db)) == 3 + 1  # P1's three, P2's one
