"""Demo data for trying the bot in the console: when the database is empty, every
capability's registered demo loader runs (registry.demo), in one transaction, and
each member but the one left for trying an invite code gets a console account."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from storage.models import Identity, Member, Project


@dataclass
class Demo:
    created: bool
    project: str | None = None  # the demo project's code
    invite: tuple[str, str] | None = None  # (member name, code) when freshly created


async def load_demo(app) -> Demo:
    """Load the registered demo data into an empty database."""
    sessions = await app.open()
    async with sessions() as s:
        if (await s.execute(sa.select(Project.id).limit(1))).first() is not None:
            return Demo(created=False)
    now, info = app.clock(), {}
    async with sessions() as s, s.begin():
        for loader in app.registry.demo_loaders:
            info.update(await loader(s, now, app.config) or {})
        unbound = info.get("unbound")
        for m in (await s.execute(sa.select(Member))).scalars():
            if m.name != unbound:
                s.add(Identity(platform="console", external_id=console_user_id(m),
                               member_id=m.id, bound_at=now))
    return Demo(created=True, project=info.get("project"), invite=info.get("invite"))


def console_user_id(member: Member) -> str:
    """The console account of a member, as `redshield chat --member` uses it."""
    return f"member-{member.id}"
