"""Anonymous violation reports: the promise kept, follow-up by receipt, the officers'
side, limits and retention."""
from __future__ import annotations

import datetime as dt
import io
import logging
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage

from handlers.violation import due_officer_notices, purge
from storage.models import Base, DialogState, Hazard, ViolationReport
from tests import factories as f
from tests.chatbot import engine_for

RECEIPT = re.compile(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}")
SECRET_ID = "777000123"  # the reporter's account, to be found nowhere
SECRET_NAME = "张匿名"


def gps_photo() -> bytes:
    """A photo as a phone sends it: GPS position, camera model and a comment inside."""
    exif = PILImage.Exif()
    exif[0x0110] = "RedPhone 9"
    exif[0x8825] = {1: "N", 2: (31.0, 13.0, 49.0), 3: "E", 4: (121.0, 28.0, 25.0)}
    out = io.BytesIO()
    PILImage.new("RGB", (60, 40), "purple").save(out, "JPEG", exif=exif.tobytes(),
                                                   comment=f"{SECRET_NAME} {SECRET_ID}".encode())
    return out.getvalue()


@pytest.fixture
async def site(db):
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1")
        await f.zone(s, p, "施工现场A区")
        people = {}
        for key, name, roles, uid in (("officer", "李安监", ("member", "safety_officer"), "o1"),
                                      ("secretary", "王书记", ("member", "secretary"), "o2"),
                                      ("member", "陈静", ("member",), "m1"),
                                      ("crew", "赵强", ("assignee",), "c1")):
            m = await f.member(s, p, name, roles=roles)
            await f.bind(s, m, external_id=uid)
            people[key] = m.id
    return people


async def everything_stored(db, media_dir: Path) -> str:
    """Every row of every table, and every stored file, as one searchable text."""
    parts = []
    async with db.sessions() as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(sa.select(table))).all():
                parts.append(f"{table.name}: {tuple(row)}")
    for path in media_dir.rglob("*"):
        if path.is_file():
            parts.append(path.name)
            parts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(parts)


async def report_as(user, description="有人在5楼临边不系安全带作业", submit="匿名提交"):
    said = await user.say("/start report-P1")  # the project's QR code link
    assert "匿名举报" in said and "可能让人认出您" in said
    await user.photo(gps_photo())
    await user.say("完成")
    await user.tap("施工现场A区")
    await user.tap("未系安全带")
    await user.say(description)
    return await user.tap(submit)


# ---- the promise


async def test_an_anonymous_report_leaves_no_trace_of_the_reporter(chat, site, db, config, caplog):
    caplog.set_level(logging.DEBUG, logger="redshield")
    worker = chat.user(SECRET_ID)  # not in the directory: a worker with a phone
    said = await report_as(worker)
    code = RECEIPT.search(said.text).group()
    assert "只显示这一次" in said

    async with db.sessions() as s:
        report = (await s.execute(sa.select(ViolationReport))).scalar_one()
        assert (await s.execute(sa.select(DialogState))).first() is None  # the draft is gone
    assert report.named_member_id is None and report.received_at.minute == 0
    assert code.replace("-", "") not in report.receipt_hash

    stored = await everything_stored(db, Path(config.media.dir))
    for needle in (SECRET_ID, SECRET_NAME, "RedPhone", "31.2"):
        assert needle not in stored, needle
        assert needle not in caplog.text, needle
    [photo] = list(Path(config.media.dir).rglob("*.jpg"))
    image = PILImage.open(photo)
    assert not image.getexif() and "comment" not in image.info

    assert "举报（未系安全带）· 待处理" in await worker.say(f"查询 {code.lower()}")


