"""handlers/dates.py: what members type on a phone, read against fixed days."""
from __future__ import annotations

import datetime as dt

import pytest

from handlers.dates import cn_number, parse_clock, parse_day, parse_id, parse_minutes, parse_number

D = dt.date
WED = D(2026, 12, 2)   # a Wednesday; that week runs Mon 11-30 .. Sun 12-06
SUN = D(2026, 12, 6)   # the last day of that week
JAN = D(2027, 1, 2)    # a Saturday just past the turn of the year
MAR = D(2027, 3, 1)    # the day after a 28-day February

# Rubbish every parser refuses (None stands for a message with no text at all).
RUBBISH = ["", "   ", "abc", "25点", "99999999999999999999", "²", "-", "周八", "明后天", "?", None]


# --- parse_day -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, today, expected", [
    # relative days
    ("今天", WED, D(2026, 12, 2)), ("今日", WED, D(2026, 12, 2)), ("today", WED, D(2026, 12, 2)),
    ("昨天", WED, D(2026, 12, 1)), ("昨日", WED, D(2026, 12, 1)), ("yesterday", WED, D(2026, 12, 1)),
    ("前天", WED, D(2026, 11, 30)), ("大前天", WED, D(2026, 11, 29)),
    ("明天", WED, D(2026, 12, 3)), ("明日", WED, D(2026, 12, 3)), ("Tomorrow", WED, D(2026, 12, 3)),
    ("后天", WED, D(2026, 12, 4)), ("大后天", WED, D(2026, 12, 5)),
    ("昨天", JAN, D(2027, 1, 1)), ("前天", JAN, D(2026, 12, 31)), ("明天", D(2026, 12, 31), D(2027, 1, 1)),
    # bare weekdays, default prefer="nearest": this week's
    ("周三", WED, WED), ("星期一", WED, D(2026, 11, 30)), ("礼拜五", WED, D(2026, 12, 4)),
    ("周日", WED, SUN), ("星期天", WED, SUN), ("礼拜天", WED, SUN), ("周7", WED, SUN), ("周1", WED, D(2026, 11, 30)),
    ("周一", SUN, D(2026, 11, 30)), ("周日", SUN, SUN),
    ("mon", WED, D(2026, 11, 30)), ("Monday", WED, D(2026, 11, 30)), ("wed.", WED, WED),
    ("thurs", WED, D(2026, 12, 3)), ("sun", WED, SUN),
    # named weeks ignore prefer
    ("上周三", WED, D(2026, 11, 25)), ("上个星期日", WED, D(2026, 11, 29)), ("上礼拜一", WED, D(2026, 11, 23)),
    ("下周一", WED, D(2026, 12, 7)), ("下个周日", WED, D(2026, 12, 13)), ("本周五", WED, D(2026, 12, 4)),
    ("这周一", WED, D(2026, 11, 30)), ("这个星期天", WED, SUN), ("下周一", SUN, D(2026, 12, 7)),
    ("上周日", SUN, D(2026, 11, 29)), ("下周五", D(2026, 12, 28), D(2027, 1, 8)),
    # explicit dates
    ("12月3日", WED, D(2026, 12, 3)), ("12月3号", WED, D(2026, 12, 3)), ("12月3", WED, D(2026, 12, 3)),
    ("12-03", WED, D(2026, 12, 3)), ("12/3", WED, D(2026, 12, 3)), ("12.3", WED, D(2026, 12, 3)),
    ("2026-12-03", WED, D(2026, 12, 3)), ("2026/12/3", WED, D(2026, 12, 3)), ("2026.12.03", WED, D(2026, 12, 3)),
    ("2026年12月3日", WED, D(2026, 12, 3)), ("2025年1月31号", WED, D(2025, 1, 31)),
    ("十二月三日", WED, D(2026, 12, 3)), ("十一月二十号", WED, D(2026, 11, 20)),
    ("3号", WED, D(2026, 12, 3)), ("3日", WED, D(2026, 12, 3)), ("二十五号", WED, D(2026, 12, 25)),
    ("1-5", WED, D(2026, 1, 5)), ("11-20", WED, D(2026, 11, 20)), ("2028-02-29", WED, D(2028, 2, 29)),
    # full-width digits and punctuation, spaces
    ("１２－０３", WED, D(2026, 12, 3)), ("１２／３", WED, D(2026, 12, 3)), ("１２。３", WED, D(2026, 12, 3)),
    ("２０２６年１２月３日", WED, D(2026, 12, 3)),
    (" 12 月 3 日 ", WED, D(2026, 12, 3)), ("\u3000明天", WED, D(2026, 12, 3)),
])
def test_parse_day(text, today, expected):
    assert parse_day(text, today) == expected


