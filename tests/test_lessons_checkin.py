"""红盾课堂 check-in and records: the organiser shows a code (and a QR of the t.me check-in
link) only in the lesson's window; members check in with it (any case, with dashes, by
the deep link), wrong and late codes get their answers and wrong ones lock; the record
(photos, the paper sign-in sheet and its headcount, a link, the summary) completes; the
day after, an incomplete record is reminded once. Lessons are inserted directly."""
from __future__ import annotations

import datetime as dt
import subprocess
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.core.contract import Image
from handlers.lessons import checkin, record
from storage.media import MediaStore
from storage.models import AttemptCounter, Lesson, LessonAttendance, LessonFile
from tests import factories as f
from tests.chatbot import Said, TestBot, test_app

SH = ZoneInfo("Asia/Shanghai")


def sh(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH).astimezone(dt.UTC)


# The clock starts on Mon 2026-11-23 10:00 in Shanghai; the lesson runs 10:30–11:30, so
# check-in is open 10:15–12:00 (15 minutes early, 30 late, by default).
START, END = sh(2026, 11, 23, 10, 30), sh(2026, 11, 23, 11, 30)


@pytest.fixture
async def site(db):
    """P1: the secretary, the organiser (a Party member), a safety officer, two workers of
    钢筋班 (one without an account); P2: a member. Member ids by key, and the lesson's id."""
    ids = {}
    async with db.sessions() as s, s.begin():
        p1 = await f.project(s, "P1")
        p2 = await f.project(s, "P2", "别的项目", "别的项目党支部")
        for key, project, name, roles, crew, uid in (
            ("secretary", p1, "王书记", ("member", "secretary"), None, "sec"),
            ("organiser", p1, "张三", ("member",), None, "org"),
            ("officer", p1, "李安监", ("member", "safety_officer"), None, "off"),
            ("worker", p1, "马强", ("worker",), "钢筋班", "ma"),
            ("unbound", p1, "陈七", ("worker",), "钢筋班", None),
            ("stranger", p2, "外人", ("member", "secretary"), None, "x"),
        ):
            m = await f.member(s, project, name, roles=roles, crew=crew)
            if uid:
                await f.bind(s, m, external_id=uid)
            ids[key] = m.id
        ids["P1"], ids["P2"] = p1.id, p2.id
        ids["lesson"] = (await add_lesson(s, p1.id, ids["organiser"])).id
    return ids


async def add_lesson(s, project_id, organiser_id, *, title="高处作业安全", start=START, end=END,
                     audience="managers", **extra) -> Lesson:
    lesson = Lesson(project_id=project_id, title=title, form="安全培训", starts_at=start,
                    ends_at=end, place="项目部会议室", audience=audience, crews=[],
                    organiser_id=organiser_id, planned_by_id=None, created_at=f.NOW, **extra)
    s.add(lesson)
    await s.flush()
    return lesson


async def lesson_row(db, lesson_id) -> Lesson:
    async with db.sessions() as s:
        return (await s.execute(sa.select(Lesson).where(Lesson.id == lesson_id))).scalar_one()


async def attendance(db, lesson_id) -> dict[int, dt.datetime]:
    async with db.sessions() as s:
        rows = await s.execute(sa.select(LessonAttendance.member_id, LessonAttendance.checked_in_at)
                               .where(LessonAttendance.lesson_id == lesson_id))
        return dict(rows.all())


async def files(db, lesson_id) -> list[LessonFile]:
    async with db.sessions() as s:
        return list((await s.execute(sa.select(LessonFile).where(LessonFile.lesson_id == lesson_id)
                                     .order_by(LessonFile.id))).scalars())


def images(said: Said) -> list[Image]:
    return [r for r in said.replies if isinstance(r, Image)]


async def shown_code(chat, site, clock, *, said_to: list | None = None) -> str:
    """The organiser asks for the code at 10:20; the code as stored (the reply appended
    to `said_to`)."""
    clock.now = sh(2026, 11, 23, 10, 20)
    said = await chat.user("org").say(f"签到码 {site['lesson']}")
    if said_to is not None:
        said_to.append(said)
    line = next(x for x in said.text.splitlines() if x.startswith("签到码："))
    return line.removeprefix("签到码：")


