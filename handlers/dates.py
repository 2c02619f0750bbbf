"""Dates, times and durations as members type them, and the local clock."""
from __future__ import annotations

import datetime as dt
import re


def local(ctx, moment: dt.datetime) -> dt.datetime:
    """A stored (UTC) moment on the project's clock."""
    return moment.astimezone(ctx.config.tz)


def today(ctx) -> dt.date:
    return local(ctx, ctx.now).date()


def parse_day(text: str, today: dt.date) -> dt.date | None:
    """"2026-11-20", "11-20", "11/20", "11月20日", "20日"; None if not a date."""
    text = text.strip().replace("/", "-").replace(".", "-")
    m = re.fullmatch(r"(?:(\d{4})-)?(\d{1,2})-(\d{1,2})", text) or \
        re.fullmatch(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]?", text)
    try:
        if m:
            return dt.date(int(m.group(1) or today.year), int(m.group(2)), int(m.group(3)))
        m = re.fullmatch(r"(\d{1,2})[日号]", text)
        if m:
            return today.replace(day=int(m.group(1)))
    except ValueError:
        return None
    return None


def parse_clock(text: str) -> dt.time | None:
    """"14:30", "14：30", "1430", "14点", "14点30"; None if not a time of day."""
    text = text.strip().replace("：", ":")
    m = (re.fullmatch(r"(\d{1,2}):(\d{2})", text) or re.fullmatch(r"(\d{2})(\d{2})", text)
         or re.fullmatch(r"(\d{1,2})[点时](?:(\d{1,2})分?)?", text))
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    return dt.time(hour, minute) if hour < 24 and minute < 60 else None


def parse_minutes(text: str) -> int | None:
    """"45", "45分钟", "1.5小时", "2h", "1小时30分"; None if not a duration."""
    text = text.strip().lower().replace(" ", "")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(?:小时|h|hours?)", text)
    if m:
        return round(float(m.group(1)) * 60)
    m = re.fullmatch(r"(\d+)(?:小时|h)(\d+)(?:分钟?|m|min)?", text)
    if m:
        return int(m.group(1)) * 60 + int(m.group(2))
    m = re.fullmatch(r"(\d+)(?:分钟?|m|min|minutes?)?", text)
    return int(m.group(1)) if m else None
