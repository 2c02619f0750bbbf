"""What the scheduler sends: reminders to members short of their 2 hours, to team
leaders when the team patrol is short, overdue hazards up the chain. Each is a
Notice with a key unique per recipient and period, so a job run twice (or by
two processes) sends once."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from bot.core.contract import Choices, Notice, Option
from handlers.hazard.common import assignee_text
from handlers.labels import duration_text
from handlers.notices import translator_for
from handlers.weeks import Week, progress_bar, project_weeks, week_of
from storage import hazards as hazard_store
from storage.models import LeaveRequest, Member, MemberRole


@dataclass(frozen=True)
class Decision:
    """Whether one member gets the personal reminder now, and why."""

    member_id: int
    name: str
    project_id: int
    minutes: int
    required: int
    remind: bool
    reason: str  # short: met | short | on_leave | inactive


async def on_leave(session, today: dt.date) -> dict[int, dt.date]:
    """member id -> last day of leave, for members on leave today (import or approved)."""
    away: dict[int, dt.date] = {}
    rows = await session.execute(sa.select(Member.id, Member.leave_until)
                                 .where(Member.leave_until >= today))
    for member_id, until in rows:
        away[member_id] = until
    rows = await session.execute(sa.select(LeaveRequest.member_id, LeaveRequest.until).where(
        LeaveRequest.status == "approved", LeaveRequest.start <= today, LeaveRequest.until >= today))
    for member_id, until in rows:
        away[member_id] = max(until, away.get(member_id, until))
    return away


async def personal_decisions(session, now: dt.datetime, config) -> list[Decision]:
    """Every Party member, with whether they are reminded and why (for `remind --dry-run`).
    Inactive members are not in the week's table at all; the totals query covers the rest."""
    week = week_of(now, config.tz)
    practice = config.practice
    weeks = await project_weeks(session, week, practice.personal_minutes, practice.team_minutes)
    away = await on_leave(session, now.astimezone(config.tz).date())
    out = []
    for pw in weeks.values():
        for m in pw.members:
            if m.member_id in away:
                reason, remind = f"on_leave until {away[m.member_id].isoformat()}", False
            elif m.met:
                reason, remind = "met", False
            else:
                reason, remind = "short", True
            out.append(Decision(m.member_id, m.name, m.project_id, m.minutes, m.required, remind, reason))
    return out


async def personal_reminders(session, now: dt.datetime, config, slot: str) -> list[Notice]:
    week = week_of(now, config.tz)
    decisions = [d for d in await personal_decisions(session, now, config) if d.remind]
    members = await _members(session, {d.member_id for d in decisions})
    notices = []
    for d in decisions:
        t = translator_for(members[d.member_id], config.locale.default)
        left = d.required - d.minutes
        text = (t("⏰ 本周巡查 {done} / {required} {bar}\n还差 {left}，本周日 24:00 截止。").format(
            done=duration_text(t, d.minutes), required=duration_text(t, d.required),
            bar=progress_bar(d.minutes, d.required), left=duration_text(t, left)))
        notices.append(Notice(d.member_id, (Choices(text, (Option(t("开始巡查"), "/patrol"),
                                                             Option(t("补记巡查"), "/log"))),),
                              kind="remind_personal", key=f"remind:{d.member_id}:{week}:{slot}"))
    return notices


async def team_reminders(session, now: dt.datetime, config) -> list[Notice]:
    """Leaders and the secretary of projects whose team patrol is short this week."""
    week = week_of(now, config.tz)
    practice = config.practice
    weeks = await project_weeks(session, week, practice.personal_minutes, practice.team_minutes)
    short = {pid: pw for pid, pw in weeks.items() if not pw.team_met}
    if not short:
        return []
    organisers = (await session.execute(
        sa.select(Member).where(Member.project_id.in_(short), Member.active.is_(True),
                                Member.roles.any(MemberRole.role.in_(["leader", "secretary"])))
    )).scalars()
    notices = []
    for m in organisers:
        pw = short[m.project_id]
        t = translator_for(m, config.locale.default)
        text = t("🚩 本周团队巡查 {done} / {required}，还差 {left}。请组织先锋队巡查。").format(
            done=duration_text(t, pw.team_minutes), required=duration_text(t, pw.team_required),
            left=duration_text(t, pw.team_required - pw.team_minutes))
        notices.append(Notice(m.id, (Choices(text, (Option(t("发起团队巡查"), "/team"),)),),
                              kind="remind_team", key=f"remind_team:{m.id}:{week}"))
    return notices


async def overdue_notices(session, now: dt.datetime, config) -> list[Notice]:
    """Each day an open hazard is overdue: its assignee; after escalate_after_days also
    the safety officers; after twice that also the secretary."""
    today = now.astimezone(config.tz).date()
    late = await hazard_store.overdue(session, today)
    escalate = config.practice.escalate_after_days
    notices = []
    officers_by_project: dict[int, list[Member]] = {}
    for h in late:
        days = (today - h.deadline).days
        recipients: list[Member] = [h.assignee] if h.assignee else [h.reporter]
        if days >= escalate:
            if h.project_id not in officers_by_project:
                officers_by_project[h.project_id] = await hazard_store.members_with_roles(
                    session, h.project_id, {"safety_officer", "secretary"})
            officers = officers_by_project[h.project_id]
            recipients += [o for o in officers if "safety_officer" in o.role_names]
            if days >= 2 * escalate:
                recipients += [o for o in officers if "secretary" in o.role_names]
        for person in {p.id: p for p in recipients}.values():
            t = translator_for(person, config.locale.default)
            text = t("⏰ {number} 已超期 {days} 天（期限 {deadline}，责任人 {who}）。").format(
                number=h.notice_number, days=days, deadline=h.deadline.isoformat(),
                who=assignee_text(t, h))
            ref = f"{h.year}-{h.number}"
            options = (Option(t("提交整改"), f"/rectify {ref}"),) if person.id == h.assignee_id \
                else (Option(t("查看"), f"/hazard {ref}"),)
            notices.append(Notice(person.id, (Choices(text, options),), kind="hazard_overdue",
                                  key=f"overdue:{h.id}:{person.id}:{today.isoformat()}"))
    return notices


async def _members(session, ids: set[int]) -> dict[int, Member]:
    """Members by id, in chunks: PostgreSQL's driver takes at most 32,767 parameters."""
    ordered, found = sorted(ids), {}
    for i in range(0, len(ordered), 10_000):
        rows = await session.execute(sa.select(Member).where(Member.id.in_(ordered[i:i + 10_000])))
        found.update((m.id, m) for m in rows.scalars())
    return found


def previous_week(now: dt.datetime, tz) -> Week:
    return week_of(now, tz).previous()

