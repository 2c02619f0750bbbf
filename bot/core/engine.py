"""The conversation engine: one incoming message in, the replies out.

Everything one message changes (its de-duplication mark, the step's own
writes, the dialog state) is committed in one transaction, so a conversation
survives a restart and a failed step leaves nothing half-saved. Documents a
step defers (contract.Deferred, a PDF) are made after that commit, with a
session of their own and on a worker thread (`resolve`).
"""
from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from types import SimpleNamespace

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.config import Config
from bot.core import interruptions, serialize
from bot.core.anonymity import Anonymity
from bot.core.contract import ChatType, Deferred, Incoming, Intent, Kind, Notice, OpenPrivateChat, Reply, Text
from bot.core.flow import ANONYMOUS_TOKEN, CANCEL_VALUE, KIND_HINTS, Command, Ctx, Dialog
from bot.core.i18n import N_, Translator, resolve_locale
from bot.core.interruptions import WouldReplace
from bot.core.registry import Registry
from storage import dedup, dialogs, directory, outbox
from storage.ephemeral import MemoryStore
from storage.media import MediaStore

log = logging.getLogger("redshield.engine")

RECORDINGS = (Kind.voice, Kind.video)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Engine:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker,
        registry: Registry,
        clock: Callable[[], dt.datetime] = utcnow,
        on_outbox: Callable[[], Awaitable[None]] | None = None,
        anonymity: Anonymity | None = None,
    ):
        self.config = config
        self.sessions = sessions
        self.registry = registry
        self.clock = clock
        self.timeout = dt.timedelta(minutes=config.dialog.timeout_minutes)
        self.media = MediaStore(config.media.dir)
        # Called once a step's notices are committed to the outbox (wakes the deliverer);
        # wired by bot.bootstrap.
        self.on_outbox = on_outbox
        self.anonymity = anonymity or Anonymity(config.security.secret_key, MemoryStore())

    async def handle(self, msg: Incoming) -> list[Reply]:
        if "\x00" in msg.text or "\x00" in (msg.choice or ""):
            # PostgreSQL's text cannot hold U+0000, and no person types it.
            msg = replace(msg, text=msg.text.replace("\x00", ""),
                          choice=msg.choice.replace("\x00", "") if msg.choice else msg.choice)
        try:
            try:
                async with self.sessions() as session, session.begin():
                    replies, queued = await self._handle(session, msg)
            except WouldReplace:
                # The command would drop an open flow: nothing it did is kept; ask first.
                async with self.sessions() as session, session.begin():
                    replies, queued = await self._handle(session, msg, ask_first=True)
        except Exception:
            # The id lets the user's report be matched to the log; the log line names
            # no user (an anonymous reporter must not be traceable through it).
            error_id = secrets.token_hex(4)
            log.exception("error %s handling a %s message on %s", error_id, msg.kind.value,
                          msg.platform)
            t = self.translator(msg.language)
            return [Text(t("出错了（编号 {id}），刚才的操作没有保存。请再试一次，或发送“取消”重新开始。")
                         .format(id=error_id))]
        if queued and self.on_outbox is not None:
            try:
                await self.on_outbox()
            except Exception:
                log.exception("waking the delivery worker failed")
        return await self.resolve(replies)  # committed: documents are made now

    async def resolve(self, replies: Sequence[Intent]) -> list[Reply]:
        """The replies as adapters show them: each Deferred made now, by its renderer (see
        Registry.renderer), in a read-only session of its own, the heavy part on a worker
        thread. Called once the transaction that produced them has committed (here, and by
        the deliverer for notices). Never raises: a document that cannot be made becomes a
        short text saying how to get it again."""
        if not any(isinstance(r, Deferred) for r in replies):
            return list(replies)
        out: list[Reply] = []
        for reply in replies:
            made = await self._make(reply) if isinstance(reply, Deferred) else reply
            if made is not None:
                out.append(made)
        return out

    async def _make(self, deferred: Deferred) -> Reply | None:
        t = Translator(deferred.locale or self.config.locale.default)
        try:
            renderer = self.registry.renderers[deferred.renderer]
            async with self.sessions() as session:  # no transaction of its own: it only reads
                work = await renderer(session, self.config, t, *deferred.args)
            return None if work is None else await asyncio.to_thread(work)
        except Exception:
            # As for a failed step: an id to match the log, and no user named in it.
            error_id = secrets.token_hex(4)
            log.exception("error %s making a %s document", error_id, deferred.renderer)
            what = deferred.fallback or t("文件暂时无法生成，请稍后再试")
            return Text(t("{what}（错误编号 {id}）。").format(what=what, id=error_id))

    async def enqueue(self, session, notices: list[Notice], now: dt.datetime) -> int:
        """Write notices to the outbox in the caller's transaction; returns how many were new."""
        rows = [{"key": n.key, "kind": n.kind, "member_id": n.member_id,
                 "payload": await serialize.dump(n.replies, self.media),
                 "next_attempt_at": n.not_before} for n in notices]
        return await outbox.enqueue_many(session, rows, now)

    async def _handle(self, session, msg: Incoming, ask_first: bool = False
                      ) -> tuple[list[Reply], int]:
        now = self.clock()
        # Keyed, so the table names nobody (WeCom event ids are made of a userid and a
        # time); kept to the hour, so it says nothing of when anyone wrote.
        seen = self.anonymity.pseudonym("message", msg.platform, msg.message_id)
        if msg.message_id and not await dedup.claim(session, msg.platform, seen, _hour(now)):
            log.info("duplicate %s message ignored", msg.platform)
            return [], 0
        member = await directory.member_by_identity(session, msg.platform, msg.user_id)
        key = (msg.platform, msg.chat_id, msg.user_id)
        command, _ = self.registry.match(msg)
        # An untraced command leaves the account's rows alone, its dialog's lock included.
        row = await dialogs.load(session, *key, lock=not (command is not None and command.untraced))
        kept = None if row else await self.anonymity.load_dialog(*key)  # an anonymous flow's
        if kept is not None:
            row = SimpleNamespace(**kept, expires_at=now + self.timeout)  # the store expires it
        dialog = Dialog(row.flow, row.step, row.token, copy.deepcopy(row.data)) if row else None
        locale = resolve_locale(member.locale if member else None, msg.language,
                                self.config.locale.default)
        ctx = Ctx(session=session, msg=msg, config=self.config, now=now, locale=locale,
                  member=member, dialog=dialog, registry=self.registry)
        ctx.anonymity = self.anonymity

        if dialog and (row.expires_at <= now or ctx.step is None):
            # Too old (or its flow changed in an upgrade): say so, then treat the input afresh.
            ctx.dialog = None
            if not row.data.get(interruptions.OPTIONAL):
                ctx.say(interruptions.expired_text(ctx, row.flow, row.data))
            if msg.kind is Kind.choice:
                return await self._finish(ctx, key, row, kept is not None)

        anonymous_before = self._anonymous(ctx)
        if ask_first and ctx.dialog is not None and not interruptions.nothing_entered(ctx):
            interruptions.ask_first(ctx, msg)
        else:
            if ask_first:
                ctx.dialog = None  # nothing entered yet: the new command simply takes over
            await self._route(ctx)
        if member is not None and not (anonymous_before or self._anonymous(ctx) or ctx.untraced):
            # Writes tied to the account, never in an anonymous report's transaction (on
            # PostgreSQL rows written together share a transaction id).
            await directory.mark_reachable(session, msg.platform, msg.user_id)  # can write again
            if member.active:
                for hook in self.registry.message_hooks:  # a sign of life
                    await hook(ctx)
        return await self._finish(ctx, key, row, kept is not None)

    def _anonymous(self, ctx: Ctx) -> bool:
        flow = self.registry.flows.get(ctx.dialog.flow) if ctx.dialog is not None else None
        return flow is not None and flow.anonymous

    async def _finish(self, ctx: Ctx, key, row, kept_aside: bool = False) -> tuple[list[Reply], int]:
        aside = self._anonymous(ctx)
        # An untraced command leaves the account's dialog row as it was (an open question
        # stays open; its expiry is not pushed back).
        stored = not ctx.untraced
        if row is not None and not kept_aside and (ctx.dialog is None or aside) and stored:
            await dialogs.delete(ctx.session, key)
        if aside:  # not a row anyone can read: the account-free store, for the timeout
            d = ctx.dialog
            await self.anonymity.save_dialog(*key, {"flow": d.flow, "step": d.step, "token": d.token,
                                                    "data": d.data}, self.timeout.total_seconds())
        elif kept_aside:
            await self.anonymity.drop_dialog(*key)
        if ctx.dialog is not None and not aside and stored:
            await dialogs.save(ctx.session, key, flow=ctx.dialog.flow, step=ctx.dialog.step,
                               token=ctx.dialog.token, data=ctx.dialog.data, now=ctx.now,
                               timeout=self.timeout)
        for work in ctx.at_end:
            await work()
        queued = await self.enqueue(ctx.session, ctx.notices, ctx.now) if ctx.notices else 0
        return ctx.replies, queued

    async def mark_unreachable(self, platform: str, user_id: str) -> None:
        """An adapter learnt that this account cannot be written to (blocked the bot)."""
        async with self.sessions() as session, session.begin():
            if await directory.mark_unreachable(session, platform, user_id, self.clock()):
                log.info("a %s account is unreachable; it is marked so", platform)

    def translator(self, language: str | None) -> Translator:
        """For adapters' own messages, before or outside the engine (file too large, ...)."""
        return Translator(resolve_locale(None, language, self.config.locale.default))

    # ---- routing

    async def _route(self, ctx: Ctx) -> None:
        t = ctx.t
        answer = interruptions.pending_answer(ctx)
        if answer == interruptions.KEEP:
            ctx.dialog.data.pop(interruptions.PENDING)
            await ctx.ask_again()
            return
        if answer == interruptions.REPLACE:
            ctx.msg = interruptions.waiting_command(ctx)
        if ctx.dialog is not None:
            ctx.msg = _typed_choice(ctx, ctx.msg, ctx.step.accepts)
            if interruptions.optional(ctx) and ctx.msg.kind not in ctx.step.accepts:
                ctx.dialog = None  # what was needed is saved; the rest may be left
        msg = ctx.msg
        command, args = self.registry.match(msg)
        if command is None and msg.kind is Kind.choice and ctx.dialog:
            if msg.choice == CANCEL_VALUE and msg.token == ctx.dialog.token:
                command = self.registry.cancel
        if command is not None:
            await self._run_command(ctx, command, args)
        elif (name := self.registry.slash_name(msg)) is not None:
            ctx.say(t("没有 /{name} 这个命令。发送“帮助”查看可用功能。").format(name=name[:32]))
            if ctx.dialog is not None:
                await ctx.ask_again()
        elif ctx.dialog is not None:
            await self._step_input(ctx)
        elif msg.kind is Kind.choice and (msg.token or "").startswith(ANONYMOUS_TOKEN):
            ctx.say(t("匿名举报的草稿不存数据库，只在内存中保留一段时间：已过期或服务已重启，请重新开始。"))
        elif msg.kind is Kind.choice:
            ctx.say(t("这个按钮已过期。发送“帮助”查看可用功能。"))
        elif ctx.member is None:
            ctx.say(self.registry.join_line(t))
        elif msg.kind is Kind.event:
            return  # platform events with no meaning here need no answer
        elif msg.kind in self.registry.unprompted and ctx.member.active:
            await self.registry.unprompted[msg.kind](ctx, msg)
        elif msg.kind in RECORDINGS:
            ctx.say(t("语音和视频没有保存：现在没有需要它的问题。请发文字、照片，或发送“帮助”查看可用功能。"))
        else:
            ctx.say(t("没看懂这条消息。发送“帮助”查看可用功能。"))

    async def _run_command(self, ctx: Ctx, command: Command, args: str) -> None:
        refusal = self._refusal(ctx, command)
        if refusal is not None:
            ctx.send(refusal)
            if ctx.dialog is not None:
                await ctx.ask_again()  # a refused command leaves the open question as it was
            return
        ctx.untraced = command.untraced
        if interruptions.optional(ctx) and not command.keeps_dialog:
            ctx.dialog = None
        if ctx.dialog is None or command.keeps_dialog:
            await command.handler(ctx, _with_args(ctx.msg, args))
            return
        # Beside an open question: a command that only answers is a look-up, and the
        # question is asked again; one that would start a flow raises WouldReplace.
        ctx.held, ctx.dialog = ctx.dialog, None
        await command.handler(ctx, _with_args(ctx.msg, args))
        ctx.dialog, ctx.held = ctx.held, None
        await ctx.ask_again()

    def _refusal(self, ctx: Ctx, command: Command) -> Reply | None:
        """Why this member may not run this command here, if they may not."""
        t = ctx.t
        if not command.public:
            if ctx.member is None:
                return Text(self.registry.join_line(t))
            if not ctx.member.active:
                return Text(t("您的账号已停用。如有疑问请联系党支部书记。"))
            if command.roles and not (command.roles & ctx.member.role_names):
                return Text(t("您没有使用此功能的权限。发送“帮助”查看可用功能。"))
        if command.private_only and ctx.msg.chat_type is ChatType.group:
            param = "" if command.name == "start" else command.name  # see Registry._deep_link
            return OpenPrivateChat(t("此功能请在与我的私聊中使用。"), t("打开私聊"), param)
        return None

    async def _step_input(self, ctx: Ctx) -> None:
        msg, step = ctx.msg, ctx.step
        if msg.kind is Kind.choice and msg.token != ctx.dialog.token:
            ctx.say(ctx.t("这个按钮已过期，请回答下面的问题。"))
            await ctx.ask_again()
            return
        if msg.kind not in step.accepts:
            if msg.kind is Kind.photo:  # never taken for another flow: said plainly
                ctx.say(ctx.t("这一步不需要照片，照片没有保存。"))
            elif msg.kind in RECORDINGS:
                flow = ctx.registry.flows[ctx.dialog.flow]
                ctx.say(ctx.t(flow.refuses_recordings or N_("这一步不收语音和视频，没有保存。")))
            hint = step.hint or _hint_for(step.accepts)
            ctx.say(ctx.t(hint))
            await ctx.ask_again()
            return
        await step.handle(ctx, msg)


