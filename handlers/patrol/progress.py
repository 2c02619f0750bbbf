"""A member's standing in the week's personal 2+2 patrol: 本周 1小时30分 / 2小时, by the
same rules as the secretary's table (leave, what a patrol counts)."""
from __future__ import annotations

from bot.core.flow import Ctx
from handlers.labels import duration_text
from handlers.weeks import MemberStanding, member_standing, progress_bar, week_of
from storage import patrols as store


async def standing(ctx: Ctx) -> MemberStanding:
    """The member's week: counted minutes, what they owe, their leave days."""
    practice = ctx.config.practice
    return await member_standing(ctx.session, ctx.member, week_of(ctx.now, ctx.config.tz),
                                 practice.personal_minutes, practice.off_site_credit)


async def week_standing(ctx: Ctx) -> tuple[int, int]:
    """(minutes counted, minutes required) of the member's personal patrol this week."""
    mine = await standing(ctx)
    return mine.minutes, mine.required


def progress_text(t, done: int, required: int) -> str:
    """本周 1小时30分 / 2小时 ▓▓▓▓▓▓▓░░░"""
    line = t("本周 {done} / {required}").format(done=duration_text(t, done),
                                                required=duration_text(t, required))
    return f"{line} {progress_bar(done, required)}" + (" ✅" if done >= required else "")


def standing_text(t, mine: MemberStanding) -> str:
    """The progress line, or 🏖 when on leave all week; leave days of a shorter week named."""
    if mine.away:
        return t("🏖 本周请假，不要求巡查。")
    line = progress_text(t, mine.minutes, mine.required)
    if mine.leave_days:
        line += " · " + t("🏖 请假 {days}").format(days=days_text(t, mine.leave_days))
    return line


def day_runs(days) -> list[tuple]:
    """Runs of consecutive days as (first, last)."""
    runs: list[list] = []
    for day in sorted(days):
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(a, b) for a, b in runs]


def days_text(t, days) -> str:
    """11-23–11-25、11-28"""
    return t("、").join(f"{a:%m-%d}" if a == b else f"{a:%m-%d}–{b:%m-%d}"
                       for a, b in day_runs(days))


async def week_progress(ctx: Ctx) -> str:
    t = ctx.t
    mine = await standing(ctx)
    lines = [standing_text(t, mine)]
    if ctx.config.practice.off_site_credit == store.ONCE_ACCEPTED:
        waiting = await store.off_site_awaiting(ctx.session, ctx.member.id, mine.week.start,
                                                mine.week.end)
        if waiting:
            lines.append(t("不在现场的巡查 {duration} 待安监认可，认可后计入。").format(
                duration=duration_text(t, waiting)))
    return "\n".join(lines)


def minutes_between(start, end) -> int:
    return int((end - start).total_seconds() // 60)
