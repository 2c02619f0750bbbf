"""The delivery pacer: no burst even when the event loop wakes senders late."""
from __future__ import annotations

import asyncio

from bot.delivery import Pacer


class LateClock:
    """A clock whose sleeps overshoot, as a busy event loop's do."""

    def __init__(self, lag: float):
        self.now, self.lag = 0.0, lag

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)
        self.now += seconds + self.lag


async def send_all(pacer: Pacer, clock: LateClock, chats: list[str]) -> list[float]:
    released = []

    async def one(chat):
        await pacer.wait(chat)
        released.append(clock())

    await asyncio.gather(*(one(c) for c in chats))
    return sorted(released)


async def test_the_overall_gap_holds_when_senders_wake_late():
    clock = LateClock(lag=0.05)
    pacer = Pacer(overall=29.0, per_chat=1.0, clock=clock, sleep=clock.sleep)
    released = await send_all(pacer, clock, [f"chat{i}" for i in range(60)])
    gaps = [b - a for a, b in zip(released, released[1:])]
    assert min(gaps) >= 1 / 29 - 1e-9  # never two sends closer than the platform allows
    in_any_second = max(sum(1 for t in released if s <= t < s + 1) for s in released)
    assert in_any_second <= 29


async def test_one_chat_waits_its_turn_others_do_not():
    clock = LateClock(lag=0.0)
    pacer = Pacer(overall=None, per_chat=2.0, clock=clock, sleep=clock.sleep)
    order = []

    async def one(chat):
        await pacer.wait(chat)
        order.append((chat, clock()))

    await asyncio.gather(*(one(c) for c in ("zhang", "zhang", "zhang", "li")))
    assert order[:2] == [("zhang", 0.0), ("li", 0.0)]  # li does not queue behind zhang
    zhang = [t for c, t in order if c == "zhang"]
    assert all(b - a >= 2.0 for a, b in zip(zhang, zhang[1:]))
