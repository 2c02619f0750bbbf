"""A month of stars for the console demo: the demo project's members star its workers
across last month and this month so far, with one of each thing the ledger knows (an
event, a deduction, a withdrawal), an anonymous reward claimed, two 群星闪耀 activities and
last month's three stars confirmed and announced, so /stars and `redshield stars` show
something real at once. Made from a fixed seed: the same demo every time for one day."""
from __future__ import annotations

import datetime as dt
import random

import sqlalchemy as sa

from bot.core.registry import Registry
from handlers.directory import DEMO_USER
from handlers.stars.views import month_of, month_span, previous_month
from storage import stars as ledger
from storage.directory import project_by_code
from storage.models import Member, StarActivity, StarAward, StarEntry, StarReward

PROJECT = "DEMO-01"  # handlers/directory/demo.toml
SEED = 16
GIVERS = ("王红梅", "李建国", "张伟", "刘洋", "陈静", "孙丽")
# The workers and how often each is seen doing right: a ranking with a clear top.
WORKERS = {"马强": 9, "周小兵": 7, "郑国庆": 6, "何立新": 5, "黄志明": 4, "吴海": 3, "冯涛": 2,
           "许文": 2}
STARS = 60  # across last month and this month so far
THIS_MONTH_AT_LEAST = 6  # so this month's ranking has something on its 1st or 2nd
OWN = 2  # of this month's, given by the member the console chats as
ORGANISERS = ("孙丽", "王红梅")  # who confirms the stars, the first one present
SAFETY_OFFICER = "李建国"
EVENT_WORKER = "周小兵"  # a real-name report of theirs was confirmed 属实
DEDUCTED = "吴海"  # caught without a harness, once


def register(registry: Registry) -> None:
    registry.demo(demo_stars)


