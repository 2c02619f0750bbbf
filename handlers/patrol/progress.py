"""A member's standing in the week's personal 2+2 patrol: 本周 1小时30分 / 2小时."""
from __future__ import annotations

from bot.core.flow import Ctx
from handlers.labels import duration_text
from handlers.weeks import progress_bar, required_minutes, week_of
from storage import patrols as store


async def week_standing(ctx: Ctx) -> tuple[int, int]:
    """(minutes done, minutes required) of the member's personal patrol this week."""
    week = week_of(ctx.now, ctx.config.tz)
    done = await store.minutes_of_member(ctx.session, ctx.member.id, week.start, week.end)
    return done, required_minutes(ctx.config.practice.personal_minutes, ctx.member.joined_at, week)


def progress_text(t, done: int, required: int) -> str:
    """本周 1小时30分 / 2小时 ▓▓▓▓▓▓▓░░░"""
    line = t("本周 {done} / {required}").format(done=duration_text(t, done),
                                                required=duration_text(t, required))
    return f"{line} {progress_bar(done, required)}" + (" ✅" if done >= required else "")


async def week_progress(ctx: Ctx) -> str:
    return progress_text(ctx.t, *await week_standing(ctx))


def minutes_between(start, end) -> int:
    return int((end - start).total_seconds() // 60)
