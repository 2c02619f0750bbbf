"""`redshield import`: the directory file (TOML or CSV) into projects, zones and members.

Bad files must name the line of each problem and leave the database as it was.
Line numbers in the assertions refer to DIRECTORY below (its headers carry them
as comments); `edited` swaps whole lines so the numbers stay put.
"""
from __future__ import annotations

import codecs
import datetime as dt
import textwrap

import pytest
import sqlalchemy as sa

from handlers import codes, invites
from handlers.directory.importer import (
    ImportProblems,
    ImportResult,
    Problem,
    apply_directory,
    format_result,
    parse_directory,
)
from handlers.invites import CODE_LENGTH
from storage.directory import find_members
from storage.models import Identity, InviteCode, Member, Project, Zone

DIRECTORY = textwrap.dedent("""\
    [[projects]]  # line 1
    code = "P1"
    name = "江湾项目"
    branch = "江湾项目党支部"

    [[zones]]  # line 6
    project = "P1"
    name = "项目办公区"
    kind = "办公区"

    [[zones]]  # line 11
    project = "P1"
    name = "施工现场A区"
    kind = "施工现场"
    latitude = 31.2304
    longitude = 121.4737
    radius = 200

    [[members]]  # line 19
    project = "P1"
    name = "张三"
    roles = ["member", "vanguard"]
    zones = ["施工现场A区"]

    [[members]]  # line 25
    project = "P1"
    name = "李四"
    roles = ["member", "secretary"]
    zones = ["项目办公区", "施工现场A区"]
    wecom_userid = "lisi"

    [[members]]  # line 32
    project = "P1"
    name = "王五"
    roles = ["worker"]
    zones = []
    leave_until = 2026-12-31

    [[members]]  # line 39
    project = "P1"
    name = "赵六"
    roles = ["member"]
    zones = []
    active = false
    """)

ROLE_LIST = "member vanguard leader secretary safety_officer committee assignee worker union"


def edited(text: str, changes: dict[int, str]) -> str:
    """The text with whole lines replaced, by line number."""
    lines = text.split("\n")
    for number, line in changes.items():
        lines[number - 1] = line
    return "\n".join(lines)


def first_lines(text: str, count: int) -> str:
    return "\n".join(text.split("\n")[:count]) + "\n"


async def run_import(db, clock, config, text: str | bytes, filename="directory.toml",
                     encoding="utf-8") -> ImportResult:
    data = text.encode() if isinstance(text, str) else text
    directory = parse_directory(data, filename, encoding=encoding)
    async with db.sessions() as s, s.begin():
        return await apply_directory(s, directory, now=clock(),
                                     invite_ttl_days=config.invites.ttl_days,
                                     hasher=invites.hasher(config))


async def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of the directory's tables, to compare before and after."""
    tables = [Project.__table__, Zone.__table__, Member.__table__, "member_roles",
              "member_zones", InviteCode.__table__, Identity.__table__]
    async with db.sessions() as s:
        found = {}
        for table in tables:
            table = Project.metadata.tables[table] if isinstance(table, str) else table
            stmt = sa.select(table).order_by(*table.primary_key.columns)
            found[table.name] = [tuple(row) for row in (await s.execute(stmt)).all()]
        return found


async def rejected(db, clock, config, text: str | bytes, filename="directory.toml",
                   encoding="utf-8") -> ImportProblems:
    """Import a bad file: the problems raised, having checked nothing was written."""
    before = await snapshot(db)
    with pytest.raises(ImportProblems) as caught:
        await run_import(db, clock, config, text, filename, encoding)
    assert await snapshot(db) == before
    return caught.value


async def member(db, name: str) -> Member:
    async with db.sessions() as s:
        [found] = await find_members(s, name)
        return found


async def code_holders(db, clock) -> dict[str, str]:
    """{code hash: member name} of the codes that can still be redeemed."""
    async with db.sessions() as s:
        rows = await s.execute(
            sa.select(InviteCode.code_hash, Member.name).join(Member)
            .where(InviteCode.used_at.is_(None), InviteCode.revoked_at.is_(None),
                   InviteCode.expires_at > clock()))
        return dict(rows.all())