def _working_days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Monday to Saturday: sites work six days a week."""
    days, day = [], first
    while day <= last:
        if day.weekday() < 6:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


class Slots:
    """Moments in working hours (08:00–17:30 local) on given days, none after now."""

    def __init__(self, rng: random.Random, tz, now: dt.datetime):
        self.rng, self.tz, self.now = rng, tz, now

    def pick(self, days: list[dt.date]) -> dt.datetime | None:
        for _ in range(5):
            if not days:
                return None
            day = self.rng.choice(days)
            minutes = 8 * 60 + self.rng.randrange(0, 9 * 60 + 30, 5)
            at = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60),
                                     tzinfo=self.tz).astimezone(dt.UTC)
            if at < self.now:
                return at
        return None


def _one(workers: list[Member], name: str) -> Member:
    return next((w for w in workers if w.name == name), workers[-1])


def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def demo_stars(session, now: dt.datetime, config) -> None:
    project = await project_by_code(session, PROJECT)
    if project is None:
        return None
    members = {m.name: m for m in (await session.execute(
        sa.select(Member).where(Member.project_id == project.id))).scalars()}
    workers = [members[n] for n in WORKERS if n in members]
    givers = [members[n] for n in GIVERS if n in members]
    if not workers or not givers:
        return None
    tz, rng = config.tz, random.Random(SEED)
    slots = Slots(rng, tz, now)
    this = month_of(tz, now)
    last = previous_month(this)
    days = {"last": _working_days(last, this - dt.timedelta(days=1)),
            "this": _working_days(this, now.astimezone(tz).date())}
    behaviours = list(config.stars.behaviours.items())
    # Hard hats, stopping a violation and reporting hazards are what is seen most.
    behaviour_weights = [6, 3, 3, 2, 2, 1][:len(behaviours)] + [1] * (len(behaviours) - 6)
    worker_weights = [WORKERS[w.name] for w in workers]
    me = members.get(DEMO_USER)

    # Spread evenly over the working days, so early in a month most are last month's.
    share = len(days["this"]) / max(1, len(days["last"]) + len(days["this"]))
    this_count = max(THIS_MONTH_AT_LEAST, round(STARS * share)) if days["this"] else 0
    stars: list[StarEntry] = []
    taken: set[tuple] = set()  # one star per giver, worker, behaviour and day: within limits
    for period, count in (("last", STARS - this_count), ("this", this_count)):
        made = 0
        for _ in range(count * 3):  # a few tries more, for the draws already taken
            if made >= count:
                break
            worker = rng.choices(workers, worker_weights)[0]
            giver = rng.choice(givers)
            if period == "this" and made < OWN and me is not None:
                giver = me  # the console's user sees their own 点赞 in /stars
            name, points = rng.choices(behaviours, behaviour_weights)[0]
            at = slots.pick(days[period])
            key = (giver.id, worker.id, name, at.astimezone(tz).date() if at else None)
            if at is None or key in taken:
                continue
            taken.add(key)
            stars.append(StarEntry(project_id=project.id, worker_id=worker.id, points=points,
                                   source="star", reason=name, given_by_id=giver.id, at=at))
            made += 1
    stars.sort(key=lambda s: s.at)  # ids in the order they were given
    session.add_all(stars)
    await session.flush()

    recent = [s for s in stars if s.at >= month_span(tz, this)[0]] or stars
    mine = [s for s in recent if me is not None and s.given_by_id == me.id]
    if recent:  # a star given to the wrong worker, taken back by its giver with a reason
        wrong = mine[-1] if mine else recent[len(recent) // 2]  # shown in /stars
        await ledger.add(session, project_id=project.id, worker_id=wrong.worker_id,
                         points=-wrong.points, source="withdrawal", reason=wrong.reason,
                         note="点错了工友", given_by_id=wrong.given_by_id, withdraws_id=wrong.id,
                         at=min(wrong.at + dt.timedelta(minutes=20), now))

    at = slots.pick(days["this"]) or slots.pick(days["last"])
    if at is not None:  # a real-name report confirmed 属实 paid its reporter
        await ledger.add(session, project_id=project.id, worker_id=_one(workers, EVENT_WORKER).id,
                         points=config.stars.violation_confirmed, source="event",
                         reason="violation_confirmed", ref="demo:violation_confirmed", at=at)
    officer = members.get(SAFETY_OFFICER)
    at = slots.pick(days["this"]) or slots.pick(days["last"])
    if officer is not None and at is not None:
        await ledger.add(session, project_id=project.id, worker_id=_one(workers, DEDUCTED).id,
                         points=-config.stars.deduction, source="deduction", reason="未系安全带",
                         note="3号楼5层临边作业未系安全带，经安监核实，已当场纠正",
                         given_by_id=officer.id, at=at)

    credited = slots.pick(days["this"]) or slots.pick(days["last"])
    if credited is not None:  # an anonymous reporter's reward, claimed with the receipt code
        session.add(StarReward(project_id=project.id, report_id=None,
                               points=config.stars.violation_confirmed, reason="violation_confirmed",
                               credited_at=_hour(credited),
                               claimed_at=_hour(min(credited + dt.timedelta(days=1), now))))

    organiser = next((members[n] for n in ORGANISERS if n in members), givers[0])
    for kind, place, headcount, note in (
            ("为工友送安全", "工人生活区", 36, "夏季防暑降温用品发放，讲解高温作业注意事项"),
            ("安全知识技能竞赛", "项目部会议室", 24, "各班组派代表参加，钢筋班获第一名")):
        day = rng.choice(days["last"])
        session.add(StarActivity(project_id=project.id, kind=kind, day=day, place=place,
                                 headcount=headcount, note=note, recorded_by_id=organiser.id,
                                 recorded_at=dt.datetime.combine(day, dt.time(18, 0), tzinfo=tz)
                                 .astimezone(dt.UTC)))
    await session.flush()

    # Last month's stars, as the 1st's proposal confirmed them; the first said yes to
    # being named in public, the others did not answer (RULINGS 11).
    proposed = min(dt.datetime.combine(this, config.schedule.monthly_stars.to_time(), tzinfo=tz)
                   .astimezone(dt.UTC), now)
    decided = min(proposed + dt.timedelta(minutes=40), now)
    start, end = month_span(tz, last)
    for rank, standing in enumerate(
            await ledger.ranking(session, project.id, start, end, limit=config.stars.top), start=1):
        session.add(StarAward(project_id=project.id, month=last, worker_id=standing.worker_id,
                              rank=rank, points=standing.points, status="confirmed",
                              decided_by_id=organiser.id, decided_at=decided,
                              public=True if rank == 1 else None, consent_asked_at=decided,
                              announced_at=min(decided + dt.timedelta(hours=2), now),
                              created_at=proposed))
    await session.flush()
    return None
