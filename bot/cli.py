"""`redshield`: the one console command. The runtime's own commands live here
(init, migrate, chat, run, wecom-menu); every other operator command is registered by
the capability whose data it shows (`registry.cli`), and is run here with the
App that `bootstrap` wires."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from bot.config import Config, ConfigError, default_config, load_config
from bot.core.registry import CliError, Registry

log = logging.getLogger("redshield")

__all__ = ["CliError", "main"]


def main(argv: list[str] | None = None) -> int:
    from bot import logs

    argv = sys.argv[1:] if argv is None else argv
    first, _ = _config_option().parse_known_args(argv)
    logs.setup(None, first.log_level)
    try:
        config = load_config(first.config)
    except ConfigError as err:
        if any(a in ("-h", "--help") for a in argv):
            config = None  # help needs no configuration
        else:
            from storage.db import hide_passwords

            # A value is quoted back as given: a database URL's password is not.
            print(f"configuration error in {first.config or 'config.toml'} or the REDSHIELD_* "
                  f"environment:\n{hide_passwords(str(err))}", file=sys.stderr)
            return 2
    logs.setup(config, first.log_level)
    from bot.bootstrap import load_plugins

    registry = load_plugins(Registry(), (config or default_config()).bot.plugins)
    args = _parser(registry).parse_args(argv)
    return _run(args, config, registry)


def _run(args, config: Config | None, registry: Registry) -> int:
    from storage.db import DatabaseUnavailable

    try:
        return asyncio.run(args.func(config, registry, args)) or 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `redshield week … | head`: the reader has all it wanted
        # What is still buffered goes nowhere, instead of failing again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CliError as err:
        print(err, file=sys.stderr)
        return 2
    except DatabaseUnavailable as err:  # its URL is shown with the password hidden
        print(err, file=sys.stderr)
        return 1
    except Exception:
        # Through the log, whose filter hides secrets (a URL's password in a traceback),
        # rather than Python's own print of the traceback.
        log.exception("redshield %s failed", args.command)
        return 1


def _config_option() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config", metavar="PATH", default=None,
                   help="config file (default ./config.toml; built-in defaults if absent)")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper,
                   help="log level (default: [log] level, INFO); every level is safe")
    return p


def _parser(registry: Registry) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="redshield", description="红盾 Red Shield safety-patrol bot",
                                parents=[_config_option()])
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("init", help="create the database, or migrate it (as migrate does)"
                   ).set_defaults(func=cmd_migrate)
    sub.add_parser("migrate", help="migrate the database to this code's schema (under a lock; "
                   "the only command but init that changes a schema)").set_defaults(func=cmd_migrate)

    chat = sub.add_parser("chat", help="chat with the bot in this terminal")
    chat.add_argument("--member", required=True, help="member name or id to chat as")
    chat.add_argument("--project", help="project code, when the name is in several projects")
    chat.set_defaults(func=cmd_chat)

    sub.add_parser("wecom-menu", help="create the WeCom app menu (巡查 / 隐患 / 更多: 举报 我的 帮助)"
                   ).set_defaults(func=cmd_wecom_menu)

    run = sub.add_parser("run", help="run the bot (console demo when no platform is configured)")
    run.add_argument("--member", help="console mode: member to chat as (default: the demo's)")
    run.add_argument("--role", choices=["all", "web", "scheduler"], default="all",
                     help="web: adapters and webhooks; scheduler: jobs and delivery; all: both")
    run.add_argument("--port", type=int, help="web server port (default: server.port)")
    run.set_defaults(func=cmd_run)

    for command in registry.cli_commands.values():
        one = sub.add_parser(command.name, help=command.help)
        if command.arguments is not None:
            command.arguments(one)
        one.set_defaults(func=_registered(command))
    return p


def _registered(command):
    """Runs a capability's operator command with a wired App, closed afterwards."""
    async def run(config: Config, registry: Registry, args) -> int:
        from bot.bootstrap import bootstrap

        app = bootstrap(config, registry=registry)
        try:
            return await command.run(app, args) or 0
        finally:
            await app.close()

    return run


