"""Every Bot API call that sends to a chat waits for the shared sending limits
(bot/limits.py) first (an edit counts toward the overall limit, not its chat's); a
429 pauses every sender of the bot, in every process, for the retry_after Telegram
gives, and the call is then made again."""
from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.limits import Limiter

log = logging.getLogger("redshield.telegram")

PLATFORM = "telegram"


class SharedRateLimiter(BaseRateLimiter[int]):
    def __init__(self, limiter: Limiter, max_retries: int = 5):
        self.limiter = limiter
        self.max_retries = max_retries

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | None) -> Any:
        chat_id = data.get("chat_id")  # getFile, answerCallbackQuery...: not chat-bound
        # sendMessage, sendDocument...: a new message in the chat; an edit (the choice shown
        # on a question) counts toward the overall limit only.
        message = endpoint.startswith(("send", "copy", "forward"))
        retries = rate_limit_args or self.max_retries
        for attempt in range(retries + 1):
            if chat_id is not None:
                await self.limiter.wait(PLATFORM, self.limiter.telegram(chat_id, message))
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as err:
                if attempt == retries:
                    raise
                seconds = _seconds(err.retry_after)
                await self.limiter.pause(PLATFORM, seconds)
                if chat_id is None:  # a chat-bound call waits for the pause in limiter.wait
                    await self.limiter.sleep(seconds)
        raise AssertionError("unreachable")


def _seconds(retry_after) -> float:
    # PTB 22 gives a timedelta (an int in older releases).
    return retry_after.total_seconds() if hasattr(retry_after, "total_seconds") else float(retry_after)
