"""Dates, times, durations and numbers as members type them on a phone, and the local clock.

Chinese first, English too. The parsers are pure: `today` is passed in and nothing is read
from the clock or the database, so every reading can be tested against a fixed day.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Literal

Prefer = Literal["past", "future", "nearest"]

PG_INT_MAX = 2_147_483_647  # record ids are PostgreSQL `integer`; a larger one is an error there

# Chinese input mode types full-width forms ("１２－０３", "９：３０", "＃７"). Map only that block
# and a few marks, never NFKC: NFKC would also turn "²" into "2" and let it pass as a digit.
_PLAIN = str.maketrans({**{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)},
                        "\u3000": " ", "。": ".", "—": "-", "–": "-", "‐": "-"})


def _plain(text: str | None) -> str:
    """ASCII forms, lower case, and no spaces except between two digits ("7 8" stays no number)."""
    text = re.sub(r"\s+", " ", (text or "").translate(_PLAIN))
    return re.sub(r"(?<![0-9]) | (?![0-9])", "", text.strip()).lower()


# --- numbers -------------------------------------------------------------------------------

_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
             "七": 7, "八": 8, "九": 9}
_CN = "零〇一二两三四五六七八九十百"
# 一百二十, 一百零五, 一百二 (spoken for 120), 二十五, 十二, 十, 五
_CN_SHAPE = re.compile(r"(?:([一二两三四五六七八九])百)?([零〇])?(?:([一二两三四五六七八九])?(十))?"
                       r"([一二两三四五六七八九])?")


def cn_number(text: str) -> int | None:
    """Chinese numerals 0..999: 五, 两, 十二, 二十五, 一百零五, 一百二 (= 120); None otherwise."""
    if text in ("零", "〇"):
        return 0
    m = _CN_SHAPE.fullmatch(text)
    if not text or not m:
        return None
    hundreds, zero, tens, ten, units = m.groups()
    if zero and (not hundreds or ten or not units):
        return None  # 零 only stands for an empty tens place, as in 一百零五
    value = _CN_DIGIT[hundreds] * 100 if hundreds else 0
    if ten:
        value += _CN_DIGIT[tens] * 10 if tens else 10
    if units:
        # After 百 with no 十 and no 零, a lone digit is the tens: 一百二 is 120, 两百五 is 250.
        value += _CN_DIGIT[units] * (10 if hundreds and not ten and not zero else 1)
    return value


def _num(text: str) -> int | None:
    """ASCII digits (bounded, so int() stays cheap) or Chinese numerals, on already plain text."""
    if re.fullmatch(r"[0-9]{1,9}", text):  # [0-9], not \d or isdigit(): those take "²", "٣"
        return int(text)
    return cn_number(text)


def parse_number(text: str) -> int | None:
    """A whole number as typed: "12", "１２", "012", "十二", "两"; None otherwise."""
    return _num(_plain(text))


def parse_id(text: str) -> int | None:
    """A record number: "7", "0007", "#7", "７"; None unless 1..PG_INT_MAX in ASCII/full-width digits."""
    m = re.fullmatch(r"#?0*([0-9]{1,10})", _plain(text))
    if not m:
        return None
    ident = int(m.group(1))
    return ident if 1 <= ident <= PG_INT_MAX else None


# --- days ----------------------------------------------------------------------------------

_N = rf"[0-9]{{1,2}}|[{_CN}]{{1,3}}"  # a month, day or hour: 12, 十二, 二十五
_RELATIVE = {"今天": 0, "今日": 0, "today": 0, "昨天": -1, "昨日": -1, "yesterday": -1,
             "前天": -2, "大前天": -3, "明天": 1, "明日": 1, "tomorrow": 1, "tmr": 1, "tmrw": 1,
             "后天": 2, "大后天": 3}
_WEEKDAY = {c: i for i, c in enumerate("一二三四五六日")} | {"天": 6} | {str(i + 1): i for i in range(7)}
_WEEK_SHIFT = {"上": -7, "上个": -7, "下": 7, "下个": 7, "本": 0, "这": 0, "这个": 0}
_EN_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def local(ctx, moment: dt.datetime) -> dt.datetime:
    """A stored (UTC) moment on the project's clock."""
    return moment.astimezone(ctx.config.tz)


def today(ctx) -> dt.date:
    return local(ctx, ctx.now).date()


