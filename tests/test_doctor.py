"""`redshield doctor`: the setup check against the loopback Telegram and WeCom fakes and
a real database, one failure mode at a time. Each says in plain words what to fix, and
the exit status is 0 only when the bot can work."""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn

from bot.bootstrap import bootstrap, load_plugins
from bot.config import ServerConfig, TelegramConfig, WecomConfig, default_config
from bot.core.registry import Registry
from bot.web import build_web_app
from ops import doctor
from storage.db import head_revision, revisions_between, schema_state, upgrade_sync
from tests import factories as f
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.wecom_api import FakeWecomAPI

ROOT = Path(__file__).resolve().parents[1]
CORP = "wwredshield0001"
AGENT = 1000002
SECRET = "app-secret-for-tests"
AES_KEY = base64.b64encode(b"0123456789abcdef0123456789ABCDEF").decode().rstrip("=")
WEBHOOK = "https://bot.example.com/telegram/webhook"


# ---- the platforms and the site


@pytest.fixture
async def telegram():
    fake = FakeBotAPI()
    await fake.start()
    fake.webhook_url = WEBHOOK  # as `redshield run` left it
    yield fake
    await fake.stop()


@pytest.fixture
async def wecom():
    """A company whose app sees 张三 by name, department 2 (李四 is in 3, below it) and
    tag 7 (王五)."""
    fake = FakeWecomAPI(corp_id=CORP, secret=SECRET)
    fake.departments.update({2: 1, 3: 2, 4: 1})
    fake.add_user("zhangsan", "张三", 1)
    fake.add_user("lisi", "李四", 3)
    fake.add_user("wangwu", "王五", 4)
    fake.tags[7] = (["wangwu"], [])
    fake.visible_users = ["zhangsan"]
    fake.visible_departments = [2]
    fake.visible_tags = [7]
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def directory(db):
    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        await f.member(s, p, "张三", wecom_userid="zhangsan")
        await f.member(s, p, "李四", wecom_userid="LiSi")  # WeCom userids ignore case
        await f.member(s, p, "王五", wecom_userid="wangwu")
        await f.member(s, p, "赵六")  # a Telegram user


def site(config, telegram=None, wecom=None, **changes):
    """The test config serving the fakes, as production would (limits on)."""
    update = {"limits": config.limits.model_copy(update={"lift": False})}
    if telegram is not None:
        update["telegram"] = TelegramConfig(
            token=telegram.token, base_url=telegram.base_url, base_file_url=telegram.base_file_url,
            mode="webhook", webhook_url=WEBHOOK, webhook_secret="hook-secret")
    if wecom is not None:
        update["wecom"] = WecomConfig(corp_id=CORP, agent_id=AGENT, secret=SECRET,
                                      token="CallbackToken", encoding_aes_key=AES_KEY,
                                      api_base_url=wecom.base_url)
    update.update(changes)
    return config.model_copy(update=update)


def config_file(tmp_path) -> str:
    path = tmp_path / "config.toml"
    path.write_text("# settings in the tests' config object\n", encoding="utf-8")
    return str(path)


async def run_doctor(config, db, capsys, *argv, engine=None) -> tuple[int, str]:
    """`redshield doctor ARGS` as the CLI runs it: the registered command, a wired App."""
    registry = load_plugins(Registry(), config.bot.plugins)
    command = registry.cli_commands["doctor"]
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    command.arguments(parser)
    args = parser.parse_args(list(argv))
    app = bootstrap(config, db=engine if engine is not None else db.engine, registry=registry,
                    targets=[])
    capsys.readouterr()
    try:
        code = await command.run(app, args)
    finally:
        await app.close()
    return code, capsys.readouterr().out


def line(out: str, name: str) -> str:
    """The output line of one check."""
    found = [x for x in out.splitlines() if x[2:].startswith(name + ":")]
    assert found, f"no {name!r} line in:\n{out}"
    return found[0]


# ---- everything in order


