"""Benchmark of the week totals (`handlers.weeks.project_weeks`) on a year of patrols.

Run by hand; it prints figures and checks only that the answers agree, never times:

    python -m bench.week [--members 100000] [--projects 200] [--backend sqlite|postgresql|both]
                         [--pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
                         [--keep PATH] [--keep-pg]

The data set is deterministic (seeded): members spread evenly over the projects (3 zones
each, all with the role "member", joined a year before the data starts), about
`PATROLS_PER_MEMBER` personal patrols per member over the 52 ISO weeks of `YEAR` (20 to
120 minutes in the daytime, Asia/Shanghai; some late on Sunday across midnight into the
next week; a few logged afterwards, off site or auto-closed) and one or two team
patrols per project and week. It times `project_weeks` for one project and for all of
them in a week in the middle of the year (wall time, and this process's CPU time since
the machine may be shared), times the personal-minutes statement alone (the database
and driver part), and prints its plan so one can see which index is used.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import hashlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from handlers.weeks import parse_week, project_weeks
from storage.db import create_engine, session_factory, upgrade_sync
from storage.models import Member, MemberRole, Patrol, Project, TeamPatrol, UTCDateTime, Zone, ZoneKind

TZ = ZoneInfo("Asia/Shanghai")
YEAR = 2025  # the data covers ISO weeks 1..52 of this year
BENCH_WEEK = f"{YEAR}-W26"
SEED = 2025_11_24
PATROLS_PER_MEMBER = 20  # on average, over the year
CHUNK = 20_000  # rows per executemany / COPY
PERSONAL, TEAM = 120, 120  # minutes owed a week ([practice] in the config)
CAP = dt.timedelta(minutes=240)  # max_patrol_minutes: auto-closed patrols end here
RUNS_ONE, RUNS_ALL = 20, 5
PG_SCHEMA = "bench_week"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

TABLES = [Project.__table__, Zone.__table__, Member.__table__, MemberRole.__table__,
          Patrol.__table__, TeamPatrol.__table__]


# --- the data set -----------------------------------------------------------------


def _utc(local: dt.datetime) -> dt.datetime:
    return local.replace(tzinfo=TZ).astimezone(dt.UTC).replace(tzinfo=None)


class DataSet:
    """Generates the rows (tuples in the tables' column order, naive UTC datetimes)."""

    def __init__(self, members: int, projects: int, seed: int = SEED):
        if members < projects:
            raise SystemExit("need at least one member per project")
        self.members, self.projects, self.seed = members, projects, seed
        self.first_day = dt.date.fromisocalendar(YEAR, 1, 1)
        self.joined = _utc(dt.datetime.combine(self.first_day - dt.timedelta(days=365),
                                               dt.time(9)))

    @property
    def fingerprint(self) -> int:
        """Marks a SQLite file whose build finished (PRAGMA user_version)."""
        key = f"{self.members}/{self.projects}/{self.seed}/{PATROLS_PER_MEMBER}/{YEAR}/credit"
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") >> 1 or 1

    def project_of(self, member_id: int) -> int:
        return (member_id - 1) * self.projects // self.members + 1

    def first_member(self, project_id: int) -> int:
        # The smallest m with project_of(m) == project_id.
        return -(-(project_id - 1) * self.members // self.projects) + 1

    def centre(self, project_id: int) -> tuple[float, float]:
        return 22.0 + (project_id % 97) * 0.11, 108.0 + (project_id % 89) * 0.13

    def rows(self, table: str):
        return getattr(self, f"_{table}")()

    def _projects(self):
        for p in range(1, self.projects + 1):
            yield (p, f"P{p:04d}", f"项目{p:04d}", f"第{p:04d}项目党支部")

    def _zones(self):
        for p in range(1, self.projects + 1):
            lat, lon = self.centre(p)
            for k, kind in enumerate(ZoneKind):
                yield (3 * (p - 1) + k + 1, p, f"{p}号{kind.value}", kind.value,
                       round(lat + 0.002 * k, 6), round(lon, 6), 300)

    def _members(self):
        rng = random.Random(self.seed + 1)
        for m in range(1, self.members + 1):
            active = rng.random() >= 0.01  # one in a hundred has left
            yield (m, self.project_of(m), f"成员{m:06d}", active, None,
                   f"wx{m:06d}" if m % 2 else None, None, self.joined)

    def _member_roles(self):
        for m in range(1, self.members + 1):
            yield (m, "member")

    def _patrols(self):
        """Week by week, in start order; a member patrols at most once a week."""
        rng = random.Random(self.seed + 2)
        ids = range(1, self.members + 1)
        per_week = self.members * PATROLS_PER_MEMBER / 52
        pid = 0
        for w in range(52):
            monday = self.first_day + dt.timedelta(weeks=w)
            midnights = [_utc(dt.datetime.combine(monday + dt.timedelta(days=d), dt.time(0)))
                         for d in range(7)]
            count = min(self.members, round(per_week * rng.uniform(0.9, 1.1)))
            week = []
            for m in rng.sample(ids, count):
                day = rng.randrange(7)
                if day == 6 and rng.random() < 0.15:
                    minute = rng.randrange(22 * 60 + 20, 23 * 60 + 55)  # late on Sunday
                else:
                    minute = rng.randrange(7 * 60, 19 * 60)
                start = midnights[day] + dt.timedelta(minutes=minute, seconds=rng.randrange(60))
                r = rng.random()
                auto = r < 0.003
                logged = 0.003 <= r < 0.033
                off_site = not logged and rng.random() < 0.02
                end = start + (CAP if auto else dt.timedelta(minutes=rng.randint(20, 120)))
                created = end + dt.timedelta(minutes=rng.randint(30, 2880)) if logged else start
                project = self.project_of(m)
                zone = 3 * (project - 1) + rng.randrange(3) + 1
                if logged:
                    where = (None, None, None, None)
                else:
                    lat, lon = self.centre(project)
                    if off_site:
                        lat += 0.05
                    where = (round(lat + rng.uniform(-0.002, 0.002), 6),
                             round(lon + rng.uniform(-0.002, 0.002), 6),
                             round(lat + rng.uniform(-0.002, 0.002), 6),
                             round(lon + rng.uniform(-0.002, 0.002), 6))
                note = "补录：手机没电" if logged and rng.random() < 0.5 else None
                # Credit (migration 0006): an auto-closed patrol counts up to its last sign
                # of life; off-site ones were accepted, but in the last two weeks' some wait.
                credited = start + dt.timedelta(minutes=45) if auto else None
                accepted = (None if w >= 50 else True) if off_site else None
                week.append([m, project, zone, start, end, *where, off_site, logged, auto,
                             note, created, None, credited, accepted, None, None])
            week.sort(key=lambda row: row[3])
            for row in week:
                pid += 1
                yield (pid, *row)

    def _team_patrols(self):
        rng = random.Random(self.seed + 3)
        tid = 0
        for w in range(52):
            monday = self.first_day + dt.timedelta(weeks=w)
            week = []
            for p in range(1, self.projects + 1):
                days = rng.sample(range(1, 6), 1 + (rng.random() < 0.5))  # Tue..Sat
                for day in days:
                    local = dt.datetime.combine(monday + dt.timedelta(days=day), dt.time(9))
                    start = _utc(local) + dt.timedelta(minutes=rng.randrange(0, 7 * 60))
                    end = start + dt.timedelta(minutes=rng.randint(60, 150))
                    week.append([p, self.first_member(p), rng.random() < 0.3, start, end, False])
            week.sort(key=lambda row: row[3])
            for row in week:
                tid += 1
                yield (tid, *row)


def _sqlite_row(row: tuple, stamps: list[int]) -> tuple:
    """Naive UTC datetimes as the text SQLAlchemy's SQLite DateTime stores."""
    row = list(row)
    for i in stamps:
        if row[i] is not None:
            row[i] = row[i].isoformat(" ", "microseconds")
    return tuple(row)


def _chunks(rows, size=CHUNK):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _load(engine, data: DataSet, schema: str | None) -> None:
    """Bulk insert every table (rows in the tables' column order), a transaction per chunk."""
    pg = engine.dialect.name == "postgresql"
    for table in TABLES:
        cols = [c.name for c in table.columns]
        # SQLite: the table's INSERT compiled once and run by the driver (executemany), with
        # the datetimes written as SQLAlchemy writes them; its per-row parameter handling
        # took two thirds of the load time.
        insert = str(sa.insert(table).compile(dialect=engine.dialect))
        stamps = [i for i, c in enumerate(table.columns) if isinstance(c.type, UTCDateTime)]
        started, n = time.perf_counter(), 0
        async with engine.connect() as conn:
            # Build-only settings on this connection (the timed engine is a fresh one). The
            # generated rows are consistent, so the foreign-key checks are skipped: they
            # took most of the load time (three look-ups per patrol).
            if pg:
                raw = (await conn.get_raw_connection()).driver_connection
                await raw.execute("SET session_replication_role = replica")
            else:
                await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await conn.exec_driver_sql("PRAGMA synchronous=OFF")
                await conn.exec_driver_sql("PRAGMA cache_size=-524288")  # 512 MB
                await conn.commit()
            for chunk in _chunks(data.rows(table.name)):
                if pg:
                    async with raw.transaction():
                        await raw.copy_records_to_table(table.name, records=chunk, columns=cols,
                                                        schema_name=schema)
                else:
                    await conn.exec_driver_sql(insert, [_sqlite_row(r, stamps) for r in chunk])
                    await conn.commit()
                n += len(chunk)
            if pg:
                await raw.execute("RESET session_replication_role")
            else:
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        print(f"  {table.name:<14} {n:>10,} rows  {time.perf_counter() - started:7.1f} s",
              flush=True)
    if pg:
        async with engine.begin() as conn:  # COPY with explicit ids leaves the sequences at 1
            for table in TABLES:
                if "id" in table.c:
                    await conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT max(id) FROM {table.name}))")


