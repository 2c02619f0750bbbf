"""Checking in to a 红盾课堂 lesson (RULINGS 12).

During the lesson's window (from checkin_early_minutes before it starts to
checkin_late_minutes after it ends) its organiser, or a secretary, shows a short code with
/lessoncode (签到码) — and on Telegram a QR code of the deep link that runs /checkin — and
members send `/checkin CODE` (签到 CODE). A code belongs to one lesson and works only in
its window; wrong codes count per member under a keyed pseudonym and lock like invite
codes do. A group post never carries the code (the announcement is plan.py's).

Both commands answer at once (RULINGS 2): beside an open question they answer and the
question is asked again. /checkin without a code asks for it in a one-step flow."""
from __future__ import annotations

import datetime as dt
import io

import segno

from bot.core.contract import Choices, Image, Incoming, Notice, Option
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_, Translator
from bot.core.registry import Registry
from bot.core.steps import ask_text
from bot.scheduler import every
from handlers import codes, roles
from handlers.dates import parse_id
from handlers.notices import translator_for
from storage import attempts, lessons
from storage import lesson_records as store
from storage.directory import get_member, unreachable_members
from storage.models import Lesson, Member, Role

STARTING_JOB = "lesson_starting"
MAX_TYPED = 40  # a code of at most 12 characters, with dashes and spaces, fits
CODE_TRIES = 20  # fresh codes drawn before giving up on uniqueness (31**6 make it moot)
# Who may be an organiser, for /help: everyone but workers and crew leads (RULINGS 13).
MANAGERS = frozenset(r.value for r in Role) - roles.NOT_MANAGERS

flow = Flow("checkin", N_("课堂签到"))

NO_LESSON = N_("本项目没有编号 {id} 的课。")
NOT_YOURS = N_("只有本课的组织人或党支部书记可以查看签到码。")
CANCELLED = N_("《{title}》已取消。")


def register(registry: Registry) -> None:
    registry.flow(flow)
    # Private only: a code shown in a group would reach people who are not in the room.
    registry.command(Command("lessoncode", code_command, N_("显示课堂签到码（组织人）"),
                             words=(N_("签到码"),), takes_args=True, private_only=True,
                             shown_to=MANAGERS))
    # Private only too: a code typed in a group would let the whole group check in from
    # anywhere; the group is offered the private chat, which asks for the code.
    registry.command(Command("checkin", checkin_command, N_("红盾课堂签到"), words=(N_("签到"),),
                             takes_args=True, private_only=True))
    registry.job(STARTING_JOB, every(5), starting, catch_up=False)


# ---- windows, rights and how moments are shown


def window(config, lesson: Lesson) -> tuple[dt.datetime, dt.datetime]:
    """When check-in opens and closes for a lesson: [opens, closes)."""
    c = config.lessons
    return (lesson.starts_at - dt.timedelta(minutes=c.checkin_early_minutes),
            lesson.ends_at + dt.timedelta(minutes=c.checkin_late_minutes))


def margins(config) -> tuple[dt.timedelta, dt.timedelta]:
    c = config.lessons
    return dt.timedelta(minutes=c.checkin_early_minutes), dt.timedelta(minutes=c.checkin_late_minutes)


def moment_text(tz, now: dt.datetime, moment: dt.datetime) -> str:
    """14:30 today, 11-24 14:30 on another day (local time)."""
    here = moment.astimezone(tz)
    if here.date() == now.astimezone(tz).date():
        return f"{here:%H:%M}"
    return f"{here:%m-%d %H:%M}"


def when(ctx: Ctx, moment: dt.datetime) -> str:
    return moment_text(ctx.config.tz, ctx.now, moment)


def may_run(member: Member, lesson: Lesson) -> bool:
    """The lesson's organiser, or a planner (secretary) of its project."""
    return lesson.project_id == member.project_id and (
        lesson.organiser_id == member.id or roles.has(member, roles.LESSON_PLANNERS))


async def lesson_here(ctx: Ctx, ident: str) -> Lesson | None:
    """The lesson of the member's project with this number (None for anything else)."""
    number = parse_id(ident)
    found = await store.lesson(ctx.session, number) if number else None
    return found if found is not None and found.project_id == ctx.member.project_id else None


def code_text(code: str) -> str:
    """How a code is shown: six characters as they are, longer ones in fours (K7MQ-X4PD)."""
    if len(code) <= 6:
        return code
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


_WIDE = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)})


def plain_code(typed: str) -> str | None:
    """A typed code as stored: upper case, without dashes or spaces, full-width forms (a
    Chinese keyboard's) made plain; None if it cannot be one."""
    raw = "".join(ch for ch in typed.translate(_WIDE).upper() if ch not in "-_ \u00a0\u3000")
    if not 4 <= len(raw) <= 16 or any(ch not in codes.ALPHABET for ch in raw):
        return None
    return raw


def checkin_link(config, code: str) -> str | None:
    """The t.me link that opens the bot and runs /checkin CODE; None without a bot username."""
    name = config.telegram.bot_username
    return f"https://t.me/{name}?start=checkin-{code}" if name else None


