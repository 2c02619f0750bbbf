"""A test adapter in the spirit of Errbot's testbot: a user says or taps
something, the test reads the bot's replies. It drives the real engine and a
real database; only the phone is simulated."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from bot.core.contract import (
    AskLocation,
    AskPhoto,
    ChatType,
    Choices,
    Incoming,
    Kind,
    OpenPrivateChat,
    Photo,
    Reply,
    Text,
)


@dataclass
class Said:
    """The bot's replies to one message."""

    replies: list[Reply]

    @property
    def text(self) -> str:
        parts = []
        for r in self.replies:
            if isinstance(r, Text):
                parts.append(r.text)
            elif isinstance(r, (Choices, AskLocation, AskPhoto, OpenPrivateChat)):
                parts.append(r.prompt)
        return "\n".join(parts)

    @property
    def choices(self) -> Choices | None:
        return next((r for r in reversed(self.replies) if isinstance(r, Choices)), None)

    @property
    def buttons(self) -> list[str]:
        return [o.label for o in self.choices.options] if self.choices else []

    def __contains__(self, needle: str) -> bool:
        return needle in self.text

    def __repr__(self) -> str:
        return f"Said({self.text!r}, buttons={self.buttons})"


@dataclass
class ChatUser:
    bot: TestBot
    user_id: str
    chat_id: str
    chat_type: ChatType = ChatType.private
    language: str | None = None
    last: Said | None = field(default=None, repr=False)

    async def send(self, kind: Kind, **fields) -> Said:
        msg = Incoming(platform=self.bot.platform, chat_id=self.chat_id, user_id=self.user_id,
                       chat_type=self.chat_type, kind=kind, language=self.language,
                       message_id=fields.pop("message_id", None) or self.bot.next_id(), **fields)
        self.last = Said(await self.bot.engine.handle(msg))
        if self.last.choices is not None:
            self._buttons = self.last.choices
        return self.last

    async def say(self, text: str, **fields) -> Said:
        """Typed text; a leading slash makes it a command, as a platform marks it."""
        if text.startswith("/"):
            head, _, rest = text[1:].partition(" ")
            return await self.send(Kind.command, command=head, text=rest.strip(), **fields)
        return await self.send(Kind.text, text=text, **fields)

    async def tap(self, label: str, choices: Choices | None = None) -> Said:
        """Tap a button of the latest question that had buttons (or of `choices`)."""
        choices = choices or getattr(self, "_buttons", None)
        assert choices is not None, "no buttons to tap"
        option = next((o for o in choices.options if o.label == label), None)
        assert option is not None, f"no button {label!r} in {[o.label for o in choices.options]}"
        return await self.send(Kind.choice, choice=option.value, token=choices.token)

    async def photo(self, data: bytes | None = None) -> Said:
        data = data if data is not None else jpeg()

        async def read() -> bytes:
            return data

        return await self.send(Kind.photo, photo=Photo(ref="test-photo", read=read))

    async def voice(self, data: bytes = b"#!AMR\n fake voice", *, video: bool = False) -> Said:
        """A voice note (or a short video), as a phone sends it."""
        async def read() -> bytes:
            return data

        media = Photo(ref="test-voice", read=read, filename="clip.mp4" if video else "clip.amr")
        return await self.send(Kind.video if video else Kind.voice, media=media)

    async def location(self, latitude: float, longitude: float) -> Said:
        return await self.send(Kind.location, latitude=latitude, longitude=longitude)


class Inbox:
    """The test platform's side of delivery: files each message under its member."""

    platform = "test"

    def __init__(self, sessions):
        self.sessions = sessions
        self.received: dict[int, list[Reply]] = {}  # by member id, as delivered

    async def deliver(self, user_id: str, replies: list[Reply]) -> None:
        import sqlalchemy as sa

        from storage.models import Identity

        async with self.sessions() as s:
            member_id = (await s.execute(sa.select(Identity.member_id).where(
                Identity.platform == "test", Identity.external_id == user_id))).scalar_one()
        self.received.setdefault(member_id, []).extend(replies)


def test_app(config, clock, db, registry=None):
    """The bot as bootstrap wires it, on the test's database, delivering to a test inbox
    right after each step."""
    from bot.bootstrap import bootstrap
    from storage.db import session_factory

    inbox = Inbox(session_factory(db.engine))
    return bootstrap(config, clock, db=db.engine, registry=registry, targets=[inbox],
                     delivery="inline")


test_app.__test__ = False  # not a pytest test function


def engine_for(config, clock, db_engine, registry=None):
    """The engine as bootstrap wires it, for tests that put a platform adapter of their
    own in front of it (a fake Bot API, a WeCom crypto key)."""
    from bot.bootstrap import bootstrap
    from bot.core.engine import utcnow

    return bootstrap(config, clock or utcnow, db=db_engine, registry=registry, targets=[],
                     delivery="none").engine


def jpeg(color: str = "orange", size=(64, 48), exif=None) -> bytes:
    """A small real JPEG, as a phone camera would send (optionally with EXIF)."""
    import io

    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.new("RGB", size, color).save(out, "JPEG", **({"exif": exif} if exif else {}))
    return out.getvalue()


class TestBot:
    __test__ = False  # not a pytest test class

    def __init__(self, app, platform: str = "test"):
        self.app = app
        self.engine = app.engine
        self.platform = platform
        # Unprompted messages by member id, as delivered by the real delivery worker.
        self.inbox: dict[int, list[Reply]] = next(
            t.received for t in app.deliverer.adapters.values() if isinstance(t, Inbox))

    async def deliver(self) -> None:
        """Run the real delivery worker over the outbox, as the bot does after each step."""
        await self.app.deliverer.run_once()

    def notices(self, member_id: int) -> Said:
        """Everything sent to a member unprompted so far (and clear it)."""
        return Said(self.inbox.pop(member_id, []))

    def next_id(self) -> str:
        return uuid.uuid4().hex  # unique across restarted bots on one database

    def user(self, user_id: str = "u1", *, chat_id: str | None = None,
             group: bool = False, language: str | None = None) -> ChatUser:
        chat_type = ChatType.group if group else ChatType.private
        return ChatUser(self, user_id, chat_id or user_id, chat_type, language)


# The hazard report as a member answers it, step by step (Chinese labels).
HAZARD_STEPS = ("start", "photo", "done", "zone", "category", "grade", "description",
                "requirement", "assignee", "deadline", "confirm")


async def hazard_until(user: ChatUser, stop: str = "confirm", *, zone: str = "施工现场A区",
                       description: str = "3号楼5层脚手架缺少扣件", assignee: str = "赵强",
                       deadline: str = "3天") -> Said:
    """Answer the hazard report up to and including step `stop`; the last reply."""
    answers = {
        "start": lambda: user.say("/hazard"), "photo": user.photo, "done": lambda: user.say("完成"),
        "zone": lambda: user.tap(zone), "category": lambda: user.tap("脚手架"),
        "grade": lambda: user.tap("一般隐患"), "description": lambda: user.say(description),
        "requirement": lambda: user.tap("跳过"), "assignee": lambda: user.tap(assignee),
        "deadline": lambda: user.tap(deadline), "confirm": lambda: user.tap("确认提交"),
    }
    said = None
    for step in HAZARD_STEPS[:HAZARD_STEPS.index(stop) + 1]:
        said = await answers[step]()
    return said