@pytest.mark.parametrize("text, today, past, future, nearest", [
    ("周三", WED, D(2026, 12, 2), D(2026, 12, 2), D(2026, 12, 2)),
    ("周一", WED, D(2026, 11, 30), D(2026, 12, 7), D(2026, 11, 30)),
    ("周五", WED, D(2026, 11, 27), D(2026, 12, 4), D(2026, 12, 4)),
    ("周日", WED, D(2026, 11, 29), D(2026, 12, 6), D(2026, 12, 6)),
    ("周日", SUN, SUN, SUN, SUN),
    ("周一", SUN, D(2026, 11, 30), D(2026, 12, 7), D(2026, 11, 30)),
    ("周六", JAN, JAN, JAN, JAN),
    ("周五", JAN, D(2027, 1, 1), D(2027, 1, 8), D(2027, 1, 1)),
    ("周一", JAN, D(2026, 12, 28), D(2027, 1, 4), D(2026, 12, 28)),
    ("fri", WED, D(2026, 11, 27), D(2026, 12, 4), D(2026, 12, 4)),
    # explicit dates: this year unless over a month the wrong way for prefer
    ("12-25", WED, D(2026, 12, 25), D(2026, 12, 25), D(2026, 12, 25)),
    ("1-5", WED, D(2026, 1, 5), D(2027, 1, 5), D(2026, 1, 5)),
    ("11-1", WED, D(2026, 11, 1), D(2026, 11, 1), D(2026, 11, 1)),
    ("10-15", WED, D(2026, 10, 15), D(2027, 10, 15), D(2026, 10, 15)),
    ("12-30", JAN, D(2026, 12, 30), D(2027, 12, 30), D(2027, 12, 30)),
    ("2月1日", JAN, D(2027, 2, 1), D(2027, 2, 1), D(2027, 2, 1)),
    ("2月5日", JAN, D(2026, 2, 5), D(2027, 2, 5), D(2027, 2, 5)),
    ("2026-01-05", WED, D(2026, 1, 5), D(2026, 1, 5), D(2026, 1, 5)),
    # day of month: this month, or the latest / next such day
    ("3号", WED, D(2026, 11, 3), D(2026, 12, 3), D(2026, 12, 3)),
    ("2号", WED, WED, WED, WED),
    ("1号", WED, D(2026, 12, 1), D(2027, 1, 1), D(2026, 12, 1)),
    ("31号", WED, D(2026, 10, 31), D(2026, 12, 31), D(2026, 12, 31)),
    ("30号", MAR, D(2027, 1, 30), D(2027, 3, 30), D(2027, 3, 30)),
    ("1号", MAR, MAR, MAR, MAR),
    ("29号", D(2027, 1, 31), D(2027, 1, 29), D(2027, 3, 29), D(2027, 1, 29)),
    ("31号", JAN, D(2026, 12, 31), D(2027, 1, 31), D(2027, 1, 31)),
    ("今天", WED, WED, WED, WED),
    ("上周三", WED, D(2026, 11, 25), D(2026, 11, 25), D(2026, 11, 25)),
])
def test_parse_day_prefer(text, today, past, future, nearest):
    assert parse_day(text, today, prefer="past") == past
    assert parse_day(text, today, prefer="future") == future
    assert parse_day(text, today, prefer="nearest") == nearest