async def test_the_console_and_telegram_keep_it_too(engine, db, config, site, api_factory, tmp_path, caplog):
    """The same proof through the console adapter and the real Telegram Application."""
    caplog.set_level(logging.DEBUG, logger="redshield")
    from bot.adapters.console import ConsoleChat

    out = io.StringIO()
    console = ConsoleChat(engine, f"guest-{SECRET_NAME}", out=out, files_dir=tmp_path / "files")
    picture = tmp_path / "p.jpg"
    picture.write_bytes(gps_photo())
    for line in ("/start report-P1", f"/photo {picture}", "完成", "施工现场A区", "违章作业",
                 "塔吊下方有人逗留", "匿名提交"):
        await console.send(line)
    assert RECEIPT.search(out.getvalue())

    from tests.telegram_updates import tg_message
    from tests.test_telegram import make_phone, tg_config

    api = await api_factory()
    cfg = tg_config(config, api)
    phone = await make_phone(cfg, api, engine_for(cfg, None, db.engine))
    api.files["photos/p1.jpg"] = gps_photo()
    user = {"id": int(SECRET_ID), "is_bot": False, "first_name": SECRET_NAME,
            "username": "zhang_anon", "language_code": "zh-hans"}
    sizes = [{"file_id": "p1", "file_unique_id": "q", "width": 60, "height": 40, "file_size": 900}]
    for update in (tg_message("/start report-P1", user=user), tg_message(photo=sizes, user=user),
                   tg_message("完成", user=user)):
        await phone.send(update)
    zone_question = api.sent("sendMessage")[-1]
    from tests.telegram_updates import tg_tap

    await phone.send(tg_tap(zone_question, "施工现场A区", user=user))
    await phone.send(tg_tap(api.sent("sendMessage")[-1], "违章作业", user=user))
    await phone.send(tg_message("钢筋班组有人酒后上岗", user=user))
    await phone.send(tg_tap(api.sent("sendMessage")[-1], "匿名提交", user=user))
    await phone.adapter.app.shutdown()
    assert RECEIPT.search(api.sent("sendMessage")[-1]["text"])

    async with db.sessions() as s:
        assert len((await s.execute(sa.select(ViolationReport))).all()) == 2
    stored = await everything_stored(db, Path(config.media.dir))
    for needle in (SECRET_ID, SECRET_NAME, "zhang_anon", "RedPhone"):
        assert needle not in stored, [line[:300] for line in stored.splitlines() if needle in line]
        assert needle not in caplog.text, needle


@pytest.fixture
async def api_factory():
    from tests.fakes.telegram_api import FakeBotAPI

    started = []

    async def make():
        api = FakeBotAPI()
        await api.start()
        started.append(api)
        return api

    yield make
    for api in started:
        await api.stop()


async def test_named_report_keeps_the_member(chat, site, db):
    said = await report_as(chat.user("m1"), submit="实名举报（可获行为安全之星积分）")
    assert RECEIPT.search(said.text)
    async with db.sessions() as s:
        report = (await s.execute(sa.select(ViolationReport))).scalar_one()
    assert report.named_member_id == site["member"]


async def test_strangers_do_not_see_the_named_choice(chat, site):
    worker = chat.user("w1")
    await worker.say("/start report-P1")
    await worker.say("跳过")
    await worker.tap("施工现场A区")
    await worker.tap("违章作业")
    said = await worker.say("描述")
    assert said.buttons == ["匿名提交", "取消"]


# ---- bad input


async def test_report_in_a_group_points_to_the_private_chat(chat, site, db):
    said = await chat.user("w1", chat_id="g1", group=True).say("/report")
    assert "私聊" in said and said.replies[-1].start_param == "report"
    async with db.sessions() as s:
        assert (await s.execute(sa.select(DialogState))).first() is None


async def test_not_a_photo_and_an_empty_description(chat, site):
    worker = chat.user("w1")
    await worker.say("举报")
    said = await worker.photo(b"GIF89a not really")
    assert "不是照片" in said
    await worker.say("跳过")
    assert "是哪个项目" in worker.last
    await worker.tap("示例项目")
    await worker.tap("不确定")
    await worker.tap("其他")
    assert "描述不能为空" in await worker.say("  ")


async def test_daily_limit_refuses_clearly_and_saves_nothing(chat, site, db, clock):
    worker = chat.user("w1")
    for _ in range(5):
        await report_as(worker)
    said = await worker.say("/report")
    assert "达到每日上限" in said
    async with db.sessions() as s:
        assert len((await s.execute(sa.select(ViolationReport))).all()) == 5
    clock.advance(days=1)
    assert "匿名举报" in await worker.say("/report")


async def test_track_wrong_codes_answer_alike_and_are_limited(chat, site):
    worker = chat.user("w1")
    said = await report_as(worker)
    code = RECEIPT.search(said.text).group()
    prober = chat.user("w2")
    answers = {(await prober.say(f"/track {typed}")).text
               for typed in ("ABCD-EFGH-JKMN", "hello", "1234")}
    assert answers == {"查询码不正确。"}
    await prober.say("/track ZZZZ-ZZZZ-ZZZZ")
    await prober.say("/track ZZZZ-ZZZZ-ZZZY")
    assert "查询次数太多" in await prober.say(f"/track {code}")


# ---- officers