def digest(config, code: str) -> str:
    """What the table keeps of a code: keyed with the deployment's secret key."""
    return invites.hasher(config)(codes.normalize(code, CODE_LENGTH))


# ---- good files


async def test_a_directory_file_creates_projects_zones_members_and_invite_codes(db, clock, config):
    result = await run_import(db, clock, config, DIRECTORY)

    assert (result.projects_created, result.zones_created, result.members_created) == (1, 2, 4)
    assert (result.projects_updated, result.zones_updated, result.members_updated) == (0, 0, 0)
    async with db.sessions() as s:
        project = (await s.execute(sa.select(Project))).scalar_one()
        zones = {z.name: z for z in (await s.execute(sa.select(Zone))).scalars()}
    assert (project.code, project.name, project.branch) == ("P1", "江湾项目", "江湾项目党支部")
    assert (zones["项目办公区"].kind, zones["项目办公区"].latitude, zones["项目办公区"].radius_m) \
        == ("办公区", None, None)
    site = zones["施工现场A区"]
    assert (site.kind, site.latitude, site.longitude, site.radius_m) \
        == ("施工现场", 31.2304, 121.4737, 200)

    zhang, li, wang, zhao = [await member(db, n) for n in ("张三", "李四", "王五", "赵六")]
    assert zhang.role_names == {"member", "vanguard"}
    assert [z.name for z in zhang.zones] == ["施工现场A区"]
    assert zhang.joined_at == clock() and zhang.active and zhang.leave_until is None
    assert zhang.wecom_userid is None
    assert li.role_names == {"member", "secretary"} and li.wecom_userid == "lisi"
    assert sorted(z.name for z in li.zones) == ["施工现场A区", "项目办公区"]
    assert wang.role_names == {"worker"} and wang.zones == []
    assert wang.leave_until == dt.date(2026, 12, 31)
    assert zhao.active is False

    # Codes for the members with no way in: not the WeCom user, not the inactive one.
    assert [(name, project) for name, project, _ in result.invites] == [("张三", "P1"), ("王五", "P1")]
    assert result.wecom_members == 1 and result.already_invited == []
    holders = await code_holders(db, clock)
    assert {holders[digest(config, code)] for _, _, code in result.invites} == {"张三", "王五"}
    assert len(holders) == 2
    # Not the plain SHA-256 a reader of the table could test every code against.
    assert not {codes.digest(codes.normalize(code, CODE_LENGTH)) for _, _, code in result.invites} & set(holders)

    summary = format_result(result)
    assert "projects: 1 new, 0 updated; zones: 2 new, 0 updated; members: 4 new, 0 updated" in summary
    for name, _, code in result.invites:
        assert f"  {name} (P1)  {code}" in summary.splitlines()


async def test_importing_the_same_file_again_changes_nothing(db, clock, config):
    first = await run_import(db, clock, config, DIRECTORY)
    before = await snapshot(db)
    clock.advance(days=1)

    again = await run_import(db, clock, config, DIRECTORY)

    assert await snapshot(db) == before  # no duplicates, no new or revoked codes
    assert (again.projects_created, again.zones_created, again.members_created) == (0, 0, 0)
    assert (again.projects_updated, again.zones_updated, again.members_updated) == (0, 0, 0)
    assert again.invites == []
    assert again.already_invited == [name for name, _, _ in first.invites] == ["张三", "王五"]
    assert "already hold an unused invite code: 张三, 王五" in format_result(again)


async def test_codes_are_issued_again_only_to_whom_has_no_way_in(db, clock, config):
    await run_import(db, clock, config, DIRECTORY)
    async with db.sessions() as s, s.begin():
        s.add(Identity(platform="test", external_id="u1", member_id=(await member(db, "张三")).id,
                       bound_at=clock()))
    clock.advance(days=config.invites.ttl_days + 1)  # 王五's code has expired

    result = await run_import(db, clock, config, DIRECTORY)

    assert [name for name, _, _ in result.invites] == ["王五"]  # 张三 has an account now
    assert result.already_invited == []
    assert set((await code_holders(db, clock)).values()) == {"王五"}


