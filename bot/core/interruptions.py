"""A member in the middle of a question sends something else. Nothing they typed
is dropped without their say:

- a command that only answers (/me, /week, a tap on a notice's button) answers,
  and the open question is asked again;
- a command that needs the member's input (another flow) first asks: "您有一份
  未完成的隐患报告（已填 6 项）。[继续填写] [放弃并开始新的]"; the command waits in
  the dialog until the tap;
- a question left to expire is named on the member's next message;
- a question that only adds to what is saved already (OPTIONAL) gives way to
  anything else without a word.
"""
from __future__ import annotations

from dataclasses import replace

from bot.core.contract import Choices, Incoming, Kind, Option
from bot.core.flow import Ctx
from bot.core.i18n import N_

KEEP, REPLACE = "_keep", "_replace"
PENDING = "_pending"  # dialog data: the command waiting for the member's choice
FILLED = "_filled"  # dialog data: how many answers the flow has taken
# Dialog data: what the flow needed is saved; the rest (an optional location, say)
# may be left, interrupted or expire without a word.
OPTIONAL = "_optional"
UNTITLED = N_("操作")


class WouldReplace(Exception):
    """Raised by ctx.start while another flow holds the member's input: the command is
    asked about first, and everything it did so far is rolled back."""


def optional(ctx: Ctx) -> bool:
    return ctx.dialog is not None and bool(ctx.dialog.data.get(OPTIONAL))


def nothing_entered(ctx: Ctx) -> bool:
    """No answer taken and nothing collected yet (photos): there is nothing to lose."""
    data = ctx.dialog.data if ctx.dialog is not None else {}
    return not data.get(FILLED) and not any(isinstance(v, list) and v for k, v in data.items()
                                            if not k.startswith("_"))


def title(ctx: Ctx, flow_name: str) -> str:
    flow = ctx.registry.flows.get(flow_name)
    return ctx.t(flow.title if flow is not None and flow.title else UNTITLED)


def ask_first(ctx: Ctx, msg: Incoming) -> None:
    """Keep the command in the open dialog and ask whether to drop what is filled in."""
    t, dialog = ctx.t, ctx.dialog
    dialog.data[PENDING] = {"kind": msg.kind.value, "command": msg.command, "text": msg.text,
                            "choice": msg.choice}
    ctx.send(Choices(
        t("您有一份未完成的{what}（已填 {n} 项）。").format(
            what=title(ctx, dialog.flow), n=dialog.data.get(FILLED, 0)),
        (Option(t("继续填写"), KEEP), Option(t("放弃并开始新的"), REPLACE)), token=dialog.token))


def pending_answer(ctx: Ctx) -> str | None:
    """KEEP or REPLACE when the message answers the waiting question (tapped or typed);
    None otherwise. Any other answer drops the waiting command: the flow goes on."""
    if ctx.dialog is None or PENDING not in ctx.dialog.data:
        return None
    msg, t = ctx.msg, ctx.t
    if msg.kind is Kind.choice and msg.token == ctx.dialog.token and msg.choice in (KEEP, REPLACE):
        return msg.choice
    typed = msg.text.strip().casefold() if msg.kind is Kind.text else None
    if typed in (t("继续填写").casefold(), "继续"):
        return KEEP
    if typed in (t("放弃并开始新的").casefold(), "放弃"):
        return REPLACE
    ctx.dialog.data.pop(PENDING)
    return None


def waiting_command(ctx: Ctx) -> Incoming:
    """The command that waited, as the member sent it; the dialog it waited in is gone."""
    saved = ctx.dialog.data.pop(PENDING)
    ctx.dialog = None
    return replace(ctx.msg, kind=Kind(saved["kind"]), command=saved["command"],
                   text=saved["text"] or "", choice=saved["choice"], token=None)


def expired_text(ctx: Ctx, flow_name: str, data: dict) -> str:
    n = data.get(FILLED, 0)
    if not n:
        return ctx.t("上一次的操作已超时，已自动取消。")
    return ctx.t("您未完成的{what}（已填 {n} 项）已超时，没有保存，请重新开始。").format(
        what=title(ctx, flow_name), n=n)
