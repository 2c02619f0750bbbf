"""台账: a project's records as one Excel workbook, a sheet per ledger (personal and team
patrols, the week totals, hazards, violation reports without who sent them, leave, the
stars' points, lessons and their check-ins, zone education).

`redshield export --project CODE [--from D] [--to D] --out FILE.xlsx` for operators;
/export (导出台账) for the secretary and the safety officer, in a private chat: 本月,
上月 or 今年, sent back as a file made after the step commits (contract.Deferred)."""
from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from bot.core.contract import Choices, Deferred, Document, Incoming, Option
from bot.core.flow import Command, Ctx
from bot.core.i18n import N_, Translator
from bot.core.registry import CliError, Registry
from handlers import roles
from handlers.ledgers import workbook
from handlers.operator import project_of
from storage.models import Project

RENDERER = "ledger_workbook"
PERIODS = (("month", N_("本月")), ("last", N_("上月")), ("year", N_("今年")))


def register(registry: Registry) -> None:
    registry.command(Command("export", export_command, N_("导出台账（Excel）"),
                             words=(N_("导出台账"), N_("台账")), roles=roles.OFFICERS,
                             takes_args=True, private_only=True))
    registry.renderer(RENDERER, make_workbook)
    registry.cli("export", "a project's ledgers (台账) as one Excel workbook", cli_export,
                 cli_arguments)


# ---- periods


def period_days(kind: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The local days [first, last] of 本月 (to today), 上月 or 今年 (to today)."""
    if kind == "month":
        return today.replace(day=1), today
    if kind == "last":
        last = today.replace(day=1) - dt.timedelta(days=1)
        return last.replace(day=1), last
    if kind == "year":
        return today.replace(month=1, day=1), today
    raise ValueError(kind)


def period_label(kind: str, first: dt.date) -> str:
    """For the file name: 2026-11 for a month, 2026 for the year."""
    return f"{first.year}" if kind == "year" else f"{first:%Y-%m}"


# ---- /export


async def export_command(ctx: Ctx, msg: Incoming) -> None:
    t = ctx.t
    kind = msg.text.strip().lower()
    if kind not in dict(PERIODS):
        ctx.send(Choices(t("导出哪段时间的台账？"),
                         tuple(Option(t(label), f"/export {key}") for key, label in PERIODS)))
        return
    today = ctx.now.astimezone(ctx.config.tz).date()
    first, last = period_days(kind, today)
    ctx.say(t("正在生成 {first} 至 {last} 的台账……").format(first=first.isoformat(), last=last.isoformat()))
    ctx.send(Deferred(RENDERER, (ctx.member.project_id, first.isoformat(), last.isoformat(),
                                 period_label(kind, first), ctx.now.isoformat()), t.locale,
                      fallback=t("台账暂时无法生成，请稍后再发送 /export")))


async def make_workbook(session, config, t: Translator, project_id: int, first: str, last: str,
                        label: str, now: str) -> Callable[[], Document] | None:
    """The renderer: reads the rows now; the function returned writes the .xlsx (CPU only)."""
    project = await session.get(Project, project_id)
    if project is None:
        return None
    first_day, last_day = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    sheets = await workbook.collect(session, config, t, project, first_day, last_day,
                                    dt.datetime.fromisoformat(now))
    name = f"台账-{project.code}-{label}.xlsx"
    caption = t("{project} 台账 {first} 至 {last}").format(
        project=project.name, first=first_day.isoformat(), last=last_day.isoformat())

    def make() -> Document:
        return Document(workbook.render(sheets), name, caption=caption)

    return make


# ---- redshield export


def cli_arguments(p) -> None:
    p.add_argument("--project", required=True, help="project code")
    p.add_argument("--from", dest="first", help="first day, e.g. 2026-01-01 (default: 1 January)")
    p.add_argument("--to", dest="last", help="last day, inclusive (default: 31 December)")
    p.add_argument("--out", required=True, help="the .xlsx file to write")


def _day(text: str | None, default: dt.date, option: str) -> dt.date:
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"{option}: not a date: {text!r} (expected e.g. 2026-01-31)") from None


async def cli_export(app, args) -> int:
    config = app.config
    now = app.clock()
    year = now.astimezone(config.tz).year
    first = _day(args.first, dt.date(year, 1, 1), "--from")
    last = _day(args.last, dt.date(year, 12, 31), "--to")
    if first > last:
        raise CliError(f"--from {first} is after --to {last}")
    out = Path(args.out)
    if out.parent and not out.parent.is_dir():
        raise CliError(f"no such folder: {out.parent}")
    t = Translator(config.locale.default)
    sessions = await app.open()
    async with sessions() as s:
        project = await project_of(s, args.project)
        sheets = await workbook.collect(s, config, t, project, first, last, now)
    data = await asyncio.to_thread(workbook.render, sheets)
    out.write_bytes(data)
    print(f"{out}: {project.code} {first} – {last}, "
          + ", ".join(f"{sheet.title} {len(sheet.rows)}" for sheet in sheets))
    return 0

