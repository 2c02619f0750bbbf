"""`redshield import FILE`: projects, zones and members from a TOML or CSV file.

Two steps. `parse_directory` reads the file and checks every row on its own,
without the database. `apply_directory` resolves the names against the file
plus what the database already holds and writes only when everything
resolves, so a bad file changes nothing. Every problem found is reported at
once, each with the line it comes from.

The file format is an interface operators rely on:

    [[projects]]  code, name, branch
    [[zones]]     project, name, kind [, latitude, longitude, radius]
    [[members]]   project, name, roles [, zones, wecom_userid, active, leave_until,
                                        crew, trade]

A CSV file holds one of the three; its header tells which (a `branch`
column: projects, a `kind` column: zones, otherwise members). In CSV, lists
are separated by `;` and an empty cell means "not given". Headers are the
English key names above (`crew`, `trade`; not 班组, 工种).

`crew` (班组, a worker's labour team) and `trade` (工种) are mostly for
workers (roles = ["worker"]). Unlike the other optional keys, leaving them
out on a re-import keeps what the member has: a crew may have been entered
in chat, and an older file without these columns must not wipe it. A value
given replaces the old one.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import io
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePath

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from handlers import invites
from storage.models import Identity, InviteCode, Member, MemberRole, Project, Role, Zone, ZoneKind

ROLES = tuple(r.value for r in Role)
KINDS = tuple(k.value for k in ZoneKind)
MAX_RADIUS_M = 50_000
GEOFENCE = ("latitude", "longitude", "radius")

# Required keys, then optional ones, of each kind of table (or CSV file).
KEYS = {
    "projects": (("code", "name", "branch"), ()),
    "zones": (("project", "name", "kind"), GEOFENCE),
    # zones are optional: workers and crew leads own none.
    "members": (("project", "name", "roles"),
                ("zones", "wecom_userid", "active", "leave_until", "crew", "trade")),
}

_LENGTHS = {
    "projects": {"code": Project.code.type.length, "name": Project.name.type.length,
                 "branch": Project.branch.type.length},
    "zones": {"project": Project.code.type.length, "name": Zone.name.type.length},
    "members": {"project": Project.code.type.length, "name": Member.name.type.length,
                "wecom_userid": Member.wecom_userid.type.length,
                "crew": Member.crew.type.length, "trade": Member.trade.type.length},
}

_LIST_SEPARATOR = re.compile(r"[;；]")  # the full-width one too: people type it in Chinese
_TRUE = {"true", "yes", "y", "1", "是"}
_FALSE = {"false", "no", "n", "0", "否"}
_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_IN_CHUNK = 500  # ids per IN (...) list, well under every driver's parameter limit


# ---- results and problems


@dataclass(frozen=True)
class Problem:
    line: int | None
    message: str


class ImportProblems(Exception):
    """Everything wrong with a file; str() gives one `filename:LINE: message` a line."""

    def __init__(self, filename: str, problems: list[Problem]):
        self.filename = filename
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(
            f"{self.filename}:{p.line}: {p.message}" if p.line is not None
            else f"{self.filename}: {p.message}"
            for p in self.problems
        )


@dataclass
class ProjectRow:
    line: int | None
    code: str
    name: str
    branch: str


@dataclass
class ZoneRow:
    line: int | None
    project: str
    name: str
    kind: str
    latitude: float | None = None
    longitude: float | None = None
    radius: int | None = None


@dataclass
class MemberRow:
    line: int | None
    project: str
    name: str
    roles: list[str]
    zones: list[str]
    wecom_userid: str | None = None
    active: bool = True
    leave_until: dt.date | None = None
    crew: str | None = None  # None: not given, keep the member's
    trade: str | None = None


@dataclass
class Directory:
    filename: str
    projects: list[ProjectRow] = field(default_factory=list)
    zones: list[ZoneRow] = field(default_factory=list)
    members: list[MemberRow] = field(default_factory=list)


@dataclass
class ImportResult:
    projects_created: int = 0
    projects_updated: int = 0
    zones_created: int = 0
    zones_updated: int = 0
    members_created: int = 0
    members_updated: int = 0
    invites: list[tuple[str, str, str]] = field(default_factory=list)  # (name, project code, code)
    already_invited: list[str] = field(default_factory=list)  # unbound, holding a live code
    wecom_members: int = 0


# ---- parsing


def parse_directory(data: bytes, filename: str, encoding: str = "utf-8") -> Directory:
    """Read and check a directory file; raises ImportProblems listing all that is wrong."""
    problems: list[Problem] = []
    suffix = PurePath(filename).suffix.lower()
    if suffix not in (".toml", ".csv"):
        raise ImportProblems(filename, [Problem(
            None, f"cannot tell the format from the name {filename!r}: use a .toml or .csv file")])
    text = _decode(data, encoding, problems)
    if text is None:
        raise ImportProblems(filename, problems)

    reader = _toml_tables if suffix == ".toml" else _csv_tables
    directory = Directory(filename)
    for kind, line, fields in reader(text, problems):
        f = _Fields(fields, line, problems, from_csv=suffix == ".csv", lengths=_LENGTHS[kind])
        if kind == "projects":
            directory.projects.append(_project(f))
        elif kind == "zones":
            directory.zones.append(_zone(f))
        else:
            directory.members.append(_member(f))
    _check_duplicates(directory, problems)
    if not problems and not (directory.projects or directory.zones or directory.members):
        problems.append(Problem(None, "no projects, zones or members in the file"))
    if problems:
        raise ImportProblems(filename, problems)
    return directory


def _decode(data: bytes, encoding: str, problems: list[Problem]) -> str | None:
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        problems.append(Problem(None, f"unknown encoding {encoding!r} (try utf-8 or gbk)"))
        return None
    is_utf8 = codec.name == "utf-8"
    try:
        text = data.decode("utf-8-sig" if is_utf8 else codec.name)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        advice = ('save the file as UTF-8 ("CSV UTF-8" in Excel) or pass --encoding gbk'
                  if is_utf8 else "save the file as UTF-8 or check --encoding")
        problems.append(Problem(line, f"the file is not {encoding} text "
                                      f"(byte 0x{data[err.start]:02x} here): {advice}"))
        return None
    return text.removeprefix("\ufeff")


def toml_document(text: str, problems: list[Problem]) -> dict | None:
    """The parsed file; None, with the problem and its line noted, when it is not TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        where = re.search(r"at line (\d+)", str(err))
        problems.append(Problem(int(where[1]) if where else None, f"TOML syntax: {err}"))
        return None


