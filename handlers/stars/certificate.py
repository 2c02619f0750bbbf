"""The 奖状 (certificate of merit) of a confirmed 行为安全之星, as a PNG to print or forward:
A4 landscape at 150 dpi, a red and gold double border, the big title, the citation,
and the issuing branch, the union and the date at the bottom right.

Whatever the directory holds must fit (names up to 100 characters, project and branch
names up to 200): the citation is wrapped, and its type made smaller until every line
fits the page; nothing is ever cut. The PNG is drawn on a worker thread after the step
commits (contract.Deferred): `make_certificate` reads the award, `render` only draws."""
from __future__ import annotations

import datetime as dt
import io
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from bot.core.contract import Deferred, Image
from bot.core.i18n import N_, Translator
from handlers.hazard.pdf import FONT_FILES, FontMissing
from storage import star_awards as awards

RENDERER = "stars.certificate"  # registered by handlers.stars.monthly

SIZE = (1754, 1240)  # A4 landscape at 150 dpi
DPI = (150, 150)
PAPER = (255, 250, 238)
RED = (178, 24, 30)
GOLD = (201, 151, 40)
INK = (40, 30, 25)

# Body box: inside the borders, below the title, above the signature block.
BODY_LEFT, BODY_RIGHT = 230, 1754 - 230
BODY_TOP, BODY_BOTTOM = 400, 860
SIGN_RIGHT, SIGN_TOP, SIGN_WIDTH = 1754 - 230, 900, 760
INNER_RIGHT = 1754 - 93  # the innermost gold line
TITLE_WIDTH = 1100
BODY_SIZES = range(62, 17, -2)  # pixels: the largest the citation fits in
SIGN_SIZES = range(42, 15, -2)
LINE_SPACING = 1.55

TITLE = N_("奖状")
GREETING = N_("{name}（{crew}）：")
GREETING_NO_CREW = N_("{name}：")
CITATION = N_("在{project}{month}“行为安全之星”评选中，安全行为表现突出，被评为“行为安全之星”。")
CLOSING = N_("特发此状，以资鼓励。")
UNION = N_("工会")
MONTH = N_("{year}年{month}月")  # month_name is there for translations: "{month_name} {year}"
DAY = N_("{year}年{month}月{day}日")
CAPTION = N_("{name} · {month} 行为安全之星奖状")
AGAIN = N_("奖状暂时无法生成，请稍后发送 /monthstar 查看")

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")

# Characters a line may not begin with (they stay at the end of the line before).
NO_LINE_START = set("，。、；：！？）」』”’》〉】,.;:!?)]}%")


def month_text(t: Translator, month: dt.date) -> str:
    return t(MONTH).format(year=month.year, month=month.month, month_name=MONTH_NAMES[month.month - 1])


def day_text(t: Translator, day: dt.date) -> str:
    return t(DAY).format(year=day.year, month=day.month, day=day.day,
                         month_name=MONTH_NAMES[day.month - 1])


@dataclass(frozen=True)
class Wording:
    """Everything the certificate says, already in the reader's language."""

    title: str
    greeting: str
    citation: str
    closing: str
    signers: tuple[str, ...]  # the branch, the union
    date: str


def wording(t: Translator, *, name: str, crew: str | None, project: str, branch: str,
            month: dt.date, day: dt.date) -> Wording:
    greeting = (t(GREETING).format(name=name, crew=crew) if crew
                else t(GREETING_NO_CREW).format(name=name))
    return Wording(t(TITLE), greeting,
                   t(CITATION).format(project=project, month=month_text(t, month)),
                   t(CLOSING), (branch, t(UNION)), day_text(t, day))


def certificate(t: Translator, award_id: int) -> Deferred:
    """The certificate of a confirmed award, made when it is sent."""
    return Deferred(RENDERER, (award_id,), t.locale, fallback=t(AGAIN))


async def make_certificate(session, config, t: Translator, award_id: int
                           ) -> Callable[[], Image] | None:
    """The renderer: reads the award now; the function returned draws the PNG (CPU only).
    Nothing for an award that is no longer a confirmed star."""
    found = await awards.with_people(session, award_id)
    if found is None or found.award.status != awards.CONFIRMED:
        return None
    award, worker, project = found.award, found.worker, found.project
    decided = (award.decided_at or award.created_at).astimezone(config.tz).date()
    words = wording(t, name=worker.name, crew=worker.crew, project=project.name,
                    branch=project.branch, month=award.month, day=decided)
    caption = t(CAPTION).format(name=worker.name, month=month_text(t, award.month))
    filename = f"star-{award.month:%Y-%m}-{award.id}.png"

    def make() -> Image:
        return Image(render(words), caption, filename)

    return make


# ---- drawing


@lru_cache(maxsize=1)
def font_path() -> str:
    """The Chinese font the notice PDF uses (handlers.hazard.pdf.FONT_FILES)."""
    for path in FONT_FILES:
        if Path(path).exists():
            return path
    raise FontMissing("no Chinese font for certificates: run scripts/setup.sh "
                      "(it installs Debian's fonts-wqy-microhei)")


@lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path(), size, index=0)


