"""`redshield`: the one console command (init, import, invite, chat, run)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.config import Config, ConfigError, load_config

log = logging.getLogger("redshield")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every request URL at INFO, and Bot API and WeCom URLs carry secrets.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(f"configuration error in {args.config or 'config.toml'}:\n{err}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(args.func(config, args)) or 0
    except KeyboardInterrupt:
        return 130
    except CliError as err:
        print(err, file=sys.stderr)
        return 2


class CliError(Exception):
    """A problem the operator can fix; printed without a traceback."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="redshield", description="红盾 Red Shield safety-patrol bot")
    p.add_argument("--config", metavar="PATH", default=None,
                   help="config file (default ./config.toml; built-in defaults if absent)")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("init", help="create or migrate the database").set_defaults(func=cmd_init)

    imp = sub.add_parser("import", help="load projects, zones and members (TOML or CSV)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--encoding", default="utf-8", help="file encoding, e.g. gbk (default utf-8)")
    imp.set_defaults(func=cmd_import)

    inv = sub.add_parser("invite", help="issue a fresh invite code for a member")
    inv.add_argument("member", help="member name or id")
    inv.add_argument("--project", help="project code, when the name is in several projects")
    inv.set_defaults(func=cmd_invite)

    chat = sub.add_parser("chat", help="chat with the bot in this terminal")
    chat.add_argument("--member", required=True, help="member name or id to chat as")
    chat.add_argument("--project", help="project code, when the name is in several projects")
    chat.set_defaults(func=cmd_chat)

    week = sub.add_parser("week", help="the 2+2 table of a project's week")
    week.add_argument("--project", required=True, help="project code")
    week.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: this week)")
    week.add_argument("--json", action="store_true", help="machine-readable output")
    week.set_defaults(func=cmd_week)

    hz = sub.add_parser("hazards", help="a project's hazards and their rectification")
    hz.add_argument("--project", required=True, help="project code")
    hz.add_argument("--status", action="append", choices=["open", "rectifying", "review", "closed"],
                    help="only these statuses (repeatable)")
    hz.add_argument("--json", action="store_true", help="machine-readable output")
    hz.set_defaults(func=cmd_hazards)

    rep = sub.add_parser("reports", help="violation reports as an officer sees them (no identities)")
    rep.add_argument("--project", required=True, help="project code")
    rep.add_argument("--json", action="store_true", help="machine-readable output")
    rep.set_defaults(func=cmd_reports)

    rem = sub.add_parser("remind", help="personal 2+2 reminders: who would get one, or send them now")
    mode = rem.add_mutually_exclusive_group(required=True)
    mode.add_argument("--now", action="store_true", help="queue and send the reminders now")
    mode.add_argument("--dry-run", action="store_true", help="list who would be reminded, and why")
    rem.add_argument("--json", action="store_true", help="machine-readable output (with --dry-run)")
    rem.set_defaults(func=cmd_remind)

    rpt = sub.add_parser("report", help="the weekly report: text and chart per project")
    rpt.add_argument("--week", nargs="?", const="last", default="last",
                     help="ISO week, e.g. 2026-W47 (default: last week)")
    rpt.add_argument("--project", help="project code (default: every project, and the summary)")
    rpt.add_argument("--out", type=Path, default=Path("reports"), help="folder for the files")
    rpt.set_defaults(func=cmd_report)

    sub.add_parser("wecom-menu", help="create the WeCom app menu (巡查 / 隐患 / 举报 / 我的)"
                   ).set_defaults(func=cmd_wecom_menu)

    run = sub.add_parser("run", help="run the bot (console demo when no platform is configured)")
    run.add_argument("--member", help="console mode: member to chat as (default: the demo's)")
    run.add_argument("--role", choices=["all", "web", "scheduler"], default="all",
                     help="web: adapters and webhooks; scheduler: jobs and delivery; all: both")
    run.add_argument("--port", type=int, help="web server port (default: server.port)")
    run.set_defaults(func=cmd_run)
    return p


# ---- shared set-up


