"""The product: one module per capability, each speaking only the neutral contract."""
from __future__ import annotations

from bot.core.registry import Registry


def build_registry() -> Registry:
    from handlers import help as help_
    from handlers import hazard, leave, me, onboarding, patrol, team, violation, week_view

    registry = Registry()
    onboarding.build(registry)
    patrol.build(registry)
    team.build(registry)
    hazard_flow = hazard.build(registry)
    violation.build(registry, hazard_flow)
    me.build(registry)
    leave.build(registry)
    week_view.build(registry)
    help_.build(registry)  # last: help and cancel close the list /help shows
    return registry
