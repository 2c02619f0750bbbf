"""The rectification notice (隐患整改通知书) as a PDF, with the Chinese font embedded
so any viewer on any phone shows it.

Whatever people typed must lay out, however long: a table row cannot be split
between pages, so a long value is cut into several rows (each well under a page),
and a value of very many lines is printed up to MAX_LINES lines (MAX_CHARS
characters) with a note saying how many lines the system record holds beyond.
"""
from __future__ import annotations

import io
import math
from functools import lru_cache
from pathlib import Path

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image as PdfImage
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

# Binary streams: ASCII85 makes every font and image stream a quarter bigger, and
# encoding it was most of the time a notice took.
if rl_config.useA85:
    rl_config.useA85 = 0

FONT = "RedShieldCJK"
LABEL_WIDTH, VALUE_WIDTH = 32 * mm, 142 * mm
CELL_PADDING = 12  # points: a cell's left and right padding, 6 each
ROW_LINES = 10  # printed lines in one row at most (a page holds about 50)
MAX_LINES = 60  # lines of one value printed; the rest is in the system record
MAX_CHARS = 3000  # characters of one value printed
FONT_FILES = (  # Debian's fonts-wqy-microhei, installed by scripts/setup.sh
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
)


class FontMissing(RuntimeError):
    pass


@lru_cache(maxsize=1)
def _register_font() -> str:
    for path in FONT_FILES:
        if Path(path).exists():
            pdfmetrics.registerFont(TTFont(FONT, path, subfontIndex=0))
            return FONT
    raise FontMissing("no Chinese font for PDFs: run scripts/setup.sh "
                      "(it installs Debian's fonts-wqy-microhei)")


def render_notice(fields: list[tuple[str, str]], title: str, before: list[bytes],
                  before_title: str, after_fields: list[tuple[str, str]] | None = None,
                  after: list[bytes] | None = None, after_title: str = "",
                  footer: str = "", *, omitted: str) -> bytes:
    """Fields are (label, value) rows already in the reader's language; `omitted` is
    the note after a value cut short, in that language, with {n} for the lines left out
    (e.g. "（以下 {n} 行略，完整内容见系统记录）")."""
    font = _register_font()
    styles = {
        "title": ParagraphStyle("t", fontName=font, fontSize=18, leading=24, alignment=1),
        "h": ParagraphStyle("h", fontName=font, fontSize=12, leading=16, spaceBefore=6),
        "cell": ParagraphStyle("c", fontName=font, fontSize=10, leading=14),
        "note": ParagraphStyle("n", fontName=font, fontSize=9, leading=12,
                               textColor=colors.dimgrey),
        "foot": ParagraphStyle("f", fontName=font, fontSize=8, leading=10, textColor=colors.grey),
    }
    story = [Paragraph(_escape(title), styles["title"]), Spacer(1, 6 * mm),
             _table(fields, styles, omitted)]
    story += _photos(before_title, before, styles)
    if after_fields:
        story += [Spacer(1, 4 * mm), _table(after_fields, styles, omitted)]
        story += _photos(after_title, after or [], styles)
    if footer:
        story += [Spacer(1, 6 * mm), Paragraph(_escape(footer), styles["foot"])]
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                      topMargin=16 * mm, bottomMargin=16 * mm, title=title).build(story)
    return out.getvalue()


def _table(fields: list[tuple[str, str]], styles: dict, omitted: str) -> Table:
    """One field a row, or, for a long value, a group of rows: its label in the first,
    the value's printed lines spread over the group (a page break may fall between them)."""
    data: list[list] = []
    commands = [
        ("BOX", (0, 0), (-1, -1), 0.5, colors.black),
        ("LINEAFTER", (0, 0), (0, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3e5e5")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    for label, value in fields:
        lines, left_out = _capped(value or "—")
        pieces = _rows(lines, styles["cell"])
        if left_out:  # the note stays with the last lines, in the same cell
            pieces[-1].append(Paragraph(_escape(omitted.format(n=left_out)), styles["note"]))
        first = len(data)
        data += [[Paragraph(_escape(label), styles["cell"]) if i == 0 else "", piece]
                 for i, piece in enumerate(pieces)]
        if first:
            commands.append(("LINEABOVE", (0, first), (-1, first), 0.5, colors.black))
        if len(pieces) > 1:  # one value read on: no gaps between its rows, label at the top
            commands += [("VALIGN", (0, first), (0, first), "TOP"),
                         ("BOTTOMPADDING", (1, first), (1, len(data) - 2), 0),
                         ("TOPPADDING", (1, first + 1), (1, len(data) - 1), 0)]
    table = Table(data, colWidths=[LABEL_WIDTH, VALUE_WIDTH])
    table.setStyle(TableStyle(commands))
    return table


def _capped(text: str) -> tuple[list[str], int]:
    """The lines printed of `text` (at most MAX_LINES, MAX_CHARS characters), and how
    many lines are left out (a line cut short counts among them)."""
    lines = text.splitlines() or [""]
    kept: list[str] = []
    room = MAX_CHARS
    for line in lines[:MAX_LINES]:
        if len(line) > room:
            return kept + ([line[:room]] if room else []), len(lines) - len(kept)
        kept.append(line)
        room -= len(line)
    return kept, len(lines) - len(kept)


def _rows(lines: list[str], style: ParagraphStyle) -> list[list[Paragraph]]:
    """The lines (a paragraph each) in groups of at most ROW_LINES printed lines: each
    group is a table row, and a page may break between rows. A line longer than a
    group is cut between its printed lines."""
    width = VALUE_WIDTH - CELL_PADDING
    most = ROW_LINES * style.leading
    rows: list[list[Paragraph]] = [[]]
    used = 0.0
    for line in lines:
        for piece in _split(Paragraph(_escape(line) or "&nbsp;", style), width, most):
            height = piece.wrap(width, math.inf)[1]
            if used + height > most and rows[-1]:
                rows.append([])
                used = 0.0
            rows[-1].append(piece)
            used += height
    return rows


def _split(paragraph: Paragraph, width: float, most: float) -> list[Paragraph]:
    pieces = []
    while paragraph.wrap(width, math.inf)[1] > most:
        parts = paragraph.split(width, most)
        if len(parts) != 2:  # nothing to cut between: one printed line is never too tall
            break
        pieces.append(parts[0])
        paragraph = parts[1]
    return [*pieces, paragraph]


def _photos(title: str, photos: list[bytes], styles) -> list:
    if not photos:
        return []
    cells = []
    for data in photos:
        img = PdfImage(io.BytesIO(data))
        scale = min(55 * mm / img.imageWidth, 55 * mm / img.imageHeight)
        img.drawWidth, img.drawHeight = img.imageWidth * scale, img.imageHeight * scale
        cells.append(img)
    rows = [cells[i:i + 3] for i in range(0, len(cells), 3)]
    rows[-1] += [""] * (3 - len(rows[-1]))
    grid = Table(rows, colWidths=[58 * mm] * 3)
    grid.setStyle(TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    return [KeepTogether([Paragraph(_escape(title), styles["h"]), grid])]  # title with photos


def _escape(text: str) -> str:
    """Paragraph text is mini-HTML: user text must not be read as markup."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", "<br/>"))