# ---- the runtime's own commands


async def cmd_migrate(config: Config, registry: Registry, args) -> int:
    """`init` and `migrate`: create or migrate the database under the migration lock (a
    second one at the same time waits, then finds nothing to do). Every other command
    only checks the schema (bootstrap's App.open): see README, Upgrades."""
    from storage.db import migrate, safe_url

    done = await migrate(config.database.url, schema=config.database.schema or None)
    print(f"database {safe_url(config.database.url)}: {done.describe()}")
    return 0


async def cmd_chat(config: Config, registry: Registry, args) -> int:
    await _console(config, registry, args.member, args.project)
    return 0


async def _console(config: Config, registry: Registry, member: str, project: str | None,
                   before=None) -> None:
    """A chat in this terminal as `member`; notices for others are shown in it too.
    `before(app)` runs once the database is open (the demo loads there)."""
    import sqlalchemy as sa

    from bot.adapters.console import ConsoleChat, ConsoleOutbox
    from bot.bootstrap import bootstrap
    from storage.models import Identity, Member

    outbox = ConsoleOutbox()
    app = bootstrap(config, registry=registry, targets=[outbox], delivery="inline")
    try:
        sessions = await app.open()
        if before is not None:
            await before(app)
        user_id = await _console_user(sessions, member, project)
        async with sessions() as s:
            outbox.names.update((await s.execute(
                sa.select(Identity.external_id, Member.name)
                .join(Member, Member.id == Identity.member_id)
                .where(Identity.platform == "console"))).all())
        await ConsoleChat(app.engine, user_id, outbox=outbox).run()
    finally:
        await app.close()


async def _console_user(sessions, name_or_id: str, project: str | None) -> str:
    from bot.demo import console_user_id
    from storage.directory import one_member

    try:
        return console_user_id(await one_member(sessions, name_or_id, project))
    except LookupError as err:
        if "several" in str(err):
            raise CliError(str(err)) from None
        # Someone not in the directory: chat as a stranger, to see what they would see.
        print(f"({err}: chatting as an unknown user)", file=sys.stderr)
        return f"guest-{name_or_id}"


async def cmd_wecom_menu(config: Config, registry: Registry, args) -> int:
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


async def cmd_run(config: Config, registry: Registry, args) -> int:
    # The console demo stands in only for a whole bot without a platform: a scheduler or
    # web role runs as asked (the scheduler still reminds and delivers once one is set up).
    if config.telegram_enabled or config.wecom_enabled or args.role != "all":
        from bot.runner import serve

        if (config.telegram_enabled or config.wecom_enabled) and not config.security.secret_key:
            raise CliError("set [security] secret_key (or REDSHIELD_SECRET_KEY) before serving a chat "
                           "platform: it keys what must stay anonymous. Make one with\n"
                           "  python -c \"import secrets; print(secrets.token_hex(32))\"")
        await serve(config, registry, role=args.role, port=args.port)
        return 0
    from bot import demo

    member = args.member or registry.demo_user or ""

    async def load_demo(app) -> None:
        loaded = await demo.load_demo(app)
        print(_banner(loaded, member), flush=True)

    await _console(config, registry, member, None, before=load_demo)
    return 0


def _banner(loaded, member: str) -> str:
    lines = ["红盾 Red Shield · console (no chat platform configured)"]
    if loaded.created:
        lines.append(f"demo project {loaded.project} created in the database")
        if loaded.invite:
            name, code = loaded.invite
            lines.append(f"{name} has no account yet: `redshield chat --member {name}`, "
                         f"then /start {code}")
    lines.append(f"chatting as {member}; try: 帮助, /me, /lang   (Ctrl-D to quit)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