async def test_a_changed_member_is_updated_in_place(db, clock, config):
    await run_import(db, clock, config, DIRECTORY)
    before = await member(db, "张三")
    clock.advance(days=3)
    changed = edited(DIRECTORY, {22: 'roles = ["member", "leader"]',
                                 23: 'zones = ["项目办公区"]',
                                 24: 'wecom_userid = "zhangsan"'})

    result = await run_import(db, clock, config, changed)

    assert (result.members_created, result.members_updated) == (0, 1)
    assert (result.zones_updated, result.projects_updated) == (0, 0)
    after = await member(db, "张三")
    assert after.id == before.id and after.joined_at == before.joined_at
    assert after.role_names == {"member", "leader"}
    assert [z.name for z in after.zones] == ["项目办公区"]
    assert after.wecom_userid == "zhangsan"
    assert result.invites == [] and result.wecom_members == 2
    async with db.sessions() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(Member))).scalar() == 4


async def test_members_left_out_of_the_file_are_kept(db, clock, config):
    await run_import(db, clock, config, DIRECTORY)
    only_zhang = edited(first_lines(DIRECTORY, 24), {22: 'roles = ["member"]'})

    result = await run_import(db, clock, config, only_zhang)

    assert result.members_updated == 1
    assert {m.name for m in await _all_members(db)} == {"张三", "李四", "王五", "赵六"}
    assert (await member(db, "李四")).role_names == {"member", "secretary"}


async def _all_members(db) -> list[Member]:
    async with db.sessions() as s:
        return list((await s.execute(sa.select(Member))).scalars())


async def test_projects_and_zones_are_updated_and_a_dropped_geofence_cleared(db, clock, config):
    await run_import(db, clock, config, DIRECTORY)
    changed = edited(DIRECTORY, {3: 'name = "江湾项目二期"', 9: 'kind = "生活区"',
                                 15: "", 16: "", 17: ""})

    result = await run_import(db, clock, config, changed)

    assert (result.projects_updated, result.zones_updated, result.members_updated) == (1, 2, 0)
    async with db.sessions() as s:
        project = (await s.execute(sa.select(Project))).scalar_one()
        zones = {z.name: z for z in (await s.execute(sa.select(Zone))).scalars()}
    assert project.name == "江湾项目二期"
    assert zones["项目办公区"].kind == "生活区"
    site = zones["施工现场A区"]
    assert (site.kind, site.latitude, site.longitude, site.radius_m) == ("施工现场", None, None, None)


async def test_a_wecom_userid_can_move_to_another_member_of_the_file(db, clock, config):
    await run_import(db, clock, config, DIRECTORY)
    moved = edited(DIRECTORY, {24: 'wecom_userid = "lisi"', 30: ""})

    result = await run_import(db, clock, config, moved)

    assert (await member(db, "张三")).wecom_userid == "lisi"
    assert (await member(db, "李四")).wecom_userid is None
    assert [name for name, _, _ in result.invites] == ["李四"]  # no longer reachable by WeCom
    assert result.already_invited == ["王五"]