def _toml_tables(text: str, problems: list[Problem]):
    """(kind, line of its [[header]], table) for each table of the file."""
    document = toml_document(text, problems)
    if document is None:
        return
    lines = text.split("\n")
    for key, value in document.items():
        if key not in KEYS:
            problems.append(Problem(_key_line(lines, key),
                                    f"unknown table {key!r}{_did_you_mean(key, KEYS)}"))
            continue
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            problems.append(Problem(_key_line(lines, key),
                                    f"write each of the {key} as a [[{key}]] table"))
            continue
        headers = _header_lines(lines, key)
        if len(headers) != len(value):  # written inline: the best we know is where the key is
            headers = [_key_line(lines, key)] * len(value)
        required, optional = KEYS[key]
        for line, table in zip(headers, value):
            for unknown in [k for k in table if k not in required + optional]:
                problems.append(Problem(line, f"unknown key {unknown!r} in [[{key}]]"
                                              f"{_did_you_mean(unknown, required + optional)}"))
            yield key, line, table


def _header_lines(lines: list[str], key: str) -> list[int]:
    header = re.compile(r'\s*\[\[\s*(["\']?)' + re.escape(key) + r'\1\s*\]\]')
    return [n for n, text in enumerate(lines, 1) if header.match(text)]


def _key_line(lines: list[str], key: str) -> int | None:
    """The first line where a top-level key or table appears."""
    pattern = re.compile(r'\s*(\[\[?\s*)?(["\']?)' + re.escape(key) + r'\2\s*[\].=]')
    return next((n for n, text in enumerate(lines, 1) if pattern.match(text)), None)


