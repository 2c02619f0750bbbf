"""Chat alerts, for small deployments without Prometheus.

Every minute the scheduling process looks at what `deploy/prometheus-alerts.yml` alerts
on, as far as the database tells it (so whichever process met the trouble):

- `outbox`: the oldest due outbox message has waited longer than `[ops] outbox_max_age_minutes`;
- `given_up`: messages were given up within the last hour (not these alerts themselves, nor
  messages to members with no reachable account: never bound or blocked the bot is normal);
- `platform`: a platform refuses the bot: messages not sent (or given up within the hour)
  whose last error is WeCom's 60020 (IP not trusted), 40001 / 40014 / 41001 (credentials,
  token), Telegram's InvalidToken (401), or many Telegram 403s (blocked) within the hour;
- `jobs`: a scheduled job has not run since a time it should have (`bot.scheduler.job_states`).

Each `[ops] contacts` member gets one message when a condition starts and one when it
ends, and never more than one an hour per condition: a condition that ends within the hour
of its message is told ended when the hour is up (if it still is), one that comes back
within the hour is not told again. What the contacts were told is kept in `job_runs`
(`ops.alert:<condition>`: when the last message went; `ops.alert:<condition>:on`: while
they were told it is on), so a restart or another scheduler says nothing twice.

What this cannot tell: that no process leads the scheduler (this job runs in the leader),
and anything while the outbox itself is stuck (the alert waits in it too). Prometheus is
the real alerting; this is the fallback.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.config import Config
from bot.core.contract import Notice, Text
from bot.core.i18n import N_, Translator
from bot.core.registry import Job, Registry
from bot.scheduler import every, job_states, runtime_jobs
from storage import directory
from storage.models import JobRun, Member, OutboxMessage, UTCDateTime
from storage.upsert import insert_for

log = logging.getLogger("redshield.alerts")

JOB = "ops_alerts"
CHECK_EVERY_MINUTES = 1
QUIET = dt.timedelta(hours=1)  # at most one message an hour per condition
WINDOW = dt.timedelta(hours=1)  # how far back given-up messages and Telegram 403s count
TELEGRAM_BLOCKED_SPIKE = 20  # Telegram 403s (blocked, removed) within the window
STATE = "ops.alert:"  # job_runs keys of what the contacts were told
KIND = "ops_alert"  # the outbox kind of these messages

WECOM_IP = 60020
WECOM_CREDENTIALS = (40001, 40014, 41001)

# What the contacts are told when a condition ends.
ENDED = {
    "outbox": N_("✅ 红盾：消息发送已恢复正常，积压已清。"),
    "given_up": N_("✅ 红盾：最近一小时没有再放弃发送的消息。"),
    "platform": N_("✅ 红盾：聊天平台不再拒绝机器人的调用。"),
    "jobs": N_("✅ 红盾：定时任务已恢复按时运行。"),
}


@dataclass(frozen=True)
class Condition:
    name: str  # a key of ENDED
    on: bool
    says: Callable[[Translator], str] = lambda t: ""  # the message when it starts


# ---- the conditions


async def outbox_condition(session: AsyncSession, now: dt.datetime, config: Config) -> Condition:
    backlog = await metrics.outbox_backlog_in(session, now)
    limit = config.ops.outbox_max_age_minutes
    return Condition("outbox", backlog.oldest_due_seconds > limit * 60, lambda t: t(
        "⚠️ 红盾：消息发送积压：最早的待发消息已等了 {minutes} 分钟（上限 {limit} 分钟），共 {due} 条。"
        "请检查调度进程（redshield run --role scheduler）是否在运行，并看它的日志。").format(
        minutes=int(backlog.oldest_due_seconds // 60), limit=limit, due=backlog.due))


# Give-ups that are no trouble of the bot's: its own alerts (a contact who cannot be
# reached would keep the alert going, on and ended and on again, every hour), and messages
# to members with no reachable account (never bound, blocked the bot: normal, shown with 📵).
UNREACHABLE_ERROR = "no reachable account"  # bot.delivery's give-up when no account can be written to


def _counted() -> sa.ColumnElement[bool]:
    return sa.and_(OutboxMessage.kind != KIND,
                   sa.or_(OutboxMessage.last_error.is_(None), OutboxMessage.last_error != UNREACHABLE_ERROR))


async def given_up_condition(session: AsyncSession, now: dt.datetime) -> Condition:
    count = (await session.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.failed_at >= _at(now - WINDOW, "since"), _counted()))).scalar_one()
    return Condition("given_up", count > 0, lambda t: t(
        "⚠️ 红盾：最近一小时有 {count} 条消息发送失败，已放弃。原因见日志中的“given up”记录"
        "（收件人未绑定或已屏蔽，或平台配置有误）。").format(count=count))


async def platform_condition(session: AsyncSession, now: dt.datetime) -> Condition:
    error = OutboxMessage.last_error
    recent = OutboxMessage.failed_at >= _at(now - WINDOW, "since")
    considered = sa.and_(OutboxMessage.sent_at.is_(None), error.is_not(None),
                         sa.or_(OutboxMessage.failed_at.is_(None), recent))

    def count(where) -> sa.ColumnElement:
        return sa.func.coalesce(sa.func.sum(sa.case((where, 1), else_=0)), 0)

    codes = (WECOM_IP, *WECOM_CREDENTIALS)
    stmt = sa.select(
        *(count(error.like(f"%errcode {code}%")) for code in codes),
        count(error.like("%telegram: InvalidToken%")),
        count(sa.and_(recent, error.like("%telegram: blocked%"))),
    ).select_from(OutboxMessage).where(considered, _counted())
    *wecom, telegram_token, telegram_blocked = (await session.execute(stmt)).one()
    seen = {code for code, n in zip(codes, wecom) if n}
    credentials = [str(code) for code in WECOM_CREDENTIALS if code in seen]
    blocked_spike = telegram_blocked >= TELEGRAM_BLOCKED_SPIKE

    def says(t: Translator) -> str:
        lines = [t("⚠️ 红盾：聊天平台拒绝了机器人的调用：")]
        if WECOM_IP in seen:
            lines.append(t("· 企业微信不信任本服务器的 IP（60020）：在企业微信管理后台 → 应用管理 → 本应用 → "
                           "企业可信IP 中加入服务器的公网 IP。"))
        if credentials:
            lines.append(t("· 企业微信不接受机器人的凭证（{codes}）：检查 [wecom] corp_id、agent_id 和 secret。")
                         .format(codes=", ".join(credentials)))
        if telegram_token:
            lines.append(t("· Telegram 不接受机器人的 token（401）：检查 [telegram] token，它可能已被撤销。"))
        if blocked_spike:
            lines.append(t("· 最近一小时 Telegram 拒绝了 {count} 条消息（403）：看机器人是否被大量屏蔽或移出群。")
                         .format(count=telegram_blocked))
        return "\n".join(lines)

    return Condition("platform", bool(seen or telegram_token or blocked_spike), says)


async def jobs_condition(session: AsyncSession, now: dt.datetime, jobs: list[Job]) -> Condition:
    missed = [s.name for s in await job_states(session, jobs, now) if s.missed]
    return Condition("jobs", bool(missed), lambda t: t(
        "⚠️ 红盾：定时任务没有按时运行：{jobs}。请看调度进程日志中的“scheduled job … failed”；"
        "需要时手动补做（如 redshield remind --now）。").format(jobs=", ".join(missed)))


async def conditions(session: AsyncSession, now: dt.datetime, config: Config,
                     jobs: list[Job]) -> list[Condition]:
    return [await outbox_condition(session, now, config), await given_up_condition(session, now),
            await platform_condition(session, now), await jobs_condition(session, now, jobs)]


# ---- telling the contacts


async def check(session: AsyncSession, now: dt.datetime, config: Config, jobs: list[Job]) -> list[Notice]:
    """The job's work: a notice to each contact for every condition that started or ended
    (and may be told: QUIET since its last message)."""
    if not config.ops.contacts:
        return []
    told = dict((await session.execute(sa.select(JobRun.job, JobRun.last_run_at)
                                       .where(JobRun.job.startswith(STATE, autoescape=True)))).all())
    notices: list[Notice] = []
    contacts: list[Member] | None = None
    for condition in await conditions(session, now, config, jobs):
        said_on = f"{STATE}{condition.name}:on" in told
        last = told.get(f"{STATE}{condition.name}")
        if condition.on == said_on or (last is not None and now - last < QUIET):
            continue
        if contacts is None:
            contacts = await resolve_contacts(session, config.ops.contacts, now)
        if not contacts:
            continue  # nobody to tell: try again at the next check (the names may be fixed)
        for member in contacts:
            t = Translator(member.locale or config.locale.default)
            text = condition.says(t) if condition.on else t(ENDED[condition.name])
            notices.append(Notice(member.id, (Text(text),), kind=KIND, key=(
                f"{KIND}:{condition.name}:{'on' if condition.on else 'off'}:{member.id}:{now:%Y%m%d%H%M}")))
        await _remember(session, f"{STATE}{condition.name}", now)
        if condition.on:
            await _remember(session, f"{STATE}{condition.name}:on", now)
        else:
            await session.execute(sa.delete(JobRun).where(JobRun.job == f"{STATE}{condition.name}:on"))
        log.warning("alert %s %s: told %d contact(s)", condition.name, "started" if condition.on else "ended",
                    len(contacts))
    return notices


_warned: dict[str, dt.datetime] = {}


async def resolve_contacts(session: AsyncSession, entries: tuple[str, ...], now: dt.datetime) -> list[Member]:
    """`[ops] contacts`: names as in the directory, or PROJECT_CODE/name. One that names no
    member, or several, or one no message can reach (never bound, blocked the bot), is left
    out with a warning (once an hour)."""
    found: dict[int, Member] = {}
    for entry in entries:
        code, _, name = entry.strip().rpartition("/")
        members = await directory.find_members(session, name, code or None)
        if len(members) == 1:
            found[members[0].id] = members[0]
            continue
        if now - _warned.get(entry, dt.datetime.min.replace(tzinfo=dt.UTC)) >= QUIET:
            _warned[entry] = now
            why = "names no member" if not members else "names several members (write PROJECT_CODE/name)"
            log.warning("[ops] contacts: %r %s; it gets no alerts", entry, why)
    cut_off = await directory.unreachable_members(session, set(found))
    for member_id, why in cut_off.items():
        member = found.pop(member_id)
        key = f"unreachable:{member_id}"
        if now - _warned.get(key, dt.datetime.min.replace(tzinfo=dt.UTC)) >= QUIET:
            _warned[key] = now
            log.warning("[ops] contacts: %s (member %d) cannot be reached (%s); they get no alerts",
                        member.name, member_id, why.replace("_", " "))
    return list(found.values())


async def _remember(session: AsyncSession, key: str, now: dt.datetime) -> None:
    stmt = (insert_for(session, JobRun).values(job=key, last_run_at=now)
            .on_conflict_do_update(index_elements=["job"], set_={"last_run_at": now}))
    await session.execute(stmt)


def _at(value: dt.datetime, name: str):
    return sa.bindparam(name, value, type_=UTCDateTime())


def register(registry: Registry) -> None:
    async def alerts(session: AsyncSession, now: dt.datetime, config: Config) -> list[Notice]:
        if not config.ops.contacts:
            return []
        return await check(session, now, config, registry.jobs_for(config) + runtime_jobs(config))

    registry.job(JOB, every(CHECK_EVERY_MINUTES), alerts, catch_up=False)

