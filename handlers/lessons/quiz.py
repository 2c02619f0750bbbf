"""安全知识答题与竞赛: quizzes drawn from the question bank (handlers/lessons/questions.py).

- `/quiz` (答题, 竞赛): the open quizzes of my project with my attempts left; an attempt
  left half-way resumes at once. `/quiz ID` starts (or resumes) one.
- An attempt draws its questions when it starts and keeps them; each answer is stored
  as it is tapped, so nothing is lost when the member stops, and the attempt counts
  from its first question. The right answer and the explanation follow each tap; the
  score and the ranking end it, and `quiz_scored` tells whoever pays for answers.
- `/quiz new` (secretary, safety officer, union; private): title, category, how many
  questions, then a lesson to attach to (open from the lesson's day for a week) or how
  long it stays open. The project's members are told, with a button to start.
- `/quiz rank ID`: each person's best score, equal scores by earlier finish. Names are
  shown to the project: a quiz is a competition.
- `redshield quizzes --project CODE [--json]`: every quiz with attempts, average and
  the ranking.
"""
from __future__ import annotations

import datetime as dt
import json

from bot.core.contract import ChatType, Choices, Incoming, Kind, Notice, OpenPrivateChat, Option, Text
from bot.core.flow import Command, Ctx, Flow
from bot.core.i18n import N_, Translator
from bot.core.registry import Registry
from bot.core.steps import ask_text, pick_one
from handlers import roles
from handlers.dates import local, parse_day, parse_id, today
from handlers.lessons import questions
from handlers.notices import translator_for
from handlers.operator import project_of
from storage import quizzes
from storage.directory import unreachable_members
from storage.models import Lesson, Question, Quiz, QuizAttempt

LETTERS = questions.LETTERS
COUNTS = (5, 10, 20)  # questions per attempt, offered to the setter
# How long a quiz stays open (days, today included), offered to the setter.
OPEN_FOR = ((N_("今天"), 1), (N_("3 天"), 3), (N_("7 天"), 7), (N_("30 天"), 30))
MAX_OPEN_DAYS = 366
LESSON_DAYS = 7  # a lesson's quiz is open from the lesson's day for a week
TOP = 10  # names in a ranking
BUTTON_TEXT = 24  # an option longer than this is cut on its button and written out above
TITLE_MIN, TITLE_MAX = 2, Quiz.title.type.length

quiz_flow = Flow("quiz", N_("答题"))
setup_flow = Flow("quiz_new", N_("答题设置"))

NO_QUIZ = N_("没有这个答题。发送 /quiz 查看开放中的答题。")
OVER = N_("这次答题已经结束。发送 /quiz 查看开放中的答题。")


def register(registry: Registry) -> None:
    registry.flow(quiz_flow)
    registry.flow(setup_flow)
    registry.command(Command("quiz", quiz_command, N_("安全知识答题与竞赛"),
                             words=(N_("答题"), N_("竞赛")), takes_args=True))
    registry.cli("quizzes", "a project's quizzes and competitions: attempts, average, ranking",
                 cli_quizzes, cli_arguments)
    questions.register(registry)


# ---- small helpers


def _date(day: dt.date) -> str:
    return f"{day:%m-%d}"


def span_text(t: Translator, quiz: Quiz) -> str:
    if quiz.opens_on == quiz.closes_on:
        return t("{day} 当天").format(day=_date(quiz.opens_on))
    return t("{start} 至 {end}").format(start=_date(quiz.opens_on), end=_date(quiz.closes_on))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _best(attempts: list[QuizAttempt]) -> QuizAttempt | None:
    done = [a for a in attempts if a.finished_at is not None]
    return min(done, key=lambda a: (-a.score, a.finished_at, a.id)) if done else None


async def _quiz_of_mine(ctx: Ctx, ident: str) -> Quiz | None:
    """The quiz a typed or tapped id means, if it is of the member's project."""
    number = parse_id(ident)
    quiz = await quizzes.get_quiz(ctx.session, number) if number else None
    return quiz if quiz is not None and quiz.project_id == ctx.member.project_id else None


