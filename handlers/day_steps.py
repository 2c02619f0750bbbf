"""A step maker for the day something was held: 今天 / 昨天 buttons or a typed date
(12-01, 上周五), never in the future, not older than a limit. Used by records of what
already happened (a 群星闪耀 activity, a zone's education)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from bot.core.contract import Choices, Incoming, Kind, Option
from bot.core.flow import Ctx, Flow, Step
from handlers.dates import parse_day, today


def held_on(flow: Flow, prompt: str, *, max_age_days: int, future: str, too_old: str,
            name: str | None = None) -> Callable[[Callable[[Ctx, dt.date], Awaitable[None]]], Step]:
    """`prompt`, `future` and `too_old` are msgids (`too_old` takes {n}); the decorated
    function gets the checked day."""

    async def ask(ctx: Ctx) -> Choices:
        t, now = ctx.t, today(ctx)
        return Choices(t(prompt), (Option(t("今天"), now.isoformat()),
                                   Option(t("昨天"), (now - dt.timedelta(days=1)).isoformat())))

    def make(then: Callable[[Ctx, dt.date], Awaitable[None]]) -> Step:
        async def handle(ctx: Ctx, msg: Incoming) -> None:
            t, now = ctx.t, today(ctx)
            if msg.kind is Kind.choice:
                if not ctx.offered(msg.choice):
                    return await ctx.reject()
                held = dt.date.fromisoformat(msg.choice)
            else:
                held = parse_day(msg.text, now, prefer="past")
            if held is None:
                return await ctx.reject(t("没看懂这个日期，请点按钮或输入如 12-01。"))
            if held > now:
                return await ctx.reject(t(future))
            if held < now - dt.timedelta(days=max_age_days):
                return await ctx.reject(t(too_old).format(n=max_age_days))
            await then(ctx, held)

        return flow.add(name or then.__name__, accepts={Kind.choice, Kind.text}, ask=ask, handle=handle)

    return make
