"""Photos are worked on safely: a decompression bomb is refused from its header, the
work runs in a thread, a few at a time, and what is decoded and stored is bounded.
(Memory and time figures: bench/photos.py.)"""
from __future__ import annotations

import asyncio
import io
import struct
import threading
import zlib
from types import SimpleNamespace

import pytest
from PIL import Image as PILImage
from PIL import ImageFile

from bot.config import default_config
from handlers import photos
from tests.chatbot import jpeg


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels: 50 bytes, no picture behind them."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))


class Step:
    """What `accept` needs of a step's context: the config, and what it says."""

    def __init__(self, **media):
        base = default_config()
        self.config = base.model_copy(update={"media": base.media.model_copy(update=media)})
        self.said: list[str] = []

    @staticmethod
    def t(text: str) -> str:
        return text

    def say(self, text: str) -> None:
        self.said.append(text)


def sent(data: bytes) -> SimpleNamespace:
    async def read() -> bytes:
        return data

    return SimpleNamespace(photo=SimpleNamespace(read=read))


class Loads(list):
    """The size of every image decoded from a file, in order; `calls`: every call of
    Image.load, decoding or not."""

    calls = 0


@pytest.fixture
def decoding(monkeypatch) -> Loads:
    loads = Loads()
    for cls in (PILImage.Image, ImageFile.ImageFile):
        original = cls.load

        def load(self, original=original, cls=cls):
            loads.calls += 1
            if cls is ImageFile.ImageFile and getattr(self, "tile", None):  # to decode
                loads.append(self.size)
            return original(self)

        monkeypatch.setattr(cls, "load", load)
    return loads


@pytest.mark.parametrize("prepare", [photos.prepare_evidence, photos.prepare_anonymous])
async def test_a_bomb_is_refused_by_its_pixel_count_before_any_decoding(decoding, prepare):
    """The issue's 7740 x 7740 PNG (60 million pixels, more than [media]
    max_photo_pixels): refused from its header, Image.load never reached."""
    bomb = png_header(7740, 7740)
    step = Step()
    assert step.config.media.max_photo_pixels == 40_000_000
    assert await photos.accept(step, sent(bomb), 0, prepare) is None
    assert step.said == ["这个文件不是照片，请发送照片。"]
    with pytest.raises(photos.NotAPhoto):
        prepare(bomb)  # the pure function refuses it too, by default
    assert decoding.calls == 0


async def test_the_pixel_limit_is_the_configured_one(decoding):
    photo = jpeg(size=(64, 48))
    assert await photos.accept(Step(max_photo_pixels=64 * 48 - 1), sent(photo), 0,
                               photos.prepare_anonymous) is None
    assert decoding == []
    assert await photos.accept(Step(max_photo_pixels=64 * 48), sent(photo), 0,
                               photos.prepare_anonymous)
    assert decoding == [(64, 48)]


async def test_a_photo_is_worked_on_in_a_worker_thread():
    loop_thread = threading.get_ident()
    threads = []

    def prepare(data: bytes, max_pixels: int) -> tuple[bytes, int]:
        threads.append(threading.get_ident())
        return data, max_pixels

    step = Step(max_photo_pixels=1234)
    assert await photos.accept(step, sent(b"photo"), 0, prepare) == (b"photo", 1234)
    assert threads and threads[0] != loop_thread


async def test_at_most_image_workers_photos_at_once():
    """Four photos arrive together; two workers: two are worked on at once, never more
    (the barrier lets two through together, and breaks if they never meet)."""
    lock, together = threading.Lock(), threading.Barrier(2, timeout=30)
    active, peak = [0], [0]

    def prepare(data: bytes, max_pixels: int) -> bytes:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        together.wait()
        with lock:
            active[0] -= 1
        return data

    step = Step(image_workers=2)
    done = await asyncio.gather(*(photos.accept(step, sent(bytes([i])), 0, prepare)
                                  for i in range(4)))
    assert done == [bytes([i]) for i in range(4)] and peak[0] == 2


async def test_a_large_jpeg_is_decoded_at_a_reduced_scale_and_stored_smaller(decoding):
    """A 12-megapixel phone photo, taken sideways: decoded at half its size (draft
    mode), stored upright at that size, without metadata; the evidence describes the
    original."""
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotated: shown upright, 3000 wide and 4000 high
    exif[0x0110] = "RedPhone 9"
    photo = jpeg(size=(4000, 3000), exif=exif.tobytes())
    upright, evidence = await photos.accept(Step(), sent(photo), 0, photos.prepare_evidence)
    assert decoding == [(2000, 1500)]
    stored = PILImage.open(io.BytesIO(upright))
    assert stored.size == (1500, 2000) and not stored.getexif()
    assert (evidence["width"], evidence["height"], evidence["model"]) == (4000, 3000,
                                                                           "RedPhone 9")


def test_a_large_png_is_stored_at_most_2560_pixels_on_its_long_side():
    out = io.BytesIO()
    PILImage.new("RGB", (6000, 1500), "orange").save(out, "PNG")
    stored = PILImage.open(io.BytesIO(photos.prepare_anonymous(out.getvalue())))
    assert stored.size == (2560, 640) and stored.format == "JPEG"
