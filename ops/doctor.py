"""`redshield doctor`: the setup check. It looks at everything the bot needs and says,
one line each, what works (✓), what will stop the bot (✗) and what deserves a look (!),
with what to fix:

- the config (already valid when this runs: a broken one fails before any command) and
  what it leaves half done: a platform half set up, no [security] secret_key while a
  platform is served, [limits] lift outside a benchmark;
- the database and its schema version (read only: the doctor never migrates);
- the media folder (a probe file written and deleted) and the Chinese font of the PDFs;
- Telegram: getMe with the token, getWebhookInfo against [telegram] webhook_url;
- WeCom: gettoken with corp_id and secret, agent/get (which also shows whether WeCom
  trusts this server's IP, error 60020), and the app's visible range against every
  member's imported wecom_userid;
- with [server] public_url set: whether /healthz and the platforms' callbacks answer there.

Nothing is changed: no migration, no webhook set, no message sent. Exit status 0 only
when nothing failed (warnings allowed)."""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot.adapters.wecom_client import UNTRUSTED_IP, MemoryTokenCache, WecomClient, WecomError
from bot.config import DEFAULT_PATH, Config
from bot.core.registry import Registry
from storage import db as storage_db
from storage.models import Member, Project

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
MARKS = {OK: "✓", WARN: "!", FAIL: "✗", SKIP: "-"}

TIMEOUT = 10.0  # seconds, for each call to a platform or the database
PUBLIC_TIMEOUT = 5.0  # seconds, for each request to [server] public_url
SHOWN_MEMBERS = 20  # members named on the visible-range line; the rest are counted
MAX_DEPARTMENTS = 300  # user/simplelist calls at most, walking the visible departments
LOW_DISK_BYTES = 1 << 30

# The Chinese font the notices (handlers/hazard/pdf.py) and charts (handlers/
# weekly_report.py) are drawn with: the same paths as their FONT_FILES, repeated here
# because ops never imports handlers. Debian's fonts-wqy-microhei, from scripts/setup.sh.
FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
)

WECOM_ERRORS = "https://open.work.weixin.qq.com/devtool/query?e={}"
_FROM_IP = re.compile(r"from ip:\s*([0-9A-Fa-f:.]+[0-9A-Fa-f])")


def register(registry: Registry) -> None:
    registry.cli("doctor", "check the setup and say what to fix (exit 0: the bot can work)",
                 cli_doctor, cli_arguments)


def cli_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="the checks as JSON")
    p.add_argument("--timeout", type=float, default=TIMEOUT, metavar="SECONDS",
                   help=f"for each call to a platform or the database (default {TIMEOUT:g})")


# ---- the report


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    text: str
    fix: str = ""

    def line(self) -> str:
        fix = f" → {self.fix}" if self.fix else ""
        return f"{MARKS[self.status]} {self.name}: {self.text}{fix}"


def ok(name: str, text: str) -> Check:
    return Check(name, OK, text)


def warn(name: str, text: str, fix: str = "") -> Check:
    return Check(name, WARN, text, fix)


def fail(name: str, text: str, fix: str = "") -> Check:
    return Check(name, FAIL, text, fix)


def skip(name: str, text: str) -> Check:
    return Check(name, SKIP, text)


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == WARN]

    @property
    def ok(self) -> bool:
        return not self.failures

    def text(self) -> str:
        lines = ["红盾 Red Shield · setup check", *(c.line() for c in self.checks)]
        problems, warnings = len(self.failures), len(self.warnings)
        noted = f" ({warnings} warning{'s' * (warnings != 1)}: see the ! lines)" if warnings else ""
        if problems:
            lines.append(f"{problems} problem{'s' * (problems != 1)}{noted}: the bot cannot work "
                         "properly until the ✗ lines are fixed.")
        else:
            lines.append(f"The bot can work{noted}.")
        return "\n".join(lines)

    def as_json(self) -> dict:
        return {"ok": self.ok, "failures": len(self.failures), "warnings": len(self.warnings),
                "checks": [asdict(c) for c in self.checks]}


