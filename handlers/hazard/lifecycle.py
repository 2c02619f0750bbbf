"""The rectification loop's rules, in one place: 待整改 → (整改中) → 待复查 → 已销项,
or back to 待整改 with a reason. Each transition checks the state it leaves from,
stamps who and when, and writes the event into the hazard's history. Who may
rectify and who may re-check is decided here too; the chat steps only ask."""
from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from handlers import roles
from storage import hazards as store
from storage.models import Hazard, HazardEvent, HazardPhoto, HazardStatus, Member

RECTIFIABLE = frozenset({HazardStatus.open, HazardStatus.rectifying})


class WrongState(Exception):
    """The hazard is not in a state the transition leaves from (changed meanwhile)."""

    def __init__(self, hazard: Hazard):
        super().__init__(f"hazard {hazard.id} is {hazard.status}")
        self.status = hazard.status


def _leaving(hazard: Hazard, *allowed: HazardStatus) -> None:
    if hazard.status not in allowed:
        raise WrongState(hazard)


# ---- who may


def can_rectify(member: Member, hazard: Hazard) -> bool:
    if hazard.assignee_id is not None:
        return member.id == hazard.assignee_id
    # A crew named in text has no account: the finder or an officer records for it.
    return member.id == hazard.reporter_id or roles.has(member, roles.OFFICERS)


FINDER = "finder"  # in [practice] rechecked_by: whoever reported the hazard


def recheck_roles(hazard: Hazard, rechecked_by: Collection[str]) -> frozenset[str]:
    """The roles whose holders may re-check the hazard: for a 重大隐患 the safety officer
    and the secretary, whatever the setting; for a 一般隐患 the roles of
    [practice] rechecked_by."""
    if hazard.grade == "major":
        return roles.OFFICERS
    return frozenset(rechecked_by) - {FINDER}


def can_recheck(member: Member, hazard: Hazard, rechecked_by: Collection[str]) -> bool:
    """Never the assignee nor whoever recorded the rectification (ruling 7). A 重大隐患
    only the safety officer or the secretary; a 一般隐患 its finder when "finder" is in
    `rechecked_by` ([practice] rechecked_by), and whoever holds a role listed there."""
    if member.id in (hazard.assignee_id, hazard.rectified_by_id):
        return False
    if roles.has(member, recheck_roles(hazard, rechecked_by)):
        return True
    return hazard.grade != "major" and FINDER in rechecked_by and member.id == hazard.reporter_id


# ---- transitions


async def reported(session, hazard: Hazard, actor: Member, now: dt.datetime) -> HazardEvent:
    """A new hazard, numbered and saved, starts the loop as 待整改."""
    hazard.status, hazard.created_at = HazardStatus.open, now
    session.add(hazard)
    await session.flush()
    return await store.record(session, hazard, actor.id, "reported", now)


async def start(session, hazard: Hazard, actor: Member, now: dt.datetime) -> None:
    """The assignee says work has begun (整改中); saying it twice changes nothing."""
    _leaving(hazard, *RECTIFIABLE)
    if hazard.status is HazardStatus.open:
        hazard.status = HazardStatus.rectifying
        await store.record(session, hazard, actor.id, "started", now)


async def submit(session, hazard: Hazard, actor: Member, now: dt.datetime, measures: str,
                 photos: list[dict]) -> HazardEvent:
    """The rectification with its after-photos: now 待复查."""
    _leaving(hazard, *RECTIFIABLE)
    hazard.photos.extend(HazardPhoto(stage="after", media_name=p["name"], evidence=p["evidence"],
                                     added_at=now) for p in photos)
    hazard.measures, hazard.status = measures, HazardStatus.review
    hazard.rectified_by_id, hazard.rectified_at = actor.id, now
    await session.flush()
    return await store.record(session, hazard, actor.id, "submitted", now, measures)


async def send_back(session, hazard: Hazard, actor: Member, now: dt.datetime,
                    reason: str) -> HazardEvent:
    """The re-check failed: back to 待整改, with the reason."""
    _leaving(hazard, HazardStatus.review)
    hazard.status = HazardStatus.open
    return await store.record(session, hazard, actor.id, "returned", now, reason)


async def close(session, hazard: Hazard, actor: Member, now: dt.datetime) -> HazardEvent:
    """The re-check passed: 已销项."""
    _leaving(hazard, HazardStatus.review)
    hazard.status, hazard.closed_at, hazard.rechecked_by_id = HazardStatus.closed, now, actor.id
    await session.flush()
    return await store.record(session, hazard, actor.id, "closed", now)
