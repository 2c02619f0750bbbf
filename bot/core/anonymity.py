"""What keeps anonymous reporters out of reach of a database reader: keyed
pseudonyms (HMAC under [security] secret_key, which the database does not hold)
and the account-free store for their drafts and counters."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets

from storage.ephemeral import Ephemeral

log = logging.getLogger("redshield.anonymity")


class Anonymity:
    def __init__(self, secret_key: str, store: Ephemeral):
        if not secret_key:
            # The console demo and tests: a key of this process only (a restart forgets
            # anonymous drafts and counters, which is what they are for).
            log.info("no [security] secret_key: using a random key for this process")
            secret_key = secrets.token_hex(32)
        self._key = secret_key.encode()
        self.store = store

    def pseudonym(self, *parts: object) -> str:
        """A stable name for (purpose, account, ...) that only this deployment can compute."""
        message = "\x1f".join(str(p) for p in parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    # ---- anonymous dialogs: keyed by a pseudonym of the chat, never by the account

    def _dialog_key(self, platform: str, chat_id: str, user_id: str) -> str:
        return "dialog:" + self.pseudonym("dialog", platform, chat_id, user_id)

    async def load_dialog(self, platform: str, chat_id: str, user_id: str) -> dict | None:
        raw = await self.store.get(self._dialog_key(platform, chat_id, user_id))
        return json.loads(raw) if raw else None

    async def save_dialog(self, platform: str, chat_id: str, user_id: str, state: dict,
                          ttl: float) -> None:
        await self.store.set(self._dialog_key(platform, chat_id, user_id),
                             json.dumps(state, ensure_ascii=False).encode(), ttl)

    async def drop_dialog(self, platform: str, chat_id: str, user_id: str) -> None:
        await self.store.delete(self._dialog_key(platform, chat_id, user_id))
