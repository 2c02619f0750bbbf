"""The directory: projects, zones and members loaded from a TOML or CSV file
(`redshield import`), invite codes for members without an account (`redshield
invite`), and the demo directory the console starts with."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import sqlalchemy as sa

from bot.core.registry import CliError, Registry
from handlers import invites
from handlers.directory.importer import ImportProblems, apply_directory, format_result, parse_directory
from storage.directory import get_member, one_member
from storage.models import Member

DEMO_FILE = Path(__file__).with_name("demo.toml")
DEMO_USER = "王红梅"  # the branch secretary: sees the most
UNBOUND = "陈静"  # left without a console account, to try an invite code on


def register(registry: Registry) -> None:
    registry.cli("import", "load projects, zones and members (TOML or CSV)", cli_import,
                 import_arguments)
    registry.cli("invite", "issue a fresh invite code for a member", cli_invite, invite_arguments)
    registry.demo(demo_directory, user=DEMO_USER)


# ---- redshield import FILE


def import_arguments(p) -> None:
    p.add_argument("file", type=Path)
    p.add_argument("--encoding", default="utf-8", help="file encoding, e.g. gbk (default utf-8)")


async def cli_import(app, args) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as err:
        raise CliError(f"cannot read {args.file}: {err.strerror}") from None
    try:
        directory = parse_directory(data, args.file.name, encoding=args.encoding)
    except ImportProblems as problems:  # checked before the database is touched
        print(f"{problems}\nnothing was imported.", file=sys.stderr)
        return 1
    sessions = await app.open()
    try:
        async with sessions() as s, s.begin():
            result = await apply_directory(s, directory, now=app.clock(),
                                           invite_ttl_days=app.config.invites.ttl_days,
                                           hasher=_hasher(app))
    except ImportProblems as problems:
        print(f"{problems}\nnothing was imported.", file=sys.stderr)
        return 1
    print(format_result(result))
    return 0


def _hasher(app) -> invites.Hasher:
    """Codes stored keyed as the running bot checks them (the engine's pseudonyms)."""
    if not app.config.security.secret_key:
        print("note: no [security] secret_key (REDSHIELD_SECRET_KEY) is set: invite codes are "
              "stored as plain SHA-256, which a reader of the database can test guesses against. "
              "Set the service's key before issuing codes for a chat platform.", file=sys.stderr)
    return invites.hasher(app.config, app.engine.anonymity)


# ---- redshield invite MEMBER


def invite_arguments(p) -> None:
    p.add_argument("member", help="member name or id")
    p.add_argument("--project", help="project code, when the name is in several projects")


async def cli_invite(app, args) -> int:
    sessions, ttl = await app.open(), app.config.invites.ttl_days
    try:
        member = await one_member(sessions, args.member, args.project)
    except LookupError as err:
        raise CliError(str(err)) from None
    hasher = _hasher(app)
    async with sessions() as s, s.begin():
        member = await get_member(s, member.id)
        code = await invites.issue(s, member, app.clock(), ttl, hasher=hasher)
    print(f"{member.name} ({member.project.code}): {code}")
    print(f"valid {ttl} days, once; earlier codes for this member no longer work.")
    print(f"the member sends: /start {code}")
    return 0


# ---- the console demo


async def demo_directory(session, now: dt.datetime, config) -> dict:
    """One project, three zones and fifteen members (among them the union and eight
    workers in four crews), all of long standing so they have a history."""
    directory = parse_directory(DEMO_FILE.read_bytes(), DEMO_FILE.name)
    # The loader is handed the config, not the App: the key is made from it (the same
    # HMAC as the engine's pseudonyms).
    result = await apply_directory(session, directory, now=now, invite_ttl_days=config.invites.ttl_days,
                                   hasher=invites.hasher(config))
    for m in (await session.execute(sa.select(Member))).scalars():
        m.joined_at = now - dt.timedelta(weeks=6)
    code = next((c for name, _, c in result.invites if name == UNBOUND), None)
    return {"project": directory.projects[0].code, "unbound": UNBOUND,
            "invite": (UNBOUND, code) if code else None}