async def _analyze(engine) -> None:
    if engine.dialect.name == "postgresql":
        # VACUUM as autovacuum would have long done on a year-old table (visibility map
        # for index-only scans), ANALYZE for the planner.
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in TABLES:
                await conn.exec_driver_sql(f"VACUUM ANALYZE {table.name}")
    else:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


async def _mark_built(engine, data: DataSet) -> None:
    if engine.dialect.name == "sqlite":
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f"PRAGMA user_version = {data.fingerprint}")
            await conn.commit()


async def build(url: str, data: DataSet, schema: str | None = None) -> float:
    started = time.perf_counter()
    upgrade_sync(url, schema=schema)
    print(f"  migrated in {time.perf_counter() - started:.1f} s", flush=True)
    engine = create_engine(url, schema=schema)
    try:
        await _load(engine, data, schema)
        t = time.perf_counter()
        await _analyze(engine)
        await _mark_built(engine, data)
        print(f"  {'VACUUM ANALYZE' if schema else 'ANALYZE'} in {time.perf_counter() - t:.1f} s")
    finally:
        await engine.dispose()
    return time.perf_counter() - started


# --- measuring ----------------------------------------------------------------------


async def counts(engine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {t.name: (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar()
                for t in TABLES}


class Capture:
    """Records the statements sent to the database while `on`."""

    def __init__(self, engine):
        self.on, self.seen = False, []
        sa.event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.seen.append((statement, parameters))

    @contextmanager
    def __call__(self):
        self.seen, self.on = [], True
        try:
            yield self.seen
        finally:
            self.on = False


def _member_query(seen):
    return next((s, p) for s, p in seen if "member_roles" in s)


async def plan(engine, statement: str, parameters) -> str:
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = (await conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)).all()
            return "\n".join("    " + r[0] for r in rows)
        rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)).all()
        depth, lines = {0: -1}, []
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("    " + "  " * depth[node] + detail)
        return "\n".join(lines)


