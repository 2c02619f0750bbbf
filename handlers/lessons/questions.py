"""The question bank's file: `redshield questions import FILE [--encoding gbk]`.

Every row is checked before anything is written, and every problem is reported with its
line, as the directory import does; one bad row and nothing is imported. A question is
known by (category, text): importing it again updates its options, answer and
explanation. Questions missing from a later file stay in the bank (a bank grows).

TOML:

    [[questions]]
    category = "高处作业"            # e.g. a JGJ 59 item
    text = "安全带的正确挂法是？"
    options = ["低挂高用", "高挂低用", "随意挂"]   # 2 to 5
    answer = "B"                     # a letter, a number (1 = the first) or the option's text
    explanation = "……"               # optional

CSV: the columns category, text, option_a … option_e, answer, explanation; empty option
cells are left out, and a letter names its column (C: option_c).
"""
from __future__ import annotations

import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePath

from bot.core.registry import CliError, Registry
from handlers.directory.importer import (
    ImportProblems,
    Problem,
    _decode,
    _did_you_mean,
    _header_lines,
    _key_line,
    csv_lines,
    toml_document,
)
from storage.models import Question
from storage.quizzes import NewQuestion, upsert_questions

LETTERS = "ABCDE"
MIN_OPTIONS, MAX_OPTIONS = 2, len(LETTERS)
TEXT_MAX = Question.text.type.length  # 500
CATEGORY_MAX = Question.category.type.length  # 100
OPTION_MAX = 200
EXPLANATION_MAX = 1000  # read on a phone after each answer

TOML_KEYS = ("category", "text", "options", "answer", "explanation")
OPTION_COLUMNS = tuple(f"option_{c.lower()}" for c in LETTERS)
CSV_REQUIRED = ("category", "text", "option_a", "option_b", "answer")
CSV_COLUMNS = ("category", "text", *OPTION_COLUMNS, "answer", "explanation")

DEMO_BANK = Path(__file__).with_name("questions_demo.toml")  # about 30 questions by JGJ 59 item

# Full-width letters and digits, as a Chinese input method types them: Ｂ, ２.
FULL_WIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)})


@dataclass
class Row:
    """One question of a file, checked, with the line it came from."""

    line: int | None
    question: NewQuestion


def register(registry: Registry) -> None:
    registry.cli("questions", "the quiz question bank: `questions import FILE` (TOML or CSV)",
                 cli_questions, cli_arguments)


# ---- reading a file


def parse_questions(data: bytes, filename: str, encoding: str = "utf-8") -> list[Row]:
    """Read and check a question file; raises ImportProblems listing all that is wrong."""
    problems: list[Problem] = []
    suffix = PurePath(filename).suffix.lower()
    if suffix not in (".toml", ".csv"):
        raise ImportProblems(filename, [Problem(
            None, f"cannot tell the format from the name {filename!r}: use a .toml or .csv file")])
    text = _decode(data, encoding, problems)
    if text is None:
        raise ImportProblems(filename, problems)
    reader = _toml_rows if suffix == ".toml" else _csv_rows
    rows = [row for row in (_check(line, fields, problems) for line, fields in reader(text, problems))
            if row is not None]
    first: dict[tuple[str, str], int | None] = {}
    for row in rows:
        key = (row.question.category, row.question.text)
        if key in first:
            problems.append(Problem(row.line, f"question {row.question.text[:40]!r} of {key[0]!r} "
                                              f"appears twice (first at line {first[key]})"))
        else:
            first[key] = row.line
    if not problems and not rows:
        problems.append(Problem(None, "no questions in the file"))
    if problems:
        raise ImportProblems(filename, problems)
    return rows


