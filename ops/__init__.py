"""Operating Red Shield: backups and restores, the setup check (`redshield doctor`) and
the alerts that tell people when the bot stops working properly. A plugin like
`handlers`: it registers operator commands and jobs, and knows nothing of the product's
conversations."""
from __future__ import annotations

from bot.core.registry import Registry
from ops import alerts, backup, doctor


def register(registry: Registry) -> None:
    backup.register(registry)
    doctor.register(registry)
    alerts.register(registry)
