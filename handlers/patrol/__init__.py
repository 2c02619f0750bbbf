"""Personal patrols of the weekly "2+2" (每周2+2安全巡查, the first 2): /patrol to
start and end one, /log for one done without the phone, the scheduler's closing
of patrols left open, each message's mark on the open patrol (its last sign of
life), and the safety officer's decision on off-site patrols (/offsite)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from bot.core.contract import Kind
from bot.core.flow import Command, Ctx
from bot.core.i18n import N_
from bot.core.registry import Registry
from bot.scheduler import every
from handlers import roles
from handlers.patrol import fix, logged, personal
from handlers.patrol.fix import close_forgotten
from storage import patrols as store
from storage.models import Member, Patrol

__all__ = ["close_forgotten", "register"]


def register(registry: Registry) -> None:
    for flow in (personal.start_flow, personal.end_flow, logged.flow, fix.flow):
        registry.flow(flow)
    registry.command(personal.command)
    registry.command(logged.command)
    registry.job("close_forgotten",
                 lambda config: every(config.schedule.close_forgotten_every_minutes),
                 close_forgotten, catch_up=False)
    registry.command(Command("offsite", fix.offsite_command, N_("认可不在现场的巡查"),
                             words=(N_("认可"),), roles=roles.OFFICERS, takes_args=True))
    registry.job("off_site_reviews",
                 lambda config: every(config.schedule.close_forgotten_every_minutes),
                 fix.off_site_reviews, catch_up=False)
    registry.on_message(sign_of_life)
    registry.demo(demo_history)


async def sign_of_life(ctx: Ctx) -> None:
    """Whatever the member sends while a patrol is open marks it: one UPDATE, which finds
    nothing when no patrol is open (a platform event is not something they sent)."""
    if ctx.msg.kind is not Kind.event:
        await store.touch_open_patrol(ctx.session, ctx.member.id, ctx.now)


# Minutes patrolled in each of the last four weeks, by demo member: some keep the
# 2 hours and some do not, so that /me, /week and the reminders have something to show.
DEMO_PATTERN = {"王红梅": (130, 120, 90, 125), "李建国": (150, 140, 135, 160),
                "张伟": (60, 125, 120, 80), "刘洋": (125, 45, 0, 130), "陈静": (120, 130, 125, 0)}


async def demo_history(session, now: dt.datetime, config) -> None:
    members = (await session.execute(sa.select(Member).options(selectinload(Member.zones)))).scalars()
    for m in members:
        for weeks_ago, minutes in enumerate(DEMO_PATTERN.get(m.name, ()), start=1):
            start = now - dt.timedelta(weeks=weeks_ago, hours=2)
            session.add(Patrol(member_id=m.id, project_id=m.project_id,
                               zone_id=m.zones[0].id if m.zones else None, started_at=start,
                               ended_at=start + dt.timedelta(minutes=minutes), created_at=start))
