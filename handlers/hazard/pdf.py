"""The rectification notice (隐患整改通知书) as a PDF, with the Chinese font embedded
so any viewer on any phone shows it."""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image as PdfImage
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "RedShieldCJK"
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
                  footer: str = "") -> bytes:
    """Fields are (label, value) rows already in the reader's language."""
    font = _register_font()
    styles = {
        "title": ParagraphStyle("t", fontName=font, fontSize=18, leading=24, alignment=1),
        "h": ParagraphStyle("h", fontName=font, fontSize=12, leading=16, spaceBefore=6),
        "cell": ParagraphStyle("c", fontName=font, fontSize=10, leading=14),
        "foot": ParagraphStyle("f", fontName=font, fontSize=8, leading=10, textColor=colors.grey),
    }
    story = [Paragraph(_escape(title), styles["title"]), Spacer(1, 6 * mm),
             _table(fields, styles["cell"])]
    story += _photos(before_title, before, styles)
    if after_fields:
        story += [Spacer(1, 4 * mm), _table(after_fields, styles["cell"])]
        story += _photos(after_title, after or [], styles)
    if footer:
        story += [Spacer(1, 6 * mm), Paragraph(_escape(footer), styles["foot"])]
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                      topMargin=16 * mm, bottomMargin=16 * mm, title=title).build(story)
    return out.getvalue()


def _table(rows: list[tuple[str, str]], style: ParagraphStyle) -> Table:
    data = [[Paragraph(_escape(k), style), Paragraph(_escape(v or "—"), style)] for k, v in rows]
    table = Table(data, colWidths=[32 * mm, 142 * mm])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3e5e5")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


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
    return [Paragraph(_escape(title), styles["h"]), grid]


def _escape(text: str) -> str:
    """Paragraph text is mini-HTML: user text must not be read as markup."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", "<br/>"))