async def test_csv_files_for_projects_zones_then_members(db, clock, config):
    projects = "code,name,branch\nP1,江湾项目,江湾项目党支部\n"
    zones = ("project,name,kind,latitude,longitude,radius\n"
             "P1,项目办公区,办公区,,,\n"
             "P1,施工现场A区,施工现场,31.2304,121.4737,200\n")
    await run_import(db, clock, config, projects, "projects.csv")
    await run_import(db, clock, config, zones, "zones.csv")
    # As Excel saves "CSV UTF-8": a BOM and CRLF line ends.
    members = codecs.BOM_UTF8 + (
        "project,name,roles,zones,wecom_userid,active,leave_until\r\n"
        "P1,张三,member;vanguard,施工现场A区;项目办公区,,,\r\n"
        "P1,李四,member,,lisi,是,2026/12/31\r\n"
        "P1,王五,worker,,,false,\r\n"
    ).encode()

    result = await run_import(db, clock, config, members, "members.csv")

    assert (result.projects_created, result.zones_created, result.members_created) == (0, 0, 3)
    zhang, li, wang = [await member(db, n) for n in ("张三", "李四", "王五")]
    assert zhang.role_names == {"member", "vanguard"}
    assert sorted(z.name for z in zhang.zones) == ["施工现场A区", "项目办公区"]
    assert zhang.wecom_userid is None and zhang.active
    assert (li.wecom_userid, li.active, li.leave_until) == ("lisi", True, dt.date(2026, 12, 31))
    assert li.zones == []
    assert wang.active is False
    assert [name for name, _, _ in result.invites] == ["张三"]
    async with db.sessions() as s:
        site = (await s.execute(sa.select(Zone).where(Zone.name == "施工现场A区"))).scalar_one()
    assert (site.latitude, site.longitude, site.radius_m) == (31.2304, 121.4737, 200)


# ---- bad files: the line of each problem, and nothing written


def lines_of(problems: ImportProblems) -> list[int | None]:
    return [p.line for p in problems.problems]


async def test_a_missing_csv_column_is_reported_once_on_the_header(db, clock, config):
    await run_import(db, clock, config, DIRECTORY)
    # zones may be left out (issue 13: workers own no zone); roles may not.
    members = "project,name,zones\nP1,张三,施工现场A区\nP1,李四,\n"

    problems = await rejected(db, clock, config, members, "members.csv")

    assert problems.problems == [Problem(1, "missing column 'roles' in the members header")]
    assert str(problems) == "members.csv:1: missing column 'roles' in the members header"


async def test_an_unknown_zone_names_the_member_table(db, clock, config):
    await run_import(db, clock, config, DIRECTORY)
    bad = edited(DIRECTORY, {3: 'name = "改过的名字"', 36: 'zones = ["不存在的区"]'})

    problems = await rejected(db, clock, config, bad)  # the project's new name not written either

    assert problems.problems == [Problem(32, "unknown zone '不存在的区' in project P1")]
    assert str(problems).startswith("directory.toml:32: ")


async def test_unknown_projects_and_zones_in_a_members_csv_are_all_reported(db, clock, config):
    await run_import(db, clock, config, DIRECTORY)
    members = ("project,name,roles,zones\n"
               "P1,新人,member,施工现场A区\n"
               "P9,张三,member,\n"
               "P1,王五,worker,食堂\n")

    problems = await rejected(db, clock, config, members, "members.csv")

    assert lines_of(problems) == [3, 4]
    assert "unknown project 'P9'" in problems.problems[0].message
    assert problems.problems[1].message == "unknown zone '食堂' in project P1"


async def test_a_wecom_userid_of_a_member_outside_the_file_is_refused(db, clock, config):
    await run_import(db, clock, config, DIRECTORY)
    bad = edited(first_lines(DIRECTORY, 24), {24: 'wecom_userid = "lisi"'})

    problems = await rejected(db, clock, config, bad)

    assert problems.problems == [Problem(19, "wecom_userid 'lisi' already belongs to 李四 (P1)")]


async def test_a_duplicate_member_points_at_both_lines(db, clock, config):
    bad = edited(DIRECTORY, {41: 'name = "张三"'})

    problems = await rejected(db, clock, config, bad)

    assert problems.problems == [
        Problem(39, "member '张三' of project P1 appears twice (first at line 19)")]


async def test_gbk_bytes_are_refused_unless_the_encoding_is_given(db, clock, config):
    await run_import(db, clock, config, DIRECTORY)
    members = "project,name,roles,zones\nP1,张三,member;leader,项目办公区\n".encode("gbk")

    problems = await rejected(db, clock, config, members, "members.csv")

    [problem] = problems.problems
    assert problem.line == 2
    assert "not utf-8" in problem.message
    assert '"CSV UTF-8"' in problem.message and "--encoding gbk" in problem.message

    result = await run_import(db, clock, config, members, "members.csv", encoding="gbk")
    assert result.members_updated == 1
    assert (await member(db, "张三")).role_names == {"member", "leader"}


