"""The week rules of the 2+2 practice, in one place.

A week runs Monday 00:00 to Sunday 24:00 in the configured time zone. A patrol
counts in a week for the part of it that falls inside (so one that crosses the
boundary counts in both). Each member owes `personal_minutes` of their own
patrols a week, pro-rated in the week they joined; each project owes
`team_minutes` of team patrol, in wall-clock time.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from storage import patrols as store

WEEK_RE = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True)
class Week:
    year: int
    number: int
    tz: ZoneInfo

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(dt.date.fromisocalendar(self.year, self.number, 1),
                                   dt.time(0), tzinfo=self.tz)

    @property
    def end(self) -> dt.datetime:
        return self.next().start

    def next(self) -> Week:
        return week_of(self.start + dt.timedelta(days=7, hours=12), self.tz)

    def previous(self) -> Week:
        return week_of(self.start - dt.timedelta(hours=12), self.tz)

    def days(self) -> list[dt.date]:
        first = self.start.date()
        return [first + dt.timedelta(days=i) for i in range(7)]

    def __str__(self) -> str:
        return f"{self.year}-W{self.number:02d}"


def week_of(moment: dt.datetime, tz: ZoneInfo) -> Week:
    year, number, _ = moment.astimezone(tz).isocalendar()
    return Week(year, number, tz)


def parse_week(text: str, tz: ZoneInfo) -> Week:
    """"2026-W47" (or "2026W47"); ValueError with a readable message otherwise."""
    match = WEEK_RE.match(text.strip())
    if not match:
        raise ValueError(f"not a week: {text!r} (expected e.g. 2026-W47)")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        dt.date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"{year} has no week {number}") from None
    return Week(year, number, tz)


def required_minutes(full: int, joined_at: dt.datetime, week: Week) -> int:
    """What a member owes this week: all of it, or the share of the days left when they
    joined during the week (rounded up to 5 minutes)."""
    if joined_at < week.start:
        return full
    if joined_at >= week.end:
        return 0
    joined_day = joined_at.astimezone(week.tz).date()
    days_left = (week.end.date() - joined_day).days
    return min(full, 5 * math.ceil(full * days_left / 7 / 5))


@dataclass(frozen=True)
class MemberWeek:
    member_id: int
    project_id: int
    name: str
    minutes: int
    required: int
    logged_afterwards: int  # patrols entered after the fact
    off_site: int  # patrols started outside the zone's geofence
    auto_closed: int

    @property
    def met(self) -> bool:
        return self.minutes >= self.required

    @property
    def left(self) -> int:
        return max(0, self.required - self.minutes)


@dataclass(frozen=True)
class ProjectWeek:
    week: Week
    members: list[MemberWeek]
    team_minutes: int
    team_required: int
    personal_required: int  # in a full week; joiners owe less (MemberWeek.required)

    @property
    def team_met(self) -> bool:
        return self.team_minutes >= self.team_required


async def project_weeks(session: AsyncSession, week: Week, personal: int, team: int,
                        project_id: int | None = None) -> dict[int, ProjectWeek]:
    """Every active member's personal minutes and each project's team minutes for a week,
    for one project or all: two queries whatever the number of members."""
    start, end = week.start, week.end
    rows = await store.member_minutes(session, start, end, project_id)
    teams = await store.team_minutes(session, start, end, project_id)
    result: dict[int, ProjectWeek] = {}
    # Computed once, not per member: with 100,000 members the Python side is the cost.
    full_week = start.astimezone(dt.UTC)
    for row in rows:
        pw = result.get(row.project_id)
        if pw is None:
            pw = result[row.project_id] = ProjectWeek(week, [], teams.get(row.project_id, 0),
                                                      team, personal)
        required = personal if row.joined_at < full_week else \
            required_minutes(personal, row.joined_at, week)
        pw.members.append(MemberWeek(
            row.member_id, row.project_id, row.name, row.minutes, required,
            row.logged_afterwards, row.off_site, row.auto_closed,
        ))
    for pid, minutes in teams.items():
        result.setdefault(pid, ProjectWeek(week, [], minutes, team, personal))
    return result


async def member_weeks(session: AsyncSession, member_id: int, weeks: list[Week]) -> list[int]:
    """A member's personal minutes in each of the given weeks."""
    return [await store.minutes_of_member(session, member_id, w.start, w.end) for w in weeks]


def progress_bar(done: int, required: int, width: int = 10) -> str:
    if required <= 0:
        return "▓" * width
    filled = min(width, done * width // required)
    return "▓" * filled + "░" * (width - filled)