def qr_png(url: str) -> bytes:
    """A QR code of `url`, large enough to scan from a projector or a phone held up."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=10, border=4)
    return out.getvalue()


# ---- /lessoncode (签到码): the organiser shows the code


async def code_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    ident = msg.text.strip()
    if not ident:
        return await _open_lessons(ctx)
    lesson = await lesson_here(ctx, ident)
    if lesson is None:
        ctx.say(t(NO_LESSON).format(id=ident[:12]))
        return
    if not may_run(ctx.member, lesson):
        ctx.say(t(NOT_YOURS))
        return
    await show_code(ctx, lesson)


async def _open_lessons(ctx: Ctx) -> None:
    """签到码 without a number: the lesson being checked in now, or a button for each."""
    t = ctx.t
    early, late = margins(ctx.config)
    found = [lesson for lesson in await store.open_windows(
        ctx.session, ctx.now, early, late, project_id=ctx.member.project_id)
        if may_run(ctx.member, lesson)]
    if len(found) == 1:
        return await show_code(ctx, await store.lesson(ctx.session, found[0].id))
    if not found:
        ctx.say(t("现在没有您可以签到的课。发送“签到码 编号”查看某一堂课，如 签到码 12。"))
        return
    ctx.send(Choices(t("正在签到的课有 {n} 堂，请选择：").format(n=len(found)), tuple(
        Option(t("{id}.《{title}》{time}").format(id=lesson.id, title=lesson.title,
                                               time=when(ctx, lesson.starts_at)),
               f"/lessoncode {lesson.id}") for lesson in found)))


async def show_code(ctx: Ctx, lesson: Lesson) -> None:
    t = ctx.t
    if lesson.cancelled_at is not None:
        ctx.say(t(CANCELLED).format(title=lesson.title))
        return
    opens, closes = window(ctx.config, lesson)
    if ctx.now < opens:
        ctx.say(t("《{title}》的签到 {time} 开放（开课前 {n} 分钟），届时再发送“签到码 {id}”。").format(
            title=lesson.title, time=when(ctx, opens), n=ctx.config.lessons.checkin_early_minutes,
            id=lesson.id))
        return
    if ctx.now >= closes:
        ctx.say(t("《{title}》的签到已于 {time} 结束。").format(title=lesson.title,
                                                        time=when(ctx, closes)))
        return
    code = await ensure_code(ctx, lesson)
    lines = [t("《{title}》").format(title=lesson.title),
             t("签到码：{code}").format(code=code_text(code)),
             t("请大家发送“签到 {code}”，{time} 截止。").format(code=code_text(code),
                                                      time=when(ctx, closes))]
    link = checkin_link(ctx.config, code)
    if link is not None:
        lines.append(t("用 Telegram 的也可以扫下面的二维码签到。"))
    ctx.say("\n".join(lines))
    if link is not None:
        ctx.send(Image(qr_png(link), caption=t("扫码签到：《{title}》").format(title=lesson.title),
                       filename=f"checkin-{lesson.id}.png"))


async def ensure_code(ctx: Ctx, lesson: Lesson) -> str:
    """The lesson's code, made on the first ask: unique among the project's lessons whose
    check-in windows overlap this one's, so a code names one lesson while it works."""
    if lesson.checkin_code:
        return lesson.checkin_code
    # Locked: two asks at once (the organiser and the secretary) agree on one code.
    locked = await store.lesson(ctx.session, lesson.id, lock=True)
    if locked.checkin_code:
        return locked.checkin_code
    early, late = margins(ctx.config)
    length = ctx.config.lessons.code_length
    for _ in range(CODE_TRIES):
        code = codes.normalize(codes.new_code(length), length)
        if not await store.code_in_use(ctx.session, lesson.project_id, code, lesson.starts_at,
                                       lesson.ends_at, early + late):
            break
    if not await store.set_code(ctx.session, lesson.id, code):
        # SQLite takes no row lock: another ask stored its code first, and that one counts.
        code = (await store.lesson(ctx.session, lesson.id, lock=True)).checkin_code
    locked.checkin_code = code
    return code


# ---- /checkin CODE (签到)


async def checkin_command(ctx: Ctx, msg: Incoming) -> None:
    typed = msg.text.strip()
    if typed:
        await check_in(ctx, typed)  # answers at once: a look-up beside any open question
    elif ctx.beside_dialog:
        ctx.say(ctx.t("签到：发送“签到 签到码”，如 签到 K7MQX4。"))
    elif (locked := await lock_text(ctx)) is not None:
        ctx.say(locked)  # not asked for a code that could not be tried
    else:
        await ctx.start(flow)


def ask_code(ctx: Ctx) -> str:
    return ctx.t("请输入组织人展示的签到码（{n} 位，如 K7MQX4）。").format(
        n=ctx.config.lessons.code_length)


@ask_text(flow, ask_code, empty=N_("请输入签到码。"), max_len=MAX_TYPED, name="code")
async def typed_code(ctx: Ctx, text: str) -> None:
    if await check_in(ctx, text):  # wrong, and may try again: the question stays open
        return await ctx.ask_again()
    ctx.finish()


