"""The week rules of the 2+2 practice, in one place.

A week runs Monday 00:00 to Sunday 24:00 in the configured time zone. A patrol
counts in a week for the part of it that falls inside (so one that crosses the
boundary counts in both). Each project owes `team_minutes` of team patrol, in
wall-clock time.

What a member owes: `personal_minutes` a week, pro-rated by the days of the week
they could patrol. A day does not count before the day they joined, nor while
they are on approved leave (a /leave request the secretary approved, or the
directory's `leave_until`, which has no start and so covers every day up to
it). Joiners and members on leave part of the week owe the same share: the
minutes times the days left over seven, rounded up to 5 minutes (on leave
Monday to Wednesday: 4 of 7 days, 70 minutes). A member on leave every day they
could patrol owes nothing: shown as 🏖 请假, neither met nor short, and not
counted in "N/M 人达标". A week in which nobody owes anything (everyone on
leave, or it was before they joined) has no share at all: "—", never "0/0"
or "100%".

What a patrol counts is decided in storage/patrols.py by the rule in
`[practice]`: a forgotten patrol up to the member's last sign of life (unless
they correct its end), an off-site one once a safety officer accepts it. The
minutes not counted are kept beside the minutes counted, so the table shows
who lost how many and why.
"""
from __future__ import annotations

import datetime as dt
import gc
import math
import re
from contextlib import contextmanager
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


def required_minutes(full: int, joined_at: dt.datetime, week: Week,
                     leave_days: tuple[dt.date, ...] = ()) -> int:
    """What a member owes this week: all of it, or the share of the days they could
    patrol (from the day they joined, not on leave), rounded up to 5 minutes."""
    if joined_at >= week.end:
        return 0
    if joined_at < week.start and not leave_days:
        return full
    first = week.start.date() if joined_at < week.start else joined_at.astimezone(week.tz).date()
    days = sum(1 for d in week.days() if d >= first and d not in leave_days)
    return min(full, 5 * math.ceil(full * days / 7 / 5))


@dataclass(frozen=True)
class MemberWeek:
    member_id: int
    project_id: int
    name: str
    minutes: int  # counted
    required: int
    logged_afterwards: int  # patrols entered after the fact
    off_site: int  # patrols started outside the zone's geofence
    auto_closed: int
    off_site_undecided: int = 0  # off-site patrols awaiting the safety officer
    off_site_uncounted: int = 0  # minutes of off-site patrols not (yet) accepted
    forgotten_uncounted: int = 0  # minutes of forgotten patrols after the last sign of life
    leave_days: tuple[dt.date, ...] = ()  # days of the week on leave

    @property
    def owes(self) -> bool:
        """Counted in "N/M 人达标": owes something this week."""
        return self.required > 0

    @property
    def away(self) -> bool:
        """On leave every day they could patrol: owes nothing (🏖 请假)."""
        return bool(self.leave_days) and self.required == 0

    @property
    def met(self) -> bool:
        return self.minutes >= self.required

    @property
    def left(self) -> int:
        return max(0, self.required - self.minutes)

    @property
    def uncounted(self) -> int:
        return self.off_site_uncounted + self.forgotten_uncounted


@dataclass(frozen=True)
class TeamWeek:
    """One team patrol of the week and who took part."""

    id: int
    started_at: dt.datetime
    ended_at: dt.datetime
    minutes: int  # inside the week
    joint_with_safety: bool
    auto_closed: bool
    members: tuple[tuple[int, str], ...]  # (id, name) in the order they joined


@dataclass(frozen=True)
class ProjectWeek:
    week: Week
    members: list[MemberWeek]
    team_minutes: int
    team_required: int
    personal_required: int  # in a full week; joiners and members on leave owe less
    team_patrols: tuple[TeamWeek, ...] = ()

    @property
    def team_met(self) -> bool:
        return self.team_minutes >= self.team_required

    @property
    def owing(self) -> list[MemberWeek]:
        """The members counted in "N/M 人达标" (not those on leave all week)."""
        return [m for m in self.members if m.owes]

    @property
    def met_count(self) -> int:
        return sum(1 for m in self.members if m.owes and m.met)

    @property
    def away(self) -> list[MemberWeek]:
        return [m for m in self.members if m.away]


