"""Resident memory of one web worker as it processes Telegram webhook updates.

Run by hand; it prints figures and asserts nothing:

    python -m bench.memory [--members 300] [--updates 10000] [--batch 1000]
                           [--backend sqlite|postgresql] [--concurrency 8] [--pause 3]

1. A directory of `--members` members is imported with `redshield import` (SQLite in a
   temporary folder, or a PostgreSQL database of the bench's own, `--db`, dropped at the
   end), and every member binds with /start CODE through a first, throw-away web worker,
   so that the measured worker starts with a warm database but a fresh process.
2. The measured worker is one `redshield run --role web` (Telegram in webhook mode
   against the loopback fake Bot API of bench.load, in this process). Updates go to its
   webhook over HTTP, `--concurrency` at a time (never two for one chat); each waits for
   the bot's first reply. The mix: /me 45 %, /help 45 %, plain text 10 % (which the bot
   answers with "没看懂"), from members drawn at random (seeded).
3. RSS is VmRSS from /proc/<pid>/status, read after `--pause` idle seconds: at start-up,
   after 100 updates, then after every `--batch` updates up to `--updates`.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    BenchBotAPI,
    Client,
    Inbox,
    Proc,
    Stats,
    TelegramSim,
    check_db_name,
    create_db,
    db_url,
    directory,
    drop_db,
    free_port,
    import_directory,
    ms,
    now,
    pct,
    redshield_cmd,
    wait_ready,
    write_config,
)

MIX = (("/me", 0.45), ("/help", 0.45), ("text", 0.10))


def vm_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM ... in kB."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Vm"):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


async def drive(sims: list[TelegramSim], count: int, concurrency: int, rng: random.Random,
                stats: Stats, deadline: float) -> int:
    """Send `count` updates, `concurrency` at a time, never two at once for one chat."""
    free = list(range(len(sims)))
    sent = 0
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]

    async def one(index: int, kind: str) -> None:
        sim = sims[index]
        if kind == "text":
            send = lambda: sim.text(rng.choice(("你好", "收到", "今天下雨，停工一天")))  # noqa: E731
        else:
            send = lambda: sim.command(kind[1:])  # noqa: E731
        await sim.act(kind, send, lambda s: True, stats)

    running: set[asyncio.Task] = set()
    owner: dict[asyncio.Task, int] = {}
    while sent < count or running:
        while sent < count and len(running) < concurrency and free and now() < deadline:
            index = free.pop(rng.randrange(len(free)))
            task = asyncio.create_task(one(index, rng.choices(kinds, weights)[0]))
            running.add(task)
            owner[task] = index
            sent += 1
        if not running:
            break
        done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            running.discard(task)
            free.append(owner.pop(task))
    return sent


async def main_async(args) -> int:
    deadline = now() + args.timeout
    workdir = Path(tempfile.mkdtemp(prefix="redshield-bench-memory-"))
    tg = BenchBotAPI()
    await tg.start()
    procs: list[Proc] = []
    samples: list[tuple[int, dict[str, int], float, Stats | None]] = []
    bind_stats = Stats()
    if args.backend == "postgresql":
        check_db_name(args.db)
        url = db_url(args.pg_url, args.db)
        await create_db(args.pg_url, args.db)
    else:
        url = f"sqlite+aiosqlite:///{workdir / 'redshield.db'}"
    worker: Proc | None = None
    client: Client | None = None
    cpu = math.nan
    try:
        port = free_port()
        config = workdir / "config.toml"
        write_config(config, database_url=url, media=workdir / "media", port=port, tg=tg,
                     wecom=None)
        people = directory(args.members, wecom_share=0.0, prefix="MEM")
        imported = await import_directory(config, people, workdir)
        base = [*redshield_cmd(), "--config", str(config), "run", "--role", "web", "--port", str(port)]

        client = Client([port], bind_stats, timeout=30)
        sims = []
        for p in people:
            uid = 8_300_000_000 + p.index
            sims.append(TelegramSim(p.index, p.name, p.zone, client, tg.inboxes.setdefault(uid, Inbox()),
                                    args.reply_timeout, user_id=uid))

        # Binding, through a worker that is stopped afterwards.
        binder = Proc("binder", base, workdir / "binder.log", workdir)
        procs.append(binder)
        await binder.start()
        await wait_ready(client.http, port, binder)
        bind_stats.started = now()
        sem = asyncio.Semaphore(args.concurrency)
        codes = {p.index: p.code for p in people}

        async def bind(sim: TelegramSim) -> None:
            async with sem:
                await sim.act("/start", lambda: sim.command("start", codes[sim.index]),
                              lambda s: "可用功能" in s.text, bind_stats)

        await asyncio.gather(*(bind(s) for s in sims))
        bind_stats.ended = now()
        await binder.stop()
        print(f"import: {imported}")
        print(f"bound {bind_stats.completed} of {len(sims)} members in {bind_stats.wall:.1f} s "
              f"(missing {sum(bind_stats.missing.values())}, errors {sum(bind_stats.error_replies.values())})",
              flush=True)

        # The measured worker.
        worker = Proc("web", base, workdir / "web.log", workdir)
        procs.append(worker)
        await worker.start()
        await wait_ready(client.http, port, worker)
        await asyncio.sleep(args.pause)
        samples.append((0, vm_status(worker.pid), 0.0, None))
        print(f"{0:>7} updates  RSS {samples[-1][1].get('VmRSS', 0) / 1024:7.1f} MB (after start-up)",
              flush=True)

        rng = random.Random(20261123)
        marks = [100] + list(range(args.batch, args.updates + 1, args.batch))
        if marks[-1] != args.updates:
            marks.append(args.updates)
        done = 0
        for mark in sorted(set(m for m in marks if m <= args.updates)):
            stats = Stats()
            client.stats = stats
            stats.started = now()
            done += await drive(sims, mark - done, args.concurrency, rng, stats, deadline)
            stats.ended = now()
            await asyncio.sleep(args.pause)
            if not worker.alive():
                print(f"the worker exited with {worker.proc.returncode}; see {worker.log}")
                break
            samples.append((done, vm_status(worker.pid), stats.throughput, stats))
            lat = stats.all_latencies()
            problems = (sum(stats.missing.values()) + sum(stats.error_replies.values())
                        + stats.http_errors)
            print(f"{done:>7} updates  RSS {samples[-1][1].get('VmRSS', 0) / 1024:7.1f} MB   "
                  f"batch {stats.completed} replies at {stats.throughput:5.1f}/s, "
                  f"p50 {ms(pct(lat, 50))}, p99 {ms(pct(lat, 99))}, problems {problems}", flush=True)
            if now() >= deadline:
                print("timeout reached; stopping early")
                break
        cpu = worker.cpu_seconds()
        await worker.stop()
    finally:
        for proc in procs:
            await proc.stop()
        if client is not None:
            await client.close()
        await tg.stop()
        if args.backend == "postgresql" and not args.keep_db:
            with contextlib.suppress(Exception):
                await drop_db(args.pg_url, args.db)
        log_text = ""
        if worker is not None:
            errors, tracebacks, distinct, warnings = worker.summary
            log_text = (f"worker log: {errors} ERROR lines, {tracebacks} tracebacks, "
                        f"{warnings} WARNING lines") + "".join(
                f"\n    {line[:160]}" for line in distinct)
        if args.keep_logs:
            shutil.copytree(workdir, args.keep_logs, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("media", "*.db*"))
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print("=" * 88)
    print(f"bench.memory: one `redshield run --role web`, {args.backend}, {args.members} members, "
          f"Telegram webhook, mix " + ", ".join(f"{k} {w:.0%}" for k, w in MIX)
          + f", {args.concurrency} in flight, RSS read after {args.pause:g} s idle")
    by_count = {n: vm for n, vm, _, _ in samples}
    for n, vm, rate, stats in samples:
        extra = "" if stats is None else f"   ({rate:.1f} updates/s in the batch)"
        print(f"  after {n:>6} updates: VmRSS {vm.get('VmRSS', 0) / 1024:7.1f} MB, "
              f"VmHWM {vm.get('VmHWM', 0) / 1024:7.1f} MB{extra}")
    first, last = by_count.get(100), samples[-1] if samples else None
    if first and last and last[0] > 100:
        growth = (last[1]["VmRSS"] - first["VmRSS"]) / ((last[0] - 100) / 1000)
        print(f"  RSS after 100: {first['VmRSS'] / 1024:.1f} MB; after {last[0]}: "
              f"{last[1]['VmRSS'] / 1024:.1f} MB; growth {growth / 1024:.2f} MB per 1,000 updates "
              f"({growth:.0f} kB)")
    print(f"  worker CPU {cpu:.1f} s for {samples[-1][0] if samples else 0} updates")
    print(f"  {log_text}")
    print("=" * 88)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    p.add_argument("--members", type=int, default=300)
    p.add_argument("--updates", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=1000, help="updates between RSS samples")
    p.add_argument("--concurrency", type=int, default=8, help="updates in flight at once")
    p.add_argument("--pause", type=float, default=3.0, help="idle seconds before each sample")
    p.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    p.add_argument("--db", default=f"bench_memory_{os.getpid()}",
                   help="PostgreSQL: the bench's own database; it must not exist")
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--reply-timeout", type=float, default=30)
    p.add_argument("--timeout", type=float, default=1800, help="global limit, seconds")
    p.add_argument("--keep-logs", type=Path)
    p.add_argument("--worker-cmd", help="command instead of `redshield` (e.g. a patched build)")
    args = p.parse_args(argv)
    if args.worker_cmd:
        import shlex

        from bench import load

        load.WORKER_CMD[:] = shlex.split(args.worker_cmd)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