# ---- /quiz


async def quiz_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    parts = msg.text.split()
    head = parts[0].lower() if parts else ""
    if head == "rank" and ctx.msg.chat_type is ChatType.group:
        # A ranking names workers and their scores: not for a group that may be another
        # project's (group posts name only where the branch chose to, RULINGS 11, 14).
        ctx.send(OpenPrivateChat(t("排行请在与我的私聊中查看。"), t("打开私聊"), "quiz"))
        return
    if head == "rank":
        if len(parts) != 2:
            ctx.say(t("看排行请发送 /quiz rank 编号，如 /quiz rank 3。"))
            return
        await show_rank(ctx, parts[1])
        return
    if ctx.msg.chat_type is ChatType.group:
        # Answers and the setter's questions are one person's: not for a group to watch.
        number = parse_id(head)
        param = "quiz-new" if head == "new" else f"quiz-{number}" if number else "quiz"
        ctx.send(OpenPrivateChat(t("答题请在与我的私聊中进行。"), t("打开私聊"), param))
        return
    if head == "new":
        await new_quiz(ctx)
    elif head:
        quiz = await _quiz_of_mine(ctx, head)
        if quiz is None:
            ctx.say(t(NO_QUIZ))
            return
        await take(ctx, quiz)
    else:
        await list_quizzes(ctx)


async def list_quizzes(ctx: Ctx) -> None:
    """The open quizzes with my attempts left; one left half-way is resumed instead."""
    t, member = ctx.t, ctx.member
    found = await quizzes.open_quizzes(ctx.session, member.project_id, today(ctx))
    mine = await quizzes.attempts_by(ctx.session, member.id, [q.id for q in found])
    for quiz in found:
        unfinished = next((a for a in mine[quiz.id] if a.finished_at is None), None)
        if unfinished is not None:
            await resume(ctx, quiz, unfinished)
            return
    setter = roles.has(member, roles.QUIZ_SETTERS)
    if not found:
        text = t("现在没有开放的答题。")
        if setter:
            ctx.send(Choices(text, (Option(t("设置答题"), "/quiz new"),)))
        else:
            ctx.say(text)
        return
    lines = [t("📝 开放中的答题：")]
    buttons: list[Option] = []
    for quiz in found:
        attempts = mine[quiz.id]
        left = quiz.attempts - len(attempts)
        line = t("#{id} {title}（{n} 题，至 {end}）").format(
            id=quiz.id, title=quiz.title, n=quiz.question_count, end=_date(quiz.closes_on))
        best = _best(attempts)
        if left > 0:
            line += " · " + t("还可答 {n} 次").format(n=left)
            buttons.append(Option(t("答题 #{id}").format(id=quiz.id), f"/quiz {quiz.id}"))
        if best is not None:
            line += " · " + t("最好成绩 {score}/{total}").format(score=best.score,
                                                              total=len(best.question_ids))
            buttons.append(Option(t("#{id} 排行").format(id=quiz.id), f"/quiz rank {quiz.id}"))
        lines.append(line)
    if setter:
        buttons.append(Option(t("设置答题"), "/quiz new"))
    ctx.send(Choices("\n".join(lines), tuple(buttons)))


