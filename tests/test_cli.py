"""The `redshield` command as an operator uses it: real processes, a real SQLite file."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.telegram_updates import tg_message

REDSHIELD = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[1]
CODE = re.compile(r"\b[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}\b")

DIRECTORY = textwrap.dedent("""\
    [[projects]]
    code = "P1"
    name = "江湾项目"
    branch = "江湾项目党支部"

    [[zones]]
    project = "P1"
    name = "施工现场B区"
    kind = "施工现场"

    [[members]]
    project = "P1"
    name = "张三"
    roles = ["member", "vanguard"]
    zones = ["施工现场B区"]
    """)


def env_without_redshield() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDSHIELD_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def redshield(*args, cwd, stdin="") -> subprocess.CompletedProcess:
    return subprocess.run([*REDSHIELD, *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=60, env=env_without_redshield())


@pytest.fixture
def site(tmp_path) -> Path:
    (tmp_path / "directory.toml").write_text(DIRECTORY, encoding="utf-8")
    return tmp_path


def test_import_then_chat_binds_and_shows_the_member(site):
    imported = redshield("import", "directory.toml", cwd=site)
    assert imported.returncode == 0, imported.stderr
    code = CODE.search(imported.stdout).group()
    assert "no config file" in imported.stderr.lower()  # defaults, said in one log line

    chat = redshield("chat", "--member", "张三", cwd=site, stdin=f"/start {code}\n/me\n/help\n")
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert "> /start" in out and "绑定成功" in out
    assert "张三 · 江湾项目（江湾项目党支部）" in out and "先锋队员" in out
    assert "] 我的" in out

    again = redshield("chat", "--member", "张三", cwd=site, stdin="/me\n")
    assert "张三 · 江湾项目" in again.stdout  # the binding is kept in the database


def test_reimport_is_idempotent_and_invite_reissues(site):
    first = redshield("import", "directory.toml", cwd=site)
    second = redshield("import", "directory.toml", cwd=site)
    assert second.returncode == 0 and not CODE.search(second.stdout)
    old = CODE.search(first.stdout).group()

    issued = redshield("invite", "张三", cwd=site)
    new = CODE.search(issued.stdout).group()
    assert new != old
    chat = redshield("chat", "--member", "张三", cwd=site, stdin=f"/start {old}\n/start {new}\n")
    assert "已失效" in chat.stdout and "绑定成功" in chat.stdout


def test_bad_import_names_the_line_and_imports_nothing(site):
    bad = DIRECTORY.replace('zones = ["施工现场B区"]', 'zones = ["不存在的区"]')
    (site / "bad.toml").write_text(bad, encoding="utf-8")
    result = redshield("import", "bad.toml", cwd=site)
    assert result.returncode == 1
    assert "bad.toml:11" in result.stderr and "不存在的区" in result.stderr
    assert "nothing was imported" in result.stderr
    assert "no member" in redshield("invite", "张三", cwd=site).stderr


def test_unknown_member_chats_as_a_stranger(site):
    chat = redshield("chat", "--member", "路人甲", cwd=site, stdin="你好\n")
    assert "邀请码" in chat.stdout and "unknown user" in chat.stderr


def test_config_errors_name_the_key(site):
    (site / "config.toml").write_text('[wecom]\nencoding_aes_key = "short"\n', encoding="utf-8")
    result = redshield("init", cwd=site)
    assert result.returncode == 2
    assert "wecom.encoding_aes_key must be 43 characters" in result.stderr


PASSWORD = "hunter2-secret"


@pytest.mark.parametrize("url", [
    "postgresql+asyncpg://alice:{pw}@127.0.0.1:{port}/redshield",  # nothing listens there
    "postgresql://alice:{pw}@127.0.0.1:port/redshield",  # a port that is no number
    "mysql://alice:{pw}@127.0.0.1:{port}/redshield",  # a URL the config refuses
    "postgresql+asyncpg://alice:{pw}@x@127.0.0.1:{port}/redshield",  # an "@" left unescaped
])
@pytest.mark.parametrize("command", [["init"], ["--log-level", "DEBUG", "init"], ["invite", "张三"]])
def test_a_bad_database_url_is_never_shown_with_its_password(tmp_path, url, command):
    url = url.format(pw=PASSWORD, port=free_port())
    (tmp_path / "config.toml").write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    result = redshield(*command, cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode in (1, 2), out
    assert PASSWORD not in out and "hunter2" not in out
    assert "alice:***@127.0.0.1" in out  # which database it was, all the same
    assert "Traceback" not in out or "--log-level" in command


def test_imported_codes_are_stored_keyed_and_redeemed_by_another_process(site):
    import hashlib
    import sqlite3

    (site / "config.toml").write_text(f'[security]\nsecret_key = "cli-test-{"k" * 40}"\n',
                                      encoding="utf-8")
    imported = redshield("import", "directory.toml", cwd=site)
    assert imported.returncode == 0, imported.stderr
    assert "plain SHA-256" not in imported.stderr  # the key is set: no warning
    code = CODE.search(imported.stdout).group()
    with sqlite3.connect(site / "data" / "redshield.db") as conn:
        [(stored,)] = conn.execute("SELECT code_hash FROM invite_codes").fetchall()
    assert stored != hashlib.sha256(code.replace("-", "").encode()).hexdigest()
    chat = redshield("chat", "--member", "张三", cwd=site, stdin=f"/start {code}\n")
    assert "绑定成功" in chat.stdout, chat.stdout + chat.stderr


def test_codes_issued_without_a_key_say_so(site):
    """They work (the console tests above), stored as plain SHA-256: the operator is told."""
    assert "plain SHA-256" in redshield("import", "directory.toml", cwd=site).stderr
    issued = redshield("invite", "张三", cwd=site)
    assert issued.returncode == 0 and "plain SHA-256" in issued.stderr


def test_run_without_platforms_is_the_console_demo(tmp_path):
    result = redshield("run", cwd=tmp_path, stdin="/me\n帮助\n")
    assert result.returncode == 0, result.stderr
    assert "王红梅 · 滨江花园二期项目" in result.stdout
    assert "党支部书记" in result.stdout
    invite = CODE.search(result.stdout).group()  # the banner's code for the unbound member
    chat = redshield("chat", "--member", "陈静", cwd=tmp_path, stdin=f"/start {invite}\n/me\n")
    assert "陈静 · 滨江花园二期项目" in chat.stdout
    assert (tmp_path / "data" / "redshield.db").exists()


async def test_run_in_polling_mode_serves_telegram(site, tmp_path):
    """`redshield run` against a fake Bot API on loopback: onboarding, /me, /help."""
    from tests.fakes.telegram_api import FakeBotAPI

    imported = redshield("import", "directory.toml", cwd=site)
    code = CODE.search(imported.stdout).group()
    api = FakeBotAPI()
    await api.start()
    (site / "config.toml").write_text(textwrap.dedent(f"""\
        [telegram]
        token = "{api.token}"
        base_url = "{api.base_url}"
        base_file_url = "{api.base_file_url}"
        [server]
        port = {free_port()}
        [security]
        secret_key = "cli-test-{'k' * 40}"
        """), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        *REDSHIELD, "run", cwd=site, env=env_without_redshield(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        api.updates.append(tg_message(f"/start {code}"))
        api.updates.append(tg_message("/me"))
        api.updates.append(tg_message("/help"))
        sent = await api.wait_for("sendMessage", 4, timeout=30)
        texts = [c["text"] for c in sent]
        assert "绑定成功" in texts[0]
        assert any("张三 · 江湾项目" in t for t in texts)
        assert "我的" in [b["text"] for b in sent[-1].buttons]
        assert len(api.sent("setMyCommands")) == 3
    finally:
        proc.send_signal(signal.SIGINT)
        output = (await asyncio.wait_for(proc.communicate(), 30))[0].decode()
        await api.stop()
    assert proc.returncode == 0, output


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_scheduler_role_without_a_platform_runs_the_scheduler(tmp_path):
    """Only `--role all` opens the console demo; a scheduler runs its jobs and says so."""
    port = free_port()
    (tmp_path / "config.toml").write_text(f"[server]\nport = {port}\n", encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        *REDSHIELD, "run", "--role", "scheduler", cwd=tmp_path, env=env_without_redshield(),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        import httpx

        async with httpx.AsyncClient() as client:
            for _ in range(100):
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the scheduler process never answered /healthz")
    finally:
        proc.send_signal(signal.SIGINT)
        output = (await asyncio.wait_for(proc.communicate(), 30))[0].decode()
    assert proc.returncode == 0, output
    assert "this process runs the scheduled jobs" in output or "role scheduler" in output
    assert "console" not in output and "chatting as" not in output