async def test_all_good_exits_0_and_changes_nothing(config, db, directory, telegram, wecom,
                                                   capsys, tmp_path):
    cfg = site(config, telegram, wecom)
    code, out = await run_doctor(cfg, db, capsys, "--config", config_file(tmp_path))
    assert code == 0, out
    assert line(out, "config").startswith("✓") and "Telegram (webhook)" in out
    assert line(out, "database").startswith("✓") and "up to date" in out
    assert line(out, "media folder").startswith("✓")
    assert line(out, "PDF font").startswith("✓") and "wqy-microhei" in out
    assert line(out, "Telegram").startswith("✓ Telegram: @RedShieldTestBot")
    assert line(out, "Telegram webhook").startswith("✓") and WEBHOOK in out
    assert line(out, "WeCom").startswith("✓")
    assert line(out, "WeCom trusted IP").startswith("✓")
    assert line(out, "WeCom app").startswith("✓") and "红盾" in out
    assert line(out, "WeCom visible range") == (
        "✓ WeCom visible range: all 3 members with a wecom_userid can get the app's messages")
    assert line(out, "public URL").startswith("!")  # not set: nobody checked from outside
    assert out.rstrip().endswith("The bot can work (1 warning: see the ! lines).")
    # Read only: no webhook set, no message sent, no media folder left behind.
    assert {c.method for c in telegram.calls} == {"getMe", "getWebhookInfo"}
    assert {c.path for c in wecom.calls} <= {"gettoken", "agent/get", "tag/get", "user/simplelist",
                                             "department/simplelist"}
    assert not Path(cfg.media.dir).exists()


async def test_json_lists_every_check(config, db, directory, telegram, wecom, capsys, tmp_path):
    code, out = await run_doctor(site(config, telegram, wecom), db, capsys, "--json",
                                 "--config", config_file(tmp_path))
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["failures"] == 0
    assert {c["name"]: c["status"] for c in report["checks"]}["WeCom visible range"] == "ok"
    assert all(set(c) == {"name", "status", "text", "fix"} for c in report["checks"])


# ---- Telegram


async def test_wrong_telegram_token(config, db, telegram, capsys):
    cfg = site(config, telegram)
    cfg = cfg.model_copy(update={"telegram": cfg.telegram.model_copy(update={"token": "123:WRONG"})})
    code, out = await run_doctor(cfg, db, capsys)
    assert code == 1
    assert line(out, "Telegram").startswith("✗ Telegram: Telegram refuses the token (401")
    assert "the token is wrong: get it from @BotFather" in out
    assert "123:WRONG" not in out


async def test_webhook_elsewhere_fails(config, db, telegram, capsys):
    telegram.webhook_url = "https://old.example.com/telegram/webhook"
    code, out = await run_doctor(site(config, telegram), db, capsys)
    assert code == 1
    webhook = line(out, "Telegram webhook")
    assert webhook.startswith("✗") and "old.example.com" in webhook and WEBHOOK in webhook


async def test_webhook_not_set_yet_or_failing_is_a_warning(config, db, telegram, capsys):
    telegram.webhook_url = ""
    code, out = await run_doctor(site(config, telegram), db, capsys)
    assert code == 0 and line(out, "Telegram webhook").startswith("! Telegram webhook: Telegram "
                                                                  "has no webhook yet")
    telegram.webhook_url = WEBHOOK
    telegram.webhook_last_error = (1764547200, "Connection timed out")
    code, out = await run_doctor(site(config, telegram), db, capsys)
    assert code == 0
    assert "last delivery failed at 2025-12-01 00:00 UTC: Connection timed out" in out


# ---- WeCom


async def test_wrong_wecom_secret(config, db, directory, wecom, capsys):
    cfg = site(config, wecom=wecom)
    cfg = cfg.model_copy(update={"wecom": cfg.wecom.model_copy(update={"secret": "not-it"})})
    code, out = await run_doctor(cfg, db, capsys)
    assert code == 1
    assert line(out, "WeCom").startswith("✗ WeCom: WeCom refuses the secret (40001")
    assert "应用管理 → the app → Secret" in out and "not-it" not in out
    assert [c.path for c in wecom.calls] == ["gettoken"]


