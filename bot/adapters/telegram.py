"""The Telegram adapter, on python-telegram-bot's Application.

Updates come by long polling or by our own webhook route; either way PTB's
update queue hands them to `_on_update`, which turns them into `Incoming`, lets
the engine answer, and renders the replies. No business rules here.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType as TgChatType
from telegram.constants import MessageEntityType, MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ContextTypes, TypeHandler

from bot import metrics
from bot.adapters.base import DeliveryFailed, split_text, valid_position
from bot.adapters.telegram_pacing import SharedRateLimiter
from bot.adapters.telegram_updates import ChatOrderedProcessor
from bot.config import Config
from bot.core.contract import (
    AskLocation,
    AskPhoto,
    ChatType,
    Choices,
    Document,
    Image,
    Incoming,
    Kind,
    OpenPrivateChat,
    Option,
    Photo,
    Reply,
    Text,
)
from bot.core.engine import Engine
from bot.core.i18n import Translator
from bot.limits import Limiter, MemoryStore

log = logging.getLogger("redshield.telegram")

PLATFORM = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
IMAGE_SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp",
                  "image/heic": ".heic", "image/gif": ".gif"}


class Unusable(Exception):
    """An update we answer ourselves (file too large, not an image) instead of the engine."""

    def __init__(self, message: str):
        self.message = message


class TelegramAdapter:
    platform = PLATFORM

    def __init__(self, config: Config, engine: Engine, *, limiter: Limiter | None = None,
                 retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0)):
        self.config = config
        self.engine = engine
        # The sending limits shared by all processes (bootstrap's); alone, this process's.
        self.limiter = limiter or Limiter(config.limits, MemoryStore(), engine.anonymity.pseudonym)
        self.retry_delays = retry_delays  # waits between tries on network errors
        self.app = self._build_application()
        self.app.add_handler(TypeHandler(Update, self._on_update))
        self.app.add_error_handler(self._on_error)
        self.max_bytes = config.media.max_photo_mb * 1024 * 1024

    def _build_application(self) -> Application:
        tg = self.config.telegram
        builder = (
            Application.builder()
            .token(tg.token)
            .base_url(tg.base_url)
            .base_file_url(tg.base_file_url)
            # Telegram's limits, counted with every other process; 429s wait and retry.
            .rate_limiter(SharedRateLimiter(self.limiter))
            # One chat's updates in order, different chats' at the same time.
            .concurrent_updates(ChatOrderedProcessor())
        )
        if tg.mode == "webhook":
            builder = builder.updater(None)  # updates arrive at our own route
        return builder.build()

    # ---- lifecycle

    def routes(self) -> list[Route]:
        if self.config.telegram.mode != "webhook":
            return []
        return [Route(WEBHOOK_PATH, self.webhook, methods=["POST"])]

    async def start(self, receive: bool = True) -> None:
        """Connect; with `receive` also take updates (a scheduler process only sends)."""
        await self.app.initialize()
        if not receive:
            return
        await self._set_commands()
        await self.app.start()
        tg = self.config.telegram
        if tg.mode == "webhook":
            await self.app.bot.set_webhook(tg.webhook_url, secret_token=tg.webhook_secret,
                                           allowed_updates=ALLOWED_UPDATES)
        else:
            await self.app.bot.delete_webhook()
            await self.app.updater.start_polling(allowed_updates=ALLOWED_UPDATES)

    async def stop(self) -> None:
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def _set_commands(self) -> None:
        """The command menu, in Chinese by default and in English for English phones."""
        registry = self.engine.registry
        for language in (None, "zh", "en"):
            t = Translator("en" if language == "en" else "zh_CN")
            commands = [BotCommand(c.name, t(c.summary)[:256])
                        for c in registry.commands.values() if c.listed]
            await self.app.bot.set_my_commands(commands, language_code=language)

    # ---- webhook

    async def webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        expected = self.config.telegram.webhook_secret.encode()
        if not expected or not hmac.compare_digest(given, expected):
            return Response(status_code=403)
        try:
            data = json.loads(await request.body(), parse_constant=_no_constant)
            if not well_formed(data):
                return Response(status_code=400)
            update = Update.de_json(data, self.app.bot)
        except Exception:  # not JSON, or not an update: Telegram never sends that
            return Response(status_code=400)
        if update is None:
            return Response(status_code=400)
        await self.app.update_queue.put(update)
        return Response(status_code=200)

    # ---- incoming

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await self._on_button(update)
            return
        message = update.message  # edits (live location moving on) are not answers
        if message is None or message.from_user is None or message.chat.type == TgChatType.CHANNEL:
            return
        try:
            msg = await self._incoming(update, message)
        except Unusable as problem:
            await self._send_text(message.chat_id, problem.message)
            return
        if msg is None:
            return
        await self.render(message.chat_id, await self._handle(msg), incoming=msg)

    async def _handle(self, msg: Incoming) -> list[Reply]:
        with metrics.handling(PLATFORM):
            return await self.engine.handle(msg)

    async def _incoming(self, update: Update, message: Message) -> Incoming | None:
        user = message.from_user
        group = message.chat.type != TgChatType.PRIVATE
        base = dict(
            platform=PLATFORM, chat_id=str(message.chat_id), user_id=str(user.id),
            chat_type=ChatType.group if group else ChatType.private,
            message_id=str(update.update_id), language=user.language_code,
        )
        command = self._command(message)
        if command is not None:
            name, args = command
            if name is None:
                return None  # addressed to another bot
            return Incoming(kind=Kind.command, command=name, text=args, **base)
        if group:
            return None  # in groups: only commands addressed to us, and our buttons
        if message.photo:
            size = message.photo[-1]  # the largest
            photo = await self._download(size.file_id, size.file_size, ".jpg", user.language_code)
            return Incoming(kind=Kind.photo, photo=photo, **base)
        if message.document is not None:
            doc = message.document
            suffix = IMAGE_SUFFIXES.get(doc.mime_type or "")
            if suffix is None:
                t = self.engine.translator(user.language_code)
                raise Unusable(t("只能接收照片或图片文件，其他文件无法处理。"))
            photo = await self._download(doc.file_id, doc.file_size, suffix, user.language_code)
            return Incoming(kind=Kind.photo, photo=photo, **base)
        recording = message.voice or message.audio or message.video or message.video_note
        if recording is not None:
            kind = Kind.video if (message.video or message.video_note) else Kind.voice
            return Incoming(kind=kind, media=self._later(recording, user.language_code), **base)
        if message.location is not None:
            return Incoming(kind=Kind.location, latitude=message.location.latitude,
                            longitude=message.location.longitude, **base)
        if message.text is not None:
            return Incoming(kind=Kind.text, text=message.text, **base)
        return Incoming(kind=Kind.event, **base)  # stickers, contacts...: the engine has no use

    def _command(self, message: Message) -> tuple[str | None, str] | None:
        """(name, args) for a bot command at the start; name None if meant for another bot."""
        entities = message.entities or ()
        first = next((e for e in entities if e.offset == 0), None)
        if first is None or first.type != MessageEntityType.BOT_COMMAND:
            return None
        text = message.text or ""
        head = text[1:first.length]
        name, _, bot_name = head.partition("@")
        if bot_name and bot_name.lower() != (self.app.bot.username or "").lower():
            return None, ""
        return name.lower(), text[first.length:].strip()

    async def _download(self, file_id: str, size: int | None, suffix: str,
                        language: str | None) -> Photo:
        """Fetch a photo (getFile), refusing one over the size limit."""
        t = self.engine.translator(language)
        too_big = t("照片太大（超过 {mb} MB），请压缩后重新发送。").format(
            mb=self.config.media.max_photo_mb)
        if size is not None and size > self.max_bytes:
            raise Unusable(too_big)
        tg_file = await self._retrying(lambda: self.app.bot.get_file(file_id))
        if tg_file.file_path:
            suffix = PurePosixPath(tg_file.file_path).suffix or suffix
        data = bytes(await self._retrying(tg_file.download_as_bytearray))
        if len(data) > self.max_bytes:
            raise Unusable(too_big)

        # Kept in memory only: the handler stores what it keeps (an anonymous report's
        # photo without its metadata), so an original never reaches the disk.
        async def read() -> bytes:
            return data

        return Photo(ref=file_id, read=read, filename=f"{tg_file.file_unique_id}{suffix.lower()}")

    def _later(self, recording, language: str | None) -> Photo:
        """A voice note or video, fetched only if a step keeps it (an anonymous report
        refuses it unheard)."""
        suffix = ".mp4" if getattr(recording, "mime_type", "") == "video/mp4" or \
            recording.__class__.__name__ in ("Video", "VideoNote") else ".ogg"

        async def read() -> bytes:
            return await (await self._download(recording.file_id, recording.file_size, suffix,
                                               language)).read()

        return Photo(ref=recording.file_id, read=read, filename=f"{recording.file_unique_id}{suffix}")

    async def _on_button(self, update: Update) -> None:
        query = update.callback_query
        # Always answered, so the phone stops showing the spinner.
        await self._retrying(query.answer)
        message = query.message
        if message is None or not isinstance(message, Message):
            return  # the message is too old for Telegram to show us
        data = query.data or ""
        # "token|value" answers a question; a bare "/command" is a button that never expires.
        token, value = data.split("|", 1) if "|" in data else ("", data)
        group = message.chat.type != TgChatType.PRIVATE
        msg = Incoming(
            platform=PLATFORM, chat_id=str(message.chat_id), user_id=str(query.from_user.id),
            chat_type=ChatType.group if group else ChatType.private, kind=Kind.choice,
            choice=value, token=token or None, message_id=str(update.update_id),
            language=query.from_user.language_code,
        )
        if token:
            await self._show_choice(message, data)
        await self.render(message.chat_id, await self._handle(msg), incoming=msg)

    async def _show_choice(self, message: Message, data: str) -> None:
        """Replace a question's buttons by the answer tapped, so the chat reads as a record."""
        markup = message.reply_markup
        buttons = [b for row in (markup.inline_keyboard if markup else ()) for b in row]
        label = next((b.text for b in buttons if b.callback_data == data), None)
        if label is None or not message.text:
            return
        try:
            await self.app.bot.edit_message_text(f"{message.text}\n› {label}",
                                                 chat_id=message.chat_id,
                                                 message_id=message.message_id)
        except BadRequest as err:  # already edited (a double tap): nothing to show
            metrics.platform_error(PLATFORM, type(err).__name__)

    # ---- rendering

    async def deliver(self, user_id: str, replies: list[Reply]) -> None:
        try:
            await self.render(int(user_id), replies, raise_blocked=True)
        except Forbidden as err:
            raise DeliveryFailed(f"blocked: {err.message}", permanent=True) from None
        except BadRequest as err:  # chat not found, and the like: retrying will not help
            raise DeliveryFailed(f"refused: {err.message}", permanent=True) from None
        except (RetryAfter, NetworkError) as err:
            raise DeliveryFailed(f"unreachable: {type(err).__name__}", permanent=False) from None

    async def render(self, chat_id: int | str, replies: list[Reply],
                     incoming: Incoming | None = None, raise_blocked: bool = False) -> None:
        asks_location = any(isinstance(r, AskLocation) for r in replies)
        # A location keyboard shown earlier goes away with the next plain message.
        remove_keyboard = not asks_location and (
            incoming is None or incoming.chat_type is ChatType.private)
        try:
            for reply in replies:
                markup = None
                if remove_keyboard and isinstance(reply, Text):
                    markup, remove_keyboard = ReplyKeyboardRemove(), False
                await self._render_one(chat_id, reply, markup)
        except Forbidden:
            # Blocked by the user, or removed from the group: retrying cannot help.
            if incoming is None or incoming.chat_type is ChatType.private:
                await self.engine.mark_unreachable(PLATFORM, str(chat_id))
            if raise_blocked:
                raise

    async def _render_one(self, chat_id, reply: Reply, markup=None) -> None:
        bot = self.app.bot
        if isinstance(reply, Text):
            await self._send_text(chat_id, reply.text, markup)
        elif isinstance(reply, Choices):
            await self._send_text(chat_id, reply.prompt, _inline(reply.options, reply.token))
        elif isinstance(reply, AskLocation):
            rows = [[KeyboardButton(reply.button_label, request_location=True)]]
            if reply.skippable:
                rows.append([KeyboardButton(reply.skip_label)])
            await self._send_text(chat_id, reply.prompt, ReplyKeyboardMarkup(
                rows, resize_keyboard=True, one_time_keyboard=True))
        elif isinstance(reply, AskPhoto):
            options = [Option(label, value) for label, value in
                       ((reply.done_label, "_done"), (reply.skip_label, "_skip")) if label]
            await self._send_text(chat_id, reply.prompt,
                                  _inline(options, reply.token) if options else None)
        elif isinstance(reply, Image):
            await self._retrying(lambda: bot.send_photo(chat_id, reply.data,
                                                        caption=reply.caption[:1024] or None,
                                                        filename=reply.filename), idempotent=False)
        elif isinstance(reply, Document):
            await self._retrying(lambda: bot.send_document(chat_id, reply.data,
                                                           filename=reply.filename,
                                                           caption=reply.caption[:1024] or None),
                                 idempotent=False)
        elif isinstance(reply, OpenPrivateChat):
            link = f"https://t.me/{bot.username}"
            if reply.start_param:
                link += f"?start={reply.start_param}"
            button = InlineKeyboardMarkup([[InlineKeyboardButton(reply.label, url=link)]])
            await self._send_text(chat_id, reply.prompt, button)
        else:
            raise TypeError(f"Telegram cannot show {type(reply).__name__}")

    async def _send_text(self, chat_id, text: str, markup=None) -> None:
        # Plain text, no parse mode: whatever a user typed is shown as typed.
        pieces = split_text(text, MessageLimit.MAX_TEXT_LENGTH)
        for i, piece in enumerate(pieces):
            keyboard = markup if i == len(pieces) - 1 else None  # buttons under the last piece
            await self._retrying(lambda piece=piece, keyboard=keyboard: self.app.bot.send_message(
                chat_id, piece, reply_markup=keyboard), idempotent=False)

    async def _retrying(self, call: Callable[[], Awaitable[Any]], idempotent: bool = True) -> Any:
        """Network trouble is retried with growing pauses; Telegram's refusals are not.
        A send that timed out may have arrived: it is not repeated (no double message)."""
        for delay in (*self.retry_delays, None):
            try:
                return await call()
            except (BadRequest, Forbidden, RetryAfter) as err:
                metrics.platform_error(PLATFORM, type(err).__name__)
                raise
            except NetworkError as err:  # TimedOut, and the Bot API's 5xx answers
                metrics.platform_error(PLATFORM, type(err).__name__)
                if delay is None or (isinstance(err, TimedOut) and not idempotent):
                    raise
                log.warning("Telegram unreachable (%s); retrying in %.1fs",
                            type(err).__name__, delay)
                await asyncio.sleep(delay)
            except TelegramError as err:  # ChatMigrated, InvalidToken...: not retried either
                metrics.platform_error(PLATFORM, type(err).__name__)
                raise

    # ---- errors

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error_id = secrets.token_hex(4)
        log.error("error %s in the Telegram adapter", error_id, exc_info=context.error)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        user = update.effective_user
        t = self.engine.translator(user.language_code if user else None)
        try:
            await self.app.bot.send_message(
                update.effective_chat.id,
                t("出错了（编号 {id}），请稍后再试。如果一直这样，请把编号告诉党支部书记。")
                .format(id=error_id))
        except Exception:
            log.warning("could not tell the user about error %s", error_id)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number Telegram sends")


