"""Helpers for messages the bot sends on its own (contract.Notice)."""
from __future__ import annotations

from bot.core.i18n import Translator


def translator_for(member, default_locale: str) -> Translator:
    """Notices are written in the recipient's language, not the sender's."""
    return Translator(member.locale or default_locale)
