"""/start: binding a chat account to a member with an invite code."""
from __future__ import annotations

import datetime as dt
import math

from bot.core.contract import Incoming, Kind, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.registry import Registry
from handlers import help as help_
from handlers import invites
from handlers.invites import Outcome
from storage.directory import get_member

JOIN = N_("我是红盾安全巡查助手。加入请向党支部书记索取邀请码，然后发送 /start 邀请码。")

bind = Flow("bind", N_("账号绑定"))


def register(registry: Registry) -> None:
    registry.join_text = JOIN
    registry.flow(bind)
    registry.command(Command("start", start, N_("绑定账号 / 开始"), public=True,
                             private_only=True, takes_args=True, listed=False))


async def start(ctx: Ctx, msg: Incoming) -> None:
    typed = msg.text.strip()
    if ctx.member is not None and typed:
        await bound_already(ctx, typed)
    elif typed:
        await redeem(ctx, typed)
    elif ctx.member is not None:
        ctx.say(ctx.t("您好，{name}！").format(name=ctx.member.name))
        ctx.send(help_.help_reply(ctx))
    else:
        ctx.say(ctx.registry.join_line(ctx.t))
        await ctx.start(bind)


async def bound_already(ctx: Ctx, typed: str) -> None:
    """A bound member sends a code again (an old message, a colleague's code): they are
    told as whom they are bound, not that the code is used."""
    t = ctx.t
    result = await invites.redeem(
        ctx.session, typed, platform=ctx.msg.platform, external_id=ctx.msg.user_id, now=ctx.now,
        max_failures=ctx.config.invites.max_failed_attempts,
        window=dt.timedelta(minutes=ctx.config.invites.attempt_window_minutes),
        hasher=invites.hasher(ctx.config, ctx.anonymity))
    if result.outcome is Outcome.bound_to_other:
        ctx.say(t("这个账号已绑定其他成员。如需更换，请联系党支部书记。"))
    ctx.say(t("您的账号已绑定为 {name}（{project}），无需邀请码。如需更换，请联系党支部书记。")
            .format(name=ctx.member.name, project=ctx.member.project.name))
    ctx.send(help_.help_reply(ctx))


async def ask_code(ctx: Ctx) -> Text:
    return Text(ctx.t("请输入党支部书记给您的邀请码（8位，例如 K7MQ-X4PD）。"))


@bind.step(accepts={Kind.text}, ask=ask_code)
async def code(ctx: Ctx, msg: Incoming) -> None:
    if await redeem(ctx, msg.text):
        ctx.finish()
    elif ctx.dialog is not None:
        await ctx.ask_again()


async def redeem(ctx: Ctx, text: str) -> bool:
    """Try the code; True when the conversation is over (bound, or must wait)."""
    t, cfg = ctx.t, ctx.config.invites
    result = await invites.redeem(
        ctx.session, text, platform=ctx.msg.platform, external_id=ctx.msg.user_id,
        now=ctx.now, max_failures=cfg.max_failed_attempts,
        window=dt.timedelta(minutes=cfg.attempt_window_minutes),
        hasher=invites.hasher(ctx.config, ctx.anonymity),
    )
    if result.outcome is Outcome.bound:
        ctx.member = await get_member(ctx.session, result.member_id)
        ctx.set_locale(ctx.member.locale or ctx.locale)
        ctx.say(t("绑定成功！欢迎您，{name}（{project}）。").format(
            name=ctx.member.name, project=ctx.member.project.name))
        ctx.send(help_.help_reply(ctx))
        return True
    if result.outcome is Outcome.already_bound:
        ctx.say(t("这个账号已经绑定过了，无需再次绑定。发送“我的”查看信息。"))
        return True
    if result.outcome is Outcome.bound_to_other:
        ctx.say(t("这个账号已绑定其他成员。如需更换，请联系党支部书记。"))
        return True
    if result.outcome is Outcome.locked:
        ctx.say(t("错误次数太多，请 {minutes} 分钟后再试。").format(
            minutes=_minutes_until(ctx.now, result.retry_at)))
        return True
    ctx.say(t(FAILURES[result.outcome]))
    if result.retry_at is not None:  # that was the last try in this window
        ctx.say(t("错误次数太多，请 {minutes} 分钟后再试。").format(
            minutes=_minutes_until(ctx.now, result.retry_at)))
        return True
    return False


FAILURES = {
    Outcome.malformed: N_("邀请码是8位字母和数字，例如 K7MQ-X4PD，请核对后重新输入。"),
    Outcome.wrong: N_("邀请码不正确，请核对后重新输入。"),
    Outcome.used: N_("这个邀请码已经用过了。如需新的邀请码，请联系党支部书记。"),
    Outcome.expired: N_("这个邀请码已失效，请向党支部书记索取新的邀请码。"),
    Outcome.inactive: N_("这个邀请码对应的账号已停用，请联系党支部书记。"),
}


def _minutes_until(now: dt.datetime, then: dt.datetime) -> int:
    return max(1, math.ceil((then - now).total_seconds() / 60))
