"""Finding a member of the project from a tap or a typed name."""
from __future__ import annotations

import difflib
import re

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from bot.core.flow import Ctx
from handlers.zones import squeeze
from storage.models import Member

NEAR = 3  # near matches offered as buttons


async def chosen_member(ctx: Ctx, value: str | None) -> Member | None:
    """The member a button names, if active in the member's project (buttons can be forged)."""
    if not value or not re.fullmatch(r"m\d{1,9}", value):
        return None
    member = await ctx.session.get(Member, int(value[1:]))
    if member is None or member.project_id != ctx.member.project_id or not member.active:
        return None
    return member


async def by_typed_name(ctx: Ctx, typed: str) -> tuple[Member | None, list[Member]]:
    """(the one member whose name this is, ignoring spaces and case; or None and the
    near matches: names that contain it or are contained in it, or look alike)."""
    members = list((await ctx.session.execute(
        sa.select(Member).where(Member.project_id == ctx.member.project_id, Member.active.is_(True))
        .options(selectinload(Member.roles)).order_by(Member.id))).scalars())
    key = squeeze(typed)
    exact = [m for m in members if squeeze(m.name) == key]
    if len(exact) == 1:
        return exact[0], []
    near = exact or [m for m in members if key in squeeze(m.name) or squeeze(m.name) in key]
    if not near:
        names = {squeeze(m.name): m for m in members}
        near = [names[n] for n in difflib.get_close_matches(key, names, n=NEAR, cutoff=0.5)]
    return None, near[:NEAR]