def _is(value, kind, optional: bool = True) -> bool:
    if value is None:
        return optional
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def _user_ok(user, optional: bool = True) -> bool:
    if user is None:
        return optional
    return isinstance(user, dict) and _is(user.get("id"), int, False) and \
        _is(user.get("language_code"), str) and _is(user.get("username"), str)


def _message_ok(m) -> bool:
    if not isinstance(m, dict):
        return False
    chat = m.get("chat")
    if not (isinstance(chat, dict) and _is(chat.get("id"), int, False) and _is(chat.get("type"), str, False)):
        return False
    if not (_user_ok(m.get("from")) and _is(m.get("message_id"), int, False) and _is(m.get("text"), str)):
        return False
    entities = m.get("entities") or []
    if not isinstance(entities, list) or not all(
            isinstance(e, dict) and _is(e.get("offset"), int, False) and _is(e.get("length"), int, False)
            and _is(e.get("type"), str, False) for e in entities):
        return False
    photo = m.get("photo") or []
    if not isinstance(photo, list) or not all(
            isinstance(p, dict) and _is(p.get("file_id"), str, False) and _is(p.get("file_size"), int)
            for p in photo):
        return False
    doc = m.get("document")
    if doc is not None and not (isinstance(doc, dict) and _is(doc.get("file_id"), str, False)
                                and _is(doc.get("mime_type"), str) and _is(doc.get("file_size"), int)):
        return False
    loc = m.get("location")
    if loc is not None:
        lat, lon = (loc.get("latitude"), loc.get("longitude")) if isinstance(loc, dict) else (None, None)
        if not (isinstance(lat, (int, float)) and isinstance(lon, (int, float))
                and valid_position(float(lat), float(lon))):
            return False
    return True


