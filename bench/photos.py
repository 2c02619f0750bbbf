"""Memory and time of one photo, before and after the photo hardening of #14.

Run by hand; it prints figures and asserts nothing:

    python -m bench.photos [--runs 3] [--before REV] [--keep DIR]

Two inputs, made once in a temporary folder (or `--keep DIR`):

- bomb.png: the issue's 7740 x 7740 white PNG (about 175 KB, 60 million pixels);
- photo.jpg: a 12-megapixel phone photo (4000 x 3000, noisy enough to weigh a few MB,
  taken sideways: EXIF orientation 6, with a camera model and GPS);
- edge.png: a white 6320 x 6320 PNG (39.9 million pixels): the largest picture the
  default `[media] max_photo_pixels` lets through, decoded in full (PNG has no draft
  mode). What one of `[media] image_workers` may take at worst.

Each is handed, `--runs` times, to `accept(ctx, msg, 0, prepare_evidence)` of
handlers/photos.py as it is now ("after") and as it was at `--before` (default
bf28e45, read with `git show`), each run in a fresh Python process so that its peak is
its own. Printed per run: VmRSS before the photo, VmHWM (peak RSS) after it, the wall
time of `accept`, the longest the event loop went without running a 5 ms ticker (what
/healthz would have waited), and the outcome. Then min / median / max over the runs.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

INPUTS = {"bomb.png": "7740 x 7740 PNG", "photo.jpg": "12 MP JPEG",
          "edge.png": "6320 x 6320 PNG, just under the pixel limit"}


# ---- the inputs


def make_inputs(folder: Path) -> None:
    bomb = folder / "bomb.png"
    if not bomb.exists():
        Image.new("RGB", (7740, 7740), "white").save(bomb, "PNG", optimize=True)
    photo = folder / "photo.jpg"
    if not photo.exists():
        size = (4000, 3000)
        noise = Image.effect_noise(size, 48)
        gradient = Image.linear_gradient("L").resize(size)
        picture = Image.merge("RGB", (noise, gradient, Image.blend(noise, gradient, 0.5)))
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: rotated 90°
        exif[0x0110] = "RedPhone 9"
        exif[0x8825] = {1: "N", 2: (31.0, 13.0, 49.44), 3: "E", 4: (121.0, 28.0, 25.32)}
        picture.save(photo, "JPEG", quality=90, exif=exif.tobytes())
    edge = folder / "edge.png"
    if not edge.exists():
        Image.new("RGB", (6320, 6320), "white").save(edge, "PNG", optimize=True)


# ---- one run, in its own process


def status(field: str) -> float:
    """VmRSS or VmHWM of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location("bench_photos_subject", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Step:
    def __init__(self):
        from bot.config import default_config

        self.config = default_config()
        self.said: list[str] = []

    @staticmethod
    def t(text: str) -> str:
        return text

    def say(self, text: str) -> None:
        self.said.append(text)


async def timed(module, step: Step, data: bytes) -> dict:
    async def read() -> bytes:
        return data

    stall, running = [0.0], [True]

    async def ticker() -> None:  # what an HTTP request like /healthz would wait for
        last = time.perf_counter()
        while running[0]:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            stall[0] = max(stall[0], now - last - 0.005)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    result = await module.accept(step, SimpleNamespace(photo=SimpleNamespace(read=read)), 0,
                                 module.prepare_evidence)
    took = time.perf_counter() - started
    running[0] = False
    await tick
    if result is None:
        outcome = "refused"
    else:
        width, height = Image.open(io.BytesIO(result[0])).size
        outcome = f"stored {width}x{height}, {len(result[0]) // 1024} kB"
    return {"seconds": took, "stall": stall[0], "outcome": outcome}


def one_run(module_path: Path, input_path: Path) -> None:
    module = load_module(module_path)
    step, data = Step(), input_path.read_bytes()  # everything imported before the photo
    baseline = status("VmRSS")
    figures = asyncio.run(timed(module, step, data))
    figures.update(baseline=baseline, peak=status("VmHWM"))
    print(json.dumps(figures))


# ---- the driver


def before_module(rev: str, folder: Path) -> Path:
    source = subprocess.run(["git", "show", f"{rev}:handlers/photos.py"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    path = folder / f"photos_{rev}.py"
    path.write_text(source)
    return path


def run_once(module_path: Path, input_path: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.photos", "--one", str(module_path),
                           str(input_path)], cwd=ROOT, check=True, capture_output=True,
                          text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def spread(values: list[float], fmt: str) -> str:
    return "{} / {} / {}".format(*(fmt % v for v in (min(values), statistics.median(values),
                                                    max(values))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", default="bf28e45", help="git revision of 'before'")
    parser.add_argument("--keep", type=Path, help="folder for the inputs, kept")
    parser.add_argument("--one", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one_run(*args.one)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-photos-"))
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", "import bench.photos as b, pathlib; "
                    f"b.make_inputs(pathlib.Path({str(folder)!r}))"], cwd=ROOT, check=True)
    subjects = {f"before ({args.before})": before_module(args.before, folder),
                "after": ROOT / "handlers" / "photos.py"}
    print(f"bench.photos: {args.runs} runs each, a fresh process per run; "
          f"load average {os.getloadavg()[0]:.2f}")
    for name, what in INPUTS.items():
        size = (folder / name).stat().st_size
        print(f"\n{what} ({name}, {size / 1024:,.0f} kB)")
        print("  version          | RSS before MB | peak RSS MB min/med/max | "
              "seconds min/med/max   | loop stall s max | outcome")
        for label, module_path in subjects.items():
            runs = [run_once(module_path, folder / name) for _ in range(args.runs)]
            print(f"  {label:<16} | {statistics.median(r['baseline'] for r in runs):13.0f} | "
                  f"{spread([r['peak'] for r in runs], '%.0f'):>23} | "
                  f"{spread([r['seconds'] for r in runs], '%.3f'):>21} | "
                  f"{max(r['stall'] for r in runs):16.3f} | {runs[0]['outcome']}")
    print(f"\nload average {os.getloadavg()[0]:.2f}; inputs in {folder}")


if __name__ == "__main__":
    main()
