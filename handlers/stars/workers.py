"""Picking a worker (工友) of the member's project, the first question of /star and
/deduct: a tap on someone recently given points, a name or 班组 typed (searched), or a
new worker added on the spot (name, then 班组). Most workers have no chat account, so
the member who saw them is often the one who puts them in the directory.

    @pick_worker(flow, N_("点赞哪位工友？…"), sources=("star",), myself=N_("不能给自己点赞。…"))
    async def worker(ctx, chosen: Member): ...

The decorated name is a WorkerPicker: `worker.step` is its question, and
`worker.begin(ctx, typed)` opens the flow there, searching what was typed with the
command ("/star 马强")."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable

import sqlalchemy as sa

from bot.core.contract import Choices, Incoming, Kind, Option
from bot.core.flow import Ctx, Flow
from bot.core.i18n import N_, Translator
from bot.core.steps import ask_text, prompt_text, too_long
from handlers import roles
from handlers.zones import squeeze
from storage import stars as ledger
from storage.directory import MEMBER_LOAD, get_member
from storage.models import Member, MemberRole, StarEntry

RECENT = 6  # buttons of workers recently given points
SHOWN = 8  # buttons of search results
CREWS = 10  # buttons of known 班组 when adding a worker
RECENT_DAYS = 30
NAME_MIN, NAME_MAX = 2, 20
CREW_MAX = 100
SEARCH_MAX = 100  # longer typed text is no name nor 班组

ADD = "new"  # the value of the "add a new worker" button
ADD_LABEL = N_("➕ 添加新工友")

# Dialog data of the picker. Leading "_": working state, not answers (see
# bot.core.interruptions.nothing_entered).
FOUND, MORE, NAME, CREW_LIST = "_w_found", "_w_more", "_w_name", "_w_crews"

Then = Callable[[Ctx, Member], Awaitable[None]]


def worker_label(t: Translator, worker: Member) -> str:
    """马强（钢筋班）, or the name alone when no 班组 is known."""
    return t("{name}（{crew}）").format(name=worker.name, crew=worker.crew) if worker.crew \
        else worker.name


def _button(worker: Member) -> Option:
    return Option(f"{worker.name} · {worker.crew}" if worker.crew else worker.name, f"m{worker.id}")


def is_worker(member: Member) -> bool:
    return roles.WORKER in member.role_names


async def worker_of(ctx: Ctx, worker_id: int | None) -> Member | None:
    """An active worker of the member's project, by id (None for anything else)."""
    worker = await get_member(ctx.session, worker_id) if worker_id else None
    if worker is None or worker.project_id != ctx.member.project_id or not worker.active \
            or not is_worker(worker):
        return None
    return worker


async def recent_workers(session, project_id: int, given_by_id: int, since: dt.datetime,
                         sources: tuple[str, ...], *, limit: int = RECENT) -> list[Member]:
    """Active workers `given_by_id` gave entries of `sources` to since `since`, the most
    recent first."""
    last = (sa.select(StarEntry.worker_id, sa.func.max(StarEntry.at).label("last"))
            .where(StarEntry.project_id == project_id, StarEntry.given_by_id == given_by_id,
                   StarEntry.source.in_(sources), StarEntry.at >= since)
            .group_by(StarEntry.worker_id).subquery())
    stmt = (sa.select(Member).join(last, last.c.worker_id == Member.id)
            .where(Member.active.is_(True), Member.id != given_by_id,
                   sa.exists().where(MemberRole.member_id == Member.id,
                                     MemberRole.role == roles.WORKER))
            .options(*MEMBER_LOAD).order_by(last.c.last.desc(), Member.id).limit(limit))
    return list((await session.execute(stmt)).scalars())


async def named(session, project_id: int, name: str) -> Member | None:
    """Whoever of the project's directory bears this name (names are unique per project)."""
    stmt = (sa.select(Member).where(Member.project_id == project_id, Member.name == name)
            .options(*MEMBER_LOAD))
    return (await session.execute(stmt)).scalar_one_or_none()


def _one_line(text: str) -> bool:
    return not re.search(r"[\x00-\x1f\x7f]", text)