@pytest.mark.parametrize("text", [
    *RUBBISH, "12", "2月30日", "2-30", "13-01", "0-5", "12-0", "12-32", "2026-02-29", "32号", "0号", "一百号",
    "2月29日", "十三月一日", "12月", "周", "星期", "上周", "mo", "month", "12-3-4", "2026-1", "12:30",
    "٣-٤", "12²-3", "7 8号",
])
def test_parse_day_rejects(text):
    for prefer in ("past", "future", "nearest"):
        assert parse_day(text, MAR, prefer=prefer) is None


def test_parse_day_leap_day_without_year_follows_the_year_it_lands_in():
    assert parse_day("2-29", D(2028, 3, 5), prefer="past") == D(2028, 2, 29)
    assert parse_day("2-29", D(2027, 12, 20), prefer="future") == D(2028, 2, 29)
    assert parse_day("2-29", D(2027, 3, 5), prefer="past") is None


def test_parse_day_refuses_an_unknown_prefer():
    with pytest.raises(ValueError):
        parse_day("周三", WED, prefer="soon")


# --- parse_clock ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("14:30", (14, 30)), ("14：30", (14, 30)), ("１４：３０", (14, 30)), ("9:05", (9, 5)), ("0:00", (0, 0)),
    ("23:59", (23, 59)), ("1430", (14, 30)), ("0930", (9, 30)), ("9.30", (9, 30)), ("9。30", (9, 30)),
    ("14点", (14, 0)), ("14点30", (14, 30)), ("14点30分", (14, 30)), ("14时30分", (14, 30)), ("9点5分", (9, 5)),
    ("9点05", (9, 5)), ("9点半", (9, 30)), ("九点", (9, 0)), ("九点半", (9, 30)), ("两点半", (2, 30)),
    ("十点一刻", (10, 15)), ("九点三刻", (9, 45)), ("九点十五", (9, 15)), ("九点零五", (9, 5)), ("九点零五分", (9, 5)),
    ("十二点", (12, 0)), ("二十三点五十九分", (23, 59)), ("9点钟", (9, 0)), ("9点整", (9, 0)), ("零点", (0, 0)),
    ("早上九点", (9, 0)), ("上午9点", (9, 0)), ("早8点", (8, 0)), ("上午11:30", (11, 30)),
    ("中午12点", (12, 0)), ("中午1点", (13, 0)), ("中午十一点半", (11, 30)),
    ("下午3点", (15, 0)), ("下午三点半", (15, 30)), ("下午3:30", (15, 30)),
    ("下午12点", (12, 0)), ("下午15点", (15, 0)),
    ("傍晚6点", (18, 0)), ("晚上8点", (20, 0)), ("晚上八点一刻", (20, 15)), ("晚8点", (20, 0)),
    ("晚上20点", (20, 0)), ("晚上12点", (0, 0)), ("夜里2点", (2, 0)),
    ("凌晨2点", (2, 0)), ("凌晨12点", (0, 0)), ("凌晨零点半", (0, 30)),
    ("3pm", (15, 0)), ("3PM", (15, 0)), ("3 pm", (15, 0)), ("9am", (9, 0)), ("9:30pm", (21, 30)),
    ("9.30am", (9, 30)), ("12am", (0, 0)), ("12pm", (12, 0)), ("11:59 p.m.", (23, 59)), ("３ｐｍ", (15, 0)),
])
def test_parse_clock(text, expected):
    assert parse_clock(text) == dt.time(*expected)


@pytest.mark.parametrize("text", [
    *RUBBISH, "12", "24:00", "24点", "9:60", "9点60", "9:5", "9.5", "12345", "930", "0pm", "13pm", "13:00pm",
    "下午0点", "中午8点", "晚上14点", "上午13点", "凌晨13点", "九点半半", "点", "9点70分",
    "一百点", "٩:٣٠", "9 30",
])
def test_parse_clock_rejects(text):
    assert parse_clock(text) is None


