"""Step makers for the question shapes flows repeat: free text with limits, and
one pick from a list. Each is a decorator over the function that takes the
checked answer and says where to go next:

    @ask_text(flow, N_("请简要描述隐患。"), max_len=1000)
    async def description(ctx, text):
        ctx.data["description"] = text
        await ctx.goto(requirement)

The decorated name is the Step, so other steps reach it by reference.
"""
from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from bot.core.contract import SKIP, Choices, Incoming, Kind, Option, Reply, Text
from bot.core.flow import Asker, Ctx, Flow, Step
from bot.core.i18n import N_

Prompt = str | Callable[[Ctx], Any]  # a msgid, or a function giving the translated text


async def prompt_text(ctx: Ctx, prompt: Prompt) -> str:
    if isinstance(prompt, str):
        return ctx.t(prompt)
    text = prompt(ctx)
    return await text if inspect.isawaitable(text) else text


def too_long(ctx: Ctx, length: int, limit: int) -> str:
    return ctx.t("太长了：最多 {limit} 字，这次 {length} 字。请精简后重新发送。").format(
        limit=limit, length=length)


def ask_text(flow: Flow, prompt: Prompt, *, empty: str = N_("请输入文字。"), min_len: int = 1,
             max_len: int = 1000, skip: str | None = None, name: str | None = None,
             recordings: Callable[[Ctx, Incoming], Awaitable[None]] | None = None,
             ) -> Callable[[Callable[[Ctx, str | None], Awaitable[None]]], Step]:
    """Free text, stripped, at least `min_len` characters (else `empty` is said), at most
    `max_len` (else the limit is said and the question asked again). With `skip` (a
    button label msgid) the question may be skipped, and the handler gets None. With
    `recordings`, a voice note or video is handed to it (kept beside the text) and
    the question is asked again."""

    async def ask(ctx: Ctx) -> Reply:
        text = await prompt_text(ctx, prompt)
        return Choices(text, (Option(ctx.t(skip), SKIP),)) if skip else Text(text)

    def make(then: Callable[[Ctx, str | None], Awaitable[None]]) -> Step:
        async def handle(ctx: Ctx, msg: Incoming) -> None:
            if msg.kind in (Kind.voice, Kind.video):
                await recordings(ctx, msg)
                return await ctx.ask_again()
            if msg.kind is Kind.choice:
                if msg.choice != SKIP:
                    return await ctx.reject()
                return await then(ctx, None)
            text = msg.text.strip()
            if len(text) < min_len:
                return await ctx.reject(ctx.t(empty))
            if len(text) > max_len:  # never cut silently: say how long it may be
                return await ctx.reject(too_long(ctx, len(text), max_len))
            await then(ctx, text)

        accepts = {Kind.text, Kind.choice} if skip else {Kind.text}
        if recordings is not None:
            accepts |= {Kind.voice, Kind.video}
        return flow.add(name or then.__name__, accepts=accepts, ask=ask, handle=handle)

    return make


def pick_one(flow: Flow, ask: Asker, *, name: str | None = None, hint: str | None = None
             ) -> Callable[[Callable[[Ctx, str], Awaitable[None]]], Step]:
    """One tap among the options `ask` offers (a typed label or number counts as the
    tap). The handler gets the option's value, only ever one that was offered."""

    def make(then: Callable[[Ctx, str], Awaitable[None]]) -> Step:
        async def handle(ctx: Ctx, msg: Incoming) -> None:
            if not ctx.offered(msg.choice):
                return await ctx.reject(ctx.t(hint) if hint else None)
            await then(ctx, msg.choice)

        return flow.add(name or then.__name__, accepts={Kind.choice}, ask=ask, handle=handle,
                        hint=hint)

    return make
