"""What handlers build conversations from: commands, flows as explicit state
machines (one small function per step, each naming the input kinds it takes),
and the context a step runs in.
"""
from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bot.core.contract import (
    DONE,
    SKIP,
    AskLocation,
    AskPhoto,
    Choices,
    Incoming,
    Intent,
    Kind,
    Notice,
    Option,
    Reply,
    Text,
)
from bot.core.i18n import N_, Translator

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.config import Config
    from bot.core.registry import Registry
    from storage.models import Member

Handler = Callable[["Ctx", Incoming], Awaitable[None]]
Asker = Callable[["Ctx"], Awaitable[Reply | list[Reply]]]

CANCEL_VALUE = "_cancel"

# What a step says when it gets the wrong kind of input, by what it expects.
KIND_HINTS = {
    Kind.text: N_("请输入文字。"),
    Kind.choice: N_("请点击下面的按钮选择。"),
    Kind.photo: N_("请发送照片。"),
    Kind.location: N_("请发送位置。"),
}


@dataclass(frozen=True)
class Command:
    name: str  # the slash command, without the slash
    handler: Handler
    summary: str  # N_() msgid shown by /help
    words: tuple[str, ...] = ()  # Chinese words that mean the same, e.g. ("巡查",)
    roles: frozenset[str] | None = None  # None: any bound member
    public: bool = False  # usable before binding an account
    private_only: bool = False
    takes_args: bool = False  # "查询 ABC" is the command with an argument
    listed: bool = True  # shown by /help
    shown_to: frozenset[str] | None = None  # /help lists it only for these roles (None: all allowed)
    keeps_dialog: bool = False  # acts on the open question itself (help, cancel) instead of replacing it
    cancels: bool = False  # what the 取消 button on every question runs
    # Its transaction writes nothing tied to the account that sent it (no sign of life, no
    # dialog row): for acts that must not be placed in time by who did them (a reward
    # claimed with an anonymous reporter's code; on PostgreSQL rows written together share
    # a transaction id).
    untraced: bool = False


class Step:
    """One question of a flow: how it is asked, which kinds of input it takes, and
    what it does with an answer. Steps are module-level objects, reached by
    reference (`ctx.goto(ask_grade)`), so a misspelt step fails at import."""

    def __init__(self, flow: Flow, name: str, accepts: frozenset[Kind], ask: Asker,
                 handle: Handler, hint: str | None = None):
        self.flow, self.name, self.accepts = flow, name, accepts
        self.ask, self.handle, self.hint = ask, handle, hint

    async def __call__(self, ctx: Ctx, msg: Incoming) -> None:
        await self.handle(ctx, msg)

    def __repr__(self) -> str:
        return f"<Step {self.flow.name}.{self.name}>"


class Flow:
    """A conversation: steps in the order they are declared; the first one is asked
    when it starts."""

    def __init__(self, name: str, title: str | None = None, refuses_recordings: str | None = None,
                 anonymous: bool = False):
        self.name = name
        # Its state is kept where no database reader sees an account (bot.core.anonymity),
        # and no sign of life is written for its messages.
        self.anonymous = anonymous
        self.title = title  # msgid naming what it fills in ("隐患报告"), for "continue or discard?"
        # msgid: why a voice note or video is refused at any of its steps (anonymity, say)
        self.refuses_recordings = refuses_recordings
        self.steps: dict[str, Step] = {}
        self.first: Step | None = None

    def add(self, name: str, *, accepts: set[Kind], ask: Asker, handle: Handler,
            hint: str | None = None) -> Step:
        if name in self.steps:
            raise ValueError(f"flow {self.name!r} has two steps named {name!r}")
        step = Step(self, name, frozenset(accepts), ask, handle, hint)
        self.steps[name] = step
        self.first = self.first or step
        return step

    def step(self, *, accepts: set[Kind], ask: Asker, hint: str | None = None,
             name: str | None = None) -> Callable[[Handler], Step]:
        """Decorator: the function handles the answer; it becomes the Step, named after it."""
        def register(fn: Handler) -> Step:
            return self.add(name or fn.__name__, accepts=accepts, ask=ask, handle=fn, hint=hint)

        return register


@dataclass
class Dialog:
    """The open conversation of one user in one chat, as kept in dialog_states."""

    flow: str
    step: str
    token: str
    data: dict[str, Any] = field(default_factory=dict)


ANONYMOUS_TOKEN = "a"  # the first letter of an anonymous flow's tokens: a lost draft is named


def new_token(anonymous: bool = False) -> str:
    token = secrets.token_urlsafe(6)
    return ANONYMOUS_TOKEN + token[1:] if anonymous else token.replace(ANONYMOUS_TOKEN, "b", 1) \
        if token.startswith(ANONYMOUS_TOKEN) else token


