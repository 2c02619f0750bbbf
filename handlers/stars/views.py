"""/stars (行为安全之星, 积分): the member's project this month and this year, by worker and
by 班组, the member's own points and stars given; and `redshield stars` for operators,
with everything behind a month (per worker, per 班组, the month's stars, rewards,
activities, the ledger by source).

Public praise needs consent (RULINGS 11): in /stars a worker is named only to those who
run the programme or the project's safety, to the worker themself, or when the worker
accepted a star in public; others read 工友（未公开）. 班组 are always named. In a group
chat everyone reads it, so it shows only what anyone may see."""
from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

from bot.core.contract import ChatType, Choices, Incoming, Option, Text
from bot.core.flow import Command, Ctx
from bot.core.i18n import N_, Translator
from bot.core.registry import CliError, Registry
from handlers import roles
from handlers.operator import project_of
from handlers.stars.events import reason_label
from storage import star_activities, star_rewards
from storage import star_views as views
from storage import stars as ledger
from storage.models import Member

MONTH_TOP = 10  # workers in this month's ranking
CREW_TOP = 5
YEAR_TOP = 5
MINE_SHOWN = 5  # the member's latest stars given, listed

# Who reads every worker's name in the rankings: the union and secretary (they run it),
# the safety officer and the committee.
SEE_NAMES = roles.STAR_ORGANISERS | roles.OFFICERS | {roles.COMMITTEE}

AWARD_STATUS = {"proposed": N_("待确认"), "confirmed": N_("已确认"), "replaced": N_("已替换"),
                "skipped": N_("已跳过")}
SOURCE_LABELS = {"star": N_("点赞"), "event": N_("事件"), "deduction": N_("扣分"),
                 "withdrawal": N_("撤回")}


def register(registry: Registry) -> None:
    registry.command(Command("stars", stars_command, N_("行为安全之星排行"),
                             words=(N_("行为安全之星"), N_("积分"))))
    registry.cli("stars", "a project's 行为安全之星 month: workers, 班组, stars, rewards, "
                 "activities, ledger", cli_stars, cli_arguments)


# ---- months on the project's clock


def month_of(tz: ZoneInfo, moment: dt.datetime) -> dt.date:
    """The first day of the local month `moment` falls in."""
    return moment.astimezone(tz).date().replace(day=1)


def next_month(first: dt.date) -> dt.date:
    return (first + dt.timedelta(days=32)).replace(day=1)


def previous_month(first: dt.date) -> dt.date:
    return (first - dt.timedelta(days=1)).replace(day=1)


def _midnight(tz: ZoneInfo, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)


