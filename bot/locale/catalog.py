"""Keeping the translation catalogs in step with the code.

    python -m bot.locale.catalog update   # re-extract, merge into en, list what is missing
    python -m bot.locale.catalog check    # exit 1 if any message lacks an English translation

Source strings are the Chinese texts in the code, marked with t("…"),
ctx.t("…"), tr("…") (a notice in its recipient's language), N_("…") or
t.n("…", "…", n).
"""
from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[2]
LOCALE_DIR = Path(__file__).resolve().parent
SOURCES = ("bot", "handlers", "ops")
# `tr` is the translator of a notice's recipient, beside the sender's `t`.
KEYWORDS = {"t": None, "tr": None, "N_": None, "n": (1, 2)}
TARGETS = ("en",)


def extract() -> Catalog:
    template = Catalog(project="redshield", locale="zh_CN")
    for folder in SOURCES:
        found = extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS,
            comment_tags=("i18n:",), strip_comment_tags=True,
        )
        for filename, lineno, message, comments, context in found:
            template.add(message, locations=[(f"{folder}/{filename}", lineno)],
                         auto_comments=comments, context=context)
    return template


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


def load(locale: str) -> Catalog:
    path = po_path(locale)
    if not path.exists():
        return Catalog(locale=locale)
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def missing(template: Catalog, catalog: Catalog) -> list[str]:
    """Message ids with no usable translation (absent, empty or fuzzy)."""
    out = []
    for msg in template:
        if not msg.id:
            continue
        have = catalog.get(msg.id)
        strings = have.string if have else None
        if isinstance(strings, tuple):
            empty = not all(strings)
        else:
            empty = not strings
        if have is None or empty or have.fuzzy:
            out.append(msg.id if isinstance(msg.id, str) else msg.id[0])
    return out


def update() -> int:
    template = extract()
    with (LOCALE_DIR / "messages.pot").open("wb") as fh:
        write_po(fh, template, omit_header=True, sort_output=True, include_lineno=False)
    gaps = 0
    for locale in TARGETS:
        catalog = load(locale)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.fuzzy = False  # a fuzzy header would be left out of the compiled catalog
        catalog.project, catalog.version = "redshield", "1"
        po_path(locale).parent.mkdir(parents=True, exist_ok=True)
        with po_path(locale).open("wb") as fh:
            write_po(fh, catalog, sort_output=True, width=0, include_lineno=False)
        for msgid in missing(template, catalog):
            print(f"{locale}: untranslated: {msgid}")
            gaps += 1
    return gaps


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        update()
        return 0
    if argv[:1] == ["check"]:
        template = extract()
        gaps = [(loc, m) for loc in TARGETS for m in missing(template, load(loc))]
        for loc, m in gaps:
            print(f"{loc}: untranslated: {m}")
        return 1 if gaps else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
