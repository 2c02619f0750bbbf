"""Updates shaped like the ones Telegram sends, for feeding the adapter."""
from __future__ import annotations

import itertools
import time

from tests.fakes.telegram_api import BOT_USER

USER = {"id": 4242, "is_bot": False, "first_name": "三", "last_name": "张", "language_code": "zh-hans"}
_update_ids = itertools.count(1000)


def tg_message(text=None, *, user=USER, chat=None, update_id=None, **content) -> dict:
    chat = chat or {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    message = {"message_id": next(_update_ids), "date": int(time.time()), "chat": chat,
               "from": user, **content}
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"update_id": update_id or next(_update_ids), "message": message}


def tg_tap(call, label: str, *, user=USER) -> dict:
    """The callback query Telegram sends when `label` is tapped on the message `call` sent."""
    button = next(b for b in call.buttons if b["text"] == label)
    chat_id = call["chat_id"]
    return {"update_id": next(_update_ids), "callback_query": {
        "id": str(next(_update_ids)), "from": user, "chat_instance": "ci", "data": button["callback_data"],
        "message": {"message_id": 77, "date": int(time.time()), "from": BOT_USER,
                    "chat": {"id": chat_id, "type": "private" if int(chat_id) > 0 else "group"},
                    "text": call["text"], "reply_markup": call["reply_markup"]}}}
