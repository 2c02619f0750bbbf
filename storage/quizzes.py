"""The question bank, quizzes and their attempts: importing questions, drawing them for
an attempt, the quizzes open on a day, and the ranking of a quiz.

A quiz's ranking takes each person's best finished attempt; between equal scores the
one who finished it first ranks higher. Names are shown by the callers: a quiz is a
competition among the project's members."""
from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Lesson, Member, Question, Quiz, QuizAttempt

_IN_CHUNK = 500  # keys per IN (...) list, well under every driver's parameter limit
_rng = random.SystemRandom()  # the draw must not be guessable from earlier draws


# ---- the bank


@dataclass(frozen=True)
class NewQuestion:
    """A question as a file gives it, checked."""

    category: str
    text: str
    options: list[str]
    answer: int  # index into options
    explanation: str | None


async def upsert_questions(session: AsyncSession, rows: Sequence[NewQuestion],
                           now: dt.datetime) -> tuple[int, int]:
    """Add the questions not in the bank, update those known by (category, text) when
    anything differs (a question retired earlier comes back). (added, updated)."""
    known: dict[tuple[str, str], Question] = {}
    keys = sorted({(r.category, r.text) for r in rows})
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start:start + _IN_CHUNK]
        found = await session.execute(sa.select(Question).where(
            sa.tuple_(Question.category, Question.text).in_(chunk)))
        known.update(((q.category, q.text), q) for q in found.scalars())
    added = updated = 0
    for row in rows:
        question = known.get((row.category, row.text))
        wanted = dict(options=list(row.options), answer=row.answer, explanation=row.explanation,
                      active=True)
        if question is None:
            question = Question(category=row.category, text=row.text, imported_at=now, **wanted)
            session.add(question)
            known[(row.category, row.text)] = question
            added += 1
        elif any(getattr(question, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(question, k, v)
            question.imported_at = now
            updated += 1
    await session.flush()
    return added, updated


async def categories(session: AsyncSession) -> list[tuple[str, int]]:
    """The bank's categories with how many active questions each holds, by name."""
    rows = await session.execute(
        sa.select(Question.category, sa.func.count()).where(Question.active.is_(True))
        .group_by(Question.category).order_by(Question.category))
    return [(c, n) for c, n in rows]


async def bank_size(session: AsyncSession, category: str | None) -> int:
    stmt = sa.select(sa.func.count()).select_from(Question).where(Question.active.is_(True))
    if category is not None:
        stmt = stmt.where(Question.category == category)
    return (await session.execute(stmt)).scalar_one()


async def draw(session: AsyncSession, category: str | None, count: int) -> list[int]:
    """Up to `count` active questions at random (of `category`, or of the whole bank)."""
    stmt = sa.select(Question.id).where(Question.active.is_(True))
    if category is not None:
        stmt = stmt.where(Question.category == category)
    ids = list((await session.execute(stmt)).scalars())
    return _rng.sample(ids, min(count, len(ids)))


async def question(session: AsyncSession, question_id: int) -> Question | None:
    return await session.get(Question, question_id)


# ---- quizzes


async def create_quiz(session: AsyncSession, **fields) -> Quiz:
    quiz = Quiz(**fields)
    session.add(quiz)
    await session.flush()
    return quiz


async def get_quiz(session: AsyncSession, quiz_id: int) -> Quiz | None:
    return await session.get(Quiz, quiz_id)


async def open_quizzes(session: AsyncSession, project_id: int, today: dt.date) -> list[Quiz]:
    """The project's quizzes open on `today` (opens_on..closes_on, both inclusive), the
    ones closing soonest first."""
    rows = await session.execute(
        sa.select(Quiz).where(Quiz.project_id == project_id, Quiz.opens_on <= today,
                              Quiz.closes_on >= today)
        .order_by(Quiz.closes_on, Quiz.id))
    return list(rows.scalars())


async def project_quizzes(session: AsyncSession, project_id: int) -> list[Quiz]:
    """Every quiz of a project, the latest opened first."""
    rows = await session.execute(sa.select(Quiz).where(Quiz.project_id == project_id)
                                 .order_by(Quiz.opens_on.desc(), Quiz.id.desc()))
    return list(rows.scalars())


async def lessons_to_attach(session: AsyncSession, project_id: int, since: dt.datetime,
                            limit: int = 8) -> list[Lesson]:
    """The project's lessons starting from `since` on (held lately or to come), not
    cancelled, the earliest first."""
    rows = await session.execute(
        sa.select(Lesson).where(Lesson.project_id == project_id, Lesson.starts_at >= since,
                                Lesson.cancelled_at.is_(None))
        .order_by(Lesson.starts_at, Lesson.id).limit(limit))
    return list(rows.scalars())


async def lesson(session: AsyncSession, lesson_id: int) -> Lesson | None:
    return await session.get(Lesson, lesson_id)


async def active_members(session: AsyncSession, project_id: int) -> list[Member]:
    """Everyone of the project in the directory and active, by id."""
    rows = await session.execute(sa.select(Member).where(
        Member.project_id == project_id, Member.active.is_(True)).order_by(Member.id))
    return list(rows.scalars())


# ---- attempts


async def start_attempt(session: AsyncSession, quiz: Quiz, member_id: int, question_ids: list[int],
                        now: dt.datetime) -> QuizAttempt:
    attempt = QuizAttempt(quiz_id=quiz.id, member_id=member_id, question_ids=list(question_ids),
                          answers=[], score=0, started_at=now)
    session.add(attempt)
    await session.flush()
    return attempt


async def attempt_for_update(session: AsyncSession, attempt_id: int) -> QuizAttempt | None:
    """The attempt, locked until the answer is stored (two taps at once store one)."""
    return await session.get(QuizAttempt, attempt_id, with_for_update=True, populate_existing=True)


def record_answer(attempt: QuizAttempt, chosen: int | None, correct: bool) -> None:
    # A new list: an in-place append would not be seen as a change of the JSON column.
    attempt.answers = [*attempt.answers, chosen]
    if correct:
        attempt.score += 1


async def attempts_by(session: AsyncSession, member_id: int, quiz_ids: Iterable[int]
                      ) -> dict[int, list[QuizAttempt]]:
    """A member's attempts at each of `quiz_ids`, oldest first."""
    ids = sorted(set(quiz_ids))
    out: dict[int, list[QuizAttempt]] = {i: [] for i in ids}
    for start in range(0, len(ids), _IN_CHUNK):
        rows = await session.execute(
            sa.select(QuizAttempt).where(QuizAttempt.member_id == member_id,
                                         QuizAttempt.quiz_id.in_(ids[start:start + _IN_CHUNK]))
            .order_by(QuizAttempt.id))
        for attempt in rows.scalars():
            out[attempt.quiz_id].append(attempt)
    return out


@dataclass(frozen=True)
class Ranked:
    rank: int
    member_id: int
    name: str
    crew: str | None
    score: int
    total: int  # questions in that attempt
    finished_at: dt.datetime


async def lock_member(session: AsyncSession, member_id: int) -> None:
    """Serialise a member's attempts (a row lock on PostgreSQL; SQLite writes one at a time)."""
    await session.execute(sa.select(Member.id).where(Member.id == member_id).with_for_update())


def _order(attempt: QuizAttempt) -> tuple:
    share = Fraction(attempt.score, max(len(attempt.question_ids), 1))
    return (-share, -attempt.score, attempt.finished_at, attempt.id)


async def ranking(session: AsyncSession, quiz_id: int) -> list[Ranked]:
    """Each person's best finished attempt, best first; equal scores by earlier finish.
    Compared as the share of questions right: attempts drawn before and after the bank grew
    may differ in length."""
    rows = await session.execute(
        sa.select(QuizAttempt, Member.name, Member.crew)
        .join(Member, Member.id == QuizAttempt.member_id)
        .where(QuizAttempt.quiz_id == quiz_id, QuizAttempt.finished_at.is_not(None)))
    best: dict[int, tuple[QuizAttempt, str, str | None]] = {}
    for attempt, name, crew in rows:
        held = best.get(attempt.member_id)
        if held is None or _order(attempt) < _order(held[0]):
            best[attempt.member_id] = (attempt, name, crew)
    ordered = sorted(best.values(), key=lambda b: _order(b[0]))
    return [Ranked(i, a.member_id, name, crew, a.score, len(a.question_ids), a.finished_at)
            for i, (a, name, crew) in enumerate(ordered, start=1)]


@dataclass(frozen=True)
class QuizTotals:
    started: int  # attempts begun
    finished: int
    people: int  # who finished at least one
    average: float | None  # score of finished attempts
    average_total: float | None  # questions of finished attempts


async def totals(session: AsyncSession, quiz_id: int) -> QuizTotals:
    rows = (await session.execute(
        sa.select(QuizAttempt.member_id, QuizAttempt.score, QuizAttempt.question_ids,
                  QuizAttempt.finished_at).where(QuizAttempt.quiz_id == quiz_id))).all()
    done = [r for r in rows if r.finished_at is not None]
    return QuizTotals(
        started=len(rows), finished=len(done), people=len({r.member_id for r in done}),
        average=sum(r.score for r in done) / len(done) if done else None,
        average_total=sum(len(r.question_ids) for r in done) / len(done) if done else None)
