"""The neutral contract between platforms and the product.

Adapters turn a platform's update into an `Incoming` and render the reply
intents below; handlers see nothing else of a platform.
"""
from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


class Kind(str, enum.Enum):
    command = "command"
    text = "text"
    photo = "photo"
    location = "location"
    choice = "choice"  # a button was tapped
    voice = "voice"  # a voice note (or an audio file): kept as evidence where a step takes it
    video = "video"  # a short video
    event = "event"  # platform events: entering the app, a menu click already mapped, ...


class ChatType(str, enum.Enum):
    private = "private"
    group = "group"


@dataclass(frozen=True)
class Photo:
    """A photo the user sent. `read` fetches its bytes from the platform when needed."""

    ref: str  # the platform's reference (file id, media id, path)
    read: Callable[[], Awaitable[bytes]]
    filename: str | None = None


@dataclass(frozen=True)
class Incoming:
    platform: str
    chat_id: str
    user_id: str
    kind: Kind
    chat_type: ChatType = ChatType.private
    text: str = ""  # the text, or the command's argument string
    command: str | None = None  # without the slash: "start"
    photo: Photo | None = None
    media: Photo | None = None  # a voice note or video; its bytes are read only if kept
    latitude: float | None = None
    longitude: float | None = None
    choice: str | None = None  # the option's value
    token: str | None = None  # the question the tapped button belonged to
    message_id: str | None = None  # for processing a redelivered message once
    language: str | None = None  # the platform's language code, e.g. "en-US"
    display_name: str | None = None  # never stored; shown only where a flow needs it

    @property
    def args(self) -> list[str]:
        return self.text.split()


# ---- reply intents -------------------------------------------------------


@dataclass(frozen=True)
class Option:
    label: str
    value: str  # short and free of user data: it travels in callback data


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Choices:
    prompt: str
    options: tuple[Option, ...]
    token: str = ""  # stamped by the engine: ties each button to the question it answers

    def option_for(self, value: str) -> Option | None:
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True)
class AskLocation:
    prompt: str
    skippable: bool = False
    # Filled in by the engine in the user's language when left empty.
    button_label: str = ""
    skip_label: str = ""
    token: str = ""


@dataclass(frozen=True)
class AskPhoto:
    prompt: str
    many: bool = False  # several photos, then the done button
    skippable: bool = False
    done_label: str = ""  # filled in by the engine when left empty
    skip_label: str = ""
    token: str = ""


@dataclass(frozen=True)
class Image:
    data: bytes
    caption: str = ""
    filename: str = "image.png"


@dataclass(frozen=True)
class Document:
    data: bytes
    filename: str
    caption: str = ""


@dataclass(frozen=True)
class OpenPrivateChat:
    """A private-only flow was started in a group: offer the way to the private chat."""

    prompt: str
    label: str
    start_param: str = ""


# What adapters render.
Reply = Text | Choices | AskLocation | AskPhoto | Image | Document | OpenPrivateChat


@dataclass(frozen=True)
class Deferred:
    """A document made after the step's transaction commits, by the renderer registered
    under `renderer` (`Registry.renderer`), from `args` (JSON values: ids, not rows), in
    `locale`. For work too heavy for a transaction or the event loop (a PDF): the renderer
    reads what it needs in a session of its own, and the document is laid out on a worker
    thread. Adapters never see one: the engine resolves a step's replies before they leave
    it, and the deliverer a notice's before sending it (the outbox keeps it as it is, so a
    notice is made when it is sent). `fallback` says how to get the document again; the
    reader is told it, with an error id, when it cannot be made."""

    renderer: str
    args: tuple = ()
    locale: str = ""
    fallback: str = ""


# What a step may send or queue: replies, and documents to be made once it commits.
Intent = Reply | Deferred


@dataclass(frozen=True)
class Notice:
    """A message to a member that is not a reply to them (a notice, an alert, a reminder)."""

    member_id: int
    replies: tuple[Intent, ...]
    kind: str  # what it is about, e.g. "patrol_closed"
    key: str  # unique per notice, so it is never sent twice
    not_before: dt.datetime | None = None  # held back until then (blurs when a reporter wrote)


# Values of options that replace an AskLocation / AskPhoto skip or done button.
SKIP = "_skip"
DONE = "_done"