async def test_an_unknown_role_lists_the_valid_ones(db, clock, config):
    bad = edited(DIRECTORY, {22: 'roles = ["member", "vangard"]'})

    problems = await rejected(db, clock, config, bad)

    [problem] = problems.problems
    assert problem.line == 19
    assert problem.message.startswith("unknown role 'vangard' (did you mean 'vanguard'?)")
    assert problem.message.endswith(ROLE_LIST)


async def test_a_zone_kind_must_be_one_of_the_three(db, clock, config):
    problems = await rejected(db, clock, config, edited(DIRECTORY, {9: 'kind = "工地"'}))

    assert problems.problems == [Problem(6, "zone kind '工地' is not one of 办公区 生活区 施工现场")]


async def test_a_geofence_needs_all_three_values(db, clock, config):
    problems = await rejected(db, clock, config, edited(DIRECTORY, {17: ""}))

    assert problems.problems == [Problem(
        11, "a geofence needs latitude, longitude and radius together: radius missing")]


async def test_a_toml_syntax_error_keeps_tomllib_words_and_line(db, clock, config):
    problems = await rejected(db, clock, config, edited(DIRECTORY, {27: "name = 李四"}))

    [problem] = problems.problems
    assert problem.line == 27
    assert problem.message == "TOML syntax: Invalid value (at line 27, column 8)"


async def test_all_problems_of_a_file_are_reported_together(db, clock, config):
    bad = edited(DIRECTORY, {9: 'kind = "工地"',
                             23: 'zone = ["施工现场A区"]',
                             35: 'roles = ["boss"]',
                             37: 'leave_until = "2026-02-30"'})

    problems = await rejected(db, clock, config, bad)

    assert str(problems).splitlines() == [
        "directory.toml:6: zone kind '工地' is not one of 办公区 生活区 施工现场",
        "directory.toml:19: unknown key 'zone' in [[members]] (did you mean 'zones'?)",
        f"directory.toml:32: unknown role 'boss'; the roles are: {ROLE_LIST}",
        "directory.toml:32: leave_until must be a date like 2026-12-31, not '2026-02-30'",
    ]


@pytest.mark.parametrize("changes, line, message", [
    ({2: 'code = ""'}, 1, "empty code"),
    ({5: 'brnch = "支部"'}, 1, "unknown key 'brnch' in [[projects]] (did you mean 'branch'?)"),
    ({15: "latitude = 91.5"}, 11, "latitude 91.5 is outside -90..90"),
    ({16: "longitude = -181"}, 11, "longitude -181.0 is outside -180..180"),
    ({17: "radius = 0"}, 11, "radius 0 must be from 1 to 50000 metres"),
    ({17: "radius = 60000"}, 11, "radius 60000 must be from 1 to 50000 metres"),
    ({17: "radius = 200.5"}, 11, "radius must be a whole number, not 200.5"),
    ({22: "roles = []"}, 19, "no roles given: a member needs at least one (usually 'member')"),
    ({44: 'active = "maybe"'}, 39, "active must be true or false, not 'maybe'"),
    ({37: "leave_until = 2026-12-31T08:00:00"}, 32,
     "leave_until must be a date like 2026-12-31, not 2026-12-31 08:00:00"),
    ({13: 'name = "项目办公区"'}, 11, "zone '项目办公区' of project P1 appears twice (first at line 6)"),
    ({24: 'wecom_userid = "lisi"'}, 25, "wecom_userid 'lisi' appears twice (first at line 19)"),
])
async def test_row_problems(db, clock, config, changes, line, message):
    problems = await rejected(db, clock, config, edited(DIRECTORY, changes))

    assert problems.problems == [Problem(line, message)]


async def test_a_duplicate_project_code(db, clock, config):
    twice = first_lines(DIRECTORY, 5) + first_lines(DIRECTORY, 4)

    problems = await rejected(db, clock, config, twice)

    assert problems.problems == [Problem(6, "project code 'P1' appears twice (first at line 1)")]


