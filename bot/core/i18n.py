"""Per-user locale. Source strings are Chinese (zh_CN, the default); the English
catalog lives in bot/locale/en/LC_MESSAGES/messages.po.

The .po files are compiled in memory when first needed, so a checkout never
carries a stale binary catalog and nothing has to be built before running.
"""
from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
SUPPORTED = ("zh_CN", "en")
DEFAULT = "zh_CN"


def N_(message: str) -> str:
    """Marks a string for extraction where it is defined; translate it where it is shown."""
    return message


@cache
def translations(locale: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == "zh_CN" or not po.exists():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    catalog.fuzzy = False  # keep the header: it carries the charset and plural rule
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


class Translator:
    """gettext for one locale; `t("…")` translates, `t.n(one, many, n)` picks a plural."""

    def __init__(self, locale: str):
        self.locale = locale if locale in SUPPORTED else DEFAULT
        self._tr = translations(self.locale)

    def __call__(self, message: str) -> str:
        return self._tr.gettext(message)

    def n(self, singular: str, plural: str, count: int) -> str:
        return self._tr.ngettext(singular, plural, count)


def match_locale(code: str | None) -> str | None:
    """Map a platform language code ("en-US", "zh-hans", "zh_CN") to a supported locale."""
    if not code:
        return None
    base = code.replace("-", "_").split("_")[0].lower()
    if base == "zh":
        return "zh_CN"
    if base == "en":
        return "en"
    return None


def resolve_locale(preferred: str | None, platform_language: str | None, default: str) -> str:
    if preferred in SUPPORTED:
        return preferred
    return match_locale(platform_language) or (default if default in SUPPORTED else DEFAULT)