def csv_lines(text: str, problems: list[Problem]) -> list[tuple[int, list[str]]] | None:
    """The non-empty rows of a CSV file with the physical line each starts on (a quoted
    cell may span lines); None, with the problem noted, for a broken or empty file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    last = 0
    try:
        for cells in reader:
            rows.append((last + 1, cells))
            last = reader.line_num
    except csv.Error as err:
        problems.append(Problem(last + 1, f"CSV: {err}"))
        return None
    rows = [(line, cells) for line, cells in rows if any(c.strip() for c in cells)]
    if not rows:
        problems.append(Problem(None, "the file is empty"))
        return None
    return rows


def _csv_tables(text: str, problems: list[Problem]):
    """(kind, physical line, {column: cell}) for each row of the file."""
    rows = csv_lines(text, problems)
    if rows is None:
        return
    header_line, header = rows[0]
    columns = [c.strip().lower() for c in header]
    kind = "projects" if "branch" in columns else "zones" if "kind" in columns else "members"
    required, optional = KEYS[kind]
    for column in required:
        if column not in columns:
            problems.append(Problem(header_line, f"missing column {column!r} in the {kind} header"))
    seen: set[str] = set()
    for column in columns:
        if column in seen and column:
            problems.append(Problem(header_line, f"column {column!r} appears twice"))
        elif column and column not in required + optional:
            problems.append(Problem(header_line, f"unknown column {column!r} in the {kind} header"
                                                 f"{_did_you_mean(column, required + optional)}"))
        seen.add(column)
    for line, cells in rows[1:]:
        extra = [c for c in cells[len(columns):] if c.strip()]
        stray = [c for name, c in zip(columns, cells) if not name and c.strip()]
        if extra or stray:
            problems.append(Problem(line, f"value {(extra + stray)[0].strip()!r} "
                                          f"is in a column without a header"))
        yield kind, line, {name: cell for name, cell in zip(columns, cells)
                           if name in required + optional}


# Chinese headers people will write for the English keys; only suggested, not read.
_HINTS = {"班组": "crew", "工种": "trade"}


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    if _HINTS.get(word) in choices:
        return f" (did you mean {_HINTS[word]!r}?)"
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Fields:
    """One TOML table or CSV row being read: values converted and checked, every
    problem noted with the row's line. An empty CSV cell counts as not given."""

    def __init__(self, raw: dict, line: int | None, problems: list[Problem], *,
                 from_csv: bool, lengths: dict[str, int]):
        self.raw, self.line, self.problems = raw, line, problems
        self.from_csv, self.lengths = from_csv, lengths

    def problem(self, message: str) -> None:
        self.problems.append(Problem(self.line, message))

    def given(self, key: str) -> bool:
        value = self.raw.get(key)
        return value is not None and not (isinstance(value, str) and not value.strip())

    def _value(self, key: str, required: bool):
        """The raw value, or None when absent. A missing TOML key is a problem here;
        a missing CSV column was reported once with the header."""
        if key not in self.raw:
            if required and not self.from_csv:
                self.problem(f"missing key {key!r}")
            return None
        return self.raw[key]

    def text(self, key: str, *, required: bool = True) -> str | None:
        value = self._value(key, required)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(f"{key} must be text in quotes, not {_show(value)}")
            return None
        value = value.strip()
        if not value:
            if required:
                self.problem(f"empty {key}")
            return None
        limit = self.lengths.get(key)
        if limit and len(value) > limit:
            self.problem(f"{key} {value!r} is longer than {limit} characters")
        return value

    def names(self, key: str, *, required: bool = True) -> list[str] | None:
        value = self._value(key, required)
        if value is None:
            return None
        if isinstance(value, str):
            items = _LIST_SEPARATOR.split(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = value
        else:
            self.problem(f"{key} must be a list of names in quotes, not {_show(value)}")
            return None
        names: list[str] = []
        for item in (i.strip() for i in items):
            if item and item not in names:
                names.append(item)
        return names

    def number(self, key: str) -> float | None:
        value = self.raw.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        self.problem(f"{key} must be a number, not {_show(value)}")
        return None

    def integer(self, key: str) -> int | None:
        value = self.raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return int(value)
        self.problem(f"{key} must be a whole number, not {_show(value)}")
        return None

    def flag(self, key: str) -> bool | None:
        if not self.given(key):
            return None
        value = self.raw[key]
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        self.problem(f"{key} must be true or false, not {_show(value)}")
        return None

    def date(self, key: str) -> dt.date | None:
        if not self.given(key):
            return None
        value = self.raw[key]
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str) and (match := _DATE.fullmatch(value.strip())):
            try:
                return dt.date(*map(int, match.groups()))
            except ValueError:
                pass
        self.problem(f"{key} must be a date like 2026-12-31, not {_show(value)}")
        return None