async def cli_doctor(app, args) -> int:
    path = getattr(args, "config", None)
    report = await diagnose(app.config, app.db, app.sessions, config_path=path,
                            timeout=getattr(args, "timeout", TIMEOUT))
    if path:  # advice to copy and paste acts on the same configuration
        report.checks = [replace(c, fix=c.fix.replace("`redshield ", f"`redshield --config {path} "))
                         for c in report.checks]
    if getattr(args, "json", False):
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        print(report.text())
    return 0 if report.ok else 1


async def diagnose(config: Config, db, sessions, *, config_path: str | None = None,
                   timeout: float = TIMEOUT, public_timeout: float = PUBLIC_TIMEOUT) -> Report:
    """Every check, in order; `db` and `sessions` as bootstrap wires them (never migrated)."""
    report = Report()
    report.checks += check_config(config, config_path)
    database, members = await check_database(config, db, sessions, timeout)
    report.checks += database
    report.checks.append(check_media(config))
    report.checks.append(await asyncio.to_thread(check_font))
    if config.telegram_enabled:
        report.checks += await check_telegram(config, timeout)
    else:
        report.checks.append(skip("Telegram", "not configured"))
    if config.wecom_enabled:
        report.checks += await check_wecom(config, members, timeout)
    else:
        report.checks.append(skip("WeCom", "not configured"))
    report.checks += await check_public_url(config, public_timeout)
    return report


# ---- the config


def check_config(config: Config, path: str | None) -> list[Check]:
    checks = []
    shown = path or DEFAULT_PATH
    platforms = []
    if config.telegram_enabled:
        platforms.append(f"Telegram ({config.telegram.mode})")
    if config.wecom_enabled:
        platforms.append(f"WeCom (agent {config.wecom.agent_id})")
    serving = " and ".join(platforms) or "no chat platform"
    if Path(shown).is_file():
        checks.append(ok("config", f"{shown} is valid; serves {serving}"))
    else:
        checks.append(warn("config", f"no file at {shown}: built-in defaults and REDSHIELD_* "
                                     f"variables apply; serves {serving}",
                           "copy config.example.toml to config.toml, or pass --config PATH"))
    if not platforms:
        checks.append(warn("platforms", "no chat platform is configured: `redshield run` opens "
                                        "the console demo",
                           "set [telegram] token, or [wecom] corp_id, agent_id, secret, token and "
                           "encoding_aes_key (secrets as REDSHIELD_TELEGRAM_TOKEN, "
                           "REDSHIELD_WECOM_SECRET, ...)"))
    tg, wc = config.telegram, config.wecom
    if not config.telegram_enabled:
        set_keys = [k for k, on in (("mode = webhook", tg.mode == "webhook"),
                                    ("webhook_url", bool(tg.webhook_url)),
                                    ("webhook_secret", bool(tg.webhook_secret))) if on]
        if set_keys:
            checks.append(warn("Telegram config", f"Telegram is off (no token) though [telegram] "
                                                  f"{', '.join(set_keys)} is set",
                               "set REDSHIELD_TELEGRAM_TOKEN (from @BotFather), or remove those keys"))
    elif tg.mode == "polling" and tg.webhook_url:
        checks.append(warn("Telegram config", "[telegram] webhook_url is set but mode is polling: "
                                              "it is not used",
                           "set mode = \"webhook\" to use it (several workers need the webhook), "
                           "or remove webhook_url"))
    if not config.wecom_enabled:
        set_keys = [k for k, on in (("agent_id", bool(wc.agent_id)), ("token", bool(wc.token)),
                                    ("encoding_aes_key", bool(wc.encoding_aes_key))) if on]
        if set_keys:
            checks.append(warn("WeCom config", f"WeCom is off (corp_id and secret are empty) though "
                                               f"[wecom] {', '.join(set_keys)} is set",
                               "set [wecom] corp_id and REDSHIELD_WECOM_SECRET, or remove those keys"))
    if platforms and not config.security.secret_key:
        checks.append(fail("security", "[security] secret_key is empty: `redshield run` refuses to "
                                       "serve a chat platform without it",
                           "make one with python -c \"import secrets; print(secrets.token_hex(32))\" "
                           "and set REDSHIELD_SECRET_KEY (keep it out of the database and its backups)"))
    if platforms and config.limits.lift:
        checks.append(warn("limits", "[limits] lift = true: the platforms' sending limits are off "
                                     "(WeCom silently drops messages beyond 30 a minute per member, "
                                     "Telegram answers 429)",
                           "remove [limits] lift: it is for benchmarks only"))
    return checks


