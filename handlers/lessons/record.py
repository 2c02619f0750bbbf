"""A lesson's record (/record, 课堂记录): after the lesson starts its organiser, or a
secretary, adds photos, the paper sign-in sheet with its headcount (workers without an
account are counted there), materials (a link: the contract has no file input, so a
PDF is put on a drive and linked) and a two-line summary. Each part is saved as it is
finished, so leaving half-way loses nothing saved.

The record is complete once it has a photo, a material, the summary, and a sign-in sheet or members'
check-ins (storage.lesson_records.RecordState); the day after a lesson the organiser is
reminded once if it is not."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from bot.core.contract import Choices, Incoming, Kind, Notice, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_, Translator
from bot.core.registry import Registry
from bot.core.steps import ask_text, pick_one, too_long
from bot.scheduler import daily
from handlers import photos as photo_rules
from handlers import roles
from handlers.dates import parse_number
from handlers.lessons.checkin import CANCELLED, MANAGERS, NO_LESSON, lesson_here, may_run, when
from handlers.notices import translator_for
from storage import lesson_records as store
from storage.directory import get_member, unreachable_members
from storage.models import Lesson

RECORD_JOB = "lesson_records"
MAX_PHOTOS = photo_rules.MAX_PHOTOS  # per lesson: a record, not an album
MAX_HEADCOUNT = 2000
SUMMARY_MIN, SUMMARY_MAX, SUMMARY_LINES = 2, 200, 2
URL_MAX, TITLE_MAX = 500, 100

flow = Flow("lesson_record", N_("课堂记录"))

# What a record still needs (RecordState.missing), as the organiser reads it.
MISSING = {"photo": N_("照片"), "material": N_("资料"), "summary": N_("小结"), "signin": N_("签到（签到表或扫码签到）")}
PARTS = (("photo", N_("📷 照片")), ("signin", N_("🧾 签到表")), ("material", N_("📎 资料")),
         ("summary", N_("📝 小结")), ("done", N_("✅ 完成")))


def register(registry: Registry) -> None:
    registry.flow(flow)
    registry.command(Command("record", record_command, N_("补充课堂记录（组织人）"),
                             words=(N_("课堂记录"),), takes_args=True, private_only=True,
                             shown_to=MANAGERS))
    registry.job(RECORD_JOB, lambda config: daily(config.schedule.lesson_record_check, config.tz),
                 remind)


def missing_text(t: Translator, missing: list[str]) -> str:
    return t("、").join(t(MISSING[m]) for m in missing)


# ---- /record ID (课堂记录)


async def record_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    ident = msg.text.strip()
    if not ident:
        return await _to_record(ctx)
    lesson = await lesson_here(ctx, ident)
    if lesson is None:
        ctx.say(t(NO_LESSON).format(id=ident[:12]))
        return
    if not may_run(ctx.member, lesson):
        ctx.say(t("只有本课的组织人或党支部书记可以补充课堂记录。"))
        return
    if lesson.cancelled_at is not None:
        ctx.say(t(CANCELLED).format(title=lesson.title))
        return
    if ctx.now < lesson.starts_at:
        ctx.say(t("《{title}》还没开始（{time} 开始），开始后再记录。").format(
            title=lesson.title, time=when(ctx, lesson.starts_at)))
        return
    await ctx.start(flow, {"lesson_id": lesson.id})


async def _to_record(ctx: Ctx) -> None:
    """课堂记录 without a number: a button for each started lesson still incomplete."""
    t = ctx.t
    planner = roles.has(ctx.member, roles.LESSON_PLANNERS)
    found = await store.to_record(ctx.session, ctx.member.project_id, ctx.now,
                                  organiser_id=None if planner else ctx.member.id)
    if not found:
        ctx.say(t("没有待补充记录的课。发送“课堂记录 编号”补充某一堂课，如 课堂记录 12。"))
        return
    ctx.send(Choices(t("这些课的记录还不完整，请选择："), tuple(
        Option(t("{id}.《{title}》{time}").format(id=lesson.id, title=lesson.title,
                                               time=when(ctx, lesson.starts_at)),
               f"/record {lesson.id}") for lesson in found)))


async def _lesson(ctx: Ctx) -> Lesson | None:
    return await store.lesson(ctx.session, ctx.data["lesson_id"])


async def _gone(ctx: Ctx) -> None:
    ctx.finish()
    ctx.say(ctx.t("这堂课已被删除或取消，记录没有保存。"))


async def _saved(ctx: Ctx, what: str) -> None:
    """After a part is saved: say so (and that the record is complete, the first time it
    is), then back to the menu."""
    _, completed = await store.settle_completion(ctx.session, ctx.data["lesson_id"], ctx.now)
    ctx.say(what + ("\n" + ctx.t("🎉 课堂记录已完整。") if completed else ""))
    await ctx.goto(menu)


# ---- the menu


async def state_lines(ctx: Ctx, lesson: Lesson) -> list[str]:
    t = ctx.t
    state = await store.record_state(ctx.session, lesson.id)
    sheets = t("{n} 张，共 {people} 人").format(n=state.signin_sheets, people=state.headcount) \
        if state.signin_sheets else t("未上传")
    lines = [t("《{title}》课堂记录：").format(title=lesson.title),
             t("📷 照片：{n} 张").format(n=state.photos),
             t("🧾 签到表：{sheets}").format(sheets=sheets),
             t("✍️ 扫码签到：{n} 人").format(n=state.attended),
             t("📎 资料：{n} 个").format(n=state.links + state.documents),
             t("📝 小结：{summary}").format(summary=state.summary or t("未填写"))]
    if state.missing:
        lines.append(t("还缺：{missing}。").format(missing=missing_text(t, state.missing)))
    else:
        lines.append(t("✅ 记录已完整，还可以继续补充。"))
    return lines


async def ask_menu(ctx: Ctx) -> Choices:
    t = ctx.t
    lesson = await _lesson(ctx)
    lines = await state_lines(ctx, lesson) if lesson else []
    lines.append(t("请点按钮补充，补完点“✅ 完成”。"))
    return Choices("\n".join(lines), tuple(Option(t(label), value) for value, label in PARTS))


@pick_one(flow, ask_menu, hint=N_("请点按钮选择要补充的内容。"))
async def menu(ctx: Ctx, value: str) -> None:
    t = ctx.t
    lesson = await _lesson(ctx)
    if lesson is None or lesson.cancelled_at is not None:
        return await _gone(ctx)
    if value == "done":
        ctx.finish()
        state, _ = await store.settle_completion(ctx.session, lesson.id, ctx.now)
        if state.complete:
            ctx.say(t("✅《{title}》课堂记录已完整，谢谢！").format(title=lesson.title))
        else:
            ctx.say(t("已保存。《{title}》的记录还缺：{missing}。随时发送“课堂记录 {id}”补全。").format(
                title=lesson.title, missing=missing_text(t, state.missing), id=lesson.id))
        return
    if value == "photo":
        had = sum(1 for f in lesson.files if f.kind == store.PHOTO)
        if had >= MAX_PHOTOS:
            return await ctx.reject(t("已有 {n} 张照片（每堂课最多 {n} 张）。").format(n=MAX_PHOTOS))
        ctx.data["had_photos"] = had
        return await ctx.goto(photos)
    await ctx.goto({"signin": sheets, "material": material, "summary": summary}[value])


# ---- 📷 photos


async def keep_photo(ctx: Ctx, msg: Incoming, already: int):
    """Counted with the photos the lesson has, so a lesson keeps at most MAX_PHOTOS."""
    return await photo_rules.keep_evidence(ctx, msg, already + ctx.data.get("had_photos", 0))


@photo_rules.collect_photos(flow, N_("请发送课堂照片（每堂课最多 9 张），发完点“完成”；不发点“跳过”返回。"),
                            keep=keep_photo, required=None)
async def photos(ctx: Ctx, kept: list) -> None:
    ctx.data.pop("photos", None)
    ctx.data.pop("had_photos", None)
    if not kept:
        return await ctx.goto(menu)
    await store.add_files(ctx.session, ctx.data["lesson_id"], store.PHOTO, ctx.now,
                          media_names=[p["name"] for p in kept])
    await _saved(ctx, ctx.t("已保存 {n} 张照片。").format(n=len(kept)))


# ---- 🧾 the paper sign-in sheet, then the headcount on it


@photo_rules.collect_photos(flow, N_("请拍纸质签到表（可多页），发完点“完成”；不发点“跳过”返回。"),
                            keep=photo_rules.keep_evidence, required=None, key="sheets")
async def sheets(ctx: Ctx, kept: list) -> None:
    if not kept:
        ctx.data.pop("sheets", None)
        return await ctx.goto(menu)
    await ctx.goto(headcount)


async def ask_headcount(ctx: Ctx) -> Text:
    return Text(ctx.t("签到表上一共多少人？请输入人数（1–{max}），如 35。").format(max=MAX_HEADCOUNT))


@flow.step(accepts={Kind.text}, ask=ask_headcount)
async def headcount(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    count = parse_number(msg.text.strip().removesuffix("人"))
    if count is None or not 1 <= count <= MAX_HEADCOUNT:
        return await ctx.reject(t("请输入 1–{max} 的整数人数，如 35。").format(max=MAX_HEADCOUNT))
    kept = ctx.data.pop("sheets", [])
    # Sheet and headcount saved together: a sheet without its count is not half-saved.
    await store.add_files(ctx.session, ctx.data["lesson_id"], store.SIGNIN, ctx.now,
                          media_names=[p["name"] for p in kept])
    await store.set_fields(ctx.session, ctx.data["lesson_id"], headcount=count)
    await _saved(ctx, t("已保存签到表 {n} 张，共 {people} 人。").format(n=len(kept), people=count))


# ---- 📎 materials: a link (with an optional title)


# A link is printable ASCII (a Chinese word or full-width mark typed right after it is not
# part of it), without the punctuation that ends a sentence around it.
_URL = re.compile(r"https?://[\x21-\x7e]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}>'\""
_AROUND = " \t\n：:，,。.；;、-—（）()《》<>「」\"'"  # what separates a title from its link


def read_link(text: str) -> tuple[str, str] | None:
    """(url, title) from "标题 https://…" or "https://… 标题"; None without a usable link."""
    m = _URL.search(text)
    if m is None:
        return None
    url = m.group(0).rstrip(_TRAILING)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # a malformed address ("https://[::1/")
        return None
    if parts.scheme.lower() not in ("http", "https") or "." not in host or len(url) > URL_MAX:
        return None
    sides = (text[:m.start()], text[m.start() + len(url):])
    title = " ".join(side.strip(_AROUND) for side in sides if side.strip(_AROUND))
    return url, " ".join(title.split())


async def ask_material(ctx: Ctx) -> Choices:
    return Choices(ctx.t("请发送资料链接（以 http:// 或 https:// 开头，如视频、网盘链接），可在链接前写上标题。"
                         "PDF 等文件暂不能直接发送，请先上传网盘再发链接。"),
                   (Option(ctx.t("返回"), "back"),))


@flow.step(accepts={Kind.text, Kind.choice}, ask=ask_material)
async def material(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    if msg.kind is Kind.choice:
        if not ctx.offered(msg.choice) or msg.choice != "back":
            return await ctx.reject()
        return await ctx.goto(menu)
    found = read_link(msg.text.strip())
    if found is None:
        return await ctx.reject(t("没有找到链接：请发送以 http:// 或 https:// 开头的完整链接。"))
    url, title = found
    if len(title) > TITLE_MAX:
        return await ctx.reject(too_long(ctx, len(title), TITLE_MAX))
    if title:
        return await _save_link(ctx, url, title)
    ctx.data["url"] = url
    await ctx.goto(link_title)


@ask_text(flow, N_("给这个链接起个标题吗？（如：高处作业安全微电影）"), skip=N_("不写标题"),
          max_len=TITLE_MAX)
async def link_title(ctx: Ctx, text: str | None) -> None:
    await _save_link(ctx, ctx.data.pop("url"), text)


async def _save_link(ctx: Ctx, url: str, title: str | None) -> None:
    await store.add_files(ctx.session, ctx.data["lesson_id"], store.LINK, ctx.now, url=url,
                          title=title)
    await _saved(ctx, ctx.t("已保存资料：{what}").format(what=title or url))


# ---- 📝 the summary


async def ask_summary(ctx: Ctx) -> str:
    t = ctx.t
    lesson = await _lesson(ctx)
    text = t("请写课堂小结（两行以内，{min}–{max} 字），如：讲解高处作业安全带系挂要点，现场演示，35 人参加。").format(
        min=SUMMARY_MIN, max=SUMMARY_MAX)
    if lesson is not None and lesson.summary:
        text += "\n" + t("现有小结：{summary}（发送新的将替换它）").format(summary=lesson.summary)
    return text


@ask_text(flow, ask_summary, empty=N_("小结至少 2 个字。"), min_len=SUMMARY_MIN, max_len=SUMMARY_MAX,
          skip=N_("返回"))
async def summary(ctx: Ctx, text: str | None) -> None:
    if text is None:
        return await ctx.goto(menu)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > SUMMARY_LINES:
        return await ctx.reject(ctx.t("小结请写在两行以内（这次 {n} 行）。").format(n=len(lines)))
    await store.set_fields(ctx.session, ctx.data["lesson_id"], summary="\n".join(lines))
    await _saved(ctx, ctx.t("已保存小结。"))


# ---- the job: the day after, the organiser of an incomplete record is reminded once


async def remind(session, now: dt.datetime, config) -> list[Notice]:
    """Lessons that ended before today (local), not cancelled, whose record is incomplete
    and whose organiser (or, without one, whoever planned it) was not reminded yet."""
    midnight = now.astimezone(config.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    notices: list[Notice] = []
    for lesson in await store.unreminded_incomplete(session, midnight.astimezone(dt.UTC)):
        state, _ = await store.settle_completion(session, lesson.id, now)
        if state.complete:  # completed by a check-in, say, without being marked
            continue
        if not await store.mark_record_reminded(session, lesson.id, now):
            continue  # another scheduler did
        who = await get_member(session, lesson.organiser_id or lesson.planned_by_id or 0)
        if who is None or not who.active or await unreachable_members(session, [who.id]):
            continue
        tr = translator_for(who, config.locale.default)
        text = tr("《{title}》的记录还不完整：缺 {missing}。发送“课堂记录 {id}”补全。").format(
            title=lesson.title, missing=missing_text(tr, state.missing), id=lesson.id)
        notices.append(Notice(who.id, (Choices(text, (Option(tr("补全记录"), f"/record {lesson.id}"),)),),
                              kind="lesson_record", key=f"lesson_record:{lesson.id}"))
    return notices

