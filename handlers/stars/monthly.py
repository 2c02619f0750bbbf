"""The monthly 行为安全之星: on the 1st the union and the secretary of each project get last
month's top workers (points and what they were for) and confirm, replace or skip each
with a tap (/monthstar, 评星). A confirmed worker is asked once whether their name may be
shown (RULINGS 11; no answer means no); when the month is decided and the answers are
in (or consent_hours passed), the whole project is told, with the 奖状 of those who
agreed. The organisers get every certificate, to print and hand over; the worker gets
their own.

The buttons are one-tap answers to something the bot pushed (RULINGS 2): /monthstar never
opens a flow, so a tap beside an open question answers and the question is asked again.
Proposals and announcements are idempotent: rows are looked for before they are
written (and unique per project, month and worker), and every notice has its key."""
from __future__ import annotations

import datetime as dt
from collections import Counter

from bot.core.contract import Choices, Incoming, Intent, Notice, Option, Text
from bot.core.flow import Command, Ctx
from bot.core.i18n import N_, Translator
from bot.core.registry import Registry
from bot.scheduler import daily, every
from handlers import roles
from handlers.dates import parse_id
from handlers.notices import translator_for
from handlers.stars import certificate, events
from handlers.stars.certificate import month_text
from handlers.stars.workers import worker_label
from storage import star_awards as awards
from storage import stars as ledger
from storage.directory import members_with_roles, unreachable_members
from storage.models import Member, StarAward

PROPOSE_JOB, ANNOUNCE_JOB = "monthly_stars", "stars_announce"

STATUS = {awards.CONFIRMED: N_("已确认"), awards.REPLACED: N_("已换人"), awards.SKIPPED: N_("已跳过")}

HEADER = N_("🌟 {month} 行为安全之星 候选（按积分）：")
TAP = N_("请点按钮确认、换人或跳过；也可随时发送“评星”查看。")
NO_RIGHT = N_("您没有使用此功能的权限。发送“帮助”查看可用功能。")
NOT_FOUND = N_("本项目没有这个评选记录。")
YES, NO = N_("同意公开姓名"), N_("不公开")


def register(registry: Registry) -> None:
    # Open to every member: the worker answers the consent question with /monthstar public;
    # everything else is checked for the organisers' roles in award_command.
    # Private only: candidates are named before anyone consented (RULINGS 11).
    registry.command(Command("monthstar", award_command, N_("确认本月行为安全之星"), words=(N_("评星"),),
                             shown_to=roles.STAR_ORGANISERS, takes_args=True, private_only=True))
    # Daily, though it proposes once a month: a month is proposed on the first run after
    # it ends, so a service down on the 1st (past the scheduler's catch-up grace) still
    # proposes it when it is back.
    registry.job(PROPOSE_JOB, lambda config: daily(config.schedule.monthly_stars, config.tz),
                 propose)
    registry.job(ANNOUNCE_JOB, every(15), announce, catch_up=False)
    registry.renderer(certificate.RENDERER, certificate.make_certificate)


# ---- months on the project's clock


