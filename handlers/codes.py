"""Codes people type on a phone: an alphabet without look-alikes (no 0/O, 1/I/L),
accepted in any case and with or without dashes."""
from __future__ import annotations

import hashlib
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_code(length: int) -> str:
    """A random code grouped in fours: K7MQ-X4PD."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return "-".join(raw[i:i + 4] for i in range(0, length, 4))


def normalize(text: str, length: int) -> str | None:
    """The code as stored (upper case, no separators), or None if it cannot be one."""
    raw = "".join(ch for ch in text.upper() if ch not in "- \u00a0\u3000")
    if len(raw) != length or any(ch not in ALPHABET for ch in raw):
        return None
    return raw


def digest(normalized: str) -> str:
    """Plain SHA-256, which anyone holding it can test guesses against offline: what
    is stored of an invite code only where no [security] secret_key is set (the console
    demo), and what codes issued before #14 were. Otherwise `handlers.invites.hasher`."""
    return hashlib.sha256(normalized.encode()).hexdigest()