def _show(value) -> str:
    if isinstance(value, str):
        return repr(value.strip())
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _project(f: _Fields) -> ProjectRow:
    return ProjectRow(f.line, f.text("code"), f.text("name"), f.text("branch"))


def _zone(f: _Fields) -> ZoneRow:
    row = ZoneRow(f.line, f.text("project"), f.text("name"), f.text("kind"))
    if row.kind is not None and row.kind not in KINDS:
        f.problem(f"zone kind {row.kind!r} is not one of {' '.join(KINDS)}")
    present = [key for key in GEOFENCE if f.given(key)]
    if present and len(present) < len(GEOFENCE):
        missing = ", ".join(key for key in GEOFENCE if key not in present)
        f.problem(f"a geofence needs latitude, longitude and radius together: {missing} missing")
    elif present:
        row.latitude, row.longitude = f.number("latitude"), f.number("longitude")
        if row.latitude is not None and not -90 <= row.latitude <= 90:
            f.problem(f"latitude {row.latitude} is outside -90..90")
        if row.longitude is not None and not -180 <= row.longitude <= 180:
            f.problem(f"longitude {row.longitude} is outside -180..180")
        row.radius = f.integer("radius")
        if row.radius is not None and not 0 < row.radius <= MAX_RADIUS_M:
            f.problem(f"radius {row.radius} must be from 1 to {MAX_RADIUS_M} metres")
    return row


def _member(f: _Fields) -> MemberRow:
    project, name = f.text("project"), f.text("name")
    roles, zones = f.names("roles"), f.names("zones", required=False)
    if roles is not None:
        for role in roles:
            if role not in ROLES:
                f.problem(f"unknown role {role!r}{_did_you_mean(role, ROLES)}; "
                          f"the roles are: {' '.join(ROLES)}")
        if not roles:
            f.problem("no roles given: a member needs at least one (usually 'member')")
    active = f.flag("active")
    return MemberRow(f.line, project, name, roles or [], zones or [],
                     wecom_userid=f.text("wecom_userid", required=False),
                     active=True if active is None else active,
                     leave_until=f.date("leave_until"),
                     crew=f.text("crew", required=False), trade=f.text("trade", required=False))


def _check_duplicates(directory: Directory, problems: list[Problem]) -> None:
    def check(rows, key, describe):
        first: dict = {}
        for row in rows:
            k = key(row)
            if None in k:
                continue
            if k in first:
                problems.append(Problem(row.line, f"{describe(row)} appears twice "
                                                  f"(first at line {first[k]})"))
            else:
                first[k] = row.line

    check(directory.projects, lambda p: (p.code,), lambda p: f"project code {p.code!r}")
    check(directory.zones, lambda z: (z.project, z.name),
          lambda z: f"zone {z.name!r} of project {z.project}")
    check(directory.members, lambda m: (m.project, m.name),
          lambda m: f"member {m.name!r} of project {m.project}")
    check([m for m in directory.members if m.wecom_userid], lambda m: (m.wecom_userid,),
          lambda m: f"wecom_userid {m.wecom_userid!r}")


# ---- applying


async def apply_directory(
    session: AsyncSession, directory: Directory, *, now: dt.datetime, invite_ttl_days: int,
    hasher: invites.Hasher,
) -> ImportResult:
    """Upsert the file's projects, zones and members and issue invite codes, stored as
    `hasher` (`invites.hasher(config, anonymity)`) makes them.

    Run it inside the caller's transaction: when a name does not resolve it
    raises ImportProblems before writing anything.
    """
    known = await _known(session, directory)
    problems = _resolve(directory, set(known.projects), set(known.zones), known.holders)
    if problems:
        raise ImportProblems(directory.filename, problems)
    result = ImportResult()
    await _upsert_projects(session, directory, known, result)
    await _upsert_zones(session, directory, known, result)
    imported = await _upsert_members(session, directory, known, result, now)
    await _invite(session, imported, result, now, invite_ttl_days, hasher)
    return result