async def run(app, clock, job: str, at: dt.datetime) -> int:
    clock.now = at
    return await app.scheduler.run_once(job, app.scheduler.jobs[job].work)


# ---- the organiser's code


async def test_the_code_is_shown_only_in_the_window_and_only_to_the_organiser(chat, site, clock, db):
    org, lesson = chat.user("org"), site["lesson"]
    said = await org.say(f"/lessoncode {lesson}")  # 10:00: opens at 10:15
    assert said.text == f"《高处作业安全》的签到 10:15 开放（开课前 15 分钟），届时再发送“签到码 {lesson}”。"
    assert (await lesson_row(db, lesson)).checkin_code is None  # nothing made before the window

    clock.now = sh(2026, 11, 23, 10, 20)
    said = await org.say(f"签到码 {lesson}")
    lines = said.text.splitlines()
    assert lines[0] == "《高处作业安全》"
    code = lines[1].removeprefix("签到码：")
    assert lines[1].startswith("签到码：") and len(code) == 6
    assert set(code) <= set("23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    assert lines[2] == f"请大家发送“签到 {code}”，12:00 截止。"
    assert images(said) == []  # no [telegram] bot_username: no link to put in a QR
    assert "扫" not in said.text
    assert (await lesson_row(db, lesson)).checkin_code == code

    # Asked again, or by the secretary: the same code.
    assert f"签到码：{code}" in await org.say(f"/lessoncode {lesson}")
    assert f"签到码：{code}" in await chat.user("sec").say(f"/lessoncode {lesson}")
    # Without a number: the one lesson being checked in now.
    assert f"签到码：{code}" in await org.say("签到码")
    # Not the organiser, another project's secretary, a lesson that does not exist.
    assert "只有本课的组织人或党支部书记" in await chat.user("off").say(f"签到码 {lesson}")
    assert "只有本课的组织人或党支部书记" in await chat.user("ma").say(f"签到码 {lesson}")
    assert f"本项目没有编号 {lesson} 的课" in await chat.user("x").say(f"签到码 {lesson}")
    assert "没有编号 999 的课" in await org.say("签到码 999")
    # Never in a group: the code would reach people who are not in the room.
    said = await chat.user("org", chat_id="g1", group=True).say(f"签到码 {lesson}")
    assert "私聊" in said.text and code not in said.text

    clock.now = sh(2026, 11, 23, 12, 0)
    said = await org.say(f"签到码 {lesson}")
    assert said.text == "《高处作业安全》的签到已于 12:00 结束。"
    assert "现在没有您可以签到的课" in await org.say("签到码")


async def test_the_qr_code_reads_back_as_the_check_in_link(db, config, clock, site, tmp_path):
    config = config.model_copy(update={
        "telegram": config.telegram.model_copy(update={"bot_username": "RedShieldBot"})})
    chat = TestBot(test_app(config, clock, db))
    shown = []
    code = await shown_code(chat, site, clock, said_to=shown)
    [said] = shown
    assert "扫下面的二维码" in said.text
    [image] = images(said)
    assert image.caption == "扫码签到：《高处作业安全》"
    path = tmp_path / "qr.png"
    path.write_bytes(image.data)
    found = subprocess.run(["zbarimg", "--raw", "-q", str(path)], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert found == f"https://t.me/RedShieldBot?start=checkin-{code}"

    # The link opens the bot as /start checkin-CODE: that checks the member in.
    said = await chat.user("ma").say(f"/start checkin-{code}")
    assert said.text.startswith("✅ 签到成功：《高处作业安全》")
    assert site["worker"] in await attendance(db, site["lesson"])


async def test_codes_differ_between_overlapping_lessons_and_may_repeat_on_other_days(
        chat, site, clock, db, monkeypatch):
    async with db.sessions() as s, s.begin():
        other = await add_lesson(s, site["P1"], site["organiser"], title="消防演练",
                                 start=sh(2026, 11, 23, 11, 0), end=sh(2026, 11, 23, 12, 0))
        tomorrow = await add_lesson(s, site["P1"], site["organiser"], title="用电安全",
                                    start=sh(2026, 11, 24, 10, 30), end=sh(2026, 11, 24, 11, 30))
    drawn = iter(["AAAA-AA", "AAAA-AA", "BBBB-BB", "AAAA-AA"])
    monkeypatch.setattr(checkin.codes, "new_code", lambda length: next(drawn))
    org = chat.user("org")
    assert await shown_code(chat, site, clock) == "AAAAAA"
    clock.now = sh(2026, 11, 23, 10, 50)
    assert "签到码：BBBBBB" in await org.say(f"签到码 {other.id}")  # AAAAAA was taken
    clock.now = sh(2026, 11, 24, 10, 20)
    assert "签到码：AAAAAA" in await org.say(f"签到码 {tomorrow.id}")  # yesterday's window is over
    said = await chat.user("ma").say("签到 aaaaaa")
    assert said.text.startswith("✅ 签到成功：《用电安全》")


# ---- members checking in


async def test_check_in_with_the_right_a_wrong_and_a_late_code(chat, site, clock, db):
    code = await shown_code(chat, site, clock)
    worker, officer = chat.user("ma"), chat.user("off")
    typed = f"{code[:3].lower()}-{code[3:].lower()}"  # as a phone types it
    said = await worker.say(f"签到 {typed}")
    assert said.text == ("✅ 签到成功：《高处作业安全》\n10:30 · 项目部会议室\n"
                         "（您不在本课通知范围内，已照常签到）")  # the lesson is for 管理人员
    said = await officer.say(f"/checkin {code}")
    assert said.text == "✅ 签到成功：《高处作业安全》\n10:30 · 项目部会议室"
    assert set(await attendance(db, site["lesson"])) == {site["worker"], site["officer"]}

    clock.advance(minutes=5)
    said = await worker.say(f"签到：{code}")  # a full-width colon, as Chinese keyboards type it
    assert said.text == "已签到《高处作业安全》（10:20），无需重复签到。"
    assert (await attendance(db, site["lesson"]))[site["worker"]] == sh(2026, 11, 23, 10, 20)

    wrong = "ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY"
    assert (await chat.user("sec").say(f"签到 {wrong}")).text == "签到码不对，请向组织人核对后重新发送。"
    assert "签到码不对" in await chat.user("sec").say("签到 早上好")  # not a code at all
    # Another project's member: the code is not theirs, and their project has nothing open.
    assert "现在没有正在签到的红盾课堂" in await chat.user("x").say(f"签到 {code}")

    # Not in a group: the code would let the whole group check in from anywhere.
    said = await chat.user("sec", chat_id="g1", group=True).say(f"签到 {code}")
    assert "此功能请在与我的私聊中使用" in said and "签到成功" not in said

    clock.now = sh(2026, 11, 23, 12, 0)  # the window has closed
    said = await chat.user("sec").say(f"签到 {code}")
    assert said.text == "《高处作业安全》签到已结束（12:00 截止）。"
    assert site["secretary"] not in await attendance(db, site["lesson"])


async def test_too_many_wrong_codes_lock_the_member_for_a_while(chat, site, clock, db, config):
    code = await shown_code(chat, site, clock)
    worker = chat.user("ma")
    limit = config.invites.max_failed_attempts
    for i in range(limit):
        said = await worker.say("签到 2345-67")
        assert "签到码不对" in said
        assert ("错误次数太多" in said) == (i == limit - 1)
    said = await worker.say(f"签到 {code}")  # even the right code waits
    assert said.text == "签到码错误次数太多，请 10:35 以后再试。"
    assert await attendance(db, site["lesson"]) == {}
    said = await worker.say("签到")  # not asked for a code that could not be tried
    assert said.text == "签到码错误次数太多，请 10:35 以后再试。"
    async with db.sessions() as s:  # counted under a keyed pseudonym: no member id in the key
        [key] = (await s.execute(sa.select(AttemptCounter.key))).scalars().all()
    assert key.startswith("checkin:") and str(site["worker"]) not in key.removeprefix("checkin:")[:4]
    # Others are not locked by it.
    assert "签到成功" in await chat.user("off").say(f"签到 {code}")

    clock.advance(minutes=config.invites.attempt_window_minutes)
    assert "签到成功" in await worker.say(f"签到 {code}")


async def test_a_lesson_cancelled_after_its_code_was_shown_says_so_and_locks_nobody(
        chat, site, clock, db, config):
    code = await shown_code(chat, site, clock)
    async with db.sessions() as s, s.begin():
        (await s.get(Lesson, site["lesson"])).cancelled_at = sh(2026, 11, 23, 10, 25)
    clock.now = sh(2026, 11, 23, 10, 30)
    worker = chat.user("ma")
    for _ in range(config.invites.max_failed_attempts + 1):  # the whole room, say, tries again
        said = await worker.say(f"签到 {code}")
        assert said.text == "《高处作业安全》已取消。"
    assert await attendance(db, site["lesson"]) == {}
    async with db.sessions() as s:  # not counted as a wrong code
        assert (await s.execute(sa.select(AttemptCounter.key))).scalars().all() == []
    # Nothing else open: no code to guess, so nothing counted.
    assert "现在没有正在签到的红盾课堂" in await worker.say("签到 2345-67")
    # Asked for the code, the answer closes the question: there is nothing to retry.
    assert "请输入组织人展示的签到码" in await worker.say("签到")
    assert (await worker.say(code)).text == "《高处作业安全》已取消。"
    assert "没看懂" in await worker.say("随便说点什么")


async def test_check_in_without_a_code_asks_for_it(chat, site, clock, db):
    code = await shown_code(chat, site, clock)
    worker = chat.user("ma")
    said = await worker.say("签到")
    assert "请输入组织人展示的签到码（6 位" in said and "取消" in said.text
    assert (await worker.say("取消")).text == "已取消。"
    # The group's way to the private chat opens it with /start checkin: the same question.
    said = await worker.say("/start checkin")
    assert "请输入组织人展示的签到码（6 位" in said
    said = await worker.say("ABCDEF" if code != "ABCDEF" else "ABCDEG")
    assert "签到码不对" in said and "请输入组织人展示的签到码" in said  # asked again
    said = await worker.say(code.lower())
    assert said.text.startswith("✅ 签到成功")
    assert "没看懂" in await worker.say("随便说点什么")  # the question is closed
    assert site["worker"] in await attendance(db, site["lesson"])


async def test_a_check_in_beside_an_open_question_answers_and_asks_again(chat, site, clock, db):
    code = await shown_code(chat, site, clock)
    clock.now = sh(2026, 11, 23, 10, 40)
    org = chat.user("org")
    said = await org.say(f"课堂记录 {site['lesson']}")
    assert "还缺：照片、资料、小结、签到（签到表或扫码签到）。" in said
    said = await org.say(f"签到 {code}")
    assert said.text.startswith("✅ 签到成功") and "请点按钮补充" in said  # the menu again
    assert "扫码签到：1 人" in said and "还缺：照片、资料、小结。" in said
    said = await org.tap("✅ 完成")  # the record's buttons still work
    assert said.text == (f"已保存。《高处作业安全》的记录还缺：照片、资料、小结。"
                         f"随时发送“课堂记录 {site['lesson']}”补全。")


async def test_a_check_in_completes_a_record_that_waited_only_for_it(chat, site, clock, db):
    async with db.sessions() as s, s.begin():
        lesson = await s.get(Lesson, site["lesson"])
        lesson.summary = "讲解安全带系挂"
        s.add(LessonFile(lesson_id=lesson.id, kind="photo", media_name="x.jpg", added_at=f.NOW))
        s.add(LessonFile(lesson_id=lesson.id, kind="link", url="https://pan.example.com/s/abc",
                         title="课件", added_at=f.NOW))
    code = await shown_code(chat, site, clock)
    assert "签到成功" in await chat.user("ma").say(f"签到 {code}")
    assert (await lesson_row(db, site["lesson"])).completed_at == sh(2026, 11, 23, 10, 20)


# ---- the job that hands the organiser the code


async def test_the_organiser_gets_the_code_button_as_the_window_opens(app, chat, site, clock, db):
    assert await run(app, clock, checkin.STARTING_JOB, sh(2026, 11, 23, 10, 10)) == 0  # too early
    assert await run(app, clock, checkin.STARTING_JOB, sh(2026, 11, 23, 10, 15)) == 1
    notice = chat.notices(site["organiser"])
    assert notice.text == ("📣《高处作业安全》10:30 开始（项目部会议室），签到已开放。点下面的按钮显示签到码，"
                           "请大家发送“签到 签到码”。")
    assert notice.buttons == ["显示签到码"]
    assert await run(app, clock, checkin.STARTING_JOB, sh(2026, 11, 23, 10, 20)) == 0  # once
    said = await chat.user("org").tap("显示签到码", notice.choices)
    assert "签到码：" in said
    assert chat.notices(site["secretary"]).replies == []
    # After the lesson ended (the late window still open) nobody is told any more.
    async with db.sessions() as s, s.begin():
        await add_lesson(s, site["P1"], site["organiser"], title="早班会",
                         start=sh(2026, 11, 23, 9, 0), end=sh(2026, 11, 23, 9, 55))
    assert await run(app, clock, checkin.STARTING_JOB, sh(2026, 11, 23, 10, 20)) == 0


# ---- the record


async def test_the_record_flow_to_completion(chat, site, clock, db, config):
    org, lesson = chat.user("org"), site["lesson"]
    said = await org.say(f"课堂记录 {lesson}")
    assert said.text == "《高处作业安全》还没开始（10:30 开始），开始后再记录。"
    clock.now = sh(2026, 11, 23, 11, 40)
    assert "只有本课的组织人或党支部书记" in await chat.user("off").say(f"课堂记录 {lesson}")
    assert "没有编号 999 的课" in await org.say("/record 999")

    said = await org.say(f"课堂记录 {lesson}")
    assert said.text.splitlines() == [
        "《高处作业安全》课堂记录：", "📷 照片：0 张", "🧾 签到表：未上传", "✍️ 扫码签到：0 人",
        "📎 资料：0 个", "📝 小结：未填写", "还缺：照片、资料、小结、签到（签到表或扫码签到）。",
        "请点按钮补充，补完点“✅ 完成”。"]
    assert said.buttons == ["📷 照片", "🧾 签到表", "📎 资料", "📝 小结", "✅ 完成", "取消"]

    assert "请发送课堂照片" in await org.tap("📷 照片")
    assert "已收到 1 张照片" in await org.photo()
    assert "已收到 2 张照片" in await org.photo()
    said = await org.say("完成")
    assert said.text.startswith("已保存 2 张照片。") and "📷 照片：2 张" in said

    assert "纸质签到表" in await org.tap("🧾 签到表")
    await org.photo()
    said = await org.say("完成")
    assert "一共多少人" in said
    for typed in ("0", "3000", "很多"):
        assert "请输入 1–2000 的整数人数" in await org.say(typed)
    said = await org.say("35人")
    assert said.text.startswith("已保存签到表 1 张，共 35 人。")
    assert "🧾 签到表：1 张，共 35 人" in said and "还缺：资料、小结。" in said

    assert "资料链接" in await org.tap("📎 资料")
    assert "没有找到链接" in await org.say("视频在群文件里")
    assert "没有找到链接" in await org.say("http://localhost/x")
    said = await org.say("https://pan.example.com/s/abc123")
    assert "起个标题" in said and "不写标题" in said.buttons
    said = await org.say("高处作业安全微电影")
    assert said.text.startswith("已保存资料：高处作业安全微电影") and "📎 资料：1 个" in said
    assert "还缺：小结。" in said
    await org.tap("📎 资料")
    said = await org.say("课件：https://pan.example.com/s/ppt。")  # title and link in one message
    assert said.text.startswith("已保存资料：课件") and "📎 资料：2 个" in said

    assert "两行以内" in await org.tap("📝 小结")
    assert "小结请写在两行以内（这次 3 行）" in await org.say("第一行\n第二行\n第三行")
    assert "小结至少 2 个字" in await org.say("好")
    said = await org.say("讲解安全带系挂要点\n现场演示，35 人参加")
    assert said.text.startswith("已保存小结。\n🎉 课堂记录已完整。")
    assert "✅ 记录已完整，还可以继续补充。" in said
    said = await org.tap("✅ 完成")
    assert said.text == "✅《高处作业安全》课堂记录已完整，谢谢！"

    row = await lesson_row(db, lesson)
    assert (row.headcount, row.summary, row.completed_at) == (
        35, "讲解安全带系挂要点\n现场演示，35 人参加", sh(2026, 11, 23, 11, 40))
    kept = await files(db, lesson)
    assert [(x.kind, x.url, x.title) for x in kept] == [
        ("photo", None, None), ("photo", None, None), ("signin", None, None),
        ("link", "https://pan.example.com/s/abc123", "高处作业安全微电影"),
        ("link", "https://pan.example.com/s/ppt", "课件")]
    store = MediaStore(config.media.dir)
    for x in kept[:3]:
        assert (await store.read(x.media_name))[:2] == b"\xff\xd8"  # stored JPEGs


async def test_leaving_the_sign_in_sheet_before_its_headcount_saves_neither(chat, site, clock, db):
    clock.now = sh(2026, 11, 23, 11, 40)
    org = chat.user("org")
    await org.say(f"课堂记录 {site['lesson']}")
    await org.tap("🧾 签到表")
    await org.photo()
    await org.say("完成")
    assert (await org.say("取消")).text == "已取消。"
    assert await files(db, site["lesson"]) == []
    assert (await lesson_row(db, site["lesson"])).headcount is None
    # The secretary may record too, and sees the incomplete lessons without a number.
    said = await chat.user("sec").say("课堂记录")
    assert said.buttons == [f"{site['lesson']}.《高处作业安全》10:30"]


# ---- the day after


async def test_the_next_day_an_incomplete_record_is_reminded_once(app, chat, site, clock, db):
    async with db.sessions() as s, s.begin():
        done = await add_lesson(s, site["P1"], site["organiser"], title="消防演练",
                                completed_at=sh(2026, 11, 23, 12, 0))
        await add_lesson(s, site["P1"], site["organiser"], title="取消的课",
                         cancelled_at=sh(2026, 11, 22, 12, 0))
        s.add(LessonFile(lesson_id=site["lesson"], kind="photo", media_name="x.jpg", added_at=f.NOW))
    job = app.scheduler.jobs[record.RECORD_JOB]
    assert job.trigger.get_next_fire_time(None, sh(2026, 11, 23, 12, 0)) == \
        dt.datetime(2026, 11, 24, 10, 0, tzinfo=SH)
    # The same day: not yet.
    assert await run(app, clock, record.RECORD_JOB, sh(2026, 11, 23, 23, 0)) == 0

    assert await run(app, clock, record.RECORD_JOB, sh(2026, 11, 24, 10, 0)) == 1
    notice = chat.notices(site["organiser"])
    lesson = site["lesson"]
    assert notice.text == (f"《高处作业安全》的记录还不完整：缺 资料、小结、签到（签到表或扫码签到）。"
                           f"发送“课堂记录 {lesson}”补全。")
    assert notice.buttons == ["补全记录"]
    assert (await lesson_row(db, lesson)).record_reminded_at == sh(2026, 11, 24, 10, 0)
    assert (await lesson_row(db, done.id)).record_reminded_at is None

    assert await run(app, clock, record.RECORD_JOB, sh(2026, 11, 25, 10, 0)) == 0  # once
    assert chat.notices(site["organiser"]).replies == []
    said = await chat.user("org").tap("补全记录", notice.choices)
    assert "📷 照片：1 张" in said and "还缺：资料、小结、签到（签到表或扫码签到）。" in said
