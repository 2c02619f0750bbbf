"""(being written)"""
from __future__ import annotations


def register(registry) -> None:
    pass