async def open_db(config: Config):
    """Migrate if needed and return (engine, sessions)."""
    from storage.db import create_engine, session_factory, upgrade

    schema = config.database.schema or None
    await upgrade(config.database.url, schema=schema)
    engine = create_engine(config.database.url, schema=schema)
    return engine, session_factory(engine)


def _now():
    from bot.core.engine import utcnow

    return utcnow()


# ---- commands


async def cmd_init(config: Config, args) -> int:
    from storage.db import upgrade

    await upgrade(config.database.url, schema=config.database.schema or None)
    print(f"database ready: {_safe_url(config.database.url)}")
    return 0


async def cmd_import(config: Config, args) -> int:
    from handlers.directory_import import ImportProblems, apply_directory, format_result, parse_directory

    try:
        data = args.file.read_bytes()
    except OSError as err:
        raise CliError(f"cannot read {args.file}: {err.strerror}") from None
    try:
        directory = parse_directory(data, args.file.name, encoding=args.encoding)
    except ImportProblems as problems:
        print(f"{problems}\nnothing was imported.", file=sys.stderr)
        return 1
    engine, sessions = await open_db(config)
    try:
        async with sessions() as s, s.begin():
            result = await apply_directory(s, directory, now=_now(),
                                           invite_ttl_days=config.invites.ttl_days)
    except ImportProblems as problems:
        print(f"{problems}\nnothing was imported.", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(format_result(result))
    return 0


async def _one_member(sessions, name_or_id: str, project: str | None):
    from storage.directory import find_members

    async with sessions() as s:
        found = await find_members(s, name_or_id, project)
    if not found:
        raise CliError(f"no member {name_or_id!r}" + (f" in project {project}" if project else ""))
    if len(found) > 1:
        listing = "\n".join(f"  id {m.id}: {m.name} ({m.project.code})" for m in found)
        raise CliError(f"{name_or_id!r} matches several members; give the id or --project:\n{listing}")
    return found[0]


async def cmd_invite(config: Config, args) -> int:
    from handlers import invites
    from storage.directory import get_member

    engine, sessions = await open_db(config)
    try:
        member = await _one_member(sessions, args.member, args.project)
        async with sessions() as s, s.begin():
            member = await get_member(s, member.id)
            code = await invites.issue(s, member, _now(), config.invites.ttl_days)
    finally:
        await engine.dispose()
    print(f"{member.name} ({member.project.code}): {code}")
    print(f"valid {config.invites.ttl_days} days, once; earlier codes for this member no longer work.")
    print(f"the member sends: /start {code}")
    return 0


async def cmd_chat(config: Config, args) -> int:
    engine, sessions = await open_db(config)
    try:
        user_id = await _console_user(sessions, args.member, args.project)
        await _console(config, sessions, user_id)
    finally:
        await engine.dispose()
    return 0


async def _console_user(sessions, name_or_id: str, project: str | None) -> str:
    from bot.demo import console_user_id

    try:
        return console_user_id(await _one_member(sessions, name_or_id, project))
    except CliError as err:
        if "several" in str(err):
            raise
        # Someone not in the directory: chat as a stranger, to see what they would see.
        print(f"({err}: chatting as an unknown user)", file=sys.stderr)
        return f"guest-{name_or_id}"


async def _console(config: Config, sessions, user_id: str) -> None:
    import sqlalchemy as sa

    from bot.adapters.console import ConsoleChat, ConsoleOutbox
    from bot.app import build_engine
    from bot.delivery import Deliverer
    from storage.models import Identity, Member

    engine = build_engine(config, sessions)
    chat = ConsoleChat(engine, user_id)
    async with sessions() as s:
        names = dict((await s.execute(sa.select(Identity.external_id, Member.name)
                                      .join(Member, Member.id == Identity.member_id)
                                      .where(Identity.platform == "console"))).all())
    deliverer = Deliverer(sessions, [ConsoleOutbox(chat, names)], engine.media)

    async def deliver_now() -> None:
        await deliverer.run_once()

    engine.on_outbox = deliver_now
    await chat.run()


async def _project_query(config: Config, code: str, query):
    """(project, query(session, project)) for a project code; an unknown code is an error."""
    from storage.directory import project_by_code

    engine, sessions = await open_db(config)
    try:
        async with sessions() as s:
            project = await project_by_code(s, code)
            if project is None:
                raise CliError(f"no project {code!r}")
            return project, await query(s, project)
    finally:
        await engine.dispose()


async def cmd_week(config: Config, args) -> int:
    import json

    from bot.core.i18n import Translator
    from handlers.week_view import project_week, table_json, table_text
    from handlers.weeks import parse_week, week_of

    try:
        week = parse_week(args.week, config.tz) if args.week else week_of(_now(), config.tz)
    except ValueError as err:
        raise CliError(str(err)) from None
    project, pw = await _project_query(
        config, args.project, lambda s, p: project_week(s, config, p.id, week))
    if args.json:
        print(json.dumps(table_json(project.code, pw), ensure_ascii=False, indent=2))
    else:
        print(table_text(Translator(config.locale.default), project.name, pw))
    return 0


async def cmd_hazards(config: Config, args) -> int:
    import json

    from bot.core.i18n import Translator
    from handlers.hazard import listing_row
    from storage import hazards as store

    project, found = await _project_query(
        config, args.project, lambda s, p: store.listing(s, p.id, args.status))
    t = Translator(config.locale.default)
    today = _now().astimezone(config.tz).date()
    rows = [listing_row(t, h, today) for h in found]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(f"{project.code}: no hazards" + (f" with status {', '.join(args.status)}" if args.status else ""))
    for r in rows:
        late = f"  overdue {r['overdue_days']}d" if r["overdue_days"] else ""
        print(f"{r['number']}  {r['status_label']}  {r['grade']}  {r['category']}  "
              f"{r['assignee']}  {r['deadline']}{late}")
    return 0


async def cmd_reports(config: Config, args) -> int:
    import json

    from bot.core.i18n import Translator
    from handlers.violation.common import STATUS
    from storage import violations as store

    project, found = await _project_query(config, args.project,
                                          lambda s, p: store.listing(s, p.id))
    t = Translator(config.locale.default)
    rows = [{"id": r.id, "kind": r.kind, "status": r.status, "status_label": t(STATUS[r.status]),
             "zone": r.zone.name if r.zone else None, "description": r.description,
             "received": r.received_at.astimezone(config.tz).strftime("%Y-%m-%d %H:00"),
             "named": r.named_member_id is not None,
             "photos": sum(1 for e in r.entries if e.media_name),
             "replies": [e.text for e in r.entries if e.author == "officer" and e.text]}
            for r in found]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(f"{project.code}: no violation reports")
    for r in rows:
        print(f"#{r['id']}  {r['received']}  {r['kind']}  {r['status_label']}  "
              f"{r['zone'] or '-'}  {r['description'][:40]}")
    return 0


async def cmd_remind(config: Config, args) -> int:
    import json

    from handlers import reminders

    engine, sessions = await open_db(config)
    try:
        now = _now()
        if args.dry_run:
            async with sessions() as s:
                decisions = await reminders.personal_decisions(s, now, config)
            if args.json:
                print(json.dumps([d.__dict__ for d in decisions], ensure_ascii=False, indent=2))
            else:
                reminded = [d for d in decisions if d.remind]
                print(f"{len(reminded)} of {len(decisions)} members would be reminded now")
                for d in decisions:
                    mark = "remind" if d.remind else "skip  "
                    print(f"  {mark} {d.name} (project {d.project_id}): "
                          f"{d.minutes}/{d.required} min, {d.reason}")
            return 0
        return await _remind_now(config, engine, sessions, now)
    finally:
        await engine.dispose()


async def _remind_now(config: Config, db, sessions, now) -> int:
    from bot.app import build_engine
    from bot.delivery import Deliverer
    from bot.runner import build_adapters
    from bot.scheduler import Scheduler, jobs
    from handlers import reminders

    engine = build_engine(config, sessions)
    scheduler = Scheduler(config, db, sessions, engine, jobs(config))
    slot = f"manual{now.astimezone(config.tz):%Y%m%d%H%M}"  # a new run is a new reminder
    queued = await scheduler.run(
        "remind_now", lambda s, at: reminders.personal_reminders(s, at, config, slot))
    await scheduler.release()
    adapters = build_adapters(config, engine)
    if not adapters:
        print(f"{queued} reminders queued; no chat platform is configured, so they wait "
              f"in the outbox until `redshield run`.")
        return 0
    for adapter in adapters:
        await adapter.start()
    try:
        sent = await Deliverer(sessions, adapters, engine.media).run_once()
    finally:
        for adapter in adapters:
            await adapter.stop()
    print(f"{queued} reminders queued, {sent} outbox messages handled.")
    return 0


async def cmd_report(config: Config, args) -> int:
    from bot.core.i18n import Translator
    from handlers.weekly_report import (committee_chart, committee_text, project_reports,
                                        report_chart, report_text)
    from handlers.weeks import parse_week, week_of
    from storage.directory import project_by_code

    try:
        week = (week_of(_now(), config.tz).previous() if args.week == "last"
                else parse_week(args.week, config.tz))
    except ValueError as err:
        raise CliError(str(err)) from None
    engine, sessions = await open_db(config)
    try:
        async with sessions() as s:
            project_id = None
            if args.project:
                project = await project_by_code(s, args.project)
                if project is None:
                    raise CliError(f"no project {args.project!r}")
                project_id = project.id
            found = await project_reports(s, config, week, project_id)
    finally:
        await engine.dispose()
    t = Translator(config.locale.default)
    args.out.mkdir(parents=True, exist_ok=True)
    for r in found:
        text = report_text(t, r)
        print(text + "\n")
        (args.out / f"{week}-{r.project.code}.txt").write_text(text + "\n", encoding="utf-8")
        (args.out / f"{week}-{r.project.code}.png").write_bytes(report_chart(t, r))
    if not args.project and found:
        summary = committee_text(t, found)
        print(summary)
        (args.out / f"{week}-summary.txt").write_text(summary + "\n", encoding="utf-8")
        (args.out / f"{week}-summary.png").write_bytes(committee_chart(t, found))
    print(f"files in {args.out}/")
    return 0


async def cmd_wecom_menu(config: Config, args) -> int:
    from bot.adapters.wecom import create_app_menu
    from bot.adapters.wecom_client import WecomError

    if not config.wecom_enabled:
        raise CliError("WeCom is not configured: set [wecom] corp_id, agent_id, secret, token "
                       "and encoding_aes_key (secrets via REDSHIELD_WECOM_*)")
    try:
        await create_app_menu(config)
    except WecomError as err:
        raise CliError(f"WeCom refused the menu: errcode {err.errcode} {err.errmsg}") from None
    print(f"menu created for agent {config.wecom.agent_id}")
    return 0


async def cmd_run(config: Config, args) -> int:
    from bot import demo

    engine, sessions = await open_db(config)
    if config.telegram_enabled or config.wecom_enabled:
        from bot.runner import serve

        try:
            await serve(config, engine, sessions, role=args.role, port=args.port)
        finally:
            await engine.dispose()
        return 0
    try:
        loaded = await demo.load_demo(sessions, _now(), config.invites.ttl_days)
        member = args.member or demo.DEMO_USER
        user_id = await _console_user(sessions, member, None)
        print(_banner(loaded, member), flush=True)
        await _console(config, sessions, user_id)
    finally:
        await engine.dispose()
    return 0


def _banner(loaded, member: str) -> str:
    from bot import demo

    lines = ["红盾 Red Shield · console (no chat platform configured)"]
    if loaded.created:
        lines.append(f"demo project {demo.DEMO_PROJECT} created in the database")
        if loaded.invite:
            name, code = loaded.invite
            lines.append(f"{name} has no account yet: `redshield chat --member {name}`, "
                         f"then /start {code}")
    lines.append(f"chatting as {member}; try: 帮助, /me, /lang   (Ctrl-D to quit)")
    return "\n".join(lines) + "\n"


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
