"""Everything a capability contributes, registered in one place: chat commands and
flows, what an unprompted photo means, scheduled jobs, operator commands and demo
data. The runtime reads it; it never imports a capability by name."""
from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.core.contract import Incoming, Kind, Notice, Reply
from bot.core.flow import Command, Flow, Handler
from bot.core.i18n import Translator

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.config import Config

# A scheduled job's work: notices to queue, computed in the job's transaction.
Work = Callable[["AsyncSession", dt.datetime, "Config"], Awaitable[list[Notice]]]


@dataclass(frozen=True)
class Job:
    name: str
    trigger: Any  # an APScheduler trigger (see bot.scheduler's weekly / daily / every)
    work: Work
    catch_up: bool = True  # run once at start-up if its last time was missed


@dataclass(frozen=True)
class CliCommand:
    """An operator command of `redshield`, owned by the capability whose data it shows."""

    name: str
    help: str
    run: Callable[[Any, argparse.Namespace], Awaitable[int | None]]  # (the App, its arguments)
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


class CliError(Exception):
    """A problem the operator can fix; printed without a traceback."""


# What makes a contract.Deferred: (session, config, translator, *args) -> the work that
# makes the reply, or None when there is nothing to send. The renderer reads what it needs
# in the (read-only) session; the work it returns is called on a worker thread, after the
# session is closed, so it must not touch the database: the heavy part (laying out a PDF)
# belongs there, never on the event loop.
Renderer = Callable[..., Awaitable[Callable[[], Reply] | None]]

_ARGS = re.compile(r"[\s\u3000]*[:：]\s*|\u3000+")  # what separates a command word from its argument

# What one capability does when another's event happens: (ctx, **the event's data).
Listener = Callable[..., Awaitable[None]]

# Demo data for an empty database: (session, now, config) -> what the banner may show.
DemoLoader = Callable[["AsyncSession", dt.datetime, "Config"], Awaitable[dict | None]]


