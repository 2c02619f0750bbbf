"""Long fault drills, run by hand (they restart PostgreSQL and kill processes):

    python -m bench.faults scheduler-killed   # kill -9 the delivering scheduler mid-run
    python -m bench.faults pg-restart         # restart PostgreSQL under a running bot

Each prints what happened and the figures (duplicates, losses, time to recover).
They use a schema of their own (bench_faults) on the local PostgreSQL, and the
loopback fake of the Bot API from the tests. Nothing leaves this machine.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.bootstrap import bootstrap  # noqa: E402
from bot.config import default_config  # noqa: E402
from handlers import reminders  # noqa: E402
from storage.db import create_engine, session_factory, upgrade_sync  # noqa: E402
from storage.models import Identity, Member, MemberRole, OutboxMessage, Project  # noqa: E402
from tests.fakes.telegram_api import FakeBotAPI  # noqa: E402
from tests.telegram_updates import tg_message  # noqa: E402

SCHEMA = "bench_faults"
SECRET = "bench-faults-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlowBotAPI(FakeBotAPI):
    """Takes a little time per message, as the real one does, so a kill lands mid-run."""

    async def _m_sendMessage(self, params):
        await asyncio.sleep(0.02)
        return await super()._m_sendMessage(params)


async def fresh_schema(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    await engine.dispose()
    await asyncio.to_thread(upgrade_sync, url, schema=SCHEMA)


def env_for(url: str, api: FakeBotAPI, **more) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDSHIELD_")}
    env.update(PYTHONPATH=str(ROOT), REDSHIELD_DATABASE_URL=url, REDSHIELD_DATABASE_SCHEMA=SCHEMA,
               REDSHIELD_TELEGRAM_TOKEN=api.token, REDSHIELD_TELEGRAM_BASE_URL=api.base_url,
               REDSHIELD_TELEGRAM_BASE_FILE_URL=api.base_file_url,
               REDSHIELD_SECRET_KEY="faults-" + "k" * 40, **more)
    return env


async def start_bot(args: list[str], env: dict, cwd: str, port: int):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, "--port", str(port), cwd=cwd, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("bot did not start")


# ---- the scheduler killed mid-delivery


async def scheduler_killed(url: str, members: int) -> None:
    await fresh_schema(url)
    db = create_engine(url, schema=SCHEMA)
    sessions = session_factory(db)
    now = dt.datetime.now(dt.UTC)
    async with sessions() as s, s.begin():
        project = Project(code="F1", name="演练项目", branch="演练支部")
        s.add(project)
        await s.flush()
        for i in range(members):
            m = Member(project_id=project.id, name=f"队员{i:05d}", joined_at=now - dt.timedelta(days=30),
                       roles=[MemberRole(role="member")])
            s.add(m)
            await s.flush()
            s.add(Identity(platform="telegram", external_id=str(100000 + i), member_id=m.id, bound_at=now))
    config = default_config()
    sched = bootstrap(config, db=db, delivery="none").scheduler
    queued = await sched.run("drill", lambda s, at, config: reminders.personal_reminders(s, at, config, "drill"))
    await sched.release()
    print(f"queued {queued} reminders for {members} members")

    api = SlowBotAPI()
    await api.start()
    env = env_for(url, api)
    cwd = tempfile.mkdtemp()
    port = free_port()
    proc = await start_bot(["run", "--role", "scheduler"], env, cwd, port)
    target = queued // 3
    while len(api.sent("sendMessage")) < target:
        await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    at_kill = len(api.sent("sendMessage"))
    print(f"killed -9 after {at_kill} messages")

    started = time.monotonic()
    proc = await start_bot(["run", "--role", "scheduler"], env, cwd, port)
    while True:
        async with sessions() as s:
            pending = (await s.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
                OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None)))).scalar_one()
        if pending == 0 or time.monotonic() - started > 900:
            break
        await asyncio.sleep(1)
    took = time.monotonic() - started
    proc.send_signal(signal.SIGTERM)
    await proc.wait()
    per_chat = collections.Counter(c["chat_id"] for c in api.sent("sendMessage"))
    duplicates = sum(1 for n in per_chat.values() if n > 1)
    lost = queued - len(per_chat)
    async with sessions() as s:
        unsent = (await s.execute(sa.select(sa.func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.sent_at.is_(None)))).scalar_one()
    await api.stop()
    await db.dispose()
    print(textwrap.dedent(f"""\
        scheduler killed mid-delivery
          messages queued           {queued}
          sent before the kill      {at_kill}
          restart to all sent       {took:.1f} s (the new leader resends what the dead one held)
          chats reached             {len(per_chat)}
          duplicates (chats > 1)    {duplicates}
          lost (never reached)      {lost}
          outbox rows not sent      {unsent}"""))


# ---- PostgreSQL restarted under the bot


def restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True)


async def pg_restart(url: str) -> None:
    await fresh_schema(url)
    api = FakeBotAPI()
    await api.start()
    cwd = tempfile.mkdtemp()
    (Path(cwd) / "directory.toml").write_text(textwrap.dedent("""\
        [[projects]]
        code = "F1"
        name = "演练项目"
        branch = "演练支部"
        [[members]]
        project = "F1"
        name = "张三"
        roles = ["member"]
        zones = []
        """), encoding="utf-8")
    env = env_for(url, api, REDSHIELD_TELEGRAM_MODE="webhook",
                  REDSHIELD_TELEGRAM_WEBHOOK_URL="https://bot.example.com/telegram/webhook",
                  REDSHIELD_TELEGRAM_WEBHOOK_SECRET=SECRET)
    out = subprocess.run([sys.executable, "-m", "bot.cli", "import", "directory.toml"], cwd=cwd,
                         env=env, capture_output=True, text=True, check=True).stdout
    code = next(word for line in out.splitlines() for word in line.split() if word.count("-") == 1
                and len(word) == 9)
    port = free_port()
    proc = await start_bot(["run"], env, cwd, port)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

    async def ask(client, text) -> tuple[str, float]:
        before, started = len(api.sent("sendMessage")), time.monotonic()
        r = await client.post(f"http://127.0.0.1:{port}/telegram/webhook", json=tg_message(text),
                              headers=headers)
        while len(api.sent("sendMessage")) <= before and time.monotonic() - started < 60:
            await asyncio.sleep(0.05)
        answer = api.sent("sendMessage")[-1]["text"] if len(api.sent("sendMessage")) > before else "(silence)"
        return f"HTTP {r.status_code}: {answer.splitlines()[0]}", time.monotonic() - started

    async with httpx.AsyncClient(timeout=60) as client:
        print("before:", *(await ask(client, f"/start {code}")))
        print("before:", *(await ask(client, "/me")))
        started = time.monotonic()
        await asyncio.to_thread(restart_postgres)
        print(f"PostgreSQL restarted in {time.monotonic() - started:.1f} s")
        for i in range(3):
            answer, took = await ask(client, "/me")
            print(f"after, try {i + 1}: {answer} ({took:.2f} s)")
        health = (await client.get(f"http://127.0.0.1:{port}/healthz")).json()
        print("healthz:", health)
    proc.send_signal(signal.SIGTERM)
    print("bot exit code:", await proc.wait())
    await api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("drill", choices=["scheduler-killed", "pg-restart"])
    parser.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--members", type=int, default=600)
    args = parser.parse_args()
    if args.drill == "scheduler-killed":
        asyncio.run(scheduler_killed(args.pg_url, args.members))
    else:
        asyncio.run(pg_restart(args.pg_url))


if __name__ == "__main__":
    main()