# --- parse_minutes -------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("45", 45), ("0045", 45), ("45分钟", 45), ("45分", 45), ("45 min", 45), ("30 min", 30), ("30mins", 30),
    ("30 minutes", 30), ("30m", 30), ("90分钟", 90), ("九十分钟", 90), ("四十五分钟", 45), ("一百二十分钟", 120),
    ("1.5小时", 90), ("1.5h", 90), ("0.25h", 15), ("2h", 120), ("2H", 120), ("2 hours", 120), ("1 hour", 60),
    ("2hrs", 120), ("1.5个小时", 90),
    ("两小时", 120), ("二小时", 120), ("两个小时", 120), ("一小时", 60), ("一个小时", 60), ("一个钟头", 60),
    ("半小时", 30), ("半个小时", 30), ("半个钟头", 30), ("一个半小时", 90), ("1个半小时", 90),
    ("两个半小时", 150), ("一小时半", 90),
    ("1小时30分", 90), ("1小时30分钟", 90), ("1小时30", 90), ("一小时三十分", 90), ("1小时零5分", 65),
    ("1h30", 90), ("1h30m", 90), ("1h 30min", 90), ("1:30", 90), ("0:45", 45), ("１：３０", 90), ("２ｈ", 120),
    ("一刻钟", 15), ("三刻钟", 45), ("0", 0),
])
def test_parse_minutes(text, expected):
    assert parse_minutes(text) == expected


@pytest.mark.parametrize("text", [
    *RUBBISH, "1:60", "1:5", "1h60", "1小时60分", "-5", "1.5", "1.5分钟", "h", "小时", "个半小时",
    "半", "1 30", "9" * 400 + "h", "123456", "45秒", "一百零小时", "²小时", "٤٥",
])
def test_parse_minutes_rejects(text):
    assert parse_minutes(text) is None


# --- numbers and ids -----------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("零", 0), ("〇", 0), ("一", 1), ("两", 2), ("九", 9), ("十", 10), ("十二", 12), ("二十", 20), ("二十五", 25),
    ("九十九", 99), ("一百", 100), ("两百", 200), ("一百零五", 105), ("一百〇五", 105), ("一百一十", 110),
    ("一百十", 110), ("一百二", 120), ("一百二十", 120), ("两百五", 250), ("九百九十九", 999),
])
def test_cn_number(text, expected):
    assert cn_number(text) == expected


@pytest.mark.parametrize("text", [
    "", "百", "十十", "零五", "一百零", "一百零十", "二二", "一千", "12", "十二点", "三十百", "abc",
])
def test_cn_number_rejects(text):
    assert cn_number(text) is None


@pytest.mark.parametrize("text, expected", [
    ("12", 12), ("１２", 12), ("012", 12), (" 7 ", 7), ("十二", 12), ("两", 2), ("0", 0),
    ("²", None), ("٣", None), ("", None), ("1.5", None), ("-3", None), ("1 2", None), ("9999999999", None),
])
def test_parse_number(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("7", 7), ("0007", 7), ("#7", 7), ("# 7", 7), ("７", 7), ("＃７", 7), (" 42 ", 42), ("\u300042", 42),
    ("1", 1), ("2147483647", 2_147_483_647), ("0002147483647", 2_147_483_647),
])
def test_parse_id(text, expected):
    assert parse_id(text) == expected


@pytest.mark.parametrize("text", [
    *RUBBISH, "0", "0000", "#", "##7", "-7", "+7", "7.0", "7a", "0x7", "1e3", "7 8", "2147483648",
    "99999999999999999999", "9" * 5000, "²", "7²", "٣", "৩", "七", "1_000", "\u00a0", "7\n8",
])
def test_parse_id_rejects(text):
    assert parse_id(text) is None