async def test_a_file_neither_toml_nor_csv(db, clock, config):
    problems = await rejected(db, clock, config, DIRECTORY, "directory.xlsx")

    assert str(problems) == ("directory.xlsx: cannot tell the format from the name "
                             "'directory.xlsx': use a .toml or .csv file")


async def test_member_rows_without_zones_are_accepted(db, clock, config):
    """Workers and crew leads own no zone: the key (or CSV column) may be left out."""
    toml_file = textwrap.dedent("""\
        [[projects]]
        code = "P1"
        name = "示例项目"
        branch = "示例项目党支部"

        [[members]]
        project = "P1"
        name = "孙工友"
        roles = ["worker"]
        """).encode()
    csv_file = "project,name,roles\nP1,钱班长,assignee;worker\n".encode()
    async with db.sessions() as s, s.begin():
        for data, name in ((toml_file, "d.toml"), (csv_file, "m.csv")):
            await apply_directory(s, parse_directory(data, name), now=clock(), invite_ttl_days=14,
                                  hasher=invites.hasher(config))
    async with db.sessions() as s:
        names = sorted((await s.execute(sa.select(Member.name))).scalars())
    assert names == ["孙工友", "钱班长"]


# ---- workers: crew (班组) and trade (工种), issue 16

WORKERS = textwrap.dedent("""\
    [[projects]]  # line 1
    code = "P1"
    name = "江湾项目"
    branch = "江湾项目党支部"

    [[members]]  # line 6
    project = "P1"
    name = "孙丽"
    roles = ["union"]

    [[members]]  # line 11
    project = "P1"
    name = "马强"
    roles = ["worker"]
    crew = "钢筋班"
    trade = "钢筋工"

    [[members]]  # line 18
    project = "P1"
    name = "吴海"
    roles = ["worker"]
    crew = "架子班"
    trade = "架子工"
    """)


async def crews(db) -> dict[str, tuple[str | None, str | None]]:
    async with db.sessions() as s:
        rows = await s.execute(sa.select(Member.name, Member.crew, Member.trade))
        return {name: (crew, trade) for name, crew, trade in rows.all()}


async def test_workers_are_imported_with_crew_and_trade_and_get_invite_codes(db, clock, config):
    result = await run_import(db, clock, config, WORKERS)

    assert result.members_created == 3
    assert await crews(db) == {"孙丽": (None, None), "马强": ("钢筋班", "钢筋工"),
                               "吴海": ("架子班", "架子工")}
    assert (await member(db, "孙丽")).role_names == {"union"}
    assert (await member(db, "马强")).role_names == {"worker"}
    # A worker may bind an account later, like anyone else.
    assert [name for name, _, _ in result.invites] == ["孙丽", "马强", "吴海"]
    assert set((await code_holders(db, clock)).values()) == {"孙丽", "马强", "吴海"}


async def test_a_reimport_changes_a_given_crew_and_keeps_one_left_out(db, clock, config):
    await run_import(db, clock, config, WORKERS)
    # 马强 moves to another crew; 吴海's keys are dropped, and dropping them is no change.
    changed = edited(WORKERS, {15: 'crew = "木工班"', 16: 'trade = "木工"', 22: "", 23: ""})

    result = await run_import(db, clock, config, changed)

    assert (result.members_created, result.members_updated) == (0, 1)
    assert (await crews(db))["马强"] == ("木工班", "木工")
    assert (await crews(db))["吴海"] == ("架子班", "架子工")

    again = await run_import(db, clock, config, changed)
    assert again.members_updated == 0