class Ctx:
    """Everything a command or step needs while handling one incoming message."""

    def __init__(
        self,
        *,
        session: AsyncSession,
        msg: Incoming,
        config: Config,
        now: dt.datetime,
        locale: str,
        member: Member | None,
        dialog: Dialog | None,
        registry: Registry,
    ):
        self.session = session
        self.msg = msg
        self.config = config
        self.now = now
        self.member = member
        self.dialog = dialog
        self.replies: list[Intent] = []  # a Deferred is made after commit
        self.notices: list[Notice] = []  # for other members, sent once the step is committed
        self.at_end: list[Callable[[], Awaitable[None]]] = []  # see last()
        self.registry = registry  # what else the bot can do (for /help and the like)
        # A dialog set aside while a command runs beside it (a look-up); see interruptions.
        self.held: Dialog | None = None
        self.anonymity = None  # bot.core.anonymity.Anonymity: pseudonyms, the account-free store
        self.untraced = False  # an untraced command runs (Command.untraced)
        self.set_locale(locale)

    def set_locale(self, locale: str) -> None:
        self.t = Translator(locale)
        self.locale = self.t.locale

    # ---- replies

    def say(self, text: str) -> None:
        self.replies.append(Text(text))

    def send(self, reply: Intent) -> None:
        self.replies.append(reply)

    def notify(self, notice: Notice) -> None:
        self.notices.append(notice)

    async def emit(self, event: str, **data: Any) -> None:
        """Tell the capabilities listening for `event` (Registry.on); they act in this
        step's transaction, so what they write commits or rolls back with it."""
        for listener in self.registry.listeners.get(event, ()):
            await listener(self, **data)

    def last(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` after everything else the step's transaction writes, just before its
        notices are queued and it commits: for a write that locks a row others need (a
        notice number), so the lock is held for a statement or two, not the whole step."""
        self.at_end.append(work)

    # ---- dialog

    @property
    def data(self) -> dict[str, Any]:
        assert self.dialog is not None, "no dialog is open"
        return self.dialog.data

    @property
    def step(self) -> Step | None:
        flow = self.registry.flows.get(self.dialog.flow) if self.dialog else None
        return flow.steps.get(self.dialog.step) if flow else None

    async def start(self, flow: Flow, data: dict[str, Any] | None = None,
                    at: Step | None = None) -> None:
        """Open the flow and ask its first question (or the question of step `at`)."""
        if self.held is not None:
            from bot.core.interruptions import WouldReplace

            raise WouldReplace(flow.name)
        step = at or flow.first
        self.dialog = Dialog(flow.name, step.name, new_token(flow.anonymous), dict(data or {}))
        await self.goto(step)

    async def goto(self, step: Step) -> None:
        """Move to `step` and ask its question, with a fresh token for its buttons."""
        assert self.dialog is not None, "no dialog is open"
        if not isinstance(step, Step) or step.flow.name != self.dialog.flow:
            raise TypeError(f"{step!r} is not a step of the open flow {self.dialog.flow!r}")
        if self.dialog.step != step.name:  # an answer taken: counted for "已填 N 项"
            self.dialog.data["_filled"] = self.dialog.data.get("_filled", 0) + 1
        self.dialog.step = step.name
        self.dialog.token = new_token(step.flow.anonymous)
        await self.ask_again()

    async def reject(self, why: str | None = None) -> None:
        """Refuse an answer: say why (already translated) and ask the same question again."""
        if why:
            self.say(why)
        await self.ask_again()

    async def ask_again(self) -> None:
        """Ask the current question again (after a hint); its buttons stay valid."""
        asked = await self.step.ask(self)
        *lead, question = asked if isinstance(asked, list) else [asked]
        self.dialog.data.pop("_offered", None)
        self.replies.extend(lead)
        self.replies.append(self._stamp(question))

    def offered(self, value: str | None) -> bool:
        """Whether a tapped value is one the current question offered (buttons can be forged)."""
        if self.dialog is None or value is None:
            return False
        return any(v == value for _, v in self.dialog.data.get("_offered", ()))

    @property
    def beside_dialog(self) -> bool:
        """A command runs while another question is open: it may answer, not ask."""
        return self.held is not None

    def finish(self) -> None:
        self.dialog = None

    def _stamp(self, reply: Reply) -> Reply:
        """Tie a question's buttons to this question and say how to cancel."""
        t = self.t
        if isinstance(reply, Choices):
            cancel = Option(t("取消"), CANCEL_VALUE)
            self.dialog.data["_offered"] = [[o.label, o.value] for o in reply.options + (cancel,)]
            return replace(reply, options=reply.options + (cancel,), token=self.dialog.token)
        if isinstance(reply, AskLocation):
            reply = replace(reply, button_label=reply.button_label or t("📍 发送当前位置"),
                            skip_label=reply.skip_label or (t("跳过") if reply.skippable else ""))
            self._offer_labels((reply.skip_label, SKIP))
        elif isinstance(reply, AskPhoto):
            reply = replace(reply, done_label=reply.done_label or (t("完成") if reply.many else ""),
                            skip_label=reply.skip_label or (t("跳过") if reply.skippable else ""))
            self._offer_labels((reply.done_label, DONE), (reply.skip_label, SKIP))
        if isinstance(reply, (AskLocation, AskPhoto)):
            return replace(reply, prompt=reply.prompt + "\n" + t("（发送“取消”退出）"),
                           token=self.dialog.token)
        if isinstance(reply, Text):
            return Text(reply.text + "\n" + t("（发送“取消”退出）"))
        return reply

    def _offer_labels(self, *pairs: tuple[str, str]) -> None:
        """Typed skip / done labels count as the buttons they name."""
        offered = [[label, value] for label, value in pairs if label]
        if offered:
            self.dialog.data["_offered"] = offered
