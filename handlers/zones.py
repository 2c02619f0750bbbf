"""A project's zones (党员安全生产责任区) as members pick them, and the step maker
for "which zone?"."""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import sqlalchemy as sa

from bot.core.contract import Choices, Incoming, Kind, Option
from bot.core.flow import Ctx, Flow, Step
from bot.core.i18n import N_
from bot.core.steps import Prompt, prompt_text
from storage.models import Zone

NOT_OURS = N_("这个区域不属于您的项目，请从按钮中选择。")


def squeeze(text: str) -> str:
    """What two spellings of a name share: no spaces, one case."""
    return "".join(text.split()).casefold()


async def project_zones(ctx: Ctx) -> list[Zone]:
    """The member's own zones first, then the rest of the project's."""
    own = list(ctx.member.zones)
    others = (await ctx.session.execute(
        sa.select(Zone).where(Zone.project_id == ctx.member.project_id,
                              Zone.id.not_in([z.id for z in own]) if own else sa.true())
        .order_by(Zone.id)
    )).scalars()
    return own + list(others)


def zone_options(zones: list[Zone]) -> tuple[Option, ...]:
    return tuple(Option(z.name, f"z{z.id}") for z in zones)


async def chosen_zone(ctx: Ctx, value: str | None) -> Zone | None:
    """The zone a button names, if it belongs to the member's project (buttons can be forged)."""
    if not value or not re.fullmatch(r"z\d{1,9}", value):
        return None
    zone = await ctx.session.get(Zone, int(value[1:]))
    return zone if zone is not None and zone.project_id == ctx.member.project_id else None


async def typed_zone(ctx: Ctx, text: str) -> tuple[Zone | None, str | None]:
    """A zone named by its whole name or a part only it has ("生活区" for 工人生活区), or
    by the number of its button; else (None, why)."""
    typed, zones = squeeze(text), await project_zones(ctx)
    offered = ctx.dialog.data.get("_offered", []) if ctx.dialog else []
    if typed.isdecimal() and typed.isascii() and 1 <= int(typed) <= len(offered):
        return await chosen_zone(ctx, offered[int(typed) - 1][1]), None
    exact = [z for z in zones if squeeze(z.name) == typed]
    found = exact or [z for z in zones if typed and typed in squeeze(z.name)]
    if len(found) == 1:
        return found[0], None
    if found:
        return None, ctx.t("有 {n} 个区域包含“{text}”，请点按钮选择。").format(n=len(found), text=text[:20])
    return None, ctx.t("本项目没有“{text}”这个区域，请点按钮选择。").format(text=text[:20])


async def zone_of(ctx: Ctx, msg: Incoming) -> tuple[Zone | None, str | None]:
    """The zone a tap or a typed name means; else (None, why)."""
    if msg.kind is Kind.text:
        return await typed_zone(ctx, msg.text)
    zone = await chosen_zone(ctx, msg.choice)
    return (zone, None) if zone is not None else (None, ctx.t(NOT_OURS))


def pick_zone(flow: Flow, prompt: Prompt, *, first: Callable[[Ctx], int | None] | None = None,
              name: str | None = None
              ) -> Callable[[Callable[[Ctx, Zone], Awaitable[None]]], Step]:
    """A zone of the member's project, by button or typed name; `first(ctx)` names the zone
    to list first."""

    async def ask(ctx: Ctx) -> Choices:
        zones = await project_zones(ctx)
        default = first(ctx) if first else None
        if default is not None:
            zones.sort(key=lambda z: z.id != default)  # stable: the rest keep their order
        return Choices(await prompt_text(ctx, prompt), zone_options(zones))

    def make(then: Callable[[Ctx, Zone], Awaitable[None]]) -> Step:
        async def handle(ctx: Ctx, msg: Incoming) -> None:
            zone, why = await zone_of(ctx, msg)
            if zone is None:
                return await ctx.reject(why)
            await then(ctx, zone)

        return flow.add(name or then.__name__, accepts={Kind.choice, Kind.text}, ask=ask,
                        handle=handle)

    return make
