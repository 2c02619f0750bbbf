"""Updates of different chats are handled at the same time; one chat's, one after
another in the order they came (a member's photo before their 完成)."""
from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.core.locks import KeyedLocks


def chat_of(update: object) -> str:
    """The chat an update belongs to ('' for updates of no chat: handled in one line)."""
    if isinstance(update, Update):
        chat = update.effective_chat
        if chat is not None:
            return str(chat.id)
        if update.effective_user is not None:
            return f"user:{update.effective_user.id}"
    return ""


class ChatOrderedProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 256):
        super().__init__(max_concurrent_updates)
        self._chats = KeyedLocks()

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # The chat's turn first, then a slot: updates queued behind their own chat take
        # none of the slots (a member sending fifty photos does not hold up the others).
        async with self._chats.hold(chat_of(update)), self._semaphore:
            await self.do_process_update(update, coroutine)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