def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _with_args(msg: Incoming, args: str) -> Incoming:
    if msg.kind is Kind.command and msg.text == args:
        return msg
    return replace(msg, text=args)


def _typed_choice(ctx: Ctx, msg: Incoming, accepts: frozenset[Kind]) -> Incoming:
    """Typed text that names an offered option (its label, or its number when the
    step takes no free text) counts as tapping it: WeCom's numbered fallback and
    the console rely on this."""
    offered = ctx.dialog.data.get("_offered")
    if msg.kind is not Kind.text or Kind.choice not in accepts or not offered:
        return msg
    typed = msg.text.strip()
    value = next((v for label, v in offered if label.casefold() == typed.casefold()), None)
    # ASCII digits only: "²" passes isdigit() and then fails int().
    if value is None and Kind.text not in accepts and typed.isascii() and typed.isdecimal() \
            and len(typed) <= 3:
        index = int(typed) - 1
        if 0 <= index < len(offered):
            value = offered[index][1]
    if value is None:
        return msg
    return replace(msg, kind=Kind.choice, choice=value, token=ctx.dialog.token)


def _hint_for(accepts: frozenset[Kind]) -> str:
    for kind in (Kind.choice, Kind.photo, Kind.location, Kind.text):
        if kind in accepts:
            return KIND_HINTS[kind]
    return KIND_HINTS[Kind.text]
