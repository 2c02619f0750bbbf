"""Photos as evidence: checked to be images, turned upright, stored by content hash,
with what the camera recorded (time, device, GPS) kept beside them.

A photo is worked on in a thread, at most `[media] image_workers` at once per
process, so neither the event loop (and /healthz) nor memory suffers from a few
large ones. What is decoded is bounded before any decoding: a file claiming more
than `[media] max_photo_pixels` pixels is refused from its header (a
decompression bomb: a 175 KB PNG can decode to gigabytes). A JPEG is decoded at a
reduced scale near the size kept (draft mode), and what is stored is at most
LONG_SIDE pixels on its long side: plenty for a notice, a fraction of the memory.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import io
import logging
import math
import warnings
import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from bot.core.contract import DONE, SKIP, AskPhoto, Incoming, Kind
from bot.core.flow import Ctx, Flow, Step
from bot.core.i18n import N_
from storage.media import MediaStore

T = TypeVar("T")
log = logging.getLogger("redshield.photos")

MAX_PIXELS = 40_000_000  # [media] max_photo_pixels by default; a bigger "photo" is a bomb
LONG_SIDE = 2560  # pixels on the long side of a stored photo, at most
MAX_PHOTOS = 9  # per report: a phone's photo picker sends at most nine at once
_UNUSABLE = (UnidentifiedImageError, Image.DecompressionBombError,
             Image.DecompressionBombWarning, OSError, ValueError, SyntaxError, EOFError)


class NotAPhoto(Exception):
    """The bytes are not an image we can use."""


def _open(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The image with only its header read; refused by its pixel count before any of
    it is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except _UNUSABLE as err:
        raise NotAPhoto(str(err)) from None
    if image.width * image.height > max_pixels:
        raise NotAPhoto(f"{image.width} x {image.height} pixels")
    return image


def _decoded(image: Image.Image, long_side: int = LONG_SIDE) -> Image.Image:
    """The pixels, at most `long_side` on the long side. A JPEG is decoded at the
    smallest of its built-in scales (1/2, 1/4, 1/8) that keeps three quarters of
    that: a 12-megapixel photo (4000 x 3000) at 2000 x 1500, a quarter of the memory."""
    width, height = image.size
    shrink = long_side * 3 / 4 / max(width, height)
    try:
        if shrink < 1 and image.format in ("JPEG", "MPO"):
            image.draft(None, (math.ceil(width * shrink), math.ceil(height * shrink)))
        image.load()
        if max(image.size) > long_side:
            image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    except _UNUSABLE as err:
        raise NotAPhoto(str(err)) from None
    return image


def evidence_of(image: Image.Image, data: bytes, size: tuple[int, int] | None = None) -> dict:
    """What the original says about itself, kept as evidence (`size`: the original's,
    when `image` was decoded smaller)."""
    exif = image.getexif()
    width, height = size or image.size
    found: dict = {"sha256": hashlib.sha256(data).hexdigest(), "format": image.format,
                   "width": width, "height": height}
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    for tag, key in ((ExifTags.Base.DateTimeOriginal, "taken_at"), (ExifTags.Base.Make, "make"),
                     (ExifTags.Base.Model, "model")):
        value = ifd.get(tag) or exif.get(tag)
        if value:
            found[key] = str(value).strip("\x00 ")
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    try:
        if gps and 2 in gps and 4 in gps:
            lat = _degrees(gps[2]) * (-1 if gps.get(1) == "S" else 1)
            lon = _degrees(gps[4]) * (-1 if gps.get(3) == "W" else 1)
            found["gps"] = [round(lat, 6), round(lon, 6)]
    except (TypeError, ValueError, ZeroDivisionError):
        pass  # a malformed GPS block is no evidence
    return found


def _degrees(dms) -> float:
    d, m, s = (float(x) for x in dms)
    return d + m / 60 + s / 3600


def upright_jpeg(image: Image.Image, quality: int = 85) -> bytes:
    """The picture as the phone showed it, re-encoded; all metadata left behind."""
    turned = ImageOps.exif_transpose(image)
    mode = "RGB" if turned.mode not in ("RGB", "L") else turned.mode
    clean = Image.new(mode, turned.size)  # a new image: none of the original's info
    clean.paste(turned if turned.mode == mode else turned.convert(mode))
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality)
    return out.getvalue()


def prepare_evidence(data: bytes, max_pixels: int = MAX_PIXELS) -> tuple[bytes, dict]:
    """(upright JPEG to store, evidence metadata of the original). Blocking: `accept`
    runs it in a worker thread."""
    image = _open(data, max_pixels)
    size = image.size
    picture = _decoded(image)
    return upright_jpeg(picture), evidence_of(picture, data, size)


def prepare_anonymous(data: bytes, max_pixels: int = MAX_PIXELS) -> bytes:
    """Upright and stripped of EXIF, GPS, XMP and comments: for anonymous reports."""
    return upright_jpeg(_decoded(_open(data, max_pixels)))


# One semaphore per event loop (a process runs one), created when first needed.
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[int, asyncio.Semaphore]] = \
    weakref.WeakKeyDictionary()


def _slots(workers: int) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    held = _SLOTS.get(loop)
    if held is None or held[0] != workers:
        held = _SLOTS[loop] = (workers, asyncio.Semaphore(workers))
    return held[1]


async def in_worker(workers: int, work: Callable[[], T]) -> T:
    """`work()` in a thread, at most `workers` at once in this process. A caller
    cancelled meanwhile holds its slot until the thread is done, so the bound holds."""
    async with _slots(workers):
        running = asyncio.get_running_loop().run_in_executor(None, work)
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                await running
            raise


async def accept(ctx, msg, already: int, prepare: Callable[..., T]) -> T | None:
    """A photo sent to a step that collects up to MAX_PHOTOS: prepared (off the event
    loop, within [media] max_photo_pixels and image_workers), or None with the reason
    told (one too many, or not an image). `prepare(data, max_pixels=...)` is blocking:
    prepare_evidence or prepare_anonymous."""
    t = ctx.t
    if already >= MAX_PHOTOS:
        ctx.say(t("最多 {n} 张照片，请点“完成”。").format(n=MAX_PHOTOS))
        return None
    data = await msg.photo.read()
    media = ctx.config.media
    try:
        return await in_worker(media.image_workers, functools.partial(
            prepare, data, max_pixels=media.max_photo_pixels))
    except NotAPhoto:  # not logged: nothing about an anonymous reporter's photo is
        ctx.say(t("这个文件不是照片，请发送照片。"))
        return None


# ---- keeping photos a member sends, and the step that collects them


async def keep_evidence(ctx: Ctx, msg: Incoming, already: int) -> dict | None:
    """Stored upright under its own name, with what the camera recorded beside it."""
    prepared = await accept(ctx, msg, already, prepare_evidence)
    if prepared is None:
        return None
    upright, evidence = prepared
    return {"name": await MediaStore(ctx.config.media.dir).save(upright, ".jpg"),
            "evidence": evidence}


async def keep_anonymous(ctx: Ctx, msg: Incoming, already: int) -> str | None:
    """Stored stripped of everything but its pixels (violation reports)."""
    clean = await accept(ctx, msg, already, prepare_anonymous)
    if clean is None:
        return None
    return await MediaStore(ctx.config.media.dir).save(clean, ".jpg")


async def keep_recording(ctx: Ctx, msg: Incoming, already: int) -> dict | None:
    """A voice note or video kept as evidence beside the photos, under its own name."""
    t = ctx.t
    if already >= MAX_PHOTOS:
        ctx.say(t("最多 {n} 个附件，请点“完成”。").format(n=MAX_PHOTOS))
        return None
    try:
        data = await msg.media.read()
    except Exception:  # fetched from the platform only now: too large, expired, network
        log.warning("a %s could not be fetched", msg.kind.value)
        ctx.say(t("语音或视频没有收到（可能太大），请重新发送，或改用文字和照片。"))
        return None
    suffix = "." + msg.media.filename.rsplit(".", 1)[-1] if msg.media.filename else ".bin"
    kind = "voice" if msg.kind is Kind.voice else "video"
    name = await MediaStore(ctx.config.media.dir).save(data, suffix)
    return {"name": name, "evidence": {"kind": kind, "sha256": hashlib.sha256(data).hexdigest(),
                                       "bytes": len(data)}}


async def keep_evidence_or_recording(ctx: Ctx, msg: Incoming, already: int) -> dict | None:
    if msg.kind in (Kind.voice, Kind.video):
        return await keep_recording(ctx, msg, already)
    return await keep_evidence(ctx, msg, already)


def is_recording(item: dict) -> bool:
    return item.get("evidence", {}).get("kind") in ("voice", "video")


def recordings_text(t, kinds: list[str]) -> str:
    """附语音 1 条、附视频 1 条 (empty when there is none)."""
    parts = []
    if n := kinds.count("voice"):
        parts.append(t("附语音 {n} 条").format(n=n))
    if n := kinds.count("video"):
        parts.append(t("附视频 {n} 条").format(n=n))
    return t("、").join(parts)


Keeper = Callable[[Ctx, Incoming, int], Awaitable[object | None]]


def collect_photos(flow: Flow, first: str, *, keep: Keeper, required: str | None,
                   key: str = "photos", name: str | None = None, recordings: bool = False):
    """Photos 1..MAX_PHOTOS, then 完成. `first` is the first prompt (msgid); `required`
    is said when 完成 comes with no photo, or None when photos are optional (跳过).
    With `recordings`, voice notes and videos are kept too (`keep` takes them).
    The handler gets the list kept in ctx.data[key]."""

    async def ask(ctx: Ctx) -> AskPhoto:
        kept = ctx.data.get(key, [])
        if not kept:
            return AskPhoto(ctx.t(first), many=True, skippable=required is None)
        photos = [p for p in kept if not (isinstance(p, dict) and is_recording(p))]
        attached = recordings_text(ctx.t, [p["evidence"]["kind"] for p in kept
                                           if isinstance(p, dict) and is_recording(p)])
        prompt = ctx.t("已收到 {n} 张照片。继续发送，或点“完成”。").format(n=len(photos))
        if attached:
            prompt = ctx.t("已收到 {n} 张照片、{attached}。继续发送，或点“完成”。").format(
                n=len(photos), attached=attached)
        return AskPhoto(prompt, many=True)

    def make(then) -> Step:
        async def handle(ctx: Ctx, msg: Incoming) -> None:
            photos = ctx.data.setdefault(key, [])
            if msg.kind in (Kind.photo, Kind.voice, Kind.video):
                kept = await keep(ctx, msg, len(photos))
                if kept is not None:
                    photos.append(kept)
                return await ctx.ask_again()
            if msg.choice in (DONE, SKIP) and (photos or required is None):
                return await then(ctx, photos)
            await ctx.reject(ctx.t(required) if required else None)

        accepts = {Kind.photo, Kind.choice} | ({Kind.voice, Kind.video} if recordings else set())
        return flow.add(name or then.__name__, accepts=accepts, ask=ask, handle=handle)

    return make


NEED_ONE = N_("请至少发送一张照片。")
