"""Engine guarantees that no single flow shows: failures roll back, logs name no one."""
from __future__ import annotations

import logging

import sqlalchemy as sa

from bot.core.contract import Incoming, Kind, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.registry import Registry
from handlers import help as help_
from storage.models import DialogState, Project
from tests.chatbot import TestBot, test_app


def failing_registry() -> Registry:
    """A two-step flow whose second step writes a row and then fails."""
    registry = Registry()
    flow = registry.flow(Flow("boom"))

    async def ask_name(ctx: Ctx):
        return Text("name?")

    @flow.step(accepts={Kind.text}, ask=ask_name)
    async def name(ctx: Ctx, msg: Incoming) -> None:
        ctx.session.add(Project(code="X", name=msg.text, branch="b"))
        await ctx.session.flush()
        raise RuntimeError("disk on fire")

    async def boom(ctx: Ctx, msg: Incoming) -> None:
        await ctx.start(flow)

    registry.command(Command("boom", boom, "boom", public=True))
    registry.join_text = "join us"
    help_.register(registry)
    return registry


async def test_a_failing_step_saves_nothing_and_tells_the_user(db, config, clock, caplog):
    bot = TestBot(test_app(config, clock, db, failing_registry()), platform="wecom")
    user = bot.user("zhang-secret-userid")
    await user.say("/boom")
    with caplog.at_level(logging.ERROR):
        said = await user.say("工地A")
    assert "出错了" in said and "没有保存" in said
    error_id = said.text.split("编号 ")[1].split("）")[0]
    assert error_id in caplog.text
    assert "zhang-secret-userid" not in caplog.text
    async with db.sessions() as s:
        assert (await s.execute(sa.select(Project))).first() is None
        state = (await s.execute(sa.select(DialogState))).scalar_one()
    assert state.step == "name"  # still at the question: the user can simply answer again


async def test_the_same_message_twice_at_once_is_handled_once(db, config, clock):
    """Two deliveries racing (WeCom retries, two workers): one answer."""
    import asyncio

    bot = TestBot(test_app(config, clock, db, failing_registry()))
    user = bot.user("u1")
    first, second = await asyncio.gather(user.say("/help", message_id="same"),
                                         user.say("/help", message_id="same"))
    assert sorted([bool(first.replies), bool(second.replies)]) == [False, True]
