"""The commands and flows the engine routes to, and how text maps to a command."""
from __future__ import annotations

from bot.core.contract import Incoming, Kind
from bot.core.flow import Command, Flow, Handler
from bot.core.i18n import Translator


class Registry:
    def __init__(self):
        self.commands: dict[str, Command] = {}
        self.flows: dict[str, Flow] = {}
        self._words: dict[str, Command] = {}
        # What a bound member's photo, location... means when no question is open.
        self.unprompted: dict[Kind, Handler] = {}

    def command(self, command: Command) -> Command:
        for key in (command.name, *command.words):
            if key in self.commands or key in self._words:
                raise ValueError(f"command or word {key!r} registered twice")
        self.commands[command.name] = command
        for word in command.words:
            self._words[word] = command
        return command

    def on_unprompted(self, kind: Kind, handler: Handler) -> None:
        if kind in self.unprompted:
            raise ValueError(f"a handler for unprompted {kind.value} is registered already")
        self.unprompted[kind] = handler

    def flow(self, flow: Flow) -> Flow:
        if flow.name in self.flows:
            raise ValueError(f"flow {flow.name!r} registered twice")
        self.flows[flow.name] = flow
        return flow

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
        head, _, rest = text.partition(" ")
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
        return t("我是红盾安全巡查助手。加入请向党支部书记索取邀请码，然后发送 /start 邀请码。")
