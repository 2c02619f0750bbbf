"""Reply intents to JSON and back, for the outbox. Images and documents go to the
media store and are referred to by name; a deferred document is kept as what makes
it (renderer, arguments, locale) and made when the notice is sent."""
from __future__ import annotations

from collections.abc import Sequence

from bot.core.contract import (
    AskLocation,
    AskPhoto,
    Choices,
    Deferred,
    Document,
    Image,
    Intent,
    OpenPrivateChat,
    Option,
    Text,
)
from storage.media import MediaStore


async def dump(replies: Sequence[Intent], media: MediaStore) -> list[dict]:
    out = []
    for r in replies:
        if isinstance(r, Deferred):  # no file: made by the deliverer, when it is sent
            out.append({"type": "deferred", "renderer": r.renderer, "args": list(r.args),
                        "locale": r.locale, "fallback": r.fallback})
        elif isinstance(r, Text):
            out.append({"type": "text", "text": r.text})
        elif isinstance(r, Choices):
            out.append({"type": "choices", "prompt": r.prompt, "token": r.token,
                        "options": [[o.label, o.value] for o in r.options]})
        elif isinstance(r, (Image, Document)):
            suffix = "." + r.filename.rsplit(".", 1)[-1] if "." in r.filename else ""
            out.append({"type": "image" if isinstance(r, Image) else "document",
                        "media": await media.save(r.data, suffix.lower()),
                        "filename": r.filename, "caption": r.caption})
        elif isinstance(r, OpenPrivateChat):
            out.append({"type": "private", "prompt": r.prompt, "label": r.label,
                        "start_param": r.start_param})
        elif isinstance(r, (AskLocation, AskPhoto)):
            raise TypeError("a question cannot be sent unprompted: it belongs to a dialog")
        else:
            raise TypeError(f"cannot store {type(r).__name__}")
    return out


async def load(payload: list[dict], media: MediaStore) -> list[Intent]:
    """The stored replies; a deferred one is returned as it is, for the engine's resolve."""
    out: list[Intent] = []
    for item in payload:
        kind = item["type"]
        if kind == "text":
            out.append(Text(item["text"]))
        elif kind == "choices":
            out.append(Choices(item["prompt"], tuple(Option(label, v) for label, v in item["options"]),
                               item.get("token", "")))
        elif kind == "image":
            out.append(Image(await media.read(item["media"]), item["caption"], item["filename"]))
        elif kind == "document":
            out.append(Document(await media.read(item["media"]), item["filename"], item["caption"]))
        elif kind == "private":
            out.append(OpenPrivateChat(item["prompt"], item["label"], item["start_param"]))
        elif kind == "deferred":
            out.append(Deferred(item["renderer"], tuple(item["args"]), item["locale"],
                                item.get("fallback", "")))
        else:
            raise ValueError(f"unknown stored reply type {kind!r}")
    return out


async def as_stored(replies: Sequence[Intent]) -> list[Intent]:
    """The resolver of a deliverer wired without an engine (bot.bootstrap passes the
    engine's): replies go as stored, and a deferred one cannot be sent."""
    if any(isinstance(r, Deferred) for r in replies):
        raise TypeError("a deferred reply needs the engine to make it (Deliverer(resolve=...))")
    return list(replies)