async def timed(Session, week, project_id, runs, probe):
    """(wall, CPU of this process) times of `runs` calls after one warm-up, and a digest of
    the answer (with the week of project `probe`). The answer is dropped before the timed
    calls, so that they run with no extra objects alive."""
    async def once():
        async with Session() as session:
            t, cpu = time.perf_counter(), time.process_time()
            result = await project_weeks(session, week, PERSONAL, TEAM, project_id)
            return (time.perf_counter() - t, time.process_time() - cpu), result

    _, result = await once()  # warm-up
    members = [m for pw in result.values() for m in pw.members]
    digest = {"projects": len(result), "members": len(members),
              "minutes": sum(m.minutes for m in members), "met": sum(m.met for m in members),
              "team": sum(pw.team_minutes for pw in result.values()),
              "probe": result.get(probe)}
    del result, members
    gc.collect()
    times = [(await once())[0] for _ in range(runs)]
    return times, digest


async def time_statement(engine, statement: str, parameters, runs: int) -> list[float]:
    times = []
    async with engine.connect() as conn:
        await conn.exec_driver_sql(statement, parameters)  # warm-up
        for _ in range(runs):
            t = time.perf_counter()
            (await conn.exec_driver_sql(statement, parameters)).all()
            times.append(time.perf_counter() - t)
    return times


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def sizes(engine, path: Path | None) -> list[str]:
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            out = []
            for table in ("patrols", "team_patrols", "members"):
                total, heap, idx = (await conn.exec_driver_sql(
                    f"SELECT pg_total_relation_size('{table}'), pg_relation_size('{table}'), "
                    f"pg_indexes_size('{table}')")).one()
                out.append(f"{table}: {total / 2**20:.1f} MiB in all, table {heap / 2**20:.1f} "
                           f"MiB, indexes {idx / 2**20:.1f} MiB")
            rows = (await conn.exec_driver_sql(
                "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
                "WHERE indrelid = 'patrols'::regclass ORDER BY 1")).all()
            out += [f"  {name}: {size / 2**20:.1f} MiB" for name, size in rows]
            return out
        out = [f"file {path}: {path.stat().st_size / 2**20:.1f} MiB"]
        rows = (await conn.exec_driver_sql(
            "SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE '%patrols%' "
            "OR name LIKE '%members%' GROUP BY name ORDER BY name")).all()
        out += [f"  {name}: {size / 2**20:.1f} MiB" for name, size in rows]
        return out