async def test_crew_and_trade_columns_in_a_members_csv(db, clock, config):
    await run_import(db, clock, config, first_lines(WORKERS, 4))
    members = ("project,name,roles,crew,trade\n"
               "P1,马强,worker,钢筋班,钢筋工\n"
               "P1,吴海,worker,架子班,\n"
               "P1,孙丽,union,,\n")

    result = await run_import(db, clock, config, members, "members.csv")

    assert result.members_created == 3
    assert await crews(db) == {"马强": ("钢筋班", "钢筋工"), "吴海": ("架子班", None),
                               "孙丽": (None, None)}

    # Empty cells and a file without the columns keep what the members have.
    updated = ("project,name,roles,crew,trade\n"
               "P1,马强,worker,,钢筋工\n"
               "P1,吴海,worker,电工班,电工\n")
    result = await run_import(db, clock, config, updated, "members.csv")
    assert result.members_updated == 1
    result = await run_import(db, clock, config, "project,name,roles\nP1,马强,worker\n",
                              "members.csv")
    assert result.members_updated == 0
    assert await crews(db) == {"马强": ("钢筋班", "钢筋工"), "吴海": ("电工班", "电工"),
                               "孙丽": (None, None)}


async def test_crew_and_trade_lengths_are_checked_by_line(db, clock, config):
    too_long = edited(WORKERS, {15: f'crew = "{"钢" * 101}"', 23: f'trade = "{"架" * 51}"'})

    problems = await rejected(db, clock, config, too_long)

    assert problems.problems == [
        Problem(11, f"crew '{'钢' * 101}' is longer than 100 characters"),
        Problem(18, f"trade '{'架' * 51}' is longer than 50 characters"),
    ]
    # The limits themselves are accepted.
    await run_import(db, clock, config,
                     edited(WORKERS, {15: f'crew = "{"钢" * 100}"', 23: f'trade = "{"架" * 50}"'}))
    assert await crews(db) == {"孙丽": (None, None), "马强": ("钢" * 100, "钢筋工"),
                               "吴海": ("架子班", "架" * 50)}


@pytest.mark.parametrize("changes, line, message", [
    ({15: "crew = 3"}, 11, "crew must be text in quotes, not 3"),
    ({16: 'trades = "钢筋工"'}, 11, "unknown key 'trades' in [[members]] (did you mean 'trade'?)"),
    ({9: 'roles = ["unoin"]'}, 6,
     f"unknown role 'unoin' (did you mean 'union'?); the roles are: {ROLE_LIST}"),
])
async def test_worker_row_problems(db, clock, config, changes, line, message):
    problems = await rejected(db, clock, config, edited(WORKERS, changes))

    assert problems.problems == [Problem(line, message)]


async def test_chinese_crew_headers_are_pointed_to_the_english_names(db, clock, config):
    await run_import(db, clock, config, first_lines(WORKERS, 4))
    members = "project,name,roles,班组,工种\nP1,马强,worker,钢筋班,钢筋工\n"

    problems = await rejected(db, clock, config, members, "members.csv")

    assert problems.problems == [
        Problem(1, "unknown column '班组' in the members header (did you mean 'crew'?)"),
        Problem(1, "unknown column '工种' in the members header (did you mean 'trade'?)"),
    ]


async def test_the_demo_directory_has_the_union_and_eight_workers_in_four_crews(db, clock, config):
    from handlers.directory import demo_directory

    async with db.sessions() as s, s.begin():
        loaded = await demo_directory(s, clock(), config)

    assert loaded["project"] == "DEMO-01"
    assert (await member(db, "孙丽")).role_names == {"union"}
    workers = {name: crew_trade for name, crew_trade in (await crews(db)).items() if crew_trade[0]}
    assert workers == {
        "马强": ("钢筋班", "钢筋工"), "黄志明": ("钢筋班", "钢筋工"),
        "周小兵": ("架子班", "架子工"), "吴海": ("架子班", "架子工"),
        "郑国庆": ("木工班", "木工"), "冯涛": ("木工班", "木工"),
        "何立新": ("电工班", "电工"), "许文": ("电工班", "电工"),
    }
    for name in workers:
        assert (await member(db, name)).role_names == {"worker"}
    assert len(await _all_members(db)) == 15


def test_every_role_has_a_chinese_label():
    from bot.core.i18n import Translator
    from handlers.labels import ROLE_LABELS, roles_text
    from storage.models import Role

    assert set(ROLE_LABELS) == {r.value for r in Role}
    assert roles_text(Translator("zh_CN"), {"union", "member"}) == "党员、工会"