async def test_officers_are_told_at_a_random_moment_and_handle_it(chat, site, db, clock, config):
    worker = chat.user("w1")
    code = RECEIPT.search((await report_as(worker)).text).group()
    async with db.sessions() as s, s.begin():
        report = (await s.execute(sa.select(ViolationReport))).scalar_one()
        due = report.notify_after
        hour_end = clock().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        assert hour_end <= due <= hour_end + dt.timedelta(minutes=30)  # nothing finer than the hour
        assert await due_officer_notices(s, due - dt.timedelta(seconds=1), config) == []
    async with db.sessions() as s, s.begin():
        notices = await due_officer_notices(s, due, config)
    assert {n.member_id for n in notices} == {site["officer"], site["secretary"]}
    text = notices[0].replies[0].prompt
    assert "收到一条违章举报" in text and SECRET_ID not in text

    officer = chat.user("o1")
    said = await officer.tap("查看", choices=notices[0].replies[0])
    assert "未系安全带" in said and "有人在5楼临边" in said
    assert said.buttons == ["回复", "属实已处理", "不属实", "转为隐患"]
    await officer.tap("回复")
    await officer.say("已找到班组长，当场纠正")
    said = await worker.say(f"/track {code}")
    assert "已找到班组长，当场纠正" in said
    await worker.tap("补充说明或照片")
    assert "已补充" in await worker.say("第二天又看到了")
    assert "举报人补充：第二天又看到了" in await officer.say("/violations 1")
    assert "属实，已处理" in await officer.tap("属实已处理")
    assert "已处理" in await officer.say("/violations 1 unfounded")
    assert "没有使用此功能的权限" in await chat.user("m1").say("/violations")


async def test_a_report_becomes_a_hazard(chat, site, db):
    await report_as(chat.user("w1"))
    officer = chat.user("o1")
    await officer.say("/violations 1")
    said = await officer.tap("转为隐患")
    assert "隐患在哪个区域" in said  # the report's photo is already there
    await officer.tap("施工现场A区")
    await officer.tap("高处作业")
    await officer.tap("一般隐患")
    await officer.say("5楼临边作业未系安全带")
    await officer.tap("跳过")
    await officer.tap("赵强")
    await officer.tap("今天")
    assert "已登记" in await officer.tap("确认提交")
    async with db.sessions() as s:
        hazard = (await s.execute(sa.select(Hazard))).scalar_one()
        report = (await s.execute(sa.select(ViolationReport))).scalar_one()
    assert report.status == "hazard" and report.hazard_id == hazard.id
    assert hazard.reporter_id == site["officer"]


# ---- retention


async def test_retention_deletes_old_reports_and_their_photos(chat, site, db, clock, config):
    await report_as(chat.user("w1"))
    files = list(Path(config.media.dir).rglob("*.jpg"))
    assert len(files) == 1
    async with db.sessions() as s, s.begin():
        assert await purge(s, clock() + dt.timedelta(days=364), config) == 0
    async with db.sessions() as s, s.begin():
        assert await purge(s, clock() + dt.timedelta(days=366), config) == 1
    assert not files[0].exists()
    async with db.sessions() as s:
        assert (await s.execute(sa.select(ViolationReport))).first() is None


async def test_wecom_keeps_it_too(db, config, clock, site, caplog, tmp_path):
    """The same proof through the WeCom callback, encrypted as WeCom does."""
    caplog.set_level(logging.DEBUG, logger="redshield")
    from bot.adapters.wecom import WecomAdapter
    from tests.fakes.wecom_api import FakeWecomAPI
    from tests.test_wecom import CORP, SECRET, FakeTime, Wecom, wecom_config

    api = FakeWecomAPI(CORP, SECRET)
    await api.start()
    try:
        cfg = wecom_config(config, api, tmp_path, max_photo_mb=5)
        time = FakeTime()
        wecom = Wecom(WecomAdapter(cfg, engine_for(cfg, clock, db.engine),
                                   clock=time.monotonic, sleep=time.sleep), api, time, db)
        worker = wecom.member(SECRET_ID)
        api.media["M1"] = (gps_photo(), "image/jpeg")
        await worker.says("/start report-P1")
        await worker.sends_image("M1")
        zones = await worker.says("完成")
        kinds = await worker.taps("施工现场A区", zones.card)
        assert "3. 违章作业" in kinds  # seven options: numbered text, not a card
        await worker.says("3")
        submit = await worker.says("脚手架上有人抽烟")
        done = await worker.taps("匿名提交", submit.card)
        assert RECEIPT.search(done.text)
        await wecom.close()
    finally:
        await api.stop()
    stored = await everything_stored(db, Path(config.media.dir))
    for needle in (SECRET_ID, SECRET_NAME, "RedPhone"):
        assert needle not in stored, needle
        assert needle not in caplog.text, needle
