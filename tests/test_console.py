"""The console adapter, driven in-process through the real engine."""
from __future__ import annotations

import io

import pytest

from bot.adapters.console import ConsoleChat, parse
from bot.core.contract import Choices, Image, Kind, Option
from tests import factories as f


@pytest.fixture
async def console(engine, db, tmp_path):
    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        zhang = await f.member(s, p, "张三")
        await f.bind(s, zhang, platform="console", external_id=f"member-{zhang.id}")
    out = io.StringIO()
    chat = ConsoleChat(engine, f"member-{zhang.id}", out=out, files_dir=tmp_path / "files")

    async def say(line: str) -> str:
        out.seek(0)
        out.truncate()
        await chat.send(line)
        return out.getvalue()

    return say


async def test_options_are_numbered_and_picked_by_number(console):
    shown = await console("/lang")
    assert "[1] 中文" in shown and "[2] English" in shown and "[3] 取消" in shown
    assert "English" in await console("2")
    assert "Party member" in await console("/me")


async def test_a_long_or_odd_number_is_text_not_a_crash(console):
    await console("/lang")
    for line in ("9" * 5000, "²"):  # past int()'s digit limit; a digit int() refuses
        shown = await console(line)
        assert "[1] 中文" in shown  # not a tap: the question is asked again
    assert "English" in await console("2")


async def test_options_are_picked_by_label(console):
    await console("语言")
    assert "English" in await console("english")


async def test_help_buttons_work_by_number(console):
    shown = await console("帮助")
    number = next(line.split("]")[0].strip(" [") for line in shown.splitlines() if line.endswith("] 我的"))
    assert "张三" in await console(number)


async def test_photo_and_location_lines(console, tmp_path):
    assert "no such file" in await console("/photo /nonexistent.jpg")
    assert "usage: /location" in await console("/location north")
    picture = tmp_path / "p.jpg"
    picture.write_bytes(b"\xff\xd8")
    assert "不是照片" in await console(f"/photo {picture}")  # reaches the engine, which checks it


def test_parse_makes_the_right_kinds(tmp_path):
    assert parse("/start AB", "u").kind is Kind.command
    assert parse("/start AB", "u").text == "AB"
    assert parse("你好", "u").kind is Kind.text
    loc = parse("/location 31.2 121.4", "u")
    assert (loc.kind, loc.latitude, loc.longitude) == (Kind.location, 31.2, 121.4)


def test_images_are_saved_and_their_path_shown(engine, tmp_path):
    chat = ConsoleChat(engine, "u", files_dir=tmp_path)
    shown = chat.render(Image(b"png", caption="周报", filename="week.png"))
    assert (tmp_path / "week.png").read_bytes() == b"png" and "周报" in shown
    shown = chat.render(Choices("选一个", (Option("甲", "a"),)))
    assert shown.splitlines() == ["选一个", "  [1] 甲"]