def _toml_rows(text: str, problems: list[Problem]):
    """(line of its [[questions]] header, fields) for each question of the file."""
    document = toml_document(text, problems)
    if document is None:
        return
    lines = text.split("\n")
    for key, value in document.items():
        if key != "questions":
            problems.append(Problem(_key_line(lines, key), f"unknown table {key!r}"
                                                           f"{_did_you_mean(key, ['questions'])}"))
            continue
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            problems.append(Problem(_key_line(lines, key), "write each question as a [[questions]] table"))
            continue
        headers = _header_lines(lines, key)
        if len(headers) != len(value):  # written inline: the best we know is where the key is
            headers = [_key_line(lines, key)] * len(value)
        for line, table in zip(headers, value):
            for unknown in [k for k in table if k not in TOML_KEYS]:
                problems.append(Problem(line, f"unknown key {unknown!r} in [[questions]]"
                                              f"{_did_you_mean(unknown, TOML_KEYS)}"))
            options = table.get("options")
            fields = dict(table)
            if isinstance(options, list):
                fields["options"] = [(LETTERS[i] if i < len(LETTERS) else None, o)
                                     for i, o in enumerate(options)]
            yield line, fields


def _csv_rows(text: str, problems: list[Problem]):
    """(physical line, fields) for each row of the file: options as (letter, text) of the
    option cells that are filled in."""
    rows = csv_lines(text, problems)
    if rows is None:
        return
    header_line, header = rows[0]
    columns = [c.strip().lower() for c in header]
    missing = [c for c in CSV_REQUIRED if c not in columns]
    for column in missing:
        problems.append(Problem(header_line, f"missing column {column!r} in the header"))
    seen: set[str] = set()
    for column in columns:
        if column and column in seen:
            problems.append(Problem(header_line, f"column {column!r} appears twice"))
        elif column and column not in CSV_COLUMNS:
            problems.append(Problem(header_line, f"unknown column {column!r}"
                                                 f"{_did_you_mean(column, CSV_COLUMNS)}"))
        seen.add(column)
    if missing:
        return
    for line, cells in rows[1:]:
        if len(cells) > len(columns):
            problems.append(Problem(line, f"{len(cells)} cells but the header has {len(columns)} columns"))
            continue
        values = {c: cells[i] for i, c in enumerate(columns) if c and i < len(cells)}
        fields = {k: v for k, v in values.items() if k in ("category", "text", "answer", "explanation")}
        fields["options"] = [(letter, values[column].strip())
                             for letter, column in zip(LETTERS, OPTION_COLUMNS)
                             if values.get(column, "").strip()]
        yield line, fields


def _control(value: str, *, line_breaks: bool = False) -> str | None:
    """The first control character of `value` (None if it has none): PostgreSQL refuses a
    NUL in text, and the others are no part of a question. Where `line_breaks`, tab and
    line ends (LF; CRLF, as a CSV cell written on Windows has them) pass."""
    if line_breaks:
        value = value.replace("\r\n", "\n")
    return next((ch for ch in value if unicodedata.category(ch) == "Cc"
                 and not (line_breaks and ch in "\t\n")), None)


def _check(line: int | None, fields: dict, problems: list[Problem]) -> Row | None:
    """The question a row gives, or None after noting each thing wrong with it."""
    before = len(problems)

    def problem(message: str) -> None:
        problems.append(Problem(line, message))

    def text(key: str, limit: int, *, required: bool = True) -> str | None:
        value = fields.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                problem(f"missing {key}" if value is None else f"empty {key}")
            return None
        if not isinstance(value, str):
            problem(f"{key} must be text in quotes, not {value!r}")
            return None
        value = value.strip()
        if len(value) > limit:
            problem(f"{key} is {len(value)} characters long; at most {limit}")
        if (ch := _control(value, line_breaks=key == "explanation")) is not None:
            problem(f"{key} contains a control character {ch!r}")
        return value

    category = text("category", CATEGORY_MAX)
    question = text("text", TEXT_MAX)
    explanation = text("explanation", EXPLANATION_MAX, required=False)
    options = _options(fields.get("options"), problem)
    answer = _answer(fields.get("answer"), options, problem) if options is not None else None
    if len(problems) > before:
        return None
    return Row(line, NewQuestion(category, question, [o for _, o in options], answer, explanation))


