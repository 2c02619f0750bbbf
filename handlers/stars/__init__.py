"""行为安全之星 and 群星闪耀: workers earn points for safe behaviour (a member's /star,
the bot's own events), the month's stars are proposed on the 1st and confirmed by the
union or secretary, anonymous reporters claim rewards with their receipt code, and
the union records its activities. Led by the union (工会) with the branch."""
from __future__ import annotations

from bot.core.registry import Registry


def register(registry: Registry) -> None:
    from handlers.stars import activities, demo, events, give, monthly, redeem, views

    for part in (give, events, redeem, monthly, activities, views, demo):
        part.register(registry)