@contextmanager
def _collector_paused():
    """Pauses Python's cyclic garbage collector, if it runs (not when a caller has paused it),
    while building many objects that reference counting frees on its own. Garbage made
    meanwhile elsewhere in the process waits until the next collection after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def project_weeks(session: AsyncSession, week: Week, personal: int, team: int,
                        project_id: int | None = None,
                        off_site_rule: str = store.ONCE_ACCEPTED) -> dict[int, ProjectWeek]:
    """Every active member's counted minutes and leave, and each project's team patrols,
    for a week, for one project or all: two queries whatever the number of members."""
    # All projects' week makes some 400,000 objects (rows, then MemberWeeks), none in a
    # reference cycle; the cyclic collector would walk the growing heap again and again
    # meanwhile: a third of the time, measured with 100,000 members.
    with _collector_paused():
        return await _project_weeks(session, week, personal, team, project_id, off_site_rule)


async def _project_weeks(session: AsyncSession, week: Week, personal: int, team: int,
                         project_id: int | None, off_site_rule: str) -> dict[int, ProjectWeek]:
    start, end = week.start, week.end
    rows = await store.member_minutes(session, start, end, week.days(), project_id,
                                      off_site_rule)
    teams: dict[int, list] = {}
    for r in await store.team_week(session, start, end, project_id):
        teams.setdefault(r.project_id, []).append(r)

    def new(pid: int) -> ProjectWeek:
        rows = teams.get(pid, ())
        patrols = tuple(TeamWeek(r.id, r.started_at, r.ended_at, round(r.minutes),
                                 r.joint_with_safety, r.auto_closed, tuple(r.members))
                        for r in rows)
        return ProjectWeek(week, [], round(sum(r.minutes for r in rows)), team, personal,
                           patrols)

    result: dict[int, ProjectWeek] = {}
    # Computed once, not per member: with 100,000 members the Python side is the cost.
    full_week = start.astimezone(dt.UTC)
    for row in rows:
        pw = result.get(row.project_id)
        if pw is None:
            pw = result[row.project_id] = new(row.project_id)
        required = personal if row.joined_at < full_week and not row.leave_days else \
            required_minutes(personal, row.joined_at, week, row.leave_days)
        pw.members.append(MemberWeek(
            row.member_id, row.project_id, row.name, row.minutes, required,
            row.logged_afterwards, row.off_site, row.auto_closed, row.off_site_undecided,
            row.off_site_uncounted, row.forgotten_uncounted, row.leave_days,
        ))
    for pid in teams:
        if pid not in result:
            result[pid] = new(pid)
    return result


@dataclass(frozen=True)
class MemberStanding:
    """One member's week: counted minutes, what they owe, their leave days."""

    week: Week
    minutes: int
    required: int
    leave_days: tuple[dt.date, ...]
    joined: bool  # had joined by the week's end

    @property
    def away(self) -> bool:
        return self.joined and bool(self.leave_days) and self.required == 0


async def member_standing(session: AsyncSession, member, week: Week, personal: int,
                          off_site_rule: str = store.ONCE_ACCEPTED) -> MemberStanding:
    """A member's week by the same rules as the project's table (two small queries)."""
    minutes = await store.minutes_of_member(session, member.id, week.start, week.end,
                                            off_site_rule)
    days = await store.leave_days(session, member.id, week.days())
    return MemberStanding(week, minutes, required_minutes(personal, member.joined_at, week, days),
                          days, member.joined_at < week.end)


async def member_weeks(session: AsyncSession, member, weeks: list[Week], personal: int,
                       off_site_rule: str = store.ONCE_ACCEPTED) -> list[MemberStanding]:
    """A member's standing in each of the given weeks."""
    return [await member_standing(session, member, w, personal, off_site_rule) for w in weeks]


def progress_bar(done: int, required: int, width: int = 10) -> str:
    if required <= 0:
        return "▓" * width
    filled = min(width, done * width // required)
    return "▓" * filled + "░" * (width - filled)