def day_span(ctx) -> tuple[dt.datetime, dt.datetime]:
    """Today on the project's clock, as UTC moments [start, end)."""
    start = local(ctx, ctx.now).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + dt.timedelta(days=1)  # wall-clock arithmetic: the next local midnight
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def parse_day(text: str, today: dt.date, *, prefer: Prefer = "nearest") -> dt.date | None:
    """A day: 今天/昨天/前天/明天/后天, 周三/星期天/上周三/下周一, 12月3日, 12-03, 2026-12-03, 3号,
    today/yesterday/tomorrow, mon/monday. `prefer` settles a bare weekday or a date without a
    year or month: "past" the latest up to today, "future" the next from today, "nearest" this
    week's / this year's / this month's (the long-standing reading). None if not a day."""
    if prefer not in ("past", "future", "nearest"):
        raise ValueError(f"prefer must be past, future or nearest, not {prefer!r}")
    text = _plain(text)
    if text in _RELATIVE:
        return today + dt.timedelta(days=_RELATIVE[text])
    for read in (_weekday, _month_day, _day_of_month):
        day = read(text, today, prefer)
        if day is not None:
            return day
    return None


def _weekday(text: str, today: dt.date, prefer: Prefer) -> dt.date | None:
    """周三, 星期天, 礼拜五, 上周三, 下个星期一, 本周五, 周3, wed, monday. Weeks run Monday to Sunday."""
    m = re.fullmatch(r"(上个?|下个?|本|这个?)?(?:周|星期|礼拜)([一二三四五六日天1-7])", text)
    if m:
        shift, day = m.group(1), _WEEKDAY[m.group(2)]
    else:
        word = text.rstrip(".")  # "wed."
        day = next((i for i, name in enumerate(_EN_DAYS) if len(word) >= 3 and name.startswith(word)), None)
        shift = None
        if day is None:
            return None
    monday = today - dt.timedelta(days=today.weekday())
    if shift is not None:  # 上周/下周/本周 name the week outright; prefer has nothing to settle
        return monday + dt.timedelta(days=_WEEK_SHIFT[shift] + day)
    if prefer == "past":
        return today - dt.timedelta(days=(today.weekday() - day) % 7)
    if prefer == "future":
        return today + dt.timedelta(days=(day - today.weekday()) % 7)
    return monday + dt.timedelta(days=day)


def _month_day(text: str, today: dt.date, prefer: Prefer) -> dt.date | None:
    """2026-12-03, 2026/12/3, 12-03, 12/3, 12.3, 2026年12月3日, 12月3号, 十二月三日."""
    m = (re.fullmatch(r"(?:([0-9]{4})[-/.])?([0-9]{1,2})[-/.]([0-9]{1,2})", text)
         or re.fullmatch(rf"(?:([0-9]{{4}})年)?({_N})月({_N})[日号]?", text))
    if not m:
        return None
    month, day = _num(m.group(2)), _num(m.group(3))
    if m.group(1):
        return _date(int(m.group(1)), month, day)
    if _date(2000, month, day) is None:  # a leap year, so only truly impossible days stop here
        return None
    return _date(_year_for(month, day, today, prefer), month, day)


def _year_for(month: int, day: int, today: dt.date, prefer: Prefer) -> int:
    """This year, unless that is over a month (31 days) on the wrong side of today for `prefer`:
    in January "12-30" looking back is last December; in December "1-5" looking ahead is next January."""
    probe = dt.date(today.year, month, min(day, calendar.monthrange(today.year, month)[1]))
    gap = (probe - today).days
    if prefer == "past" and gap > 31:
        return today.year - 1
    if prefer == "future" and gap < -31:
        return today.year + 1
    return today.year