def _options(raw, problem) -> list[tuple[str, str]] | None:
    if raw is None:
        problem("missing options")
        return None
    if not isinstance(raw, list):
        problem("options must be a list of texts in quotes, like [\"甲\", \"乙\"]")
        return None
    options: list[tuple[str, str]] = []
    bad = False
    for letter, value in raw:
        if not isinstance(value, str):
            problem(f"option {letter or len(options) + 1} must be text in quotes, not {value!r}")
            bad = True
            continue
        value = value.strip()
        if not value:
            problem(f"option {letter} is empty")
            bad = True
        elif len(value) > OPTION_MAX:
            problem(f"option {letter} is {len(value)} characters long; at most {OPTION_MAX}")
            bad = True
        elif (ch := _control(value)) is not None:
            problem(f"option {letter} contains a control character {ch!r}")
            bad = True
        options.append((letter, value))
    if not MIN_OPTIONS <= len(raw) <= MAX_OPTIONS:
        problem(f"{len(raw)} options: a question needs {MIN_OPTIONS} to {MAX_OPTIONS}")
        return None
    texts = [o for _, o in options]
    twice = sorted({o for o in texts if texts.count(o) > 1})
    if twice:
        problem(f"option {twice[0]!r} is given twice: the options must differ")
        bad = True
    return None if bad else options


def _answer(raw, options: list[tuple[str, str]], problem) -> int | None:
    """The index of the option `raw` names: its text, its letter, or its number from 1."""
    letters = [letter for letter, _ in options]
    texts = [o for _, o in options]
    shown = ", ".join(letters)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        problem("missing answer")
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        problem(f"answer must be a letter, a number or an option's text, not {raw!r}")
        return None
    if isinstance(raw, int):
        number, typed = raw, str(raw)
    else:
        typed = raw.strip()
        if (ch := _control(typed)) is not None:  # said so, not "none of the options"
            problem(f"answer contains a control character {ch!r}")
            return None
        if typed in texts:
            return texts.index(typed)
        plain = typed.translate(FULL_WIDTH).upper()
        if len(plain) == 1 and plain in LETTERS:
            if plain in letters:
                return letters.index(plain)
            problem(f"answer {typed!r} names no option (the options are {shown})")
            return None
        number = int(plain) if plain.isascii() and plain.isdecimal() and len(plain) <= 2 else None
    if number is None:
        problem(f"answer {typed!r} is none of the options: give a letter ({shown}), "
                f"a number or an option's exact text")
        return None
    if 1 <= number <= len(LETTERS) and LETTERS[number - 1] in letters:
        return letters.index(LETTERS[number - 1])
    problem(f"answer {typed} names no option (the options are {shown})")
    return None


# ---- writing


async def import_questions(session, data: bytes, filename: str, now, *, encoding: str = "utf-8"
                           ) -> tuple[int, int]:
    """Check a file and put its questions in the bank, in the caller's transaction:
    (added, updated). Raises ImportProblems, having written nothing, when a row is bad."""
    rows = parse_questions(data, filename, encoding=encoding)
    return await upsert_questions(session, [r.question for r in rows], now)


async def load_demo_bank(session, now) -> tuple[int, int]:
    """The demo's question bank (questions_demo.toml), for a demo loader."""
    return await import_questions(session, DEMO_BANK.read_bytes(), DEMO_BANK.name, now)


# ---- redshield questions import FILE


def cli_arguments(p) -> None:
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    one = actions.add_parser("import", help="add or update questions from a TOML or CSV file")
    one.add_argument("file", type=Path)
    one.add_argument("--encoding", default="utf-8", help="file encoding, e.g. gbk (default utf-8)")


async def cli_questions(app, args) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as err:
        raise CliError(f"cannot read {args.file}: {err.strerror}") from None
    try:
        rows = parse_questions(data, args.file.name, encoding=args.encoding)
    except ImportProblems as problems:  # checked before the database is touched
        print(f"{problems}\nnothing was imported.", file=sys.stderr)
        return 1
    sessions = await app.open()
    async with sessions() as s, s.begin():
        added, updated = await upsert_questions(s, [r.question for r in rows], app.clock())
    print(f"{added} added, {updated} updated")
    return 0