def _attempts_key(ctx: Ctx) -> str:
    """Per member, under the deployment's key: the counters table names nobody."""
    return "checkin:" + ctx.anonymity.pseudonym("checkin", ctx.member.id)


def _attempt_window(ctx: Ctx) -> dt.timedelta:
    return dt.timedelta(minutes=ctx.config.invites.attempt_window_minutes)


async def lock_text(ctx: Ctx) -> str | None:
    """What to say when this member typed too many wrong codes lately; None if they may try."""
    retry_at = await attempts.locked_until(ctx.session, _attempts_key(ctx), ctx.now,
                                           ctx.config.invites.max_failed_attempts,
                                           _attempt_window(ctx))
    if retry_at is None:
        return None
    return ctx.t("签到码错误次数太多，请 {time} 以后再试。").format(time=when(ctx, retry_at))


async def check_in(ctx: Ctx, typed: str) -> bool:
    """Check the member in with a typed code and say how it went. True when the code was
    wrong and they may try again."""
    t, now = ctx.t, ctx.now
    if (locked := await lock_text(ctx)) is not None:
        ctx.say(locked)
        return False
    code_ = plain_code(typed[:MAX_TYPED])
    found = await store.with_code(ctx.session, ctx.member.project_id, code_) if code_ else []
    current = next((lesson for lesson in found if lesson.cancelled_at is None
                    and window(ctx.config, lesson)[0] <= now < window(ctx.config, lesson)[1]), None)
    if current is None and found:
        # A real code that checks nobody in is no guess: said plainly, not counted (a
        # lesson cancelled after its code was shown must not lock the room out). The
        # latest lesson whose window opened speaks for the code, else the next to open.
        opened = next((lesson for lesson in found if window(ctx.config, lesson)[0] <= now), None)
        lesson = opened or found[-1]
        if lesson.cancelled_at is not None:
            ctx.say(t(CANCELLED).format(title=lesson.title))
        elif opened is not None:  # not current, so its window has closed
            ctx.say(t("《{title}》签到已结束（{time} 截止）。").format(
                title=lesson.title, time=when(ctx, window(ctx.config, lesson)[1])))
        else:
            ctx.say(t("《{title}》的签到还没开始，{time} 开放。").format(
                title=lesson.title, time=when(ctx, window(ctx.config, lesson)[0])))
        return False
    if current is None and not await store.open_windows(ctx.session, now, *margins(ctx.config),
                                                        project_id=ctx.member.project_id):
        # No lesson takes check-ins now: nothing to guess, so nothing counted.
        ctx.say(t("现在没有正在签到的红盾课堂。发送“课堂”查看安排。"))
        return False
    if current is None:
        failures = await attempts.record_failure(ctx.session, _attempts_key(ctx), now,
                                                 _attempt_window(ctx))
        ctx.say(t("签到码不对，请向组织人核对后重新发送。"))
        if failures >= ctx.config.invites.max_failed_attempts:
            ctx.say(await lock_text(ctx))
            return False
        return True
    new, at = await store.attend(ctx.session, current.id, ctx.member.id, now)
    if not new:
        ctx.say(t("已签到《{title}》（{time}），无需重复签到。").format(title=current.title,
                                                              time=when(ctx, at)))
        return False
    lines = [t("✅ 签到成功：《{title}》").format(title=current.title),
             t("{time} · {place}").format(time=when(ctx, current.starts_at), place=current.place)]
    if not await lessons.in_audience(ctx.session, current, ctx.member.id):
        lines.append(t("（您不在本课通知范围内，已照常签到）"))
    ctx.say("\n".join(lines))
    if current.completed_at is None and current.summary:
        # Photos, materials and the summary may be in before anyone checks in: the record
        # completes now.
        await store.settle_completion(ctx.session, current.id, now)
    return False


# ---- the job: the organiser is handed the code as the window opens


async def starting(session, now: dt.datetime, config) -> list[Notice]:
    """Each lesson whose check-in window is open and which has not ended: its organiser
    gets one notice (the key) with the button that shows the code."""
    early, late = margins(config)
    lessons = [lesson for lesson in await store.open_windows(session, now, early, late)
               if lesson.organiser_id is not None and now < lesson.ends_at]
    gone = await unreachable_members(session, [lesson.organiser_id for lesson in lessons])
    notices = []
    for lesson in lessons:
        organiser = await get_member(session, lesson.organiser_id)
        if organiser is None or not organiser.active or organiser.id in gone:
            continue
        tr = translator_for(organiser, config.locale.default)
        notices.append(Notice(organiser.id, (starting_text(tr, config, now, lesson),),
                              kind="lesson_starting", key=f"lesson_starting:{lesson.id}"))
    return notices


def starting_text(tr: Translator, config, now: dt.datetime, lesson: Lesson) -> Choices:
    tz = config.tz
    return Choices(tr("📣《{title}》{start} 开始（{place}），签到已开放。点下面的按钮显示签到码，"
                      "请大家发送“签到 签到码”。").format(
        title=lesson.title, start=moment_text(tz, now, lesson.starts_at), place=lesson.place),
        (Option(tr("显示签到码"), f"/lessoncode {lesson.id}"),))
