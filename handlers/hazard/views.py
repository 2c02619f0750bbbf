"""Looking at hazards: /hazard N in chat, the open ones in /me, and the operator's
`redshield hazards --project CODE`. An open hazard whose assignee the bot's messages
cannot reach says so, so that whoever looks tells them in person."""
from __future__ import annotations

import datetime as dt
import json

from bot.core.flow import Ctx
from bot.core.i18n import Translator
from handlers.dates import local
from handlers.hazard.common import STATUS, assignee_text, notice, ref, summary
from handlers.notices import UNREACHABLE_MARK, unreachable_line
from handlers.operator import project_of
from storage import hazards as store
from storage.directory import unreachable_members
from storage.models import Hazard, HazardStatus


def waits_on_assignee(hazard: Hazard) -> bool:
    """Whether the hazard is open and its assignee is a member (outside people are never
    notified, so their being unreachable is no news)."""
    return hazard.assignee_id is not None and hazard.status is not HazardStatus.closed


async def show(ctx: Ctx, hazard: Hazard) -> None:
    t = ctx.t
    text = summary(t, hazard, local(ctx, ctx.now).date())
    if waits_on_assignee(hazard):
        why = (await unreachable_members(ctx.session, {hazard.assignee_id})).get(hazard.assignee_id)
        if why:
            text += "\n" + unreachable_line(t, hazard.assignee.name, why)
    ctx.say(text)
    ctx.send(notice(t, hazard))


async def my_hazards(ctx: Ctx) -> str | None:
    """For /me: open hazards the member must rectify, and those they reported."""
    t = ctx.t
    mine, reported = await store.open_for(ctx.session, ctx.member.id)
    if not mine and not reported:
        return None
    today = local(ctx, ctx.now).date()
    lines = []
    if mine:
        lines.append(t("待我整改：{n} 项").format(n=len(mine)))
        lines += [f"  {h.notice_number} · {h.deadline.isoformat()}"
                  + (" ⏰" if h.deadline < today else "") for h in mine[:5]]
    if reported:
        lines.append(t("我报告的未销项隐患：{n} 项").format(n=len(reported)))
        lines += [f"  {h.notice_number} · {t(STATUS[h.status])}" for h in reported[:5]]
    return "\n".join(lines)


def listing_row(t: Translator, hazard: Hazard, today: dt.date,
                unreachable: dict[int, str] | None = None) -> dict:
    closed = hazard.status is HazardStatus.closed
    return {"number": hazard.notice_number, "ref": ref(hazard), "status": hazard.status.value,
            "status_label": t(STATUS[hazard.status]), "grade": hazard.grade,
            "category": hazard.category, "zone": hazard.zone.name if hazard.zone else None,
            "assignee": assignee_text(t, hazard),
            # null, or why the open hazard's assignee gets no message: never_bound | blocked
            "assignee_unreachable": (unreachable or {}).get(hazard.assignee_id)
            if waits_on_assignee(hazard) else None,
            "deadline": hazard.deadline.isoformat(),
            "overdue_days": 0 if closed else max(0, (today - hazard.deadline).days),
            "reporter": hazard.reporter.name}


# ---- redshield hazards


def cli_arguments(p) -> None:
    p.add_argument("--project", required=True, help="project code")
    p.add_argument("--status", action="append", choices=[s.value for s in HazardStatus],
                   help="only these statuses (repeatable)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


async def cli_hazards(app, args) -> int:
    sessions = await app.open()
    async with sessions() as s:
        project = await project_of(s, args.project)
        found = await store.listing(s, project.id, args.status)
        cut_off = await unreachable_members(s, {h.assignee_id for h in found if waits_on_assignee(h)})
    t = Translator(app.config.locale.default)
    today = app.clock().astimezone(app.config.tz).date()
    rows = [listing_row(t, h, today, cut_off) for h in found]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(f"{project.code}: no hazards" + (f" with status {', '.join(args.status)}" if args.status else ""))
    for r in rows:
        late = f"  overdue {r['overdue_days']}d" if r["overdue_days"] else ""
        mark = UNREACHABLE_MARK if r["assignee_unreachable"] else ""
        print(f"{r['number']}  {r['status_label']}  {r['grade']}  {r['category']}  "
              f"{r['assignee']}{mark}  {r['deadline']}{late}")
    if any(r["assignee_unreachable"] for r in rows):
        print(f"{UNREACHABLE_MARK} the assignee cannot be reached (never bound, or blocked): "
              f"tell them in person")
    return 0
