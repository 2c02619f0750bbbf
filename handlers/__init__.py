"""The product: one module or package per capability, each speaking only the
neutral contract of bot.core. The runtime loads this package by name (config
`[bot] plugins`) and calls `register`; each capability registers everything it
owns: chat commands and flows, scheduled jobs, operator commands, demo data."""
from __future__ import annotations

from bot.core.registry import Registry


def register(registry: Registry) -> None:
    from handlers import (
        directory,
        hazard,
        help,
        leave,
        ledgers,
        lessons,
        me,
        onboarding,
        patrol,
        reminders,
        stars,
        team,
        violation,
        week_view,
        weekly_report,
    )

    # The order is the order of /help, and of the demo data (the directory first).
    for capability in (directory, onboarding, patrol, team, hazard, violation, stars, lessons, ledgers,
                       me, leave, week_view, reminders, weekly_report, help):
        capability.register(registry)