@dataclass
class _Known:
    """What the database already holds of the projects the file names, by natural key."""

    projects: dict[str, Project]  # code
    zones: dict[tuple[str, str], Zone]  # (project code, zone name)
    members: dict[tuple[str, str], Member]  # (project code, member name)
    holders: dict[str, tuple[str, str]]  # wecom_userid -> (project code, member name)


async def _known(session: AsyncSession, directory: Directory) -> _Known:
    codes = ({p.code for p in directory.projects} | {z.project for z in directory.zones}
             | {m.project for m in directory.members})
    projects = {p.code: p for p in await _rows_in(session, sa.select(Project), Project.code, codes)}
    code_of = {p.id: p.code for p in projects.values()}
    zones = {(code_of[z.project_id], z.name): z for z in await _rows_in(
        session, sa.select(Zone), Zone.project_id, code_of)}
    members = {(code_of[m.project_id], m.name): m for m in await _rows_in(
        session, sa.select(Member).options(selectinload(Member.roles), selectinload(Member.zones)),
        Member.project_id, code_of)}
    holders = {uid: (code, name) for uid, code, name in await _rows_in(
        session, sa.select(Member.wecom_userid, Project.code, Member.name).join(Project),
        Member.wecom_userid, {m.wecom_userid for m in directory.members if m.wecom_userid},
        whole_rows=True)}
    return _Known(projects, zones, members, holders)


async def _upsert_projects(session, directory: Directory, known: _Known, result: ImportResult) -> None:
    for row in directory.projects:
        project = known.projects.get(row.code)
        if project is None:
            known.projects[row.code] = Project(code=row.code, name=row.name, branch=row.branch)
            session.add(known.projects[row.code])
            result.projects_created += 1
        elif (project.name, project.branch) != (row.name, row.branch):
            project.name, project.branch = row.name, row.branch
            result.projects_updated += 1
    await session.flush()


