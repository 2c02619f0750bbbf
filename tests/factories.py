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


async def hazard_site(db) -> dict[str, int]:
    """A project with a finder, a crew lead (assignee), an officer, a secretary; and a
    stranger in another project. Member ids by role."""
    async with db.sessions() as s, s.begin():
        p = await project(s, code="P1")
        a = await zone(s, p, "施工现场A区")
        await zone(s, p, "生活区", kind="生活区")
        people = {}
        for key, name, roles, uid in (
            ("finder", "张三", ("member", "vanguard"), "u1"),
            ("crew", "赵强", ("assignee",), "u2"),
            ("officer", "李安监", ("member", "safety_officer"), "u3"),
            ("secretary", "王书记", ("member", "secretary"), "u4"),
        ):
            m = await member(s, p, name, roles=roles, zones=[a] if key == "finder" else [])
            await bind(s, m, external_id=uid)
            people[key] = m.id
        other = await project(s, code="P2", name="别的项目")
        stranger = await member(s, other, "外人", roles=("assignee", "member"))
        await bind(s, stranger, external_id="u9")
        people["stranger"] = stranger.id
    return people