# ---- the database


async def check_database(config: Config, db, sessions,
                         timeout: float) -> tuple[list[Check], list[tuple[str, str, str]] | None]:
    """The database's checks, and the members with a wecom_userid (name, project code,
    userid), or None when they could not be read."""
    url, schema = config.database.url, config.database.schema or None
    shown = storage_db.safe_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not Path(path).exists():  # connecting would create it
            return [fail("database", f"no database file at {path}",
                         "run `redshield init` to create it")], None
    try:
        async with asyncio.timeout(timeout):
            async with db.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
    except Exception as err:  # refused, unknown host or role, timeout: all the same to the operator
        return [fail("database", f"cannot open {shown}: {_db_error(err)}",
                     "check [database] url (or REDSHIELD_DATABASE_URL), that the database server "
                     "runs and that this user may connect")], None
    check, readable = await _schema_check(url, schema, shown, db)
    if not readable:
        return [check], None
    try:
        async with sessions() as s:
            rows = (await s.execute(
                sa.select(Member.name, Project.code, Member.wecom_userid)
                .join(Project, Project.id == Member.project_id)
                .where(Member.wecom_userid.is_not(None), Member.active.is_(True))
                .order_by(Project.code, Member.name))).all()
    except Exception as err:
        return [check, warn("directory", f"members could not be read: {_db_error(err)}")], None
    return [check], [(name, code, userid) for name, code, userid in rows]


async def _schema_check(url: str, schema: str | None, shown: str,
                        db) -> tuple[Check, bool]:
    """The schema version against the code's, read only (storage.db.schema_state), and
    whether the directory's tables can be read."""
    try:
        state = await storage_db.schema_state(url, schema=schema, engine=db)
    except Exception as err:
        return fail("database", f"{shown} answers, but its schema version cannot be read: "
                                f"{_db_error(err)}", "run `redshield migrate`"), False
    current, head = state.current, state.head
    if state.state == "current":
        return ok("database", f"{shown} answers; schema up to date (revision {current})"), True
    if state.state == "empty":
        return fail("database", f"{shown} is empty (no tables)",
                    "run `redshield init` to create them"), False
    if state.state == "unversioned":
        return fail("database", f"{shown} has tables but no schema revision: `redshield init` did "
                                "not make it",
                    "point [database] url at an empty database or a Red Shield one"), False
    if state.state == "ahead":
        return fail("database", f"{shown} is at schema revision {current}, which this code does "
                                f"not know (it knows up to {head}): a newer release migrated it",
                    "upgrade the code (or restore the backup made before that upgrade)"), True
    behind = len(storage_db.revisions_between(current, head))
    return fail("database", f"{shown} is {behind} migration{'s' * (behind != 1)} behind the code "
                            f"(at revision {current}, the code needs {head})",
                "back it up, then run `redshield migrate` (README, Upgrades) and restart the "
                "workers"), True