def last_month(now: dt.datetime, tz) -> dt.date:
    """The first day of the local month before the one `now` falls in."""
    first = now.astimezone(tz).date().replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def month_span(month: dt.date, tz) -> tuple[dt.datetime, dt.datetime]:
    """The local month starting `month`, as UTC moments [start, end)."""
    following = (month + dt.timedelta(days=32)).replace(day=1)
    start = dt.datetime(month.year, month.month, 1, tzinfo=tz)
    end = dt.datetime(following.year, following.month, 1, tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


# ---- how a candidate is shown


def observed(t: Translator, counts: Counter) -> str:
    """"正确佩戴安全帽 ×5，制止违章 ×2，举报属实 ×1": the entries behind the points."""
    parts = []
    for (source, reason), n in counts.items():
        if source == "event":
            label = events.reason_label(t, reason)
        elif source == "deduction":
            label = t("扣分·{reason}").format(reason=t(reason))
        else:
            label = t(reason)
        parts.append(t("{what} ×{n}").format(what=label, n=n))
    return t("，").join(parts)


def with_points(t: Translator, worker: Member, points: int) -> str:
    """马强（钢筋班）28 分 (no space after the full-width bracket), or 马强 28 分."""
    if worker.crew:
        return t("{name}（{crew}）{points} 分").format(name=worker.name, crew=worker.crew, points=points)
    return t("{name} {points} 分").format(name=worker.name, points=points)


def candidate_line(t: Translator, award: StarAward, worker: Member, counts: Counter) -> str:
    line = t("{rank}. {standing}").format(rank=award.rank,
                                          standing=with_points(t, worker, award.points))
    what = observed(t, counts)
    return t("{line}：{what}").format(line=line, what=what) if what else line


def candidate_buttons(t: Translator, award: StarAward, worker: Member) -> tuple[Option, ...]:
    return (Option(t("✅ {name}").format(name=worker.name), f"/monthstar confirm {award.id}"),
            Option(t("🔁 换人：{name}").format(name=worker.name), f"/monthstar replace {award.id}"),
            Option(t("⏭ 跳过：{name}").format(name=worker.name), f"/monthstar skip {award.id}"))


async def proposal(session, config, t: Translator, found: list[awards.AwardPeople]) -> Choices:
    """The candidates (each month under its heading) with their buttons."""
    lines: list[str] = []
    options: list[Option] = []
    for month in sorted({p.award.month for p in found}):
        these = [p for p in found if p.award.month == month]
        start, end = month_span(month, config.tz)
        counts = await awards.observations(session, these[0].award.project_id,
                                           [p.worker.id for p in these], start, end)
        lines.append(t(HEADER).format(month=month_text(t, month)))
        for p in these:
            lines.append(candidate_line(t, p.award, p.worker, counts[p.worker.id]))
            options.extend(candidate_buttons(t, p.award, p.worker))
    lines.append(t(TAP))
    return Choices("\n".join(lines), tuple(options))


# ---- the 1st of the month: proposals


async def propose(session, now: dt.datetime, config) -> list[Notice]:
    """Last month's top workers of each project become proposed awards, and the project's
    organisers are asked. A month proposed already is left as it is (a second run, a
    second scheduler); a project without points last month gets nothing."""
    month = last_month(now, config.tz)
    start, end = month_span(month, config.tz)
    notices: list[Notice] = []
    for project in await awards.projects(session):
        if await awards.month_started(session, project.id, month):
            continue
        top = await ledger.ranking(session, project.id, start, end, limit=config.stars.top)
        if not top:
            continue
        for rank, standing in enumerate(top, 1):
            await awards.propose(session, project_id=project.id, month=month,
                                 worker_id=standing.worker_id, rank=rank,
                                 points=standing.points, now=now)
        found = await awards.proposed(session, project.id)
        found = [p for p in found if p.award.month == month]
        for organiser in await members_with_roles(session, project.id, roles.STAR_ORGANISERS):
            tr = translator_for(organiser, config.locale.default)
            notices.append(Notice(organiser.id, (await proposal(session, config, tr, found),),
                                  kind="stars_proposed",
                                  key=f"stars_proposed:{project.id}:{month:%Y-%m}:{organiser.id}"))
    return notices


# ---- /monthstar (评星)


async def award_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    parts = msg.text.split()
    if parts[:1] == ["public"]:
        return await answer_consent(ctx, parts[1:])
    if not roles.has(ctx.member, roles.STAR_ORGANISERS):
        ctx.say(t(NO_RIGHT))
        return
    if not parts:
        return await list_open(ctx)
    actions = {"confirm": confirm, "replace": replace, "skip": skip}
    if len(parts) != 2 or parts[0] not in actions:
        ctx.say(t("发送“评星”查看待确认的候选，再点按钮确认、换人或跳过。"))
        return
    found = await _award_here(ctx, parts[1])
    if found is None:
        ctx.say(t(NOT_FOUND))
        return
    if found.award.status != awards.PROPOSED:
        return _already(ctx, found)
    await actions[parts[0]](ctx, found)


async def _award_here(ctx: Ctx, ident: str) -> awards.AwardPeople | None:
    """The award of the member's project with this number (None for anything else)."""
    number = parse_id(ident)
    found = await awards.with_people(ctx.session, number) if number else None
    if found is None or found.award.project_id != ctx.member.project_id:
        return None
    return found


def _already(ctx: Ctx, found: awards.AwardPeople) -> None:
    t = ctx.t
    ctx.say(t("{name}（{month}）已经处理过了：{status}。").format(
        name=found.worker.name, month=month_text(t, found.award.month),
        status=t(STATUS.get(found.award.status, found.award.status))))


async def _decide(ctx: Ctx, found: awards.AwardPeople, status: str) -> bool:
    """Decide it unless another organiser did first (then say what they did)."""
    if await awards.decide(ctx.session, found.award.id, status, ctx.member.id, ctx.now):
        return True
    again = await awards.with_people(ctx.session, found.award.id)
    _already(ctx, again or found)
    return False


async def list_open(ctx: Ctx) -> None:
    found = await awards.proposed(ctx.session, ctx.member.project_id)
    if not found:
        ctx.say(ctx.t("没有待确认的候选。"))
        return
    ctx.send(await proposal(ctx.session, ctx.config, ctx.t, found))


async def confirm(ctx: Ctx, found: awards.AwardPeople) -> None:
    t, award, worker = ctx.t, found.award, found.worker
    if not await _decide(ctx, found, awards.CONFIRMED):
        return
    month = month_text(t, award.month)
    done = t("✅ 已确认：{worker}，{month} 行为安全之星。").format(
        worker=worker_label(t, worker), month=month)
    if await reachable(ctx.session, worker.id):
        tr = translator_for(worker, ctx.config.locale.default)
        ctx.notify(Notice(worker.id, (Choices(
            tr("恭喜您获评 {month} 行为安全之星！项目内通报时是否显示您的姓名？（不回复则不显示）")
            .format(month=month_text(tr, award.month)), consent_buttons(tr, award)),),
            kind="stars_consent", key=f"stars_consent:{award.id}"))
        ctx.say("\n".join([done, t("已请本人选择通报时是否公开姓名。"), *await _month_state(ctx, award)]))
        return
    # No account to ask: the organiser asks in person and taps the answer.
    lines = [done, t("{name} 没有绑定账号，请当面问本人：项目内通报时是否显示其姓名？（不回答则不显示）")
             .format(name=worker.name), *await _month_state(ctx, award)]
    ctx.send(Choices("\n".join(lines), consent_buttons(t, award)))


def consent_buttons(t: Translator, award: StarAward) -> tuple[Option, ...]:
    return (Option(t(YES), f"/monthstar public {award.id} yes"),
            Option(t(NO), f"/monthstar public {award.id} no"))


async def replace(ctx: Ctx, found: awards.AwardPeople) -> None:
    """The next worker of the month's ranking without an award row that month is proposed
    in their place (rank: their place in the ranking)."""
    t, award = ctx.t, found.award
    if not await _decide(ctx, found, awards.REPLACED):
        return
    replaced = t("已换下 {name}。").format(name=found.worker.name)
    start, end = month_span(award.month, ctx.config.tz)
    standings = await ledger.ranking(ctx.session, award.project_id, start, end)
    taken = await awards.awarded_workers(ctx.session, award.project_id, award.month)
    standing = None
    for place, candidate in enumerate(standings, 1):
        # Two organisers replacing at once may reach for the same worker: the second
        # takes the next one instead of failing.
        if candidate.worker_id not in taken and await awards.propose_if_free(
                ctx.session, project_id=award.project_id, month=award.month,
                worker_id=candidate.worker_id, rank=place, points=candidate.points, now=ctx.now):
            standing = candidate
            break
    if standing is None:
        none_left = t("{month}没有更多有积分的工友可以替补。").format(month=month_text(t, award.month))
        ctx.say("\n".join([replaced, none_left, *await _month_state(ctx, award)]))
        return
    new = [p for p in await awards.proposed(ctx.session, award.project_id)
           if p.award.month == award.month and p.worker.id == standing.worker_id]
    offer = await proposal(ctx.session, ctx.config, t, new)
    ctx.send(Choices(t("{replaced}下一位候选：").format(replaced=replaced) + "\n" + offer.prompt,
                     offer.options))


async def skip(ctx: Ctx, found: awards.AwardPeople) -> None:
    if not await _decide(ctx, found, awards.SKIPPED):
        return
    ctx.say("\n".join([ctx.t("已跳过 {name}。").format(name=found.worker.name),
                       *await _month_state(ctx, found.award)]))


async def _month_state(ctx: Ctx, award: StarAward) -> list[str]:
    """Once the month's last candidate is decided: what happens next."""
    rows = await awards.for_month(ctx.session, award.project_id, award.month)
    statuses = [a.status for a in rows]
    if awards.PROPOSED in statuses:
        return []
    month = month_text(ctx.t, award.month)
    if awards.CONFIRMED not in statuses:
        return [ctx.t("{month}候选已全部处理，没有确认的行为安全之星，不发通报。").format(month=month)]
    return [ctx.t("{month}候选已全部处理。获评工友答复是否公开姓名后（最迟 {hours} 小时）向全项目通报。")
            .format(month=month, hours=ctx.config.stars.consent_hours)]


async def reachable(session, member_id: int) -> bool:
    """A bound account (or WeCom userid) not marked unreachable."""
    return member_id not in await unreachable_members(session, [member_id])


# ---- the worker's consent


async def answer_consent(ctx: Ctx, args: list[str]) -> None:
    """/monthstar public ID yes|no: the worker themself, or for a worker without an account,
    an organiser who asked them in person. Set once."""
    t = ctx.t
    if len(args) != 2 or args[1] not in ("yes", "no"):
        ctx.say(t("请点“{yes}”或“{no}”按钮回答。").format(yes=t(YES), no=t(NO)))
        return
    found = await _award_here(ctx, args[0])
    if found is None:
        ctx.say(t(NOT_FOUND))
        return
    award, worker = found.award, found.worker
    themself = ctx.member.id == worker.id
    if not themself:
        if not roles.has(ctx.member, roles.STAR_ORGANISERS):
            ctx.say(t("只有获评工友本人可以回答。"))
            return
        if await reachable(ctx.session, worker.id):
            ctx.say(t("已请 {name} 本人回答：是否公开姓名由本人选择。").format(name=worker.name))
            return
    if award.status != awards.CONFIRMED:
        ctx.say(t("这项评选没有确认，无需回答。"))
        return
    if award.public is not None or not await awards.set_public(ctx.session, award.id, args[1] == "yes"):
        again = await awards.get(ctx.session, award.id)
        ctx.say(t("已经回答过了：{answer}。").format(answer=t(YES if again.public else NO)))
        return
    public = args[1] == "yes"
    if themself:
        text = t("谢谢！项目内通报时将显示您的姓名。") if public \
            else t("好的，项目内通报时不显示您的姓名，只说明有工友获评。")
    else:
        text = (t("已记录：通报时显示 {name} 的姓名。") if public
                else t("已记录：通报时不显示 {name} 的姓名。")).format(name=worker.name)
    if award.announced_at is not None:
        text += "\n" + t("{month}的通报已经发出（未显示姓名）。").format(month=month_text(t, award.month))
    ctx.say(text)


# ---- the announcement


async def announce(session, now: dt.datetime, config) -> list[Notice]:
    """Tell every reachable member of the project about each month whose stars are all
    decided and whose workers answered (or were given consent_hours): names only of those
    who agreed, the others counted. Certificates: the agreed ones to everyone, all of them
    to the organisers, each star their own."""
    wait = dt.timedelta(hours=config.stars.consent_hours)
    notices: list[Notice] = []
    for project_id, month in await awards.months_to_announce(session):
        stars = [a for a in await awards.for_month(session, project_id, month)
                 if a.status == awards.CONFIRMED]
        if any(a.public is None and (a.consent_asked_at or a.decided_at or a.created_at) > now - wait
               for a in stars):
            continue  # a worker may still answer
        workers = await awards.load_members(session, [a.worker_id for a in stars])
        members = await awards.active_members(session, project_id)
        gone = await unreachable_members(session, [m.id for m in members])
        for member in members:
            if member.id in gone:
                continue
            tr = translator_for(member, config.locale.default)
            notices.append(Notice(member.id, announcement(tr, member, month, stars, workers),
                                  kind="stars_announced",
                                  key=f"stars_announced:{project_id}:{month:%Y-%m}:{member.id}"))
        await awards.mark_announced(session, project_id, month, now)
    return notices


def announcement(t: Translator, member: Member, month: dt.date, stars: list[StarAward],
                 workers: dict[int, Member]) -> tuple[Intent, ...]:
    shown = [a for a in stars if a.public]
    hidden = len(stars) - len(shown)
    when = month_text(t, month)
    names = t("、").join(with_points(t, workers[a.worker_id], a.points) for a in shown)
    if not shown:
        text = t.n("🌟 {month} 行为安全之星：{n} 名工友获评。向他们学习，争做行为安全之星！",
                   "🌟 {month} 行为安全之星：{n} 名工友获评。向他们学习，争做行为安全之星！",
                   hidden).format(month=when, n=hidden)
    elif hidden:
        text = t.n("🌟 {month} 行为安全之星：{names}；另有 {n} 名工友获评。向他们学习，争做行为安全之星！",
                   "🌟 {month} 行为安全之星：{names}；另有 {n} 名工友获评。向他们学习，争做行为安全之星！",
                   hidden).format(month=when, names=names, n=hidden)
    else:
        text = t("🌟 {month} 行为安全之星：{names}。向他们学习，争做行为安全之星！").format(
            month=when, names=names)
    organiser = roles.has(member, roles.STAR_ORGANISERS)
    lines = [text]
    mine = [a for a in stars if a.worker_id == member.id]
    if mine:
        lines.append(t("🎉 恭喜您获评！附上您的奖状。"))
    if organiser:
        lines.append(t("附全部奖状，供打印后颁发本人。"))
        private = [workers[a.worker_id].name for a in stars if not a.public]
        if private:
            lines.append(t("{names} 未同意公开姓名，请勿在群里转发其奖状。").format(names=t("、").join(private)))
    sent = [a for a in stars if organiser or a.public or a.worker_id == member.id]
    return (Text("\n".join(lines)), *(certificate.certificate(t, a.id) for a in sent))
