"""The demo project, loaded into an empty database for trying the bot in the console."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker

from handlers.directory_import import apply_directory, parse_directory
from sqlalchemy.orm import selectinload

from storage.models import Identity, Member, Patrol, Project

DEMO_FILE = Path(__file__).with_name("demo.toml")
DEMO_PROJECT = "DEMO-01"
DEMO_USER = "王红梅"  # the branch secretary: sees the most
UNBOUND = "陈静"  # left without a console account, to try an invite code on


@dataclass
class Demo:
    created: bool
    invite: tuple[str, str] | None  # (member name, code) when freshly created


async def has_directory(sessions: async_sessionmaker) -> bool:
    async with sessions() as s:
        return (await s.execute(sa.select(Project.id).limit(1))).first() is not None


async def load_demo(sessions: async_sessionmaker, now: dt.datetime, ttl_days: int) -> Demo:
    """Load the demo into an empty database; console accounts for all but one member."""
    if await has_directory(sessions):
        return Demo(created=False, invite=None)
    directory = parse_directory(DEMO_FILE.read_bytes(), DEMO_FILE.name)
    async with sessions() as s, s.begin():
        result = await apply_directory(s, directory, now=now, invite_ttl_days=ttl_days)
        members = list((await s.execute(sa.select(Member).options(
            selectinload(Member.zones)))).scalars())
        for m in members:
            m.joined_at = now - dt.timedelta(weeks=6)  # members of long standing, with a history
            if m.name != UNBOUND:
                s.add(Identity(platform="console", external_id=console_user_id(m),
                               member_id=m.id, bound_at=now))
        add_history(s, members, now)
    code = next((c for name, _, c in result.invites if name == UNBOUND), None)
    return Demo(created=True, invite=(UNBOUND, code) if code else None)


def add_history(session, members: list[Member], now: dt.datetime) -> None:
    """Four weeks of patrols, some members keeping the 2 hours and some not, so that
    /me, /week and the reminders have something to show."""
    pattern = {"王红梅": (130, 120, 90, 125), "李建国": (150, 140, 135, 160), "张伟": (60, 125, 120, 80),
               "刘洋": (125, 45, 0, 130), "陈静": (120, 130, 125, 0)}
    for m in members:
        for weeks_ago, minutes in enumerate(pattern.get(m.name, ()), start=1):
            start = now - dt.timedelta(weeks=weeks_ago, hours=2)
            session.add(Patrol(member_id=m.id, project_id=m.project_id,
                               zone_id=m.zones[0].id if m.zones else None, started_at=start,
                               ended_at=start + dt.timedelta(minutes=minutes), created_at=start))


def console_user_id(member: Member) -> str:
    """The console account of a member, as `redshield chat --member` uses it."""
    return f"member-{member.id}"