def _db_error(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return "no answer in time"
    cause = getattr(err, "orig", None) or err  # the driver's own error, not SQLAlchemy's wrapper
    cause = getattr(cause, "__cause__", None) or cause
    detail = str(cause) or type(cause).__name__
    return storage_db.hide_passwords(f"{type(cause).__name__}: {detail}".splitlines()[0])


# ---- files: the media folder and the font


def check_media(config: Config) -> Check:
    """Writable (a probe file written and deleted); a missing folder must be creatable,
    and what the probe created is removed again."""
    root = Path(config.media.dir)
    shown = str(root.resolve())
    user = _user()
    if root.exists() and not root.is_dir():
        return fail("media folder", f"{shown} is a file, not a folder",
                    "move it away or change [media] dir")
    missing = []
    existing = root
    while not existing.exists():
        missing.append(existing)
        existing = existing.parent
    created: list[Path] = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
        fd, probe = tempfile.mkstemp(prefix=".redshield-doctor-", dir=root)
        try:
            os.write(fd, b"probe")
        finally:
            os.close(fd)
            os.unlink(probe)
        free = shutil.disk_usage(root).free
    except OSError as err:
        what = "cannot be created" if missing else "is not writable"
        return fail("media folder", f"{shown} {what} by {user}: {err.strerror or err}",
                    f"create it and give {user} (the user running `redshield run`) write access, "
                    "or change [media] dir")
    finally:
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                pass
    note = " (created at the first photo)" if missing else ""
    if free < LOW_DISK_BYTES:
        return warn("media folder", f"{shown} is writable{note}, but only {free >> 20} MB are free",
                    "free some space or move [media] dir to a larger disk")
    return ok("media folder", f"{shown} is writable{note}; {free / (1 << 30):.1f} GB free")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return f"uid {os.getuid()}"


def check_font(font_files: Iterable[str] | None = None) -> Check:
    paths = tuple(FONT_FILES if font_files is None else font_files)
    for path in paths:
        if Path(path).exists():
            from reportlab.pdfbase.ttfonts import TTFont

            try:
                TTFont("RedShieldDoctorProbe", path, subfontIndex=0)  # read, not registered
            except Exception as err:
                return fail("PDF font", f"{path} cannot be read: {err}",
                            "reinstall it: sudo apt-get install --reinstall fonts-wqy-microhei")
            return ok("PDF font", path)
    return fail("PDF font", "no Chinese font for the notices and charts (looked for "
                            + ", ".join(paths) + ")",
                "install Debian's fonts-wqy-microhei: sudo apt-get install fonts-wqy-microhei "
                "(scripts/setup.sh does it)")


# ---- Telegram


async def check_telegram(config: Config, timeout: float) -> list[Check]:
    tg = config.telegram

    def url(method: str) -> str:
        return f"{tg.base_url}{tg.token}/{method}"

    def hide(text: str) -> str:
        return text.replace(tg.token, "<token>")

    where = _host(tg.base_url)
    async with httpx.AsyncClient(timeout=timeout) as http:
        try:
            answer = await http.get(url("getMe"))
        except httpx.HTTPError as err:
            return [fail("Telegram", f"cannot reach {where}: {hide(_http_error(err))}",
                         "check this server's internet access (or HTTPS_PROXY), or "
                         "[telegram] base_url")]
        data = _json(answer)
        code = data.get("error_code") or answer.status_code
        if code in (401, 404):  # 404: a token of the wrong shape
            return [fail("Telegram", f"Telegram refuses the token ({code} "
                                     f"{data.get('description') or 'Unauthorized'})",
                         "the token is wrong: get it from @BotFather (/mybots → API Token) and "
                         "set REDSHIELD_TELEGRAM_TOKEN")]
        if not data.get("ok"):
            return [fail("Telegram", f"getMe failed: {code} {hide(str(data.get('description', '')))}",
                         f"see the Bot API's answer; check [telegram] base_url ({where})")]
        me = data.get("result") or {}
        checks = [ok("Telegram", f"@{me.get('username', '?')} answers (getMe)")]
        try:
            answer = await http.get(url("getWebhookInfo"))
            info = _json(answer)
        except httpx.HTTPError as err:
            checks.append(warn("Telegram webhook", f"getWebhookInfo failed: {hide(_http_error(err))}"))
            return checks
    if not info.get("ok"):
        checks.append(warn("Telegram webhook",
                           f"getWebhookInfo failed: {hide(str(info.get('description', '')))}"))
        return checks
    checks.append(_webhook_check(tg, info.get("result") or {}))
    return checks


def _webhook_check(tg, info: dict) -> Check:
    current = info.get("url") or ""
    error = info.get("last_error_message")
    pending = info.get("pending_update_count") or 0
    if tg.mode == "polling":
        if current:
            return warn("Telegram webhook", f"a webhook is set ({current}) though [telegram] mode is "
                                            "polling",
                        "`redshield run` removes it when it starts; if another deployment uses this "
                        "token, give each its own bot: they would take each other's updates")
        return ok("Telegram webhook", "none set, as polling needs")
    if not current:
        return warn("Telegram webhook", f"Telegram has no webhook yet ({pending} updates waiting)",
                    f"`redshield run` sets it to {tg.webhook_url} when it starts; if it is "
                    "running, restart it")
    if current != tg.webhook_url:
        return fail("Telegram webhook", f"Telegram sends updates to {current}, not to [telegram] "
                                        f"webhook_url {tg.webhook_url}",
                    "another deployment or an older config set it: stop that one, then restart "
                    "`redshield run` (it sets the webhook when it starts)")
    if error:
        when = info.get("last_error_date")
        at = (dt.datetime.fromtimestamp(when, dt.UTC).strftime(" at %Y-%m-%d %H:%M UTC")
              if isinstance(when, int) else "")
        return warn("Telegram webhook", f"set to {current}, but Telegram's last delivery failed{at}: "
                                        f"{error} ({pending} updates waiting)",
                    "check that the URL is reachable from the internet with a valid certificate "
                    "and that the load balancer passes /telegram/webhook to the workers")
    return ok("Telegram webhook", f"set to {current} ({pending} updates waiting)")


# ---- WeCom


async def check_wecom(config: Config, members: list[tuple[str, str, str]] | None,
                      timeout: float) -> list[Check]:
    # A token of our own, fetched now: a cached one (Redis) would not test the secret.
    # Fetching one does not end the token the running bot holds.
    client = WecomClient(config.wecom, cache=MemoryTokenCache(), timeout=timeout,
                         rate_delays=(1.0,))
    where = _host(config.wecom.api_base_url)
    unreachable = ("check this server's internet access (or HTTPS_PROXY), or [wecom] api_base_url")
    try:
        try:
            await client.access_token()
        except WecomError as err:
            return [_token_problem(config, err)]
        except httpx.HTTPError as err:
            return [fail("WeCom", f"cannot reach {where}: {_http_error(err)}", unreachable)]
        checks = [ok("WeCom", f"corp_id and secret accepted (gettoken at {where})")]
        try:
            agent = await client.agent()
        except WecomError as err:
            return [*checks, _agent_problem(config, err)]
        except httpx.HTTPError as err:
            return [*checks, fail("WeCom app", f"agent/get got no answer: {_http_error(err)}",
                                  unreachable)]
        name = agent.get("name") or "?"
        checks.append(ok("WeCom trusted IP", "WeCom answers API calls from this server (agent/get)"))
        if agent.get("close"):
            checks.append(fail("WeCom app", f"the app {name} (agent {config.wecom.agent_id}) is "
                                            "disabled (停用)",
                               "enable it: WeCom admin console → 应用管理 → the app → 启用"))
        else:
            checks.append(ok("WeCom app", f"{name} (agent {config.wecom.agent_id}) is enabled"))
        checks.append(await _visible_range(client, agent, members))
        return checks
    finally:
        await client.aclose()


def _short(errmsg: str) -> str:
    """WeCom's errmsg without its hint and link."""
    return errmsg.split(", hint:")[0].split(" hint:")[0].strip()


def _untrusted(err: WecomError) -> Check:
    found = _FROM_IP.search(err.errmsg or "")
    ip = found.group(1) if found else None
    shown = f" ({ip})" if ip else ""
    return fail("WeCom trusted IP", f"WeCom refuses API calls from this server's IP address{shown} "
                                    f"(60020 on {err.path}): no message can be sent",
                f"add {ip or 'this server’s public IP'} to the app's trusted IPs: WeCom admin "
                "console → 应用管理 → the app → 企业可信IP (if the console asks, set the app's "
                "接收消息 server URL first)")


def _token_problem(config: Config, err: WecomError) -> Check:
    code, msg = err.errcode, _short(err.errmsg)
    if code == UNTRUSTED_IP:
        return _untrusted(err)
    if code == 40013:
        return fail("WeCom", f"WeCom does not know [wecom] corp_id {config.wecom.corp_id!r} "
                             f"(40013 {msg})",
                    "copy the 企业ID from the admin console: 我的企业 → 企业信息")
    if code in (40001, 40091):
        return fail("WeCom", f"WeCom refuses the secret ({code} {msg}): [wecom] secret is wrong, "
                             "or belongs to another app or company",
                    "copy the app's Secret: admin console → 应用管理 → the app → Secret (查看); "
                    "set it as REDSHIELD_WECOM_SECRET")
    if code is None:
        return fail("WeCom", f"gettoken failed: {msg}", "check [wecom] api_base_url")
    return fail("WeCom", f"gettoken failed: {code} {msg}", f"see {WECOM_ERRORS.format(code)}")


def _agent_problem(config: Config, err: WecomError) -> Check:
    code, msg = err.errcode, _short(err.errmsg)
    if code == UNTRUSTED_IP:
        return _untrusted(err)
    if code in (40056, 301002):
        return fail("WeCom app", f"[wecom] agent_id {config.wecom.agent_id} is not the app whose "
                                 f"secret is configured ({code} {msg})",
                    "copy the AgentId from the admin console: 应用管理 → the app")
    shown = f"{code} {msg}" if code is not None else msg
    return fail("WeCom app", f"agent/get failed: {shown}",
                f"see {WECOM_ERRORS.format(code)}" if code is not None else "")


async def _visible_range(client: WecomClient, agent: dict,
                         members: list[tuple[str, str, str]] | None) -> Check:
    """Every member's wecom_userid against the app's visible range: users named in it,
    its departments (and those below them) and its tags."""
    name = "WeCom visible range"
    if members is None:
        return skip(name, "not compared with the directory: the database could not be read")
    if not members:
        return warn(name, "no active member in the directory has a wecom_userid, so WeCom users "
                          "are not recognised",
                    "add wecom_userid to the members of the directory file and run "
                    "`redshield import` again")
    pending = {userid.lower() for _, _, userid in members}  # WeCom userids ignore case
    seen: set[str] = set()
    problems: list[str] = []

    def found(userids: Iterable[str]) -> None:
        for userid in userids:
            seen.add(str(userid).lower())
        pending.difference_update(seen)

    found(u.get("userid", "") for u in (agent.get("allow_userinfos") or {}).get("user") or [])
    departments = [int(d) for d in (agent.get("allow_partys") or {}).get("partyid") or []]
    for tag in (agent.get("allow_tags") or {}).get("tagid") or []:
        if not pending:
            break
        try:
            users, parties = await client.tag_members(int(tag))
        except (WecomError, httpx.HTTPError) as err:
            problems.append(f"tag {tag}: {_call_error(err)}")
            continue
        found(u.get("userid", "") for u in users)
        departments += [p for p in parties if p not in departments]
    listed: set[int] = set()
    calls = 0

    async def members_of(department: int, fetch_child: bool) -> None:
        nonlocal calls
        calls += 1
        listed.add(department)
        try:
            found(u.get("userid", "") for u in
                  await client.department_users(department, fetch_child=fetch_child))
        except (WecomError, httpx.HTTPError) as err:
            problems.append(f"department {department}: {_call_error(err)}")

    for department in departments:  # one call each while fetch_child is honoured
        if not pending:
            break
        await members_of(department, True)
    for department in departments:  # else every department below, as WeCom documents now
        if not pending:
            break
        try:
            below = await client.department_ids(department)
        except (WecomError, httpx.HTTPError) as err:
            problems.append(f"sub-departments of {department}: {_call_error(err)}")
            continue
        for sub in below:
            if not pending or calls >= MAX_DEPARTMENTS:
                break
            if sub not in listed:
                await members_of(sub, False)
    if calls >= MAX_DEPARTMENTS and pending:
        problems.append(f"stopped after listing {MAX_DEPARTMENTS} departments")
    total = len(members)
    if not pending:
        return ok(name, f"all {total} members with a wecom_userid can get the app's messages")
    outside = [(n, code, userid) for n, code, userid in members if userid.lower() in pending]
    names = ", ".join(f"{n} ({code}, {userid})" for n, code, userid in outside[:SHOWN_MEMBERS])
    more = f" and {len(outside) - SHOWN_MEMBERS} more" if len(outside) > SHOWN_MEMBERS else ""
    fix = ("add them (or their department or tag) to the app's visible range: admin console → "
           "应用管理 → the app → 可见范围; or correct their wecom_userid in the directory file and "
           "`redshield import` it again")
    if problems:  # the range could not be listed whole: these may be visible after all
        return warn(name, f"{len(outside)} of {total} members could not be found in the app's "
                          f"visible range: {names}{more} (listing failed for "
                          f"{'; '.join(problems[:3])})", fix)
    return fail(name, f"{len(outside)} of {total} members are outside the app's visible range "
                      f"and will never get its messages: {names}{more}", fix)


def _call_error(err: Exception) -> str:
    if isinstance(err, WecomError):
        return f"{err.errcode} {_short(err.errmsg)}" if err.errcode is not None else err.errmsg
    return _http_error(err)


# ---- the public address


async def check_public_url(config: Config, timeout: float) -> list[Check]:
    base = config.server.public_url.rstrip("/")
    webhook = config.telegram_enabled and config.telegram.mode == "webhook"
    if not base:
        if config.wecom_enabled or webhook:
            return [warn("public URL", "[server] public_url is not set, so nobody checked that the "
                                       "platforms can reach the bot",
                         "set it to the address WeCom and Telegram call (https://bot.example.com) "
                         "and run `redshield doctor` again")]
        return []
    name = "public URL"
    checks = []
    not_running = ("check DNS, the firewall and the load balancer (deploy/nginx.conf.example), and "
                   "that `redshield run` is running")
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
        try:
            answer = await http.get(f"{base}/healthz")
        except httpx.HTTPError as err:
            return [fail(name, f"{base}/healthz cannot be reached from here: {_http_error(err)}",
                         not_running)]
        if answer.status_code == 200 and _json(answer).get("ok") is True:
            checks.append(ok(name, f"{base}/healthz answers (checked from this machine)"))
            checks += await _readiness(http, base)
        elif answer.is_redirect:
            checks.append(fail(name, f"{base}/healthz redirects to {answer.headers.get('location')}",
                               "set [server] public_url to the address it redirects to: WeCom and "
                               "Telegram do not follow redirects"))
        else:
            checks.append(fail(name, f"{base}/healthz answers HTTP {answer.status_code}, not like "
                                     "Red Shield", not_running))
        if config.wecom_enabled:
            checks.append(await _expect(http, "GET", f"{base}/wecom/callback", 400, "WeCom callback",
                                        "the load balancer does not pass /wecom/callback to the "
                                        "bot, or the bot runs without WeCom"))
        if webhook:
            checks.append(await _expect(http, "POST", config.telegram.webhook_url, 403,
                                        "Telegram webhook URL",
                                        "the load balancer does not pass /telegram/webhook to the "
                                        "bot, or the bot runs in polling mode"))
    return checks


async def _readiness(http: httpx.AsyncClient, base: str) -> list[Check]:
    """What the running bot says of itself at /readyz, when the address passes it on: a
    warning naming what it finds failing (the doctor's own checks say why)."""
    try:
        answer = await http.get(f"{base}/readyz")
    except httpx.HTTPError:
        return []
    data = _json(answer)
    if answer.status_code != 503 or not isinstance(data.get("checks"), dict):
        return []  # ready, or not passed on by the load balancer
    failing = [f"{k}: {v}" for k, v in data["checks"].items() if v != "ok"]
    return [warn("running bot", f"{base}/readyz says it is not ready: {'; '.join(failing)}",
                 "see the workers' logs (and the ✗ lines above)")]


async def _expect(http: httpx.AsyncClient, method: str, url: str, status: int, name: str,
                  otherwise: str) -> Check:
    """A request the bot refuses with `status` (no signature, no secret): proof it reaches us."""
    try:
        answer = await http.request(method, url, content=b"{}" if method == "POST" else None)
    except httpx.HTTPError as err:
        return fail(name, f"{url} cannot be reached from here: {_http_error(err)}", otherwise)
    if answer.status_code == status:
        return ok(name, f"{url} reaches the bot ({status} to an unsigned request, as it should)")
    return fail(name, f"{url} answers HTTP {answer.status_code} (the bot answers {status} to an "
                      "unsigned request)", otherwise)


# ---- helpers


def _json(answer: httpx.Response) -> dict:
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _http_error(err: Exception) -> str:
    if isinstance(err, httpx.TimeoutException):
        return "no answer in time"
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