def _day_of_month(text: str, today: dt.date, prefer: Prefer) -> dt.date | None:
    """3号, 3日, 二十五号: this month's, or with `prefer` the latest up to / the next from today,
    skipping months without that day (on 12-02, "31号" looking back is 10-31). None if no such day."""
    m = re.fullmatch(rf"({_N})[日号]", text)
    day = _num(m.group(1)) if m else None
    if day is None or not 1 <= day <= 31:
        return None
    month = today.year * 12 + today.month - 1  # months since year 0, so stepping crosses years
    if prefer == "nearest":
        return _date(month // 12, month % 12 + 1, day)
    step = -1 if prefer == "past" else 1
    for _ in range(3):  # no two months in a row lack a day 1..31, so two steps always suffice
        found = _date(month // 12, month % 12 + 1, day)
        if found is not None and (found <= today if step < 0 else found >= today):
            return found
        month += step
    return None


def _date(year: int | None, month: int | None, day: int | None) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except (TypeError, ValueError, OverflowError):
        return None


# --- times of day --------------------------------------------------------------------------

_PERIOD = r"(凌晨|半夜|早上|早晨|清晨|上午|早|中午|下午|午后|傍晚|晚上|夜里|夜间|夜晚|晚)?"
_MORNING = {"早", "早上", "早晨", "清晨", "上午"}
_SMALL_HOURS = {"凌晨", "半夜"}
_AFTERNOON = {"下午", "午后", "傍晚"}
_NIGHT = {"晚", "晚上", "夜里", "夜间", "夜晚"}
_PAST_HOUR = {"半": 30, "一刻": 15, "三刻": 45, "整": 0}


def parse_clock(text: str) -> dt.time | None:
    """14:30, 1430, 9.30, 14点, 14点30分, 9点半, 九点, 十点一刻, 下午3点 (15:00), 晚上8点 (20:00),
    凌晨2点, 中午12点, 3pm, 9am, 9:30pm; None if not a time of day."""
    text = _plain(text)
    m = re.fullmatch(r"([0-9]{1,2})(?:[:.]([0-9]{2}))?([ap])\.?m\.?", text)
    if m:
        hour = int(m.group(1))
        if not 1 <= hour <= 12:
            return None
        return _time(hour % 12 + (12 if m.group(3) == "p" else 0), int(m.group(2) or 0))
    m = (re.fullmatch(_PERIOD + r"([0-9]{1,2})[:.]([0-9]{2})", text)
         or re.fullmatch(_PERIOD + r"([0-9]{2})([0-9]{2})", text))
    if m:
        return _time(_period_hour(m.group(1), int(m.group(2))), int(m.group(3)))
    m = re.fullmatch(_PERIOD + rf"({_N})[点时]钟?(半|一刻|三刻|整|零?(?:{_N})分?)?", text)
    if not m:
        return None
    rest = (m.group(3) or "0").removesuffix("分")
    # 九点零五: the 零 only marks a one-digit minute; 9点05 is the same.
    minute = _PAST_HOUR.get(rest, _num(rest.removeprefix("零") if len(rest) > 1 else rest))
    return _time(_period_hour(m.group(1), _num(m.group(2))), minute)


def _period_hour(period: str | None, hour: int | None) -> int | None:
    """The 24-hour hour a 下午/晚上/凌晨… hour means; None when they disagree (下午0点, 中午8点)."""
    if period is None or hour is None:
        return hour
    if period in _MORNING:
        return hour if hour <= 12 else None
    if period in _SMALL_HOURS:
        return 0 if hour == 12 else hour if hour < 12 else None
    if period == "中午":
        return hour if hour in (11, 12) else hour + 12 if 1 <= hour <= 3 else None
    if period in _AFTERNOON:
        return hour + 12 if 1 <= hour <= 11 else hour if 12 <= hour <= 23 else None
    # 晚上: 8点 is 20:00, 12点 midnight, 1..4点 already past midnight, 20点 as it is
    if hour == 12:
        return 0
    return hour if hour <= 4 or 17 <= hour <= 23 else hour + 12 if 5 <= hour <= 11 else None


def _time(hour: int | None, minute: int | None) -> dt.time | None:
    if hour is None or minute is None or not (0 <= hour < 24 and 0 <= minute < 60):
        return None
    return dt.time(hour, minute)


# --- durations -----------------------------------------------------------------------------

_AMOUNT = rf"[0-9]{{1,5}}|[{_CN}]{{1,5}}"  # bounded: "9"*400 + "h" would overflow float()
_HOURS = r"个?(?:小时|钟头|钟|h|hrs?|hours?)"
_MINUTES = r"(?:分钟|分|m|mins?|minutes?)"


def parse_minutes(text: str) -> int | None:
    """Whole minutes: 45, 45分钟, 九十分钟, 30 min, 1.5小时, 2h, 2 hours, 两小时, 半小时, 一个半小时,
    1小时30分, 1h30m, 1:30 (hours:minutes), 一刻钟; None if not a duration."""
    text = _plain(text)
    m = re.fullmatch(r"([0-9]{1,5}(?:\.[0-9]{1,3})?)" + _HOURS, text)
    if m:
        return round(float(m.group(1)) * 60)
    m = re.fullmatch(r"([0-9]{1,3}):([0-9]{2})", text)
    if m:
        return int(m.group(1)) * 60 + int(m.group(2)) if int(m.group(2)) < 60 else None
    if re.fullmatch("半" + _HOURS, text):  # 半小时, 半个钟头
        return 30
    m = re.fullmatch(rf"({_AMOUNT})(个半)?{_HOURS}(?:(半)|零?({_AMOUNT}){_MINUTES}?)?", text)
    if m:
        return _hours_minutes(_num(m.group(1)), bool(m.group(2) or m.group(3)), m.group(4))
    m = re.fullmatch(rf"({_AMOUNT})刻钟", text)  # 一刻钟 = 15 minutes
    if m:
        quarters = _num(m.group(1))
        return quarters * 15 if quarters is not None else None
    m = re.fullmatch(rf"({_AMOUNT}){_MINUTES}?", text)
    return _num(m.group(1)) if m else None


def _hours_minutes(hours: int | None, half: bool, minutes: str | None) -> int | None:
    """一个半小时 / 一小时半 (half), 1小时30分 (minutes under 60)."""
    extra = _num(minutes) if minutes else (30 if half else 0)
    if hours is None or extra is None or extra >= 60:
        return None
    return hours * 60 + extra