@lru_cache(maxsize=8)
def render(words: Wording) -> bytes:
    """The certificate as PNG bytes (RGB, SIZE). Kept for the next call with the same
    words: an announcement's notices to the whole project each ask for the same PNG."""
    image = PILImage.new("RGB", SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    _borders(draw)
    _title(draw, words.title)
    _body(draw, words)
    _signature(draw, words)
    out = io.BytesIO()
    image.save(out, "PNG", dpi=DPI)
    return out.getvalue()


def _borders(draw: ImageDraw.ImageDraw) -> None:
    w, h = SIZE
    draw.rectangle((40, 40, w - 41, h - 41), outline=RED, width=22)
    draw.rectangle((78, 78, w - 79, h - 79), outline=GOLD, width=6)
    draw.rectangle((92, 92, w - 93, h - 93), outline=GOLD, width=2)
    for x, y in ((92, 92), (w - 93, 92), (92, h - 93), (w - 93, h - 93)):  # corner diamonds
        draw.polygon(((x, y - 26), (x + 26, y), (x, y + 26), (x - 26, y)), fill=RED, outline=GOLD)


def _title(draw: ImageDraw.ImageDraw, title: str) -> None:
    # Two or three Chinese characters are spread out, as printed certificates do.
    spaced = "\u3000".join(title) if len(title) <= 3 and all(_wide(c) for c in title) else title
    size = 170
    while size > 40 and draw.textlength(spaced, font=font(size)) > TITLE_WIDTH:
        size -= 6
    centre, y = SIZE[0] / 2, 250
    draw.text((centre, y), spaced, font=font(size), fill=RED, anchor="mm")
    half = draw.textlength(spaced, font=font(size)) / 2
    room = INNER_RIGHT - centre - half  # between the title and the inner border
    if room < 120:
        return  # a long title in another language: no ornaments
    rule = min(160, room - 120)
    for side in (-1, 1):  # a gold star and rule either side of the title
        x = centre + side * (half + 60)
        _star(draw, x, y, 22)
        if rule > 20:
            draw.line((x + side * 40, y, x + side * (40 + rule), y), fill=GOLD, width=4)


def _star(draw: ImageDraw.ImageDraw, x: float, y: float, r: float) -> None:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.42
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((x + radius * math.cos(angle), y + radius * math.sin(angle)))
    draw.polygon(points, fill=GOLD)


def _body(draw: ImageDraw.ImageDraw, words: Wording) -> None:
    """The greeting flush left, the citation and closing indented two characters; the
    largest size at which every line fits the box."""
    width = BODY_RIGHT - BODY_LEFT
    for size in BODY_SIZES:
        f = font(size)
        indent = draw.textlength("\u3000\u3000", font=f) if _wide(words.citation[:1]) else size
        lines = [(0, line) for line in wrap(draw, words.greeting, f, width)]
        for paragraph in (words.citation, words.closing):
            first, *rest = wrap(draw, paragraph, f, width, first_indent=indent)
            lines += [(indent, first), *((0, line) for line in rest)]
        step = size * LINE_SPACING
        if len(lines) * step <= BODY_BOTTOM - BODY_TOP or size == BODY_SIZES[-1]:
            break
    y = BODY_TOP
    for offset, line in lines:
        draw.text((BODY_LEFT + offset, y), line, font=f, fill=INK)
        y += step


def _signature(draw: ImageDraw.ImageDraw, words: Wording) -> None:
    """The signers and the date, each line centred in a block at the bottom right."""
    texts = (*words.signers, words.date)
    for size in SIGN_SIZES:
        f = font(size)
        lines = [line for text in texts for line in wrap(draw, text, f, SIGN_WIDTH)]
        step = size * 1.45
        if SIGN_TOP + len(lines) * step <= SIZE[1] - 130 or size == SIGN_SIZES[-1]:
            break
    widest = max(draw.textlength(line, font=f) for line in lines)
    centre = SIGN_RIGHT - widest / 2
    y = SIGN_TOP
    for line in lines:
        draw.text((centre, y), line, font=f, fill=INK, anchor="ma")
        y += step


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _tokens(text: str) -> list[str]:
    """Units a line may break between: each wide character alone, runs of other
    characters (a Latin word with its trailing space) together."""
    out: list[str] = []
    word = ""
    for ch in text:
        if _wide(ch):
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        else:
            word += ch
            if ch == " ":
                out.append(word)
                word = ""
    if word:
        out.append(word)
    return out


def _core(line: str) -> str:
    """A line without its trailing spaces and closing punctuation (which may overhang)."""
    return line.rstrip().rstrip("".join(NO_LINE_START)).rstrip()


def wrap(draw: ImageDraw.ImageDraw, text: str, f: ImageFont.FreeTypeFont, width: float,
         *, first_indent: float = 0) -> list[str]:
    """`text` in lines no wider than `width` (the first `first_indent` narrower); a word
    wider than a line is broken between characters; closing punctuation never starts a
    line. Every character of `text` is in the result, in order."""
    lines: list[str] = []
    line = ""
    room = width - first_indent
    for token in _tokens(text):
        candidate = line + token
        if not line or draw.textlength(candidate.rstrip(), font=f) <= room:
            line = candidate
        elif token[0] in NO_LINE_START:
            line = candidate  # a little past the edge: the margin takes it
        else:
            lines.append(line.rstrip())
            line, room = token, width
        while len(_core(line)) > 1 and draw.textlength(_core(line), font=f) > room:
            # One token wider than a whole line: cut it where it overflows.
            cut = len(line) - 1
            while cut > 1 and draw.textlength(line[:cut], font=f) > room:
                cut -= 1
            lines.append(line[:cut])
            line, room = line[cut:], width
    lines.append(line.rstrip())
    return lines