async def take(ctx: Ctx, quiz: Quiz) -> None:
    """Start an attempt at `quiz`, or resume the one left half-way."""
    t, member, day = ctx.t, ctx.member, today(ctx)
    if day < quiz.opens_on:
        ctx.say(t("「{title}」{day} 开放，到时再来。").format(title=quiz.title, day=_date(quiz.opens_on)))
        return
    # One member's attempts are counted and started one at a time (two chats, two
    # workers): the member's row is locked until this step commits.
    await quizzes.lock_member(ctx.session, member.id)
    attempts = (await quizzes.attempts_by(ctx.session, member.id, [quiz.id]))[quiz.id]
    rank_button = (Option(t("看排行"), f"/quiz rank {quiz.id}"),)
    if day > quiz.closes_on:
        ctx.send(Choices(t("「{title}」已于 {day} 结束。").format(
            title=quiz.title, day=_date(quiz.closes_on)), rank_button))
        return
    unfinished = next((a for a in attempts if a.finished_at is None), None)
    if unfinished is not None:
        await resume(ctx, quiz, unfinished)
        return
    if len(attempts) >= quiz.attempts:
        best = _best(attempts)
        text = t("您已经答过「{title}」了（每人 {n} 次）。").format(title=quiz.title, n=quiz.attempts)
        if best is not None:
            text += "\n" + t("最好成绩 {score}/{total}。").format(score=best.score,
                                                            total=len(best.question_ids))
        ctx.send(Choices(text, rank_button))
        return
    drawn = await quizzes.draw(ctx.session, quiz.category, quiz.question_count)
    if not drawn:
        ctx.say(t("题库里还没有这类题目，暂时不能答题。请告诉出题人。"))
        return
    attempt = await quizzes.start_attempt(ctx.session, quiz, member.id, drawn, ctx.now)
    ctx.say(t("「{title}」共 {n} 题，每题点选一个答案，答完即出成绩。中途离开的话，再发送 /quiz 可接着答。")
            .format(title=quiz.title, n=len(drawn)))
    await ctx.start(quiz_flow, {"attempt": attempt.id, "q": 0})


async def resume(ctx: Ctx, quiz: Quiz, attempt: QuizAttempt) -> None:
    done, total = len(attempt.answers), len(attempt.question_ids)
    if done >= total:  # every answer is in: only the score is missing
        await finish_attempt(ctx, quiz, attempt)
        return
    ctx.say(ctx.t("接着答「{title}」：已答 {done}/{total} 题。").format(
        title=quiz.title, done=done, total=total))
    await ctx.start(quiz_flow, {"attempt": attempt.id, "q": done, "_filled": done})


# ---- one question at a time


async def _attempt(ctx: Ctx, *, lock: bool = False) -> tuple[QuizAttempt | None, Quiz | None]:
    attempt_id = ctx.data.get("attempt")
    attempt = (await quizzes.attempt_for_update(ctx.session, attempt_id) if lock
               else await ctx.session.get(QuizAttempt, attempt_id)) if attempt_id else None
    if attempt is None or attempt.member_id != ctx.member.id:
        return None, None
    return attempt, await quizzes.get_quiz(ctx.session, attempt.quiz_id)


def _labels(question: Question) -> tuple[list[str], bool]:
    """The option buttons (A. …), and whether one was cut (then the options are written out)."""
    labels = [f"{LETTERS[i]}. {_short(o, BUTTON_TEXT)}" for i, o in enumerate(question.options)]
    return labels, any(len(o) > BUTTON_TEXT for o in question.options)


async def ask_question(ctx: Ctx) -> Choices | Text:
    t = ctx.t
    attempt, quiz = await _attempt(ctx)
    if attempt is None or attempt.finished_at is not None or \
            len(attempt.answers) >= len(attempt.question_ids):
        return Text(t(OVER))
    index, total = len(attempt.answers), len(attempt.question_ids)
    ctx.data["q"] = index
    question = await quizzes.question(ctx.session, attempt.question_ids[index])
    if question is None:  # taken out of the bank by hand since the draw
        return Choices(t("第 {i}/{n} 题已从题库删除，不计分。").format(i=index + 1, n=total),
                       (Option(t("下一题"), "skip"),))
    lines = [t("第 {i}/{n} 题（{category}）：").format(i=index + 1, n=total, category=question.category),
             question.text]
    labels, cut = _labels(question)
    if cut:
        lines += [f"{LETTERS[i]}. {o}" for i, o in enumerate(question.options)]
    return Choices("\n".join(lines), tuple(Option(label, f"a{i}") for i, label in enumerate(labels)))


