"""/redeem (兑奖): an anonymous reporter shows their receipt code to the union, who enters
it; a report of the project confirmed 属实 pays its reward once. The bot keeps only that
it was claimed, to the hour, never by whom (nor who entered it).

The code is looked up like /track does (scrypt, off the event loop) and then forgotten:
it is never logged, stored, or kept in the dialog past the step that takes it. Every
answer that is not a reward looks the same, so the command cannot be used to learn
whether a code exists; failed attempts count per organiser under a keyed pseudonym and
lock after [invites] max_failed_attempts within attempt_window_minutes."""
from __future__ import annotations

import datetime as dt

from bot.core.contract import Incoming
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_
from bot.core.registry import Registry
from bot.core.steps import ask_text
from handlers import roles
from handlers.dates import local
from handlers.violation.common import receipt_of_typed, to_the_hour
from storage import attempts, violations
from storage import star_rewards as rewards

# Anonymous like the report: the organiser's dialog and sign of life are kept out of the
# transaction that claims a reward, so no row tied to their account dates the claim.
flow = Flow("redeem", N_("兑奖"), anonymous=True)

NOTHING = N_("没有可兑的奖励：查询码不对，或举报尚未核实属实。")
MAX_TYPED = 60  # a 12-character code with dashes and spaces fits many times over


def register(registry: Registry) -> None:
    registry.flow(flow)
    # Private only: a code typed in a group would be read by everyone in it.
    # The union alone: the secretary also reads the reports (/violations) and could put a
    # face to one.
    registry.command(Command("redeem", redeem_command, N_("兑现匿名举报奖励"), words=(N_("兑奖"),),
                             roles=frozenset({roles.UNION}), takes_args=True, private_only=True,
                             untraced=True))


async def redeem_command(ctx: Ctx, msg: Incoming) -> None:
    typed = msg.text.strip()
    if typed:
        await redeem(ctx, typed)  # answers at once: a look-up beside any open question
    elif ctx.beside_dialog:
        ctx.say(ctx.t("兑奖：发送“兑奖 查询码”，如 兑奖 7KQM-X4PD-93RT。"))
    elif (locked := await lock_text(ctx)) is not None:
        ctx.say(locked)  # not asked for a code that could not be tried
    else:
        await ctx.start(flow)


@ask_text(flow, N_("请输入举报人出示的查询码（12位，如 7KQM-X4PD-93RT）。"), empty=N_("请输入查询码。"),
          max_len=MAX_TYPED)
async def code(ctx: Ctx, text: str) -> None:
    ctx.finish()  # the dialog ends here: the code is in no saved state, only in this step
    await redeem(ctx, text)


def _attempts_key(ctx: Ctx) -> str:
    """Per organiser, under the deployment's key: the counters table names nobody."""
    return "redeem:" + ctx.anonymity.pseudonym("redeem", ctx.member.id)


def _window(ctx: Ctx) -> dt.timedelta:
    return dt.timedelta(minutes=ctx.config.invites.attempt_window_minutes)


async def lock_text(ctx: Ctx) -> str | None:
    """What to say when this organiser has failed too often lately; None if they may try."""
    retry_at = await attempts.locked_until(ctx.session, _attempts_key(ctx), ctx.now,
                                           ctx.config.invites.max_failed_attempts, _window(ctx))
    if retry_at is None:
        return None
    return ctx.t("兑奖尝试次数太多，请 {time} 以后再试。").format(time=f"{local(ctx, retry_at):%H:%M}")


async def redeem(ctx: Ctx, typed: str) -> None:
    t, now = ctx.t, ctx.now
    if (locked := await lock_text(ctx)) is not None:
        ctx.say(locked)
        return
    report = await violations.by_receipt(ctx.session, await receipt_of_typed(typed[:MAX_TYPED]))
    reward = None
    if report is not None and report.project_id == ctx.member.project_id:
        reward = await rewards.for_report(ctx.session, report.id)
    if reward is None:  # unknown code, another project, not (yet) confirmed: all alike
        failures = await attempts.record_failure(ctx.session, _attempts_key(ctx), now, _window(ctx))
        ctx.say(t(NOTHING))
        if failures >= ctx.config.invites.max_failed_attempts:
            ctx.say(await lock_text(ctx))
        return
    if reward.claimed_at is None and await rewards.claim(ctx.session, reward.id, to_the_hour(now)):
        # No report number: the one who pays should not learn which report the face wrote.
        ctx.say(t("✅ 已兑奖：举报经核查属实，奖励 {points} 分。请按工会规定发放。"
                  "（系统只记录领取时间到小时，不记录领取人）").format(points=reward.points))
        return
    await ctx.session.refresh(reward)  # claimed before, or just now by another organiser
    when = local(ctx, reward.claimed_at)
    ctx.say(t("这个查询码的奖励已于 {day} {hour}时 领取，不能重复领取。").format(
        day=f"{when:%Y-%m-%d}", hour=f"{when:%H}"))
