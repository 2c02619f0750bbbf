"""The personal 2+2 reminders: members short of their 2 hours are nagged at the
configured times (not while on leave). Each is a Notice with a key unique per
recipient and period, so a job run twice (or by two processes) sends once.
`redshield remind --dry-run` shows who would be reminded now, and why, and who of
them the reminder cannot reach (never bound, or blocked)."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace

import sqlalchemy as sa

from bot.core.contract import Choices, Notice, Option
from bot.core.registry import Job, Registry
from bot.scheduler import slot_name, weekly
from handlers.labels import duration_text
from handlers.leave import on_leave
from handlers.notices import translator_for
from handlers.weeks import progress_bar, project_weeks, week_of
from storage.directory import unreachable_members
from storage.models import Member, Project


def register(registry: Registry) -> None:
    registry.job_source(reminder_jobs)
    registry.cli("remind", "personal 2+2 reminders: who would get one, or send them now",
                 cli_remind, cli_arguments)


def reminder_jobs(config) -> list[Job]:
    """One job per configured reminder time (default Thursday 18:00 and Sunday 10:00)."""
    return [Job(f"remind_personal_{i}", weekly(at, config.tz), reminders_at(slot_name(at)))
            for i, at in enumerate(config.schedule.personal_reminders)]


def reminders_at(slot: str):
    """The job's work for one reminder time; the slot keeps its notices apart from other times'."""
    async def work(session, now, config):
        return await personal_reminders(session, now, config, slot)

    return work


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
    # Filled by `remind --dry-run` only: null, or why no message reaches them (never_bound | blocked).
    unreachable: str | None = None


async def personal_decisions(session, now: dt.datetime, config) -> list[Decision]:
    """Every Party member, with whether they are reminded and why (for `remind --dry-run`).
    Inactive members are not in the week's table at all; the totals query covers the rest."""
    week = week_of(now, config.tz)
    practice = config.practice
    weeks = await project_weeks(session, week, practice.personal_minutes, practice.team_minutes,
                                off_site_rule=practice.off_site_credit)
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


async def _members(session, ids: set[int]) -> dict[int, Member]:
    """Members by id, in chunks: PostgreSQL's driver takes at most 32,767 parameters."""
    ordered, found = sorted(ids), {}
    for i in range(0, len(ordered), 10_000):
        rows = await session.execute(sa.select(Member).where(Member.id.in_(ordered[i:i + 10_000])))
        found.update((m.id, m) for m in rows.scalars())
    return found


# ---- redshield remind


def cli_arguments(p) -> None:
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--now", action="store_true", help="queue and send the reminders now")
    mode.add_argument("--dry-run", action="store_true", help="list who would be reminded, and why")
    p.add_argument("--json", action="store_true", help="machine-readable output (with --dry-run)")


async def cli_remind(app, args) -> int:
    config, now = app.config, app.clock()
    sessions = await app.open()
    if not args.dry_run:
        slot = f"manual{now.astimezone(config.tz):%Y%m%d%H%M}"  # a new run is a new reminder

        async def work(session, at, config):
            return await personal_reminders(session, at, config, slot)

        queued = await app.run_now("remind_now", work)
        print(f"{queued} reminders queued: the running bot (`redshield run`, its scheduler) "
              f"sends them, within the platforms' limits.")
        return 0
    async with sessions() as s:
        decisions = await personal_decisions(s, now, config)
        cut_off = await unreachable_members(s, {d.member_id for d in decisions})
        codes = dict((await s.execute(sa.select(Project.id, Project.code))).all())
    decisions = [replace(d, unreachable=cut_off.get(d.member_id)) for d in decisions]
    if args.json:
        print(json.dumps([d.__dict__ for d in decisions], ensure_ascii=False, indent=2))
        return 0
    reminded = [d for d in decisions if d.remind]
    lost = sum(d.unreachable is not None for d in reminded)
    print(f"{len(reminded)} of {len(decisions)} members would be reminded now"
          + (f"; {lost} of them cannot be reached" if lost else ""))
    for d in decisions:
        mark = "remind" if d.remind else "skip  "
        why = f", unreachable ({d.unreachable.replace('_', ' ')})" if d.unreachable else ""
        print(f"  {mark} {d.name} ({codes.get(d.project_id, d.project_id)}): {d.minutes}/{d.required} min, "
              f"{d.reason}{why}")
    return 0