def _chosen(ctx: Ctx, msg: Incoming, question: Question) -> int | None:
    """The option tapped (a0…), or typed as its letter (B, ｂ) or number (2)."""
    if msg.kind is Kind.choice:
        value = msg.choice or ""
        if not ctx.offered(value) or not value.startswith("a") or not value[1:].isdecimal():
            return None
        index = int(value[1:])
    else:
        typed = msg.text.strip().translate(questions.FULL_WIDTH).upper().rstrip(".。、")
        if len(typed) != 1:
            return None
        index = LETTERS.index(typed) if typed in LETTERS else \
            int(typed) - 1 if typed.isascii() and typed.isdecimal() else -1
    return index if 0 <= index < len(question.options) else None


@quiz_flow.step(accepts={Kind.choice, Kind.text}, ask=ask_question)
async def answer(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    attempt, quiz = await _attempt(ctx, lock=True)
    if attempt is None or quiz is None or attempt.finished_at is not None:
        ctx.finish()
        ctx.say(t(OVER))
        return
    total = len(attempt.question_ids)
    if len(attempt.answers) != ctx.data.get("q") or len(attempt.answers) >= total:
        # Answered meanwhile from another chat: go on from where the attempt is.
        if len(attempt.answers) >= total:
            await finish_attempt(ctx, quiz, attempt)
            return
        ctx.say(t("这道题已经答过了，接着答下一题。"))
        return await ctx.goto(answer)
    question = await quizzes.question(ctx.session, attempt.question_ids[len(attempt.answers)])
    if question is None:
        if not (msg.kind is Kind.choice and msg.choice == "skip" and ctx.offered("skip")):
            return await ctx.reject()
        quizzes.record_answer(attempt, None, False)
    else:
        chosen = _chosen(ctx, msg, question)
        if chosen is None:
            return await ctx.reject(t("请点按钮选择答案，或发送选项字母（如 B）。"))
        right = question.answer
        correct = chosen == right
        quizzes.record_answer(attempt, chosen, correct)
        lines = [t("✅ 正确") if correct else t("❌ 正确答案是 {letter}. {option}").format(
            letter=LETTERS[right], option=question.options[right])]
        if question.explanation:
            lines.append(t("解析：{text}").format(text=question.explanation))
        ctx.say("\n".join(lines))
    ctx.data["_filled"] = len(attempt.answers)  # "已填 N 项" if another flow asks to replace it
    if len(attempt.answers) < total:
        return await ctx.goto(answer)
    await finish_attempt(ctx, quiz, attempt)


async def finish_attempt(ctx: Ctx, quiz: Quiz, attempt: QuizAttempt) -> None:
    t = ctx.t
    attempt.finished_at = ctx.now
    ctx.finish()
    await ctx.session.flush()
    # Only the first attempt counts for points: the explanations give the answers away.
    finished = [a for a in (await quizzes.attempts_by(ctx.session, ctx.member.id, [quiz.id]))[quiz.id]
                if a.finished_at is not None]
    if len(finished) == 1:
        await ctx.emit("quiz_scored", member=ctx.member, correct=attempt.score,
                       ref=f"quiz:{quiz.id}:{ctx.member.id}")
    total = len(attempt.question_ids)
    lines = [t("🏁 答题结束：得分 {score}/{total}").format(score=attempt.score, total=total)]
    ranked = await quizzes.ranking(ctx.session, quiz.id)
    lines += ranking_lines(t, quiz, ranked, ctx.member.id)
    attempts = (await quizzes.attempts_by(ctx.session, ctx.member.id, [quiz.id]))[quiz.id]
    if len(attempts) < quiz.attempts and today(ctx) <= quiz.closes_on:
        ctx.send(Choices("\n".join(lines), (Option(t("再答一次"), f"/quiz {quiz.id}"),)))
    else:
        ctx.say("\n".join(lines))


# ---- rankings


def ranking_lines(t: Translator, quiz: Quiz, ranked: list[quizzes.Ranked], member_id: int | None
                  ) -> list[str]:
    """🏆 the top names with their best score, and where the reader stands."""
    if not ranked:
        return [t("「{title}」还没有人答完。").format(title=quiz.title)]
    lines = [t("🏆「{title}」排行（{n} 人）：").format(title=quiz.title, n=len(ranked))]
    lines += [t("{rank}. {name} {score}/{total}").format(rank=r.rank, name=r.name, score=r.score,
                                                          total=r.total) for r in ranked[:TOP]]
    mine = next((r for r in ranked if r.member_id == member_id), None)
    if mine is not None:
        lines.append(t("我的排名：第 {rank} 名（最好成绩 {score}/{total}）").format(
            rank=mine.rank, score=mine.score, total=mine.total))
    return lines


async def show_rank(ctx: Ctx, ident: str) -> None:
    quiz = await _quiz_of_mine(ctx, ident)
    if quiz is None:
        ctx.say(ctx.t(NO_QUIZ))
        return
    ranked = await quizzes.ranking(ctx.session, quiz.id)
    ctx.say("\n".join(ranking_lines(ctx.t, quiz, ranked, ctx.member.id)))


# ---- /quiz new


async def new_quiz(ctx: Ctx) -> None:
    t = ctx.t
    if not roles.has(ctx.member, roles.QUIZ_SETTERS):
        ctx.say(t("答题由党支部书记、安监或工会设置。"))
        return
    found = await quizzes.categories(ctx.session)
    if not found:
        ctx.say(t("题库还是空的：请管理员先导入题目（redshield questions import 文件）。"))
        return
    await ctx.start(setup_flow, {"categories": [c for c, _ in found]})


@ask_text(setup_flow, N_("答题的标题（如：12月安全知识竞赛）："), empty=N_("标题至少 2 个字。"),
          min_len=TITLE_MIN, max_len=TITLE_MAX)
async def title(ctx: Ctx, text: str) -> None:
    ctx.data["title"] = text
    await ctx.goto(category)


async def ask_category(ctx: Ctx) -> Choices:
    t = ctx.t
    counts = dict(await quizzes.categories(ctx.session))
    options = [Option(t("全部（{n} 题）").format(n=sum(counts.values())), "all")]
    options += [Option(t("{category}（{n} 题）").format(category=c, n=counts.get(c, 0)), f"c{i}")
                for i, c in enumerate(ctx.data["categories"])]
    return Choices(t("从哪类题目中抽题？"), tuple(options))


@pick_one(setup_flow, ask_category)
async def category(ctx: Ctx, value: str) -> None:
    names = ctx.data["categories"]
    ctx.data["category"] = None if value == "all" else names[int(value[1:])]
    await ctx.goto(count)


async def ask_count(ctx: Ctx) -> Choices:
    t = ctx.t
    size = await quizzes.bank_size(ctx.session, ctx.data.get("category"))
    counts = sorted({*COUNTS, ctx.config.lessons.quiz_questions})
    return Choices(t("每人每次答几题？（可选题目共 {n} 道）").format(n=size),
                   tuple(Option(t("{n} 题").format(n=n), str(n)) for n in counts))


@pick_one(setup_flow, ask_count)
async def count(ctx: Ctx, value: str) -> None:
    ctx.data["count"] = int(value)
    if await _lessons(ctx):
        await ctx.goto(lesson)
    else:
        await ctx.goto(until)


async def _lessons(ctx: Ctx) -> list[Lesson]:
    # A lesson's quiz is open from its local day for LESSON_DAYS days: offer only lessons
    # whose quiz would still be open today.
    first = local(ctx, ctx.now).date() - dt.timedelta(days=LESSON_DAYS - 1)
    since = dt.datetime.combine(first, dt.time(), tzinfo=ctx.config.tz)
    return await quizzes.lessons_to_attach(ctx.session, ctx.member.project_id, since)


async def ask_lesson(ctx: Ctx) -> Choices:
    t = ctx.t
    options = [Option(f"{local(ctx, x.starts_at):%m-%d} {_short(x.title, 20)}", f"l{x.id}")
               for x in await _lessons(ctx)]
    options.append(Option(t("不关联"), "none"))
    return Choices(t("关联一次红盾课堂吗？关联后，从课堂当天起开放 {n} 天。").format(n=LESSON_DAYS),
                   tuple(options))


@pick_one(setup_flow, ask_lesson)
async def lesson(ctx: Ctx, value: str) -> None:
    if value == "none":
        await ctx.goto(until)
        return
    chosen = await quizzes.lesson(ctx.session, int(value[1:]))
    if chosen is None or chosen.project_id != ctx.member.project_id or chosen.cancelled_at is not None:
        return await ctx.reject(ctx.t("这次课堂已取消或不存在，请重新选择。"))
    opens = local(ctx, chosen.starts_at).date()
    await publish(ctx, opens, opens + dt.timedelta(days=LESSON_DAYS - 1), chosen)


async def ask_until(ctx: Ctx) -> Choices:
    t, day = ctx.t, today(ctx)
    return Choices(t("开放到哪天（含当天）？点按钮或输入日期，如 12-31。"),
                   tuple(Option(t(label), (day + dt.timedelta(days=n - 1)).isoformat())
                         for label, n in OPEN_FOR))


@setup_flow.step(accepts={Kind.choice, Kind.text}, ask=ask_until)
async def until(ctx: Ctx, msg: Incoming) -> None:
    t, day = ctx.t, today(ctx)
    if msg.kind is Kind.choice:
        last = dt.date.fromisoformat(msg.choice) if ctx.offered(msg.choice) else None
    else:
        last = parse_day(msg.text, day, prefer="future")
    if last is None:
        return await ctx.reject(t("没看懂这个日期，请点按钮或输入如 12-31。"))
    if last < day:
        return await ctx.reject(t("结束日期不能早于今天。"))
    if last > day + dt.timedelta(days=MAX_OPEN_DAYS):
        return await ctx.reject(t("最长开放一年，请选一个更近的日期。"))
    await publish(ctx, day, last, None)


async def publish(ctx: Ctx, opens_on: dt.date, closes_on: dt.date, attached: Lesson | None) -> None:
    """Save the quiz and tell the project's members."""
    t, data, member = ctx.t, ctx.data, ctx.member
    quiz = await quizzes.create_quiz(
        ctx.session, project_id=member.project_id, lesson_id=attached.id if attached else None,
        title=data["title"], category=data.get("category"), question_count=data["count"],
        attempts=ctx.config.lessons.quiz_attempts, opens_on=opens_on, closes_on=closes_on,
        created_by_id=member.id, created_at=ctx.now)
    ctx.finish()
    size = await quizzes.bank_size(ctx.session, quiz.category)
    lines = [t("✅ 已发布答题 #{id}「{title}」：{category}，每人 {n} 题，{span} 开放，每人可答 {k} 次。").format(
        id=quiz.id, title=quiz.title, category=quiz.category or t("全部题目"), n=quiz.question_count,
        span=span_text(t, quiz), k=quiz.attempts)]
    if size < quiz.question_count:
        lines.append(t("可选题目只有 {n} 道，每次全部作答。").format(n=size))
    told = await tell_members(ctx, quiz, attached)
    lines.append(t("已通知项目成员 {n} 人。").format(n=told))
    buttons = [Option(t("看排行"), f"/quiz rank {quiz.id}")]
    if opens_on <= today(ctx):
        buttons.insert(0, Option(t("开始答题"), f"/quiz {quiz.id}"))
    ctx.send(Choices("\n".join(lines), tuple(buttons)))


async def tell_members(ctx: Ctx, quiz: Quiz, attached: Lesson | None) -> int:
    """A notice with a start button to each reachable member of the project but the setter.
    A quiz of a lesson still to come is sent when the lesson ends."""
    members = [m for m in await quizzes.active_members(ctx.session, quiz.project_id)
               if m.id != ctx.member.id]
    unreachable = await unreachable_members(ctx.session, [m.id for m in members])
    later = attached.ends_at if attached is not None and attached.ends_at > ctx.now else None
    told = 0
    for m in members:
        if m.id in unreachable:
            continue
        tr = translator_for(m, ctx.config.locale.default)
        text = (tr("📝 课后答题「{title}」（红盾课堂：{lesson}）：每人 {n} 题，{span} 开放。").format(
                    title=quiz.title, lesson=attached.title, n=quiz.question_count, span=span_text(tr, quiz))
                if attached is not None else
                tr("📝 新的答题「{title}」：每人 {n} 题，{span} 开放。").format(
                    title=quiz.title, n=quiz.question_count, span=span_text(tr, quiz)))
        ctx.notify(Notice(m.id, (Choices(text, (Option(tr("开始答题"), f"/quiz {quiz.id}"),)),),
                          kind="quiz_opened", key=f"quiz_opened:{quiz.id}:{m.id}", not_before=later))
        told += 1
    return told


# ---- redshield quizzes


def cli_arguments(p) -> None:
    p.add_argument("--project", required=True, help="project code")
    p.add_argument("--json", action="store_true", help="machine-readable output")


async def quizzes_report(session, config, project) -> dict:
    """Every quiz of a project, the latest first, with its attempts, average and ranking."""
    tz = config.tz
    out = []
    for quiz in await quizzes.project_quizzes(session, project.id):
        attached = await quizzes.lesson(session, quiz.lesson_id) if quiz.lesson_id else None
        totals = await quizzes.totals(session, quiz.id)
        ranked = await quizzes.ranking(session, quiz.id)
        out.append({
            "id": quiz.id, "title": quiz.title, "category": quiz.category,
            "lesson": {"id": attached.id, "title": attached.title} if attached else None,
            "opens_on": quiz.opens_on.isoformat(), "closes_on": quiz.closes_on.isoformat(),
            "question_count": quiz.question_count, "attempts_allowed": quiz.attempts,
            "attempts": totals.started, "finished": totals.finished, "people": totals.people,
            "average": round(totals.average, 2) if totals.average is not None else None,
            "average_of": round(totals.average_total, 2) if totals.average_total is not None else None,
            "ranking": [{"rank": r.rank, "member_id": r.member_id, "name": r.name, "crew": r.crew,
                         "score": r.score, "total": r.total,
                         "finished": r.finished_at.astimezone(tz).isoformat(timespec="minutes")}
                        for r in ranked],
        })
    return {"project": project.code, "name": project.name, "quizzes": out}


def report_text(t: Translator, report: dict) -> str:
    lines = [t("{name}（{code}）· 答题与竞赛").format(name=report["name"], code=report["project"])]
    if not report["quizzes"]:
        lines.append("  " + t("（还没有答题）"))
    for q in report["quizzes"]:
        lines.append(f"#{q['id']} {q['title']}  {q['category'] or t('全部题目')}  "
                     f"{q['opens_on']}～{q['closes_on']}"
                     + (("  " + t("课堂：{title}").format(title=q["lesson"]["title"])) if q["lesson"] else ""))
        average = t("平均 {score}/{total}").format(score=q["average"], total=q["average_of"]) \
            if q["average"] is not None else t("平均 —")
        lines.append("  " + t("答题 {n} 次，完成 {done} 次，{people} 人；{average}").format(
            n=q["attempts"], done=q["finished"], people=q["people"], average=average))
        for r in q["ranking"]:
            lines.append(f"  {r['rank']}. {r['name']}  {r['score']}/{r['total']}  "
                         f"{r['finished'][:16].replace('T', ' ')}")
    return "\n".join(lines)


async def cli_quizzes(app, args) -> int:
    sessions = await app.open()
    async with sessions() as s:
        project = await project_of(s, args.project)
        report = await quizzes_report(s, app.config, project)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(report_text(Translator(app.config.locale.default), report))
    return 0