def month_span(tz: ZoneInfo, first: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A local month as UTC moments [start, end)."""
    return _midnight(tz, first), _midnight(tz, next_month(first))


def year_span(tz: ZoneInfo, year: int) -> tuple[dt.datetime, dt.datetime]:
    return _midnight(tz, dt.date(year, 1, 1)), _midnight(tz, dt.date(year + 1, 1, 1))


_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})")


def parse_month(text: str) -> dt.date:
    """"2026-12" (or "2026-3") -> its first day; ValueError otherwise."""
    m = _MONTH.fullmatch(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise ValueError(f"--month must be a year and month such as 2026-12, not {text!r}")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


# ---- /stars


def may_see_names(member: Member) -> bool:
    return roles.has(member, SEE_NAMES)


class Namer:
    """How a worker is named to one reader: 马强（钢筋班）, or 钢筋班 工友（未公开）."""

    def __init__(self, t: Translator, everyone: bool, public: set[int], me: int | None):
        self.t, self.everyone, self.public, self.me = t, everyone, public, me

    def shows(self, worker_id: int | None) -> bool:
        return self.everyone or worker_id in self.public or worker_id == self.me

    def __call__(self, worker_id: int | None, name: str, crew: str | None) -> str:
        t = self.t
        if self.shows(worker_id):
            return t("{name}（{crew}）").format(name=name, crew=crew) if crew else name
        # Not even the 班组: in a crew of two it would name them.
        return t("工友（未公开）")


def _points(points: int) -> str:
    return f"+{points}" if points > 0 else str(points)


def _tight(label: str) -> str:
    """A label and its points: 马强（钢筋班）28 分, 马强 28 分."""
    return label if label.endswith("）") else label + " "


def ranking_lines(t: Translator, standings, name: Namer) -> list[str]:
    return [t("{rank}. {who}{points} 分").format(
                rank=i, who=_tight(name(s.worker_id, s.name, s.crew)), points=s.points)
            for i, s in enumerate(standings, start=1)]


async def stars_text(ctx: Ctx) -> str:
    """The /stars message for the member who asked, in the chat they asked in."""
    t, tz, member, session = ctx.t, ctx.config.tz, ctx.member, ctx.session
    project_id = member.project_id
    in_group = ctx.msg.chat_type is ChatType.group  # read by all: what anyone may see
    first = month_of(tz, ctx.now)
    month_start, month_end = month_span(tz, first)
    year_start, year_end = year_span(tz, first.year)
    name = Namer(t, may_see_names(member) and not in_group,
                 await views.public_workers(session, project_id),
                 None if in_group else member.id)
    month_label = t("{month}月").format(month=first.month)

    lines = [t("⭐ 行为安全之星 · {project}").format(project=member.project.name)]
    lines += await last_stars(ctx, previous_month(first), name)
    lines.append(t("【{month}排行】").format(month=month_label))
    top = await ledger.ranking(session, project_id, month_start, month_end, limit=MONTH_TOP)
    lines += ranking_lines(t, top, name) or [t("本月还没有积分。")]
    crews = (await ledger.crew_ranking(session, project_id, month_start, month_end))[:CREW_TOP]
    if crews:
        lines.append(t("【{month}班组】").format(month=month_label))
        lines += [t("{rank}. {crew} {points} 分").format(rank=i, crew=c.name, points=c.points)
                  for i, c in enumerate(crews, start=1)]
    year = await ledger.ranking(session, project_id, year_start, year_end, limit=YEAR_TOP)
    if year:
        lines.append(t("【{year}年 前{n}名】").format(year=first.year, n=YEAR_TOP))
        lines += ranking_lines(t, year, name)

    if not in_group:
        if roles.has(member, roles.WORKER):
            lines.append(t("我的积分：本月 {month} 分，本年 {year} 分").format(
                month=await views.points_of(session, member.id, month_start, month_end),
                year=await views.points_of(session, member.id, year_start, year_end)))
        given = await views.given_stars(session, project_id, member.id, month_start, month_end)
        if given or roles.has(member, roles.STAR_GIVERS):
            lines += mine_lines(t, tz, given)

    activities = await star_activities.activity_totals(
        session, project_id, first, next_month(first))
    lines.append(t("群星闪耀活动：本月 {n} 次").format(n=activities.activities)
                 + (t("，{people} 人次参加").format(people=activities.headcount)
                    if activities.headcount else ""))
    if roles.has(member, roles.STAR_ORGANISERS) and not in_group:
        # Only to those who pay them: a count that moves while someone is at the union's
        # desk would point at an anonymous reporter.
        rewards = await star_rewards.rewards_in(session, project_id, month_start, month_end)
        lines.append(t("匿名举报奖励：本月记入 {credited} 个，领取 {claimed} 个").format(
            credited=rewards.credited, claimed=rewards.claimed))
    return "\n".join(lines)


async def last_stars(ctx: Ctx, month: dt.date, name: Namer) -> list[str]:
    """Last month's stars once announced: named as the announcement named them (RULINGS
    11), the others counted."""
    t = ctx.t
    stars = [a for a in await views.awards_of(ctx.session, ctx.member.project_id, month)
             if a.award.status == "confirmed" and a.award.announced_at is not None]
    if not stars:
        return []
    shown = [name(a.award.worker_id, a.name, a.crew) for a in stars if name.shows(a.award.worker_id)]
    line = t("、").join(shown)  # the list separator: ", " in English
    if len(shown) < len(stars):
        line += (t("；另有 {n} 名工友获评") if shown else t("{n} 名工友获评")).format(
            n=len(stars) - len(shown))
    return [t("🌟 {month}月之星：{stars}").format(month=month.month, stars=line)]


def mine_lines(t: Translator, tz: ZoneInfo, given: list[views.GivenStar]) -> list[str]:
    """我的点赞: how many this month, and the latest few (always with the worker's name:
    the member saw them)."""
    withdrawn = sum(1 for g in given if g.withdrawn)
    head = t("【我的点赞】本月 {n} 次").format(n=len(given))
    if withdrawn:
        head += t("（撤回 {n} 次）").format(n=withdrawn)
    lines = [head]
    for g in given[:MINE_SHOWN]:
        # The number is what /star undo takes.
        line = f"#{g.id} {g.at.astimezone(tz):%m-%d} {g.worker} {reason_label(t, g.reason)} {_points(g.points)}"
        lines.append(line + (t("（已撤回）") if g.withdrawn else ""))
    return lines


async def stars_command(ctx: Ctx, msg: Incoming) -> None:
    text = await stars_text(ctx)
    # No buttons in a group: anyone there may tap them, and the flows are private.
    options = [] if ctx.msg.chat_type is ChatType.group else await buttons(ctx)
    ctx.send(Choices(text, tuple(options)) if options else Text(text))


async def buttons(ctx: Ctx) -> list[Option]:
    t, member = ctx.t, ctx.member
    options = []
    if roles.has(member, roles.STAR_GIVERS):
        options.append(Option(t("为工友点赞"), "/star"))
    if roles.has(member, roles.STAR_ORGANISERS) and \
            await views.open_proposals(ctx.session, member.project_id):
        options.append(Option(t("确认本月之星"), "/monthstar"))
    return options


# ---- redshield stars


def cli_arguments(p) -> None:
    p.add_argument("--project", required=True, help="project code")
    p.add_argument("--month", help="month, e.g. 2026-12 (default: this month, local time)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


async def month_report(session, config, project, first: dt.date) -> dict:
    """Everything behind one month of a project's 行为安全之星, full names (for operators)."""
    tz = config.tz
    start, end = month_span(tz, first)
    workers = await views.worker_totals(session, project.id, start, end)
    crews: dict[str | None, list[int]] = {}
    for w in workers:
        total = crews.setdefault(w.crew, [0, 0])
        total[0] += w.points
        total[1] += w.entries
    awards = await views.awards_of(session, project.id, first)
    rewards = await star_rewards.rewards_in(session, project.id, start, end)
    activities = await star_activities.activities_in(session, project.id, first, next_month(first))
    sources = await views.ledger_totals(session, project.id, start, end)

    def moment(value: dt.datetime | None) -> str | None:
        return value.astimezone(tz).isoformat(timespec="minutes") if value else None

    return {
        "project": project.code, "name": project.name, "month": f"{first:%Y-%m}",
        "start": start.isoformat(), "end": end.isoformat(),
        "workers": [{"id": w.worker_id, "name": w.name, "crew": w.crew, "trade": w.trade,
                     "active": w.active, "points": w.points, "entries": w.entries}
                    for w in workers],
        "crews": [{"crew": crew, "points": p, "entries": n}
                  for crew, (p, n) in sorted(crews.items(),
                                             key=lambda kv: (-kv[1][0], kv[0] is None, kv[0] or ""))],
        "awards": [{"worker_id": a.award.worker_id, "worker": a.name, "crew": a.crew,
                    "rank": a.award.rank, "points": a.award.points, "status": a.award.status,
                    "public": a.award.public, "decided": moment(a.award.decided_at),
                    "announced": moment(a.award.announced_at)} for a in awards],
        "rewards": {"credited": rewards.credited, "claimed": rewards.claimed,
                    "points_credited": rewards.points_credited},
        "activities": [{"day": a.day.isoformat(), "kind": a.kind, "place": a.place,
                        "headcount": a.headcount, "photos": len(a.photos), "note": a.note}
                       for a in activities],
        "ledger": {source: {"points": s.points, "entries": s.entries}
                   for source, s in sources.items()},
        "total": sum(s.points for s in sources.values()),
    }


