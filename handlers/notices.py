"""Helpers for messages the bot sends on its own (contract.Notice), and for saying
who such messages cannot reach."""
from __future__ import annotations

from bot.core.i18n import N_, Translator
from storage.directory import BLOCKED, NEVER_BOUND

UNREACHABLE_MARK = "📵"  # beside a name: the bot's messages do not reach this member
UNREACHABLE_WHY = {NEVER_BOUND: N_("未绑定"), BLOCKED: N_("已屏蔽或已移出应用")}


def translator_for(member, default_locale: str) -> Translator:
    """Notices are written in the recipient's language, not the sender's."""
    return Translator(member.locale or default_locale)


def unreachable_legend(t: Translator) -> str:
    """The line that explains the mark, under a list that uses it."""
    return t("{mark} 收不到消息（未绑定/已屏蔽）").format(mark=UNREACHABLE_MARK)


def unreachable_line(t: Translator, name: str, why: str) -> str:
    """"📵 赵强收不到消息（未绑定），请当面告知。": for whoever must tell them instead."""
    return t("{mark} {name} 收不到消息（{why}），请当面告知。").format(
        mark=UNREACHABLE_MARK, name=name, why=t(UNREACHABLE_WHY[why]))
