"""Directory rows for tests, written straight to the database."""
from __future__ import annotations

import datetime as dt

from handlers import invites
from storage.models import Identity, Member, MemberRole, Project, Zone

NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


async def project(session, code="P1", name="示例项目", branch="示例项目党支部") -> Project:
    p = Project(code=code, name=name, branch=branch)
    session.add(p)
    await session.flush()
    return p


async def zone(session, project, name="施工现场A区", kind="施工现场") -> Zone:
    z = Zone(project_id=project.id, name=name, kind=kind)
    session.add(z)
    await session.flush()
    return z


async def member(session, project, name="张三", roles=("member",), zones=(), **extra) -> Member:
    m = Member(project_id=project.id, name=name, joined_at=extra.pop("joined_at", NOW),
               roles=[MemberRole(role=r) for r in roles], zones=list(zones), **extra)
    session.add(m)
    await session.flush()
    return m


async def bind(session, member, platform="test", external_id="u1") -> Identity:
    i = Identity(platform=platform, external_id=external_id, member_id=member.id, bound_at=NOW)
    session.add(i)
    await session.flush()
    return i


async def invite(session, member, now=NOW, ttl_days=14) -> str:
    return await invites.issue(session, member, now, ttl_days)
