"""The console adapter: a chat in the terminal, through the same engine as a phone.

Interactive on a terminal; when stdin is a pipe it reads one message a line and
prints each reply as soon as it is ready. Options are numbered; an option is
chosen by its number or its label. `/photo PATH`, `/voice PATH`, `/video PATH`
and `/location LAT LON` send a photo, a voice note, a video or a location.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from bot.adapters.base import valid_position
from bot.core.contract import (
    AskLocation,
    AskPhoto,
    Choices,
    Document,
    Image,
    Incoming,
    Kind,
    OpenPrivateChat,
    Photo,
    Reply,
    Text,
)
from bot.core.engine import Engine

PLATFORM = "console"
# /photo PATH, /voice PATH, /video PATH: a file sent as the phone would send it.
FILE_KINDS = {"/photo": Kind.photo, "/voice": Kind.voice, "/video": Kind.video}


def parse(line: str, user_id: str) -> Incoming | str:
    """The Incoming for a typed line, or a usage message for a malformed /photo or /location."""
    base = dict(platform=PLATFORM, chat_id=user_id, user_id=user_id)
    head, _, rest = line.partition(" ")
    if head in FILE_KINDS:
        path = Path(rest.strip()).expanduser()
        if not rest.strip():
            return f"usage: {head} PATH"
        if not path.is_file():
            return f"no such file: {path}"

        async def read() -> bytes:
            return await asyncio.to_thread(path.read_bytes)

        sent = Photo(ref=str(path), read=read, filename=path.name)
        kind = FILE_KINDS[head]
        if kind is Kind.photo:
            return Incoming(kind=kind, photo=sent, **base)
        return Incoming(kind=kind, media=sent, **base)
    if head == "/location":
        try:
            lat, lon = (float(x) for x in rest.split())
        except ValueError:
            return "usage: /location LAT LON   (e.g. /location 31.2304 121.4737)"
        if not valid_position(lat, lon):  # a phone never sends these
            return "no such place: latitude -90..90, longitude -180..180"
        return Incoming(kind=Kind.location, latitude=lat, longitude=lon, **base)
    if line.startswith("/") and len(line) > 1:
        return Incoming(kind=Kind.command, command=head[1:], text=rest.strip(), **base)
    return Incoming(kind=Kind.text, text=line, **base)


class ConsoleChat:
    def __init__(self, engine: Engine, user_id: str, out: TextIO = sys.stdout,
                 files_dir: Path = Path("data/console"), outbox: ConsoleOutbox | None = None):
        self.engine = engine
        if outbox is not None:
            outbox.chat = self  # notices for other members show in this terminal
        self.user_id = user_id
        self.out = out
        self.files_dir = files_dir
        self.buttons: Choices | None = None  # the options last shown, to pick by number

    async def send(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        msg = self._tap(line) or parse(line, self.user_id)
        if isinstance(msg, str):
            self._print(msg)
            return
        replies = await self.engine.handle(msg)
        self.buttons = next((r for r in reversed(replies) if isinstance(r, Choices)), None)
        for reply in replies:
            self._print(self.render(reply))

    def _tap(self, line: str) -> Incoming | None:
        """A number or label of the options just shown is a button tap."""
        if self.buttons is None:
            return None
        options = self.buttons.options
        chosen = next((o for o in options if o.label.casefold() == line.casefold()), None)
        # A button's number is a few ASCII digits: int() refuses thousands of digits
        # (Python's limit) and the "²" that isdigit() accepts.
        if (chosen is None and line.isascii() and line.isdigit() and len(line) <= 3
                and 1 <= int(line) <= len(options)):
            chosen = options[int(line) - 1]
        if chosen is None:
            return None
        return Incoming(platform=PLATFORM, chat_id=self.user_id, user_id=self.user_id,
                        kind=Kind.choice, choice=chosen.value, token=self.buttons.token)

    def render(self, reply: Reply) -> str:
        if isinstance(reply, Text):
            return reply.text
        if isinstance(reply, Choices):
            lines = [reply.prompt]
            lines += [f"  [{i}] {o.label}" for i, o in enumerate(reply.options, 1)]
            return "\n".join(lines)
        if isinstance(reply, AskLocation):
            hint = "  ↳ /location LAT LON"
            if reply.skippable and reply.skip_label:
                hint += f"  ·  {reply.skip_label}"
            return f"{reply.prompt}\n{hint}"
        if isinstance(reply, AskPhoto):
            hint = "  ↳ /photo PATH"
            if reply.done_label:
                hint += f"  ·  {reply.done_label}"
            return f"{reply.prompt}\n{hint}"
        if isinstance(reply, (Image, Document)):
            path = self._save(reply)
            caption = f"{reply.caption}\n" if reply.caption else ""
            return f"{caption}[{path}]"
        if isinstance(reply, OpenPrivateChat):
            return reply.prompt
        raise TypeError(f"the console cannot show {type(reply).__name__}")

    def _save(self, reply: Image | Document) -> Path:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / reply.filename
        path.write_bytes(reply.data)
        return path

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)
        print(file=self.out, flush=True)

    async def run(self, stdin: TextIO = sys.stdin) -> None:
        interactive = stdin.isatty()
        while True:
            if interactive:
                try:
                    line = await asyncio.to_thread(input, "> ")
                except EOFError:
                    break
            else:
                line = await asyncio.to_thread(stdin.readline)
                if not line:
                    break
                if line.strip():
                    self._print(f"> {line.strip()}")
            await self.send(line)


class ConsoleOutbox:
    """Delivery to console accounts: messages for other members are shown in this
    terminal too, marked with whom they are for, so a demo shows the whole loop."""

    platform = PLATFORM

    def __init__(self, names: dict[str, str] | None = None):
        self.chat: ConsoleChat | None = None  # the terminal, once a chat is opened in it
        self.names = names or {}  # console user id -> member name

    async def deliver(self, user_id: str, replies: list[Reply]) -> None:
        if user_id != self.chat.user_id:
            self.chat._print(f"📨 → {self.names.get(user_id, user_id)}")
        for reply in replies:
            self.chat._print(self.chat.render(reply))
