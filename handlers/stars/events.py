"""Points the bot gives on its own, for other capabilities' events (Registry.on): a
real-name report confirmed 属实 or turned into a hazard pays its reporter; an anonymous
one credits its receipt (StarReward), which the union pays out on /redeem; a hazard a
worker reported that became a notice, and a quiz's correct answers, pay the worker.

Each event pays once: a ledger entry carries the event as its `ref` (unique per
worker), a reward is unique per report; both are looked for before writing, so a
second event never fails the officer's step. An anonymous report's reward says
nothing of who sent it, and its times are to the hour."""
from __future__ import annotations

from bot.core.contract import Notice, Text
from bot.core.flow import Ctx
from bot.core.i18n import N_
from bot.core.registry import Registry
from handlers import roles
from handlers.dates import day_span
from handlers.notices import translator_for
from handlers.violation.common import to_the_hour
from storage import star_rewards as rewards
from storage import stars
from storage.directory import get_member
from storage.models import Hazard, Member, ViolationReport

CONFIRMED = "violation_confirmed"
HAZARD = "hazard_reported"
QUIZ = "quiz"

# What the events are called wherever a ledger entry's reason is shown (the entry keeps
# the rule's name).
LABELS = {CONFIRMED: N_("举报属实"), HAZARD: N_("报告隐患"), QUIZ: N_("安全知识答题")}


def reason_label(t, reason: str) -> str:
    """A ledger entry's reason as people read it: a behaviour, a violation, an event."""
    return t(LABELS.get(reason, reason))


TOLD = {
    CONFIRMED: N_("您的实名举报 #{id} 经核查属实，获得行为安全之星积分 +{points}。"),
    HAZARD: N_("您的实名举报 #{id} 已转为隐患整改，获得行为安全之星积分 +{points}。"),
}
HAZARD_TOLD = N_("您报告的隐患已下发整改通知，获得行为安全之星积分 +{points}。")
# What /track adds for the anonymous reporter.
REWARD_WAITS = N_("🎁 举报属实，可凭此查询码到工会领取奖励（{points} 分）。")
REWARD_CLAIMED = N_("🎁 奖励已领取。")


def register(registry: Registry) -> None:
    registry.on("violation_confirmed", violation_confirmed)
    registry.on("hazard_recorded", hazard_recorded)
    registry.on("quiz_scored", quiz_scored)
    registry.on("report_tracked", report_tracked)


async def violation_confirmed(ctx: Ctx, report: ViolationReport) -> None:
    await reward_report(ctx, report, CONFIRMED, ctx.config.stars.violation_confirmed)


async def hazard_recorded(ctx: Ctx, hazard: Hazard, violation: ViolationReport | None) -> None:
    if violation is not None:
        # Same ref as a confirmation ("violation:12"): one report earns once either way.
        await reward_report(ctx, violation, HAZARD, ctx.config.stars.hazard_reported)
        return
    reporter = ctx.member if ctx.member is not None and ctx.member.id == hazard.reporter_id \
        else await get_member(ctx.session, hazard.reporter_id)
    if reporter is None or not roles.has(reporter, roles.WORKER):
        return  # patrolling members and officers find hazards as their duty
    # Nobody checks a hazard before its notice: a day's cap keeps a worker from filing
    # hazards for points.
    start, end = day_span(ctx)
    if await stars.event_count(ctx.session, reporter.id, HAZARD, "hazard:", start, end) \
            >= ctx.config.stars.per_worker_per_day:
        return
    points = ctx.config.stars.hazard_reported
    if await credit(ctx, reporter, hazard.project_id, HAZARD, points, f"hazard:{hazard.id}"):
        tell(ctx, reporter, f"hazard:{hazard.id}", HAZARD_TOLD, points=points)


async def quiz_scored(ctx: Ctx, member: Member, correct: int, ref: str) -> None:
    if correct > 0 and roles.has(member, roles.WORKER):
        await credit(ctx, member, member.project_id, QUIZ, correct * ctx.config.stars.quiz_correct, ref)


async def report_tracked(ctx: Ctx, report: ViolationReport, lines: list[str]) -> None:
    """The reporter follows their report: say whether a reward waits. Only reads: this
    runs in the anonymous /track flow, whose transaction must write nothing of theirs."""
    reward = await rewards.for_report(ctx.session, report.id)
    if reward is None:
        return
    if reward.claimed_at is None:
        lines.append(ctx.t(REWARD_WAITS).format(points=reward.points))
    else:
        lines.append(ctx.t(REWARD_CLAIMED))


# ---- paying


async def reward_report(ctx: Ctx, report: ViolationReport, reason: str, points: int) -> None:
    """A named report pays its reporter; an anonymous one credits its receipt. Never both."""
    ref = f"violation:{report.id}"
    if report.named_member_id is not None:
        if ctx.member is not None and ctx.member.id == report.named_member_id:
            return  # an officer settling their own report: nobody pays themselves
        reporter = await get_member(ctx.session, report.named_member_id)
        if reporter is None or not roles.has(reporter, roles.WORKER):
            return  # the stars are the workers': a Party member reports as their duty
        if await credit(ctx, reporter, report.project_id, reason, points, ref):
            tell(ctx, reporter, ref, TOLD[reason], id=report.id, points=points)
        return
    if await rewards.for_report(ctx.session, report.id) is not None:
        return
    # Written in the officer's transaction, to the hour: nothing here can point at the reporter.
    await rewards.credit(ctx.session, project_id=report.project_id, report_id=report.id,
                         points=points, reason=reason, credited_at=to_the_hour(ctx.now))


async def credit(ctx: Ctx, worker: Member, project_id: int, reason: str, points: int,
                 ref: str) -> bool:
    """An event's entry in the ledger, unless this event paid the worker already."""
    if await rewards.event_credited(ctx.session, worker.id, ref):
        return False
    await stars.add(ctx.session, project_id=project_id, worker_id=worker.id, points=points,
                    source="event", reason=reason, given_by_id=None, ref=ref, at=ctx.now)
    return True


def tell(ctx: Ctx, worker: Member, ref: str, text: str, **values) -> None:
    tr = translator_for(worker, ctx.config.locale.default)
    ctx.notify(Notice(worker.id, (Text(tr(text).format(**values)),), kind="star_event",
                      key=f"star_event:{worker.id}:{ref}"))
