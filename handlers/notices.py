"""Messages the bot sends on its own (not as a reply): computed by handlers,
delivered by the scheduler through an adapter."""
from __future__ import annotations

from dataclasses import dataclass

from bot.core.contract import Reply
from bot.core.i18n import Translator


@dataclass(frozen=True)
class Notice:
    member_id: int
    replies: tuple[Reply, ...]
    kind: str  # what it is about, e.g. "patrol_closed"
    key: str  # unique for this notice, so it is never sent twice


def translator_for(member, default_locale: str) -> Translator:
    return Translator(member.locale or default_locale)