async def _upsert_zones(session, directory: Directory, known: _Known, result: ImportResult) -> None:
    for row in directory.zones:
        zone = known.zones.get((row.project, row.name))
        wanted = dict(kind=row.kind, latitude=row.latitude, longitude=row.longitude,
                      radius_m=row.radius)
        if zone is None:
            zone = Zone(project_id=known.projects[row.project].id, name=row.name, **wanted)
            known.zones[(row.project, row.name)] = zone
            session.add(zone)
            result.zones_created += 1
        elif any(getattr(zone, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(zone, k, v)
            result.zones_updated += 1
    await session.flush()


async def _upsert_members(session, directory: Directory, known: _Known, result: ImportResult,
                          now: dt.datetime) -> list[tuple[MemberRow, Member]]:
    # A wecom_userid may move between two members of the file: free it first, as
    # the database checks uniqueness statement by statement.
    moving = [m for row in directory.members
              if (m := known.members.get((row.project, row.name))) is not None
              and m.wecom_userid is not None and m.wecom_userid != row.wecom_userid]
    for member in moving:
        member.wecom_userid = None
    if moving:
        await session.flush()

    imported: list[tuple[MemberRow, Member]] = []
    for row in directory.members:
        wanted_zones = sorted((known.zones[(row.project, z)] for z in row.zones), key=lambda z: z.id)
        member = known.members.get((row.project, row.name))
        if member is None:
            member = Member(project_id=known.projects[row.project].id, name=row.name,
                            active=row.active, leave_until=row.leave_until,
                            wecom_userid=row.wecom_userid, crew=row.crew, trade=row.trade,
                            joined_at=now,
                            roles=[MemberRole(role=r) for r in row.roles], zones=wanted_zones)
            session.add(member)
            result.members_created += 1
        elif _update_member(member, row, wanted_zones):
            result.members_updated += 1
        imported.append((row, member))
    await session.flush()
    return imported


async def _rows_in(session: AsyncSession, stmt, column, values, *, whole_rows: bool = False):
    """stmt filtered by column IN values, a chunk of values per query."""
    values = sorted(values)
    found = []
    for start in range(0, len(values), _IN_CHUNK):
        chunk = stmt.where(column.in_(values[start:start + _IN_CHUNK]))
        rows = await session.execute(chunk)
        found.extend(rows.all() if whole_rows else rows.scalars().all())
    return found


def _resolve(directory: Directory, db_projects: set[str], db_zones: set[tuple[str, str]],
             holders: dict[str, tuple[str, str]]) -> list[Problem]:
    """What the file refers to that neither it nor the database has."""
    problems: list[Problem] = []
    known_projects = db_projects | {p.code for p in directory.projects}
    known_zones = db_zones | {(z.project, z.name) for z in directory.zones}
    in_file = {(m.project, m.name): m for m in directory.members}

    def unknown_project(row) -> bool:
        if row.project in known_projects:
            return False
        problems.append(Problem(row.line, f"unknown project {row.project!r}: "
                                          f"neither in this file nor in the database"))
        return True

    for zone in directory.zones:
        unknown_project(zone)
    for member in directory.members:
        if unknown_project(member):
            continue
        for zone in member.zones:
            if (member.project, zone) not in known_zones:
                problems.append(Problem(member.line, f"unknown zone {zone!r} "
                                                     f"in project {member.project}"))
        holder = holders.get(member.wecom_userid) if member.wecom_userid else None
        if holder is not None and holder != (member.project, member.name):
            other = in_file.get(holder)
            if other is None or other.wecom_userid == member.wecom_userid:
                problems.append(Problem(member.line, (
                    f"wecom_userid {member.wecom_userid!r} already belongs to "
                    f"{holder[1]} ({holder[0]})")))
    return problems


def _update_member(member: Member, row: MemberRow, zones: list[Zone]) -> bool:
    """Make a member what the file says; whether anything changed."""
    changed = False
    have = {r.role for r in member.roles}
    if have != set(row.roles):
        for old in [r for r in member.roles if r.role not in row.roles]:
            member.roles.remove(old)
        member.roles.extend(MemberRole(role=r) for r in row.roles if r not in have)
        changed = True
    if {z.id for z in member.zones} != {z.id for z in zones}:
        member.zones = zones
        changed = True
    for attr in ("active", "leave_until", "wecom_userid"):
        if getattr(member, attr) != getattr(row, attr):
            setattr(member, attr, getattr(row, attr))
            changed = True
    for attr in ("crew", "trade"):  # not given: keep (see the module docstring)
        if getattr(row, attr) is not None and getattr(member, attr) != getattr(row, attr):
            setattr(member, attr, getattr(row, attr))
            changed = True
    return changed


async def _invite(session: AsyncSession, imported: list[tuple[MemberRow, Member]],
                  result: ImportResult, now: dt.datetime, ttl_days: int,
                  hasher: invites.Hasher) -> None:
    """A code for each active member of the file who has no way in yet."""
    ids = {m.id for _, m in imported}
    bound = set(await _rows_in(session, sa.select(Identity.member_id).distinct(),
                               Identity.member_id, ids))
    live = set(await _rows_in(
        session,
        sa.select(InviteCode.member_id).distinct().where(
            InviteCode.used_at.is_(None), InviteCode.revoked_at.is_(None),
            InviteCode.expires_at > now),
        InviteCode.member_id, ids))
    for row, member in imported:
        if row.wecom_userid:
            result.wecom_members += 1
        elif member.id in bound or not row.active:
            continue
        elif member.id in live:
            result.already_invited.append(member.name)
        else:
            code = await invites.issue(session, member, now, ttl_days, hasher=hasher)
            result.invites.append((member.name, row.project, code))


# ---- reporting


def format_result(result: ImportResult) -> str:
    """A few lines for the operator's terminal."""
    lines = [
        f"projects: {result.projects_created} new, {result.projects_updated} updated; "
        f"zones: {result.zones_created} new, {result.zones_updated} updated; "
        f"members: {result.members_created} new, {result.members_updated} updated"
    ]
    if result.wecom_members:
        lines.append(f"WeCom members (no invite code needed): {result.wecom_members}")
    if result.invites:
        lines.append("invite codes, one for each member to send to the bot:")
        lines.extend(f"  {name} ({project})  {code}" for name, project, code in result.invites)
    if result.already_invited:
        lines.append(f"already hold an unused invite code: {', '.join(result.already_invited)}"
                     " (`redshield invite NAME` issues a new one)")
    return "\n".join(lines)