async def test_untrusted_ip_names_the_ip_to_add(config, db, directory, wecom, capsys):
    wecom.distrust_ip("203.0.113.7")
    code, out = await run_doctor(site(config, wecom=wecom), db, capsys)
    assert code == 1
    assert line(out, "WeCom").startswith("✓")  # gettoken works from anywhere
    trusted = line(out, "WeCom trusted IP")
    assert trusted.startswith("✗") and "(203.0.113.7)" in trusted and "60020" in trusted
    assert "add 203.0.113.7 to the app's trusted IPs" in trusted and "企业可信IP" in trusted


async def test_member_outside_the_visible_range_is_named(config, db, directory, wecom, capsys):
    wecom.tags[7] = ([], [])  # 王五 is no longer in the app's tag
    code, out = await run_doctor(site(config, wecom=wecom), db, capsys)
    assert code == 1
    visible = line(out, "WeCom visible range")
    assert visible.startswith("✗ WeCom visible range: 1 of 3 members are outside")
    assert "王五 (P1, wangwu)" in visible and "never get its messages" in visible
    assert "张三" not in visible and "李四" not in visible
    assert "可见范围" in visible


async def test_visible_range_walks_sub_departments(config, db, directory, wecom, capsys):
    """WeCom's current documentation drops user/simplelist's fetch_child: the departments
    below a visible one are listed one by one."""
    wecom.honour_fetch_child = False
    code, out = await run_doctor(site(config, wecom=wecom), db, capsys)
    assert code == 0, out
    assert line(out, "WeCom visible range").startswith("✓")
    listed = [c.params["department_id"] for c in wecom.sent("user/simplelist")]
    assert listed == ["2", "3"]  # 2 with fetch_child (ignored), then 3 below it


async def test_app_disabled_and_no_userids(config, db, wecom, capsys):
    wecom.agent_closed = True
    code, out = await run_doctor(site(config, wecom=wecom), db, capsys)
    assert code == 1 and line(out, "WeCom app").startswith("✗") and "停用" in out
    assert line(out, "WeCom visible range").startswith("! WeCom visible range: no active member")


