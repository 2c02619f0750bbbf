"""/help (帮助) and /cancel (取消): available at every step."""
from __future__ import annotations

from bot.core.contract import Choices, Incoming, Option, Reply, Text
from bot.core.flow import Command, Ctx
from bot.core.i18n import N_
from bot.core.registry import Registry

SHORTCUTS = ("patrol", "hazard", "rectify", "me", "report", "team", "week", "overdue", "log", "track")


def available(ctx: Ctx) -> list[Command]:
    """The listed commands this user may use, in registration order."""
    registry = ctx.registry
    member = ctx.member
    if member is None:  # what a stranger can do: report a violation, follow it up
        return [c for c in registry.commands.values()
                if c.listed and c.public and c.name not in ("help", "cancel")]
    roles = member.role_names
    return [c for c in registry.commands.values()
            if c.listed and (c.roles is None or c.roles & roles)
            and (c.shown_to is None or c.shown_to & roles)]


def help_reply(ctx: Ctx) -> Reply:
    t = ctx.t
    commands = available(ctx)
    lines = [ctx.registry.join_line(t) if ctx.member is None else t("红盾安全巡查 · 可用功能：")]
    for c in commands:
        word = f" {t(c.words[0])}" if c.words and ctx.locale == "zh_CN" else ""
        lines.append(f"/{c.name}{word} — {t(c.summary)}")
    # The most used as buttons, for a gloved thumb; six at most, as a WeCom card holds.
    shortcuts = sorted((c for c in commands if c.name in SHORTCUTS), key=lambda c: SHORTCUTS.index(c.name))
    options = tuple(Option(t(c.words[0]) if c.words else f"/{c.name}", f"/{c.name}")
                    for c in shortcuts[:6])
    return Choices("\n".join(lines), options) if options else Text("\n".join(lines))


def register(registry: Registry) -> None:
    """Last of all: help and cancel close the list /help shows."""
    registry.command(Command("help", show_help, N_("查看帮助"), words=(N_("帮助"),), public=True,
                             keeps_dialog=True))
    registry.command(Command("cancel", cancel, N_("取消当前操作"), words=(N_("取消"),), public=True,
                             keeps_dialog=True, cancels=True))


async def show_help(ctx: Ctx, msg: Incoming) -> None:
    ctx.send(help_reply(ctx))
    if ctx.dialog is not None:
        await ctx.ask_again()  # help never loses the user's place


async def cancel(ctx: Ctx, msg: Incoming) -> None:
    if ctx.dialog is None:
        ctx.say(ctx.t("现在没有进行中的操作。"))
        return
    ctx.finish()
    ctx.say(ctx.t("已取消。"))