async def measure(url: str, schema: str | None, data: DataSet, path: Path | None) -> None:
    engine = create_engine(url, schema=schema)
    capture = Capture(engine)
    Session = session_factory(engine)
    week = parse_week(BENCH_WEEK, TZ)
    project_id = (data.projects + 1) // 2
    try:
        n = await counts(engine)
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in n.items()))
        for line in await sizes(engine, path):
            print("size: " + line)

        print(f"load average (1 min) before timing: {os.getloadavg()[0]:.2f} "
              f"on {os.cpu_count()} CPUs")
        one_times, one = await timed(Session, week, project_id, RUNS_ONE, project_id)
        all_times, every = await timed(Session, week, None, RUNS_ALL, project_id)
        for label, times in ((f"(a) one project's week ({project_id})", one_times),
                             ("(b) all projects' week", all_times)):
            wall, cpu = zip(*times)
            print(f"{label:<34} median {_ms(statistics.median(wall))}   min {_ms(min(wall))}   "
                  f"({len(wall)} runs; CPU of this process: median {_ms(statistics.median(cpu))})")

        # The answers, so a reader can see the query did real work; and they must agree.
        print(f"week {week}: {every['projects']} projects, {every['members']:,} members, "
              f"{every['minutes']:,} personal minutes, {every['met']:,} met the {PERSONAL} min, "
              f"team minutes {every['team']:,}; project {project_id}: {one['members']} members, "
              f"{one['minutes']:,} min")
        if one["probe"] != every["probe"]:
            raise SystemExit("one project's week differs from the same project in all projects'")

        # The same personal-minutes statement sent as plain SQL (no SQLAlchemy types, no
        # objects): the part of the time spent in the database and the driver.
        statements = {}
        for label, pid in (("one project", project_id), ("all projects", None)):
            with capture() as seen:
                async with Session() as session:
                    await project_weeks(session, week, PERSONAL, TEAM, pid)
            statements[label] = _member_query(seen)
        for (label, (statement, parameters)), runs in zip(statements.items(),
                                                          (RUNS_ONE, RUNS_ALL)):
            times = await time_statement(engine, statement, parameters, runs)
            print(f"    its personal-minutes statement alone, {label:<12} median "
                  f"{_ms(statistics.median(times))}   min {_ms(min(times))}   ({runs} runs)")
        print(f"load average (1 min) after timing: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

        for label, (statement, parameters) in statements.items():
            print(f"plan of the personal-minutes query, {label}:")
            print(await plan(engine, statement, parameters))
    finally:
        await engine.dispose()


# --- the two databases -----------------------------------------------------------------


async def _has_data(url: str, data: DataSet) -> bool:
    """Whether the SQLite file holds a finished build of this data set (refuses others)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            mark = (await conn.exec_driver_sql("PRAGMA user_version")).scalar()
            names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    finally:
        await engine.dispose()
    if mark == data.fingerprint:
        return True
    if names:
        raise SystemExit(f"{url} holds something else than a finished build of this data set: "
                         "remove it or pick another --keep path")
    return False


async def run_sqlite(data: DataSet, keep: str | None) -> None:
    print("== SQLite", sqlite_version(), flush=True)
    tmp = None
    if keep:
        path = Path(keep).resolve()
    else:
        tmp = tempfile.mkdtemp(prefix="bench_week_")
        path = Path(tmp) / "bench.db"
    url = f"sqlite+aiosqlite:///{path}"
    try:
        if path.exists() and await _has_data(url, data):
            # A build kept from before a later migration (an index, say) is brought up to
            # date, so the timings are of the current schema.
            started = time.perf_counter()
            upgrade_sync(url)
            engine = create_engine(url)
            try:
                await _analyze(engine)
            finally:
                await engine.dispose()
            print(f"reusing {path} (no build; migrated to head and analysed in "
                  f"{time.perf_counter() - started:.1f} s)")
        else:
            print(f"building {path}", flush=True)
            print(f"build time: {await build(url, data):.1f} s")
        await measure(url, None, data, path)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def sqlite_version() -> str:
    import sqlite3
    return sqlite3.sqlite_version


async def run_postgresql(data: DataSet, url: str, keep: bool) -> None:
    admin = create_engine(url)
    try:
        async with admin.begin() as conn:
            version = (await conn.exec_driver_sql("SHOW server_version")).scalar()
            print(f"== PostgreSQL {version}, schema {PG_SCHEMA}", flush=True)
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')
            await conn.exec_driver_sql(f'CREATE SCHEMA "{PG_SCHEMA}"')
        try:
            print(f"build time: {await build(url, data, schema=PG_SCHEMA):.1f} s")
            await measure(url, PG_SCHEMA, data, None)
        finally:
            if not keep:
                async with admin.begin() as conn:
                    await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')
    finally:
        await admin.dispose()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.week", description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--projects", type=int, default=200)
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--pg-url", default=os.environ.get("REDSHIELD_BENCH_PG_URL", PG_URL))
    ap.add_argument("--keep", metavar="PATH",
                    help="SQLite file to build once and reuse on later runs")
    ap.add_argument("--keep-pg", action="store_true",
                    help=f"leave the PostgreSQL schema {PG_SCHEMA} in place at the end")
    args = ap.parse_args(argv)
    data = DataSet(args.members, args.projects)
    print(f"data: {data.members:,} members in {data.projects} projects, ISO year {YEAR}, "
          f"about {PATROLS_PER_MEMBER} patrols per member; timed week {BENCH_WEEK}", flush=True)

    async def run():
        if args.backend in ("sqlite", "both"):
            await run_sqlite(data, args.keep)
        if args.backend in ("postgresql", "both"):
            await run_postgresql(data, args.pg_url, args.keep_pg)

    asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