def well_formed(data) -> bool:
    """Whether a webhook body has the shape Telegram gives every field we read. What
    does not is refused (400) rather than handed to PTB, which would fail on it
    (an unhashable chat id even stops its update loop)."""
    if not isinstance(data, dict) or not _is(data.get("update_id"), int, False):
        return False
    for key in ("message", "edited_message"):
        if key in data and not _message_ok(data[key]):
            return False
    query = data.get("callback_query")
    if query is not None:
        if not (isinstance(query, dict) and _is(query.get("id"), str, False)
                and _user_ok(query.get("from"), optional=False) and _is(query.get("data"), str)):
            return False
        if query.get("message") is not None and not _message_ok(query["message"]):
            return False
    return True


def _inline(options: tuple[Option, ...] | list[Option], token: str) -> InlineKeyboardMarkup:
    """Buttons carry only the question's token and the option's short value."""
    buttons = []
    for o in options:
        data = f"{token}|{o.value}" if token else o.value
        if len(data.encode()) > 64:
            raise ValueError(f"callback data over Telegram's 64 bytes: {o.value!r}")
        buttons.append(InlineKeyboardButton(o.label, callback_data=data))
    # Short labels two to a row; long ones get a row of their own.
    rows: list[list[InlineKeyboardButton]] = []
    for b in buttons:
        if rows and len(rows[-1]) == 1 and len(rows[-1][0].text) <= 8 and len(b.text) <= 8:
            rows[-1].append(b)
        else:
            rows.append([b])
    return InlineKeyboardMarkup(rows)
