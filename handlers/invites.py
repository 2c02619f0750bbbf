"""Invite codes: issued by the operator for a member, redeemed once by a chat account.

A code has about 40 bits, few enough to try them all against a plain hash. So the table
keeps an HMAC of it under [security] secret_key, which the database does not hold: a
reader of the table cannot test a guess. Codes issued before that (plain SHA-256 rows)
are still redeemed, once, until they expire; so are the codes of a deployment without a
key (the console demo), which are stored that way."""
from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.core.anonymity import Anonymity
from handlers import codes
from storage import attempts
from storage.ephemeral import MemoryStore
from storage.models import Identity, InviteCode, Member

CODE_LENGTH = 8

# A normalized code -> what the table keeps of it.
Hasher = Callable[[str], str]


def hasher(config: Config, anonymity: Anonymity | None = None) -> Hasher:
    """HMAC-SHA256 under [security] secret_key: the engine's keyed pseudonyms
    (`anonymity`, as bootstrap wires it; made from the key when not at hand). Without a
    key, plain SHA-256: a key made up for one process (what the engine then uses) would
    not redeem a code that `redshield import` printed in another."""
    key = config.security.secret_key
    if not key:
        return codes.digest
    keyed = anonymity if anonymity is not None else Anonymity(key, MemoryStore())
    return lambda normalized: keyed.pseudonym("invite", normalized)


async def issue(session: AsyncSession, member: Member, now: dt.datetime, ttl_days: int, *,
                hasher: Hasher = codes.digest) -> str:
    """A fresh code for the member; codes issued before stop working. `hasher`: what
    `hasher(config, anonymity)` gives (the default is the keyless form)."""
    await session.execute(
        sa.update(InviteCode)
        .where(InviteCode.member_id == member.id, InviteCode.used_at.is_(None),
               InviteCode.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    code = codes.new_code(CODE_LENGTH)
    session.add(InviteCode(member_id=member.id, code_hash=hasher(codes.normalize(code, CODE_LENGTH)),
                           created_at=now, expires_at=now + dt.timedelta(days=ttl_days)))
    await session.flush()
    return code


async def has_live_code(session: AsyncSession, member_id: int, now: dt.datetime) -> bool:
    stmt = sa.select(InviteCode.id).where(
        InviteCode.member_id == member_id, InviteCode.used_at.is_(None),
        InviteCode.revoked_at.is_(None), InviteCode.expires_at > now,
    )
    return (await session.execute(stmt.limit(1))).first() is not None


class Outcome(enum.Enum):
    bound = "bound"
    already_bound = "already_bound"  # this account already belongs to that member
    bound_to_other = "bound_to_other"  # this account belongs to someone else
    malformed = "malformed"
    wrong = "wrong"
    used = "used"
    expired = "expired"
    inactive = "inactive"
    locked = "locked"


@dataclass
class Redeemed:
    outcome: Outcome
    member_id: int | None = None
    retry_at: dt.datetime | None = None


def _attempt_key(platform: str, external_id: str) -> str:
    return "invite:" + hashlib.sha256(f"{platform}:{external_id}".encode()).hexdigest()[:40]


async def redeem(
    session: AsyncSession,
    text: str,
    *,
    platform: str,
    external_id: str,
    now: dt.datetime,
    max_failures: int,
    window: dt.timedelta,
    hasher: Hasher,
) -> Redeemed:
    key = _attempt_key(platform, external_id)
    retry_at = await attempts.locked_until(session, key, now, max_failures, window)
    if retry_at is not None:
        return Redeemed(Outcome.locked, retry_at=retry_at)

    outcome, invite = await _check(session, text, now, hasher)
    if outcome is not None:
        if await attempts.record_failure(session, key, now, window) >= max_failures:
            retry_at = await attempts.locked_until(session, key, now, max_failures, window)
        return Redeemed(outcome, retry_at=retry_at)

    existing = (await session.execute(
        sa.select(Identity).where(Identity.platform == platform,
                                  Identity.external_id == external_id)
    )).scalar_one_or_none()
    if existing is not None:
        same = existing.member_id == invite.member_id
        return Redeemed(Outcome.already_bound if same else Outcome.bound_to_other,
                        member_id=existing.member_id)

    # A member's new account on a platform replaces the old one (a lost or changed phone).
    await session.execute(sa.delete(Identity).where(Identity.member_id == invite.member_id,
                                                    Identity.platform == platform))
    session.add(Identity(platform=platform, external_id=external_id,
                         member_id=invite.member_id, bound_at=now))
    invite.used_at = now
    await attempts.clear(session, key)
    await session.flush()
    return Redeemed(Outcome.bound, member_id=invite.member_id)


async def _check(session: AsyncSession, text: str, now: dt.datetime, hasher: Hasher):
    """(failure, None) or (None, the usable invite row): stored keyed, or in the plain
    form of codes issued before the key or without one."""
    normalized = codes.normalize(text, CODE_LENGTH)
    if normalized is None:
        return Outcome.malformed, None
    keyed, plain = hasher(normalized), codes.digest(normalized)
    invite = (await session.execute(
        sa.select(InviteCode).where(InviteCode.code_hash.in_((keyed, plain)))
        .order_by((InviteCode.code_hash == keyed).desc()).limit(1)
        .with_for_update()
    )).scalar_one_or_none()
    if invite is None:
        return Outcome.wrong, None
    if invite.used_at is not None:
        return Outcome.used, None
    if invite.revoked_at is not None or invite.expires_at <= now:  # replaced or too old
        return Outcome.expired, None
    member = await session.get(Member, invite.member_id)
    if not member.active:
        return Outcome.inactive, None
    return None, invite
