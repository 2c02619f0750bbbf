"""Looking people up: members by chat identity, by name or id."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Identity, Member, MemberRole, Project

# Everything a handler shows about a member, loaded up front (async: no lazy loads).
MEMBER_LOAD = (
    selectinload(Member.roles),
    selectinload(Member.zones),
    selectinload(Member.project),
)


async def member_by_identity(
    session: AsyncSession, platform: str, external_id: str
) -> Member | None:
    stmt = (
        sa.select(Member)
        .join(Identity, Identity.member_id == Member.id)
        .where(Identity.platform == platform, Identity.external_id == external_id)
        .options(*MEMBER_LOAD)
    )
    member = (await session.execute(stmt)).scalar_one_or_none()
    if member is None and platform == "wecom":
        # WeCom users are known by the userid the directory import gave them.
        stmt = sa.select(Member).where(Member.wecom_userid == external_id).options(*MEMBER_LOAD)
        member = (await session.execute(stmt)).scalar_one_or_none()
    return member


async def get_member(session: AsyncSession, member_id: int) -> Member | None:
    stmt = sa.select(Member).where(Member.id == member_id).options(*MEMBER_LOAD)
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_members(
    session: AsyncSession, name_or_id: str, project_code: str | None = None
) -> list[Member]:
    """Members matching an id or an exact name (several when the name repeats across projects)."""
    stmt = sa.select(Member).join(Project).options(*MEMBER_LOAD).order_by(Member.id)
    if project_code:
        stmt = stmt.where(Project.code == project_code)
    key = name_or_id.strip()
    if key.isdigit():
        stmt = stmt.where(sa.or_(Member.id == int(key), Member.name == key))
    else:
        stmt = stmt.where(Member.name == key)
    return list((await session.execute(stmt)).scalars())


async def one_member(sessions, name_or_id: str, project_code: str | None = None) -> Member:
    """The one member a name or id means; LookupError saying why when none or several."""
    async with sessions() as s:
        found = await find_members(s, name_or_id, project_code)
    if not found:
        raise LookupError(f"no member {name_or_id!r}"
                          + (f" in project {project_code}" if project_code else ""))
    if len(found) > 1:
        listing = "\n".join(f"  id {m.id}: {m.name} ({m.project.code})" for m in found)
        raise LookupError(f"{name_or_id!r} matches several members; give the id or --project:\n"
                          f"{listing}")
    return found[0]


async def project_by_code(session: AsyncSession, code: str) -> Project | None:
    return (
        await session.execute(sa.select(Project).where(Project.code == code))
    ).scalar_one_or_none()


async def mark_unreachable(session: AsyncSession, platform: str, external_id: str, now) -> bool:
    """The platform says this account can no longer be written to (blocked the bot)."""
    result = await session.execute(
        sa.update(Identity)
        .where(Identity.platform == platform, Identity.external_id == external_id,
               Identity.unreachable_since.is_(None))
        .values(unreachable_since=now)
    )
    if result.rowcount > 0 or platform != "wecom":
        return result.rowcount > 0
    # A WeCom member known only by the imported userid has no identity row yet: add one.
    known = (await session.execute(sa.select(Identity.id).where(
        Identity.platform == platform, Identity.external_id == external_id))).first()
    member_id = (await session.execute(sa.select(Member.id).where(
        Member.wecom_userid == external_id))).scalar_one_or_none()
    if known is not None or member_id is None:
        return False
    session.add(Identity(platform=platform, external_id=external_id, member_id=member_id,
                         bound_at=now, unreachable_since=now))
    await session.flush()
    return True


async def mark_reachable(session: AsyncSession, platform: str, external_id: str) -> None:
    """They wrote to us again, so they can be written to."""
    await session.execute(
        sa.update(Identity)
        .where(Identity.platform == platform, Identity.external_id == external_id,
               Identity.unreachable_since.is_not(None))
        .values(unreachable_since=None)
    )


async def members_with_roles(session: AsyncSession, project_id: int, roles) -> list[Member]:
    """Active members of a project holding any of `roles`."""
    stmt = (sa.select(Member)
            .where(Member.project_id == project_id, Member.active.is_(True),
                   Member.roles.any(MemberRole.role.in_(roles)))
            .options(selectinload(Member.roles))
            .order_by(Member.id))
    return list((await session.execute(stmt)).scalars())


NEVER_BOUND = "never_bound"  # no chat account at all, and no WeCom userid from the import
BLOCKED = "blocked"  # every account they have is marked unreachable (blocked, left WeCom)


async def unreachable_members(session: AsyncSession, member_ids) -> dict[int, str]:
    """Of `member_ids`, those no message can reach, each with why: NEVER_BOUND or BLOCKED.
    Reachable means a chat account not marked unreachable, or a WeCom userid from the
    import whose WeCom account is not marked (mark_unreachable adds that mark). One query
    per 10,000 ids (PostgreSQL's driver takes at most 32,767 parameters)."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    mine = sa.select(Identity.id).where(Identity.member_id == Member.id)
    usable = mine.where(Identity.unreachable_since.is_(None)).exists()
    wecom_marked = sa.select(Identity.id).where(
        Identity.platform == "wecom", Identity.external_id == Member.wecom_userid,
        Identity.unreachable_since.is_not(None)).exists()
    had_account = sa.or_(mine.exists(), Member.wecom_userid.is_not(None))
    out: dict[int, str] = {}
    for i in range(0, len(ids), 10_000):
        rows = await session.execute(
            sa.select(Member.id, had_account)
            .where(Member.id.in_(ids[i:i + 10_000]), ~usable,
                   sa.or_(Member.wecom_userid.is_(None), wecom_marked)))
        out.update((member_id, BLOCKED if had else NEVER_BOUND) for member_id, had in rows)
    return out


async def members_anywhere_with_roles(session: AsyncSession, roles) -> list[Member]:
    """Active members of every project holding any of `roles` (the committee: all projects)."""
    stmt = (sa.select(Member)
            .where(Member.active.is_(True), Member.roles.any(MemberRole.role.in_(roles)))
            .options(selectinload(Member.roles))
            .order_by(Member.id))
    return list((await session.execute(stmt)).scalars())