class Registry:
    def __init__(self):
        self.commands: dict[str, Command] = {}
        self.flows: dict[str, Flow] = {}
        self._words: dict[str, Command] = {}
        # What a bound member's photo, location... means when no question is open.
        self.unprompted: dict[Kind, Handler] = {}
        # Called for every message of a bound, active member once it is handled (never for
        # a message of an anonymous flow).
        self.message_hooks: list[Callable[[Any], Awaitable[None]]] = []
        self.cancel: Command | None = None  # what the 取消 button on every question runs
        self.join_text: str | None = None  # msgid: what a stranger is told (how to join)
        self.cli_commands: dict[str, CliCommand] = {}
        self.demo_loaders: list[DemoLoader] = []
        self.demo_user: str | None = None  # whom the console demo chats as
        self.renderers: dict[str, Renderer] = {}  # by name, for contract.Deferred
        self.listeners: dict[str, list[Listener]] = {}  # by event name, see on()
        self._jobs: list[Job] = []
        self._job_sources: list[Callable[[Config], Iterable[Job]]] = []

    def command(self, command: Command) -> Command:
        for key in (command.name, *command.words):
            if key in self.commands or key in self._words:
                raise ValueError(f"command or word {key!r} registered twice")
        self.commands[command.name] = command
        for word in command.words:
            self._words[word] = command
        if command.cancels:
            self.cancel = command
        return command

    def on_unprompted(self, kind: Kind, handler: Handler) -> None:
        if kind in self.unprompted:
            raise ValueError(f"a handler for unprompted {kind.value} is registered already")
        self.unprompted[kind] = handler

    def on_message(self, hook: Callable[[Any], Awaitable[None]]) -> None:
        """`hook(ctx)` sees every message a bound, active member sends (a sign of life), in
        the message's transaction, after it is handled; never one of an anonymous flow (a
        report must not leave a trace by its author). Keep it to one cheap query."""
        self.message_hooks.append(hook)

    def flow(self, flow: Flow) -> Flow:
        if flow.name in self.flows:
            raise ValueError(f"flow {flow.name!r} registered twice")
        self.flows[flow.name] = flow
        return flow

    def on(self, event: str, listener: Listener) -> None:
        """`listener(ctx, **data)` runs when a step emits `event` (`ctx.emit`), in that
        step's transaction: how a capability reacts to another's events without either
        importing the other (a report confirmed 属实 earns 行为安全之星 points). Events
        emitted today:
          violation_confirmed(report)          an officer settled a report as 属实
          hazard_recorded(hazard, violation)   a hazard was recorded (violation: the
                                               report it was made from, or None)
          quiz_scored(member, correct, ref)    a person's first attempt at a quiz was finished
          report_tracked(report, lines)        /track shows a report to its reporter (append; read only)
        """
        self.listeners.setdefault(event, []).append(listener)

    # ---- scheduled jobs

    def job(self, name: str, trigger: Any, work: Work, *, catch_up: bool = True) -> None:
        """A job run at `trigger`'s times; `trigger` may be a function of the config."""
        self._jobs.append(Job(name, trigger, work, catch_up))

    def job_source(self, source: Callable[[Config], Iterable[Job]]) -> None:
        """Jobs whose number depends on the config (one per configured reminder time)."""
        self._job_sources.append(source)

    def jobs_for(self, config: Config) -> list[Job]:
        jobs = [Job(j.name, j.trigger(config) if callable(j.trigger) else j.trigger, j.work,
                    j.catch_up) for j in self._jobs]
        for source in self._job_sources:
            jobs.extend(source(config))
        names = [j.name for j in jobs]
        if len(names) != len(set(names)):
            raise ValueError(f"job names registered twice: {sorted(names)}")
        return jobs

    # ---- documents made after a step commits

    def renderer(self, name: str, fn: Renderer) -> None:
        """`fn` makes the documents `Deferred(name, args, locale)` stands for."""
        if name in self.renderers:
            raise ValueError(f"renderer {name!r} registered twice")
        self.renderers[name] = fn

    # ---- operator commands and demo data

    def cli(self, name: str, help: str, run, arguments=None) -> None:
        if name in self.cli_commands:
            raise ValueError(f"operator command {name!r} registered twice")
        self.cli_commands[name] = CliCommand(name, help, run, arguments)

    def demo(self, loader: DemoLoader, *, user: str | None = None) -> None:
        """Adds demo data to an empty database; loaders run in registration order.
        A loader may return {"project": code, "invite": (name, code), "unbound": name}."""
        self.demo_loaders.append(loader)
        self.demo_user = user or self.demo_user

    def match(self, msg: Incoming) -> tuple[Command | None, str]:
        """The command a message invokes, with its argument text."""
        if msg.kind is Kind.command:
            return self._deep_link(self.commands.get((msg.command or "").lower()), msg.text)
        if msg.kind is Kind.choice and msg.choice and msg.choice.startswith("/"):
            # Buttons that stand for a command ("开始巡查" in a reminder) never expire.
            return self._slash(msg.choice)
        if msg.kind is not Kind.text:
            return None, ""
        text = msg.text.strip()
        if text.startswith("/"):
            return self._slash(text)
        if text in self._words:
            return self._words[text], ""
        # "签到 K7MQ", also with a full-width space or a colon as Chinese keyboards type it.
        head, _, rest = _ARGS.sub(" ", text, count=1).partition(" ")
        command = self._words.get(head)
        if command is not None and command.takes_args:
            return command, rest.strip()
        return None, ""

    def _slash(self, text: str) -> tuple[Command | None, str]:
        head, _, rest = text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()  # "/me@RedShieldBot" in a group
        return self._deep_link(self.commands.get(name), rest.strip())

    def _deep_link(self, command: Command | None, args: str) -> tuple[Command | None, str]:
        """`/start report` (a link that opens the private chat) runs /report.
        Case-sensitive: links carry lower-case names, invite codes are upper case."""
        if command is not None and command.name == "start" and args:
            name, _, rest = args.partition("-")
            target = self.commands.get(name)
            if target is not None and target.name != "start":
                return target, rest
        return command, args

    def slash_name(self, msg: Incoming) -> str | None:
        """The command name a message tried to use, known or not."""
        if msg.kind is Kind.command:
            return msg.command
        text = msg.text.strip()
        if msg.kind is Kind.text and text.startswith("/") and len(text) > 1:
            return text[1:].split()[0].split("@", 1)[0]
        return None

    def join_line(self, t: Translator) -> str:
        assert self.join_text is not None, "no capability registered the join text"
        return t(self.join_text)