def report_text(t: Translator, report: dict) -> str:
    lines = [t("{name}（{code}）· {month} 行为安全之星").format(
        name=report["name"], code=report["project"], month=report["month"])]
    lines.append(t("工友（{n} 人）：").format(n=len(report["workers"])))
    for i, w in enumerate(report["workers"], start=1):
        lines.append(f"  {i}. {w['name']}  {w['crew'] or '—'}  {w['trade'] or '—'}  "
                     + t("{points} 分  {n} 条").format(points=w["points"], n=w["entries"])
                     + ("" if w["active"] else "  " + t("（已停用）")))
    if not report["workers"]:
        lines.append("  " + t("当月没有积分。"))
    lines.append(t("班组："))
    for c in report["crews"]:
        lines.append(f"  {c['crew'] or t('（未填班组）')}  "
                     + t("{points} 分  {n} 条").format(points=c["points"], n=c["entries"]))
    lines.append(t("当月之星："))
    for a in report["awards"]:
        public = {True: t("同意公开"), False: t("不公开"), None: t("未答复（不公开）")}[a["public"]]
        announced = t("已公布 {time}").format(time=a["announced"][:16].replace("T", " ")) \
            if a["announced"] else t("未公布")
        lines.append(f"  {a['rank']}. {a['worker']}  {a['crew'] or '—'}  "
                     + t("{points} 分").format(points=a["points"])
                     + f"  {t(AWARD_STATUS.get(a['status'], a['status']))}  {public}  {announced}")
    if not report["awards"]:
        lines.append("  " + t("（无）"))
    lines.append(t("匿名举报奖励：记入 {credited} 个（{points} 分），领取 {claimed} 个").format(
        credited=report["rewards"]["credited"], points=report["rewards"]["points_credited"],
        claimed=report["rewards"]["claimed"]))
    lines.append(t("群星闪耀活动（{n} 次）：").format(n=len(report["activities"])))
    for a in report["activities"]:
        lines.append(f"  {a['day']}  {t(a['kind'])}  {a['place']}  "
                     + t("{n} 人").format(n=a["headcount"]) + "  "
                     + t("照片 {n} 张").format(n=a["photos"]))
    parts = [t("{source} {points}（{n} 条）").format(
                 source=t(SOURCE_LABELS.get(source, source)), points=_points(s["points"]),
                 n=s["entries"]) for source, s in report["ledger"].items()]
    lines.append(t("积分账目：") + t("，").join(parts)
                 + t("；合计 {total}").format(total=report["total"]))
    return "\n".join(lines)


async def cli_stars(app, args) -> int:
    config = app.config
    try:
        first = parse_month(args.month) if args.month else month_of(config.tz, app.clock())
    except ValueError as err:
        raise CliError(str(err)) from None
    sessions = await app.open()
    async with sessions() as s:
        project = await project_of(s, args.project)
        report = await month_report(s, config, project, first)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(report_text(Translator(config.locale.default), report))
    return 0
