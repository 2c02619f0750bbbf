"""Every user-visible string has its English translation, with the same placeholders."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from bot.core.i18n import Translator, match_locale, resolve_locale
from bot.locale import catalog

ROOT = Path(__file__).resolve().parents[1]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_message_has_an_english_translation():
    template = catalog.extract()
    assert len(template) > 20  # extraction found the code's strings
    assert catalog.missing(template, catalog.load("en")) == []


def test_translations_keep_the_placeholders():
    en = catalog.load("en")
    for msg in catalog.extract():
        if msg.id and isinstance(msg.id, str):
            assert placeholders(en.get(msg.id).string) == placeholders(msg.id), msg.id


def test_translator_uses_the_catalog():
    assert Translator("en")("取消") == "Cancel"
    assert Translator("zh_CN")("取消") == "取消"
    assert Translator("fr").locale == "zh_CN"  # unsupported: the default


def test_platform_language_codes():
    assert match_locale("en-US") == "en"
    assert match_locale("zh-hans") == "zh_CN"
    assert match_locale("de") is None
    assert resolve_locale(None, "de", "en") == "en"
    assert resolve_locale("zh_CN", "en", "en") == "zh_CN"


PLATFORM_MODULES = re.compile(r"^(telegram|wechatpy|starlette|uvicorn|httpx|bot\.adapters)(\.|$)")


def test_handlers_never_import_a_platform_library():
    for path in (ROOT / "handlers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not PLATFORM_MODULES.match(name), f"{path.name} imports {name}"