class WorkerPicker:
    """The picker's three steps in `flow`: the question (`step`), a new worker's name, and
    their 班组. `then(ctx, worker)` gets an active worker of the project, never the member
    asking."""

    def __init__(self, flow: Flow, prompt: str, then: Then, *, sources: tuple[str, ...],
                 myself: str, name: str):
        self.prompt, self.then, self.sources, self.myself = prompt, then, sources, myself
        self.step = flow.add(name, accepts={Kind.choice, Kind.text}, ask=self.ask,
                             handle=self.handle)
        self.name_step = ask_text(flow, self._ask_name, empty=N_("请输入新工友的姓名。"),
                                  max_len=NAME_MAX, name=f"{name}_new_name")(self.new_name)
        self.crew_step = flow.add(f"{name}_new_crew", accepts={Kind.choice, Kind.text},
                                  ask=self.ask_crew, handle=self.new_crew)

    # ---- the question

    async def ask(self, ctx: Ctx) -> Choices:
        t = ctx.t
        workers = [w for w in [await worker_of(ctx, i) for i in ctx.data.get(FOUND) or ()]
                   if w is not None]
        if workers:
            lines = [t("找到 {n} 位工友，请点选：").format(n=len(workers))]
            if ctx.data.get(MORE):
                lines.append(t("只列出前 {n} 位，可多输入几个字缩小范围。").format(n=SHOWN))
            lines.append(t("也可以重新输入姓名或班组。"))
            prompt = "\n".join(lines)
        else:
            since = ctx.now - dt.timedelta(days=RECENT_DAYS)
            workers = await recent_workers(ctx.session, ctx.member.project_id, ctx.member.id,
                                           since, self.sources)
            prompt = await prompt_text(ctx, self.prompt)
        return Choices(prompt, (*(_button(w) for w in workers), Option(t(ADD_LABEL), ADD)))

    async def handle(self, ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        if msg.kind is Kind.choice:
            if not ctx.offered(msg.choice):
                return await ctx.reject()
            if msg.choice == ADD:
                return await self.start_adding(ctx)
            worker = await worker_of(ctx, int(msg.choice[1:]) if re.fullmatch(
                r"m\d{1,9}", msg.choice) else None)
            if worker is None:  # left the directory since the buttons were made
                ctx.data.pop(FOUND, None)
                return await ctx.reject(t("这位工友已不在名册中，请重新选择。"))
            return await self.chosen(ctx, worker)
        await self.search(ctx, msg.text)

    async def search(self, ctx: Ctx, typed: str) -> None:
        """Typed text: one worker of exactly this name goes on; several matches become
        buttons; none is said, with the way to add one."""
        t = ctx.t
        typed = typed.strip()
        if squeeze(typed) in (squeeze(t(ADD_LABEL)), squeeze(t("添加新工友")), "添加"):
            return await self.start_adding(ctx)
        if not typed:
            return await ctx.reject(t("请输入工友的姓名或班组，或点下面的按钮。"))
        if len(typed) > SEARCH_MAX:
            return await ctx.reject(too_long(ctx, len(typed), SEARCH_MAX))
        found = await ledger.workers(ctx.session, ctx.member.project_id, typed, limit=SHOWN + 1)
        exact = await named(ctx.session, ctx.member.project_id, typed)
        if exact is None or not exact.active or not is_worker(exact):
            match = next((w for w in found if squeeze(w.name) == squeeze(typed)), None)
        else:
            match = exact
        if match is not None:
            return await self.chosen(ctx, match)
        if not found:
            ctx.data.pop(FOUND, None)
            if exact is not None and exact.active:  # in the directory, but no worker
                return await ctx.reject(t(self.myself) if exact.id == ctx.member.id else
                                        t("“{name}”在名册中不是工友，不能选。").format(name=exact.name))
            return await ctx.reject(t("名册里没有找到“{text}”。可以换个写法再输入，或点“{add}”。")
                                    .format(text=typed, add=t(ADD_LABEL)))
        ctx.data[FOUND] = [w.id for w in found[:SHOWN]]
        ctx.data[MORE] = len(found) > SHOWN
        await ctx.ask_again()

    async def chosen(self, ctx: Ctx, worker: Member) -> None:
        if worker.id == ctx.member.id:
            ctx.data.pop(FOUND, None)
            return await ctx.reject(ctx.t(self.myself))
        for key in (FOUND, MORE, NAME, CREW_LIST):
            ctx.data.pop(key, None)
        await self.then(ctx, worker)

    async def begin(self, ctx: Ctx, typed: str = "", data: dict | None = None) -> None:
        """Open the flow at the picker; typed text is searched at once, and the question is
        asked once, after what the search found."""
        mark = len(ctx.replies)
        await ctx.start(self.step.flow, data, at=self.step)
        if typed.strip():
            del ctx.replies[mark:]
            await self.search(ctx, typed)

    # ---- adding a worker

    async def start_adding(self, ctx: Ctx) -> None:
        if not roles.has(ctx.member, roles.STAR_GIVERS):
            return await ctx.reject(ctx.t("添加工友请联系党支部书记或工会。"))
        await ctx.goto(self.name_step)

    @staticmethod
    def _ask_name(ctx: Ctx) -> str:
        return ctx.t("新工友的姓名（{min}–{max} 个字）：").format(min=NAME_MIN, max=NAME_MAX)

    async def new_name(self, ctx: Ctx, text: str) -> None:
        t = ctx.t
        name = " ".join(text.split())
        if not NAME_MIN <= len(name) <= NAME_MAX or not _one_line(name) or name.startswith("/"):
            return await ctx.reject(t("姓名应为 {min}–{max} 个字，请重新输入。").format(
                min=NAME_MIN, max=NAME_MAX))
        existing = await named(ctx.session, ctx.member.project_id, name)
        if existing is not None:
            if existing.id == ctx.member.id and is_worker(existing):
                return await ctx.reject(t(self.myself))
            if not is_worker(existing):
                return await ctx.reject(t("“{name}”已在名册中，但不是工友。请换一个写法（如加上班组）。")
                                        .format(name=name))
            if not existing.active:
                return await ctx.reject(t("工友“{name}”在名册中已停用，请联系党支部书记。")
                                        .format(name=name))
            ctx.say(t("名册里已有工友 {worker}。").format(worker=worker_label(t, existing)))
            return await self.chosen(ctx, existing)
        ctx.data[NAME] = name
        await ctx.goto(self.crew_step)

    async def ask_crew(self, ctx: Ctx) -> Choices:
        t = ctx.t
        crews = (await ledger.crews(ctx.session, ctx.member.project_id))[:CREWS]
        ctx.data[CREW_LIST] = crews
        prompt = t("{name} 是哪个班组的？点按钮，或输入新的班组名称。").format(name=ctx.data[NAME])
        return Choices(prompt, tuple(Option(c, f"c{i}") for i, c in enumerate(crews)))

    async def new_crew(self, ctx: Ctx, msg: Incoming) -> None:
        t = ctx.t
        crews = ctx.data.get(CREW_LIST) or []
        if msg.kind is Kind.choice:
            if not ctx.offered(msg.choice) or not re.fullmatch(r"c\d{1,3}", msg.choice or "") \
                    or int(msg.choice[1:]) >= len(crews):
                return await ctx.reject()
            crew = crews[int(msg.choice[1:])]
        else:
            crew = " ".join(msg.text.split())
            if not crew or not _one_line(crew):
                return await ctx.reject(t("请输入班组名称，或点下面的按钮。"))
            if len(crew) > CREW_MAX:
                return await ctx.reject(too_long(ctx, len(crew), CREW_MAX))
            # A known 班组 typed with other spaces or case, or in part ("钢筋" for 钢筋班),
            # keeps its known spelling: one crew must not be ranked as two.
            known = await ledger.crews(ctx.session, ctx.member.project_id)
            exact = [c for c in known if squeeze(c) == squeeze(crew)]
            partial = [c for c in known if squeeze(crew) in squeeze(c)]
            crew = (exact or partial)[0] if exact or len(partial) == 1 else crew
        name = ctx.data[NAME]
        existing = await named(ctx.session, ctx.member.project_id, name)
        if existing is not None:  # added by someone else meanwhile
            if existing.active and is_worker(existing) and existing.id != ctx.member.id:
                return await self.chosen(ctx, existing)
            ctx.say(t("“{name}”刚被加入名册，但不能选为工友。请重新输入姓名。").format(name=name))
            return await ctx.goto(self.name_step)
        worker = Member(project_id=ctx.member.project_id, name=name, joined_at=ctx.now, crew=crew,
                        roles=[MemberRole(role=roles.WORKER)], active=True)
        ctx.session.add(worker)
        await ctx.session.flush()
        ctx.say(t("已添加工友 {worker}。").format(worker=worker_label(t, worker)))
        await self.chosen(ctx, worker)


def pick_worker(flow: Flow, prompt: str, *, sources: tuple[str, ...], myself: str,
                name: str | None = None) -> Callable[[Then], WorkerPicker]:
    """Decorator: the function gets the chosen worker and says where to go next. `prompt`
    (a msgid) asks whom; `sources` are the ledger entries whose workers are offered as
    recent; `myself` (a msgid) is said when a member picks themselves."""

    def make(then: Then) -> WorkerPicker:
        return WorkerPicker(flow, prompt, then, sources=sources, myself=myself,
                            name=name or then.__name__)

    return make