# ---- files and the database


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder this process cannot write to: by its mode, or (as root, whom modes do not
    stop) by the immutable attribute."""
    folder = tmp_path / "media"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("running as root without chattr: no folder root cannot write to")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)


async def test_media_folder_not_writable(config, db, read_only_dir, capsys):
    cfg = site(config, media=config.media.model_copy(update={"dir": str(read_only_dir)}))
    code, out = await run_doctor(cfg, db, capsys)
    assert code == 1
    media = line(out, "media folder")
    assert media.startswith(f"✗ media folder: {read_only_dir} is not writable by ")
    assert "write access" in media


async def test_media_folder_that_is_a_file(config, db, tmp_path, capsys):
    (tmp_path / "media").write_bytes(b"")
    code, out = await run_doctor(config, db, capsys)
    assert code == 1 and "is a file, not a folder" in line(out, "media folder")
    cfg = site(config, media=config.media.model_copy(update={"dir": str(tmp_path / "media" / "x")}))
    code, out = await run_doctor(cfg, db, capsys)
    assert code == 1 and "cannot be created" in line(out, "media folder")


async def test_missing_font(config, db, capsys, monkeypatch):
    monkeypatch.setattr(doctor, "FONT_FILES", ("/nonexistent/wqy-microhei.ttc",))
    code, out = await run_doctor(config, db, capsys)
    assert code == 1 and "sudo apt-get install fonts-wqy-microhei" in line(out, "PDF font")


def sqlite_config(path: Path):
    base = default_config()
    return base.model_copy(update={
        "database": base.database.model_copy(update={"url": f"sqlite+aiosqlite:///{path}"}),
        "media": base.media.model_copy(update={"dir": str(path.parent / "media")}),
    })


async def test_database_behind_the_code_is_not_migrated(tmp_path, capsys):
    path = tmp_path / "old.db"
    previous = revisions_between(None, head_revision())[-2][0]
    await asyncio.to_thread(upgrade_sync, f"sqlite+aiosqlite:///{path}", revision=previous)
    cfg = sqlite_config(path)
    code, out = await run_doctor(cfg, None, capsys, engine=_engine(cfg))
    assert code == 1
    database = line(out, "database")
    assert database.startswith("✗") and "1 migration behind the code" in database
    assert f"at revision {previous}, the code needs {head_revision()}" in database
    assert "`redshield migrate`" in database
    state = await schema_state(cfg.database.url)
    assert state.current == previous  # the doctor never migrates


async def test_no_database_file_is_not_created(tmp_path, capsys):
    path = tmp_path / "none.db"
    cfg = sqlite_config(path)
    code, out = await run_doctor(cfg, None, capsys, engine=_engine(cfg))
    assert code == 1 and "no database file at" in line(out, "database")
    assert "redshield init" in out
    assert not path.exists()


def _engine(cfg):
    from storage.db import create_engine

    return create_engine(cfg.database.url)


# ---- the config


async def test_config_warnings_and_the_missing_secret_key(config, db, telegram, capsys):
    cfg = site(config, telegram)
    cfg = cfg.model_copy(update={
        "security": cfg.security.model_copy(update={"secret_key": ""}),
        "limits": cfg.limits.model_copy(update={"lift": True}),
        "wecom": WecomConfig(token="CallbackToken", agent_id=AGENT)})  # half of WeCom
    code, out = await run_doctor(cfg, db, capsys)
    assert code == 1
    assert line(out, "security").startswith("✗ security: [security] secret_key is empty")
    assert "REDSHIELD_SECRET_KEY" in out
    assert line(out, "limits").startswith("! limits: [limits] lift = true")
    assert line(out, "WeCom config").startswith("! WeCom config: WeCom is off")
    assert "agent_id, token is set" in out


# ---- the public address


async def test_public_url_unreachable(config, db, wecom, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    cfg = site(config, wecom=wecom, server=ServerConfig(public_url=f"http://127.0.0.1:{port}"))
    code, out = await run_doctor(cfg, db, capsys)
    assert code == 1
    public = line(out, "public URL")
    assert public.startswith(f"✗ public URL: http://127.0.0.1:{port}/healthz cannot be reached")
    assert "`redshield run` is running" in public


async def test_public_url_reaches_the_bot(config, db, directory, wecom, capsys):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    cfg = site(config, wecom=wecom, server=ServerConfig(public_url=url + "/"))
    served = bootstrap(cfg, db=db.engine)  # the web app `redshield run` serves, WeCom's route in it
    routes = [r for a in served.adapters for r in a.routes()]
    server = uvicorn.Server(uvicorn.Config(build_web_app(db.engine, routes), log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        code, out = await run_doctor(cfg, db, capsys)
    finally:
        server.should_exit = True
        await task
        for adapter in served.adapters:
            await adapter.stop()
        await served.close()
    assert code == 0, out
    assert line(out, "public URL") == (
        f"✓ public URL: {url}/healthz answers (checked from this machine)")
    assert line(out, "WeCom callback").startswith(f"✓ WeCom callback: {url}/wecom/callback "
                                                  "reaches the bot (400")


# ---- as the operator runs it


def test_the_command_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDSHIELD_")}
    env["PYTHONPATH"] = str(ROOT)

    def redshield(*args):
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)

    before = redshield("doctor")
    assert before.returncode == 1, before.stderr
    assert "✗ database: no database file at data/redshield.db → run `redshield init`" in before.stdout
    assert not (tmp_path / "data" / "redshield.db").exists()
    assert redshield("init").returncode == 0
    after = redshield("doctor")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "The bot can work" in after.stdout

    # With --config, its advice names the same file, so a pasted command acts on it.
    (tmp_path / "other.toml").write_text('[database]\nurl = "sqlite+aiosqlite:///other.db"\n')
    other = redshield("--config", "other.toml", "doctor")
    assert other.returncode == 1
    assert "→ run `redshield --config other.toml init`" in other.stdout
