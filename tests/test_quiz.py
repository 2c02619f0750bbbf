"""The question bank and quizzes (issue 17): `redshield questions import` with every bad row
reported by line and nothing written, re-imports that update; a quiz set by the secretary,
answered by tapping with the explanation after each answer, the score and the rank at the
end, one attempt per person, an interrupted attempt resumed, points for workers through
the stars, and the ranking in chat and in `redshield quizzes`."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import textwrap

import pytest
import sqlalchemy as sa

from bot.bootstrap import bootstrap, load_plugins
from bot.core.contract import Kind, OpenPrivateChat
from bot.core.registry import Registry
from handlers.directory.importer import ImportProblems
from handlers.lessons.questions import DEMO_BANK, import_questions, load_demo_bank, parse_questions
from storage import quizzes as store
from storage.models import Lesson, OutboxMessage, Question, Quiz, QuizAttempt, StarEntry
from tests import factories as f

BANK = textwrap.dedent("""\
    [[questions]]
    category = "高处作业"
    text = "安全带应当怎样挂？"
    options = ["低挂高用", "高挂低用", "不挂"]
    answer = "B"
    explanation = "挂点高于作业面，坠落距离短。"

    [[questions]]
    category = "高处作业"
    text = "临边防护栏杆的上杆距地面多高？"
    options = ["1.0 m", "1.2 m"]
    answer = 2
    explanation = "JGJ 80-2016：上杆距地面 1.2 m。"

    [[questions]]
    category = "高处作业"
    text = "遇几级以上强风不得进行悬空高处作业？"
    options = ["四级", "五级", "六级"]
    answer = "六级"

    [[questions]]
    category = "施工用电"
    text = "施工现场临时用电采用哪种接零保护系统？"
    options = ["TN-C 系统", "TN-S 系统"]
    answer = "b"
    explanation = "工作零线与保护零线分开。"

    [[questions]]
    category = "施工用电"
    text = "开关箱漏电保护器的额定漏电动作电流不应大于？"
    options = ["30 mA", "50 mA"]
    answer = "Ａ"
    explanation = "且动作时间不大于 0.1 s。"
    """)


@pytest.fixture
async def site(db, clock):
    """Project P1: the secretary, a Party member, two workers and the safety officer (bound),
    a member without an account; 外人 of another project. Member ids by name; the bank."""
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P1", name="江湾项目")
        ids = {"project": p.id}
        for name, roles, crew, uid in (
            ("王书记", ("member", "secretary"), None, "u1"),
            ("张三", ("member",), None, "u2"),
            ("马强", ("worker",), "钢筋班", "w1"),
            ("刘伟", ("worker",), "木工班", "w2"),
            ("李安监", ("member", "safety_officer"), None, "u3"),
            ("陈静", ("member",), None, None),
        ):
            m = await f.member(s, p, name, roles=roles, crew=crew)
            if uid:
                await f.bind(s, m, external_id=uid)
            ids[name] = m.id
        other = await f.project(s, code="P2", name="别的项目")
        stranger = await f.member(s, other, "外人", roles=("member", "secretary"))
        await f.bind(s, stranger, external_id="u9")
        ids["外人"] = stranger.id
        assert await import_questions(s, BANK.encode(), "bank.toml", clock.now) == (5, 0)
    return ids


async def key(db) -> dict[str, Question]:
    async with db.sessions() as s:
        return {q.text: q for q in (await s.execute(sa.select(Question))).scalars()}


def asked(said) -> str:
    """The text of the question on screen (the line under 第 i/n 题)."""
    return said.choices.prompt.splitlines()[1]


async def reply(user, said, bank, *, right: bool):
    """Tap the right (or a wrong) option of the question on screen."""
    q = bank[asked(said)]
    index = q.answer if right else (q.answer + 1) % len(q.options)
    return await user.tap(said.buttons[index])


async def attempts(db) -> list[QuizAttempt]:
    async with db.sessions() as s:
        return list((await s.execute(sa.select(QuizAttempt).order_by(QuizAttempt.id))).scalars())


async def set_quiz(secretary, *, category="高处作业（3 题）", count="5 题", until="7 天"):
    await secretary.say("/quiz new")
    await secretary.say("十一月高处作业竞赛")
    await secretary.tap(category)
    await secretary.tap(count)
    return await secretary.tap(until)


async def run_cli(config, db, clock, capsys, name, *argv) -> tuple[int, str, str]:
    """`redshield NAME ARGS` as the CLI runs it: the registered command, a wired App."""
    registry = load_plugins(Registry(), config.bot.plugins)
    command = registry.cli_commands[name]
    parser = argparse.ArgumentParser()
    command.arguments(parser)
    args = parser.parse_args(list(argv))
    app = bootstrap(config, clock, db=db.engine, registry=registry, targets=[])
    capsys.readouterr()
    try:
        code = await command.run(app, args)
    finally:
        await app.close()
    out = capsys.readouterr()
    return code, out.out, out.err


# ---- the bank


async def test_import_toml_and_a_gbk_csv(config, db, clock, capsys, tmp_path):
    (tmp_path / "bank.toml").write_text(BANK, encoding="utf-8")
    code, out, err = await run_cli(config, db, clock, capsys, "questions", "import",
                                   str(tmp_path / "bank.toml"))
    assert (code, out.strip()) == (0, "5 added, 0 updated"), err
    csv_text = ("category,text,option_a,option_b,option_c,option_d,option_e,answer,explanation\n"
                "施工机具,乙炔瓶使用时应如何放置？,卧放,,直立放置,倒放,,C,溶剂会随气体流出。\n"
                "施工机具,氧气瓶与乙炔瓶的工作间距不小于？,2 m,5 m,,,,2,\n")
    (tmp_path / "bank.csv").write_bytes(csv_text.encode("gbk"))
    code, out, err = await run_cli(config, db, clock, capsys, "questions", "import",
                                   str(tmp_path / "bank.csv"), "--encoding", "gbk")
    assert (code, out.strip()) == (0, "2 added, 0 updated"), err

    bank = await key(db)
    assert len(bank) == 7
    belt = bank["安全带应当怎样挂？"]
    assert (belt.category, belt.options, belt.answer, belt.explanation, belt.active) == (
        "高处作业", ["低挂高用", "高挂低用", "不挂"], 1, "挂点高于作业面，坠落距离短。", True)
    assert bank["临边防护栏杆的上杆距地面多高？"].answer == 1  # a number counts from 1
    assert bank["遇几级以上强风不得进行悬空高处作业？"].answer == 2  # the option's text
    assert bank["遇几级以上强风不得进行悬空高处作业？"].explanation is None
    assert bank["施工现场临时用电采用哪种接零保护系统？"].answer == 1  # lower case
    assert bank["开关箱漏电保护器的额定漏电动作电流不应大于？"].answer == 0  # full-width Ａ
    # an empty option cell is left out; the letter still names its column
    acetylene = bank["乙炔瓶使用时应如何放置？"]
    assert (acetylene.options, acetylene.answer) == (["卧放", "直立放置", "倒放"], 1)
    oxygen = bank["氧气瓶与乙炔瓶的工作间距不小于？"]
    assert (oxygen.options, oxygen.answer, oxygen.explanation) == (["2 m", "5 m"], 1, None)

    # the same CSV read as UTF-8 is refused with the line and the advice
    code, out, err = await run_cli(config, db, clock, capsys, "questions", "import",
                                   str(tmp_path / "bank.csv"))
    assert code == 1 and "bank.csv:2: the file is not utf-8 text" in err and "--encoding gbk" in err


BAD_TOML = textwrap.dedent("""\
    [[questions]]
    category = "高处作业"
    text = "好的题目？"
    options = ["甲", "乙"]
    answer = "A"

    [[questions]]
    category = "高处作业"
    text = "只有一个选项？"
    options = ["甲"]
    answer = "A"

    [[questions]]
    category = "高处作业"
    text = "答案不在选项里？"
    options = ["甲", "乙", "丙"]
    answer = "E"

    [[questions]]
    category = "高处作业"
    text = "选项重复？"
    options = ["甲", "甲", "乙"]
    answer = 1

    [[questions]]
    text = "没有分类？"
    options = ["甲", "乙"]
    answer = "丁"
    explain = "拼错的键"

    [[questions]]
    category = "高处作业"
    text = "六个选项？"
    options = ["1", "2", "3", "4", "5", "6"]
    answer = 1

    [[questions]]
    category = "高处作业"
    text = "好的题目？"
    options = ["甲", "乙"]
    answer = 9
    """) + (f'\n[[questions]]\ncategory = "高处作业"\ntext = "{"长" * 501}"\n'
            f'options = ["甲", "{"乙" * 201}"]\nanswer = "A"\n')


async def test_a_bad_file_reports_every_bad_row_by_line_and_writes_nothing(config, db, clock, capsys,
                                                                           tmp_path):
    (tmp_path / "bad.toml").write_text(BAD_TOML, encoding="utf-8")
    code, out, err = await run_cli(config, db, clock, capsys, "questions", "import",
                                   str(tmp_path / "bad.toml"))
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert lines[-1] == "nothing was imported."
    expected = [
        "bad.toml:7: 1 options: a question needs 2 to 5",
        "bad.toml:13: answer 'E' names no option (the options are A, B, C)",
        "bad.toml:19: option '甲' is given twice: the options must differ",
        "bad.toml:25: unknown key 'explain' in [[questions]] (did you mean 'explanation'?)",
        "bad.toml:25: missing category",
        "bad.toml:25: answer '丁' is none of the options: give a letter (A, B), a number or "
        "an option's exact text",
        "bad.toml:31: 6 options: a question needs 2 to 5",
        "bad.toml:37: answer 9 names no option (the options are A, B)",
        "bad.toml:43: text is 501 characters long; at most 500",
        "bad.toml:43: option B is 201 characters long; at most 200",
    ]
    for line in expected:
        assert line in lines, (line, lines)
    assert not any(line.startswith("bad.toml:1:") for line in lines)  # the good row
    assert len(lines) == len(expected) + 1
    assert await key(db) == {}

    bad_csv = ("category,text,option_a,option_b,answer,explanation,note\n"
               "高处作业,好的题目？,甲,乙,A,\n"
               "高处作业,,甲,乙,A,\n"
               "\n"
               "高处作业,一个选项？,甲,,A,\n")
    (tmp_path / "bad.csv").write_text(bad_csv, encoding="utf-8")
    code, out, err = await run_cli(config, db, clock, capsys, "questions", "import",
                                   str(tmp_path / "bad.csv"))
    assert code == 1
    assert "bad.csv:1: unknown column 'note'" in err
    assert "bad.csv:3: empty text" in err
    assert "bad.csv:5: 1 options: a question needs 2 to 5" in err  # the physical line
    assert await key(db) == {}

    with pytest.raises(ImportProblems, match="no questions in the file"):
        parse_questions(b"# nothing yet\n", "empty.toml")
    with pytest.raises(ImportProblems, match="use a .toml or .csv file"):
        parse_questions(b"", "bank.xlsx")
    twice = '[[questions]]\ncategory = "高处作业"\ntext = "甲？"\noptions = ["甲", "乙"]\nanswer = "A"\n' * 2
    with pytest.raises(ImportProblems, match=r"b.toml:6: question '甲？' of '高处作业' appears twice "
                                             r"\(first at line 1\)"):
        parse_questions(twice.encode(), "b.toml")


async def test_control_characters_are_refused_by_line_but_line_breaks_in_an_explanation_pass(
        config, db, clock, capsys, tmp_path):
    # A NUL passes the CSV reader and, unchecked, broke the import on PostgreSQL.
    bad_csv = ("category,text,option_a,option_b,answer,explanation\n"
               "高处作业,安全带\x00怎样挂？,低挂高用,高挂低用,B,\n"
               "高处作业,好的题目？,甲,乙\x1b,A,\n"
               "高\x07处作业,另一题？,甲,乙,A,\n"
               "高处作业,第四题？,甲,乙,A\x00,\n"
               "高处作业,第五题？,甲,乙,A,响\x7f铃\n")
    (tmp_path / "nul.csv").write_text(bad_csv, encoding="utf-8")
    code, out, err = await run_cli(config, db, clock, capsys, "questions", "import",
                                   str(tmp_path / "nul.csv"))
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert lines == ["nul.csv:2: text contains a control character '\\x00'",
                     "nul.csv:3: option B contains a control character '\\x1b'",
                     "nul.csv:4: category contains a control character '\\x07'",
                     "nul.csv:5: answer contains a control character '\\x00'",
                     "nul.csv:6: explanation contains a control character '\\x7f'",
                     "nothing was imported."]
    assert await key(db) == {}

    # Tabs and line ends (a Windows CRLF in a quoted cell too) are an explanation's own.
    good = ('category,text,option_a,option_b,answer,explanation\r\n'
            '高处作业,安全带怎样挂？,低挂高用,高挂低用,B,"挂点高于作业面，\r\n坠落距离短。\t见 JGJ 80"\r\n')
    [row] = parse_questions(good.encode(), "good.csv")
    assert row.question.explanation == "挂点高于作业面，\r\n坠落距离短。\t见 JGJ 80"
    with pytest.raises(ImportProblems, match=r"b.csv:2: text contains a control character '\\n'"):
        parse_questions('category,text,option_a,option_b,answer\n高处作业,"两\n行？",甲,乙,A\n'.encode(),
                        "b.csv")


async def test_reimport_updates_by_category_and_text_and_keeps_what_is_gone(config, db, clock, capsys,
                                                                           tmp_path):
    path = tmp_path / "bank.toml"
    path.write_text(BANK, encoding="utf-8")
    assert (await run_cli(config, db, clock, capsys, "questions", "import", str(path)))[1].strip() == \
        "5 added, 0 updated"
    assert (await run_cli(config, db, clock, capsys, "questions", "import", str(path)))[1].strip() == \
        "0 added, 0 updated"
    changed = textwrap.dedent("""\
        [[questions]]
        category = "高处作业"
        text = "安全带应当怎样挂？"
        options = ["高挂低用", "低挂高用"]
        answer = "高挂低用"
        explanation = "高挂低用。"

        [[questions]]
        category = "脚手架"
        text = "挡脚板高度不应小于？"
        options = ["120 mm", "180 mm"]
        answer = "B"
        """)
    path.write_text(changed, encoding="utf-8")
    clock.advance(days=1)
    code, out, _ = await run_cli(config, db, clock, capsys, "questions", "import", str(path))
    assert (code, out.strip()) == (0, "1 added, 1 updated")
    bank = await key(db)
    assert len(bank) == 6  # the questions left out of the second file stay
    belt = bank["安全带应当怎样挂？"]
    assert (belt.options, belt.answer, belt.explanation, belt.imported_at) == (
        ["高挂低用", "低挂高用"], 0, "高挂低用。", clock.now)
    assert bank["临边防护栏杆的上杆距地面多高？"].imported_at == clock.now - dt.timedelta(days=1)


def test_the_demo_bank_reads_cleanly():
    rows = parse_questions(DEMO_BANK.read_bytes(), DEMO_BANK.name)
    categories = {r.question.category for r in rows}
    assert 20 <= len(rows) <= 40
    assert categories == {"安全管理", "脚手架", "基坑工程", "模板支架", "高处作业", "施工用电",
                          "物料提升机与施工升降机", "塔式起重机与起重吊装", "施工机具"}
    assert all(r.question.explanation for r in rows)
    belt = next(r.question for r in rows if "安全带" in r.question.text)
    assert belt.options[belt.answer] == "高挂低用"


async def test_the_demo_bank_loads_into_the_database(db, clock):
    async with db.sessions() as s, s.begin():
        added, updated = await load_demo_bank(s, clock.now)
    async with db.sessions() as s, s.begin():
        assert await load_demo_bank(s, clock.now) == (0, 0)
        assert dict(await store.categories(s))["施工用电"] >= 2
    assert (added, updated) == (len(await key(db)), 0)


# ---- setting a quiz, answering it


async def test_a_quiz_set_by_the_secretary_is_answered_by_tapping(chat, db, site, clock):
    secretary = chat.user("u1")
    said = await secretary.say("/quiz new")
    assert "答题的标题" in said
    await secretary.say("十一月高处作业竞赛")
    said = await secretary.tap("高处作业（3 题）")
    assert "每人每次答几题？（可选题目共 3 道）" in said
    assert said.buttons == ["5 题", "10 题", "20 题", "取消"]
    said = await secretary.tap("5 题")
    assert said.buttons == ["今天", "3 天", "7 天", "30 天", "取消"]  # no lesson to attach to
    said = await secretary.tap("7 天")
    assert "✅ 已发布答题" in said and "「十一月高处作业竞赛」：高处作业，每人 5 题，11-23 至 11-29 开放" in said
    assert "可选题目只有 3 道，每次全部作答。" in said and "已通知项目成员 4 人。" in said
    async with db.sessions() as s:
        [quiz] = (await s.execute(sa.select(Quiz))).scalars().all()
    assert (quiz.project_id, quiz.category, quiz.question_count, quiz.attempts, quiz.opens_on,
            quiz.closes_on, quiz.lesson_id, quiz.created_by_id) == (
        site["project"], "高处作业", 5, 1, dt.date(2026, 11, 23), dt.date(2026, 11, 29), None,
        site["王书记"])

    for name in ("张三", "马强", "刘伟", "李安监"):
        notice = chat.notices(site[name])
        assert "📝 新的答题「十一月高处作业竞赛」：每人 5 题，11-23 至 11-29 开放。" in notice
        assert [o.value for o in notice.choices.options] == [f"/quiz {quiz.id}"]
    for name in ("王书记", "陈静", "外人"):  # the setter, no account, another project
        assert chat.notices(site[name]).replies == []

    # a worker taps the notice's button and answers: right, wrong, right
    ma = chat.user("w1")
    bank = await key(db)
    said = await ma.say(f"/quiz {quiz.id}")
    assert "「十一月高处作业竞赛」共 3 题" in said
    assert said.choices.prompt.startswith("第 1/3 题（高处作业）：")
    assert said.buttons[-1] == "取消" and said.buttons[0].startswith("A. ")
    said = await reply(ma, said, bank, right=True)
    assert said.text.splitlines()[0] == "✅ 正确"
    assert said.choices.prompt.startswith("第 2/3 题")
    wrong = bank[asked(said)]
    said = await reply(ma, said, bank, right=False)
    right = wrong.answer
    assert f"❌ 正确答案是 {'ABC'[right]}. {wrong.options[right]}" in said
    if wrong.explanation:
        assert f"解析：{wrong.explanation}" in said
    assert said.choices.prompt.startswith("第 3/3 题")
    said = await reply(ma, said, bank, right=True)
    assert "🏁 答题结束：得分 2/3" in said
    assert "🏆「十一月高处作业竞赛」排行（1 人）：" in said and "1. 马强 2/3" in said
    assert "我的排名：第 1 名（最好成绩 2/3）" in said

    [attempt] = await attempts(db)
    assert (attempt.member_id, attempt.score, len(attempt.answers), attempt.finished_at) == (
        site["马强"], 2, 3, clock.now)
    assert sorted(attempt.question_ids) == sorted(q.id for q in bank.values() if q.category == "高处作业")
    async with db.sessions() as s:
        [entry] = (await s.execute(sa.select(StarEntry))).scalars().all()
    assert (entry.worker_id, entry.points, entry.source, entry.reason, entry.ref) == (
        site["马强"], 2, "event", "quiz", f"quiz:{quiz.id}:{site['马强']}")

    # one attempt per person
    said = await ma.say(f"/quiz {quiz.id}")
    assert "您已经答过「十一月高处作业竞赛」了（每人 1 次）。" in said and "最好成绩 2/3。" in said
    assert said.buttons == ["看排行"]
    said = await ma.say("/quiz")
    assert "最好成绩 2/3" in said and "还可答" not in said
    assert said.buttons == [f"#{quiz.id} 排行"]
    assert len(await attempts(db)) == 1


async def test_the_notice_button_starts_it_and_a_party_member_earns_no_points(chat, db, site):
    await set_quiz(chat.user("u1"), category="施工用电（2 题）")
    notice = chat.notices(site["张三"])
    zhang = chat.user("u2")
    bank = await key(db)
    said = await zhang.tap("开始答题", notice.choices)
    assert said.choices.prompt.startswith("第 1/2 题（施工用电）：")
    # a letter typed counts as the tap; anything else is asked again
    said = await zhang.say("X")
    assert "请点按钮选择答案，或发送选项字母（如 B）。" in said and "第 1/2 题" in said.choices.prompt
    q = bank[asked(said)]
    said = await zhang.say("ab"[q.answer].upper())
    assert "✅ 正确" in said
    said = await reply(zhang, said, bank, right=True)
    assert "🏁 答题结束：得分 2/2" in said
    async with db.sessions() as s:
        assert (await s.execute(sa.select(StarEntry))).scalars().all() == []  # 张三 is no worker
    [attempt] = await attempts(db)
    assert (attempt.score, attempt.finished_at is not None) == (2, True)


async def test_an_interrupted_attempt_resumes_where_it_stopped(chat, db, site, clock):
    await set_quiz(chat.user("u1"))
    liu = chat.user("w2")
    bank = await key(db)
    said = await liu.say("/quiz")
    assert "📝 开放中的答题：" in said and "还可答 1 次" in said
    said = await liu.tap(said.buttons[0])
    said = await reply(liu, said, bank, right=False)
    second = asked(said)
    said = await liu.say("/me")  # a look-up beside the quiz: the question comes back
    assert said.choices.prompt.startswith("第 2/3 题") and asked(said) == second
    said = await liu.tap("取消")
    [attempt] = await attempts(db)
    assert (len(attempt.answers), attempt.finished_at) == (1, None)

    clock.advance(hours=3)
    said = await liu.say("答题")
    assert "接着答「十一月高处作业竞赛」：已答 1/3 题。" in said
    assert asked(said) == second and said.choices.prompt.startswith("第 2/3 题")
    said = await reply(liu, said, bank, right=True)
    said = await reply(liu, said, bank, right=True)
    assert "🏁 答题结束：得分 2/3" in said
    [attempt] = await attempts(db)  # it counted as one attempt all along
    assert (len(attempt.answers), attempt.score, attempt.finished_at) == (3, 2, clock.now)
    async with db.sessions() as s:
        [entry] = (await s.execute(sa.select(StarEntry))).scalars().all()
    assert (entry.worker_id, entry.points) == (site["刘伟"], 2)

    said = await liu.say("/quiz")  # nothing half-way now: the list, without a start button
    assert "最好成绩 2/3" in said and not any(b.startswith("答题 #") for b in said.buttons)


async def test_old_buttons_and_forged_answers_do_not_count(chat, db, site):
    await set_quiz(chat.user("u1"))
    ma = chat.user("w1")
    bank = await key(db)
    first = await ma.say("/quiz")
    first = await ma.tap(first.buttons[0])
    said = await reply(ma, first, bank, right=True)
    # a second tap on the first question's buttons is stale
    again = await ma.tap(first.buttons[0], first.choices)
    assert "这个按钮已过期" in again and again.choices.prompt.startswith("第 2/3 题")
    forged = await ma.send(Kind.choice, choice="a9", token=said.choices.token)
    assert "请点按钮选择答案" in forged
    [attempt] = await attempts(db)
    assert len(attempt.answers) == 1


async def test_who_may_set_a_quiz_and_groups(chat, db, site):
    said = await chat.user("u2").say("/quiz new")
    assert "答题由党支部书记、安监或工会设置。" in said
    said = await chat.user("u2").say("/quiz")
    assert "现在没有开放的答题。" in said and said.buttons == []
    said = await chat.user("u1").say("/quiz")
    assert said.buttons == ["设置答题"]
    in_group = chat.user("u2", chat_id="g1", group=True)
    said = await in_group.say("/quiz 1")
    [reply_] = said.replies
    assert isinstance(reply_, OpenPrivateChat) and reply_.start_param == "quiz-1"
    said = await in_group.say("/quiz")
    assert isinstance(said.replies[0], OpenPrivateChat) and said.replies[0].start_param == "quiz"


async def test_an_empty_bank_or_category_is_said(chat, db, site):
    await set_quiz(chat.user("u1"))
    async with db.sessions() as s, s.begin():
        await s.execute(sa.update(Question).values(active=False))
    ma = chat.user("w1")
    said = await ma.say("/quiz")
    said = await ma.tap(said.buttons[0])
    assert "题库里还没有这类题目，暂时不能答题。" in said
    assert await attempts(db) == []  # nothing started, nothing counted
    said = await chat.user("u1").say("/quiz new")
    assert "题库还是空的" in said


async def test_a_lesson_quiz_opens_on_the_lesson_day_for_a_week(chat, db, site, clock):
    starts = clock.now + dt.timedelta(days=2)  # Wed 11-25 10:00 local
    async with db.sessions() as s, s.begin():
        lesson = Lesson(project_id=site["project"], title="高处作业安全专题党课", form="党课",
                        starts_at=starts, ends_at=starts + dt.timedelta(hours=1), place="会议室",
                        audience="all", crews=[], created_at=clock.now)
        old = Lesson(project_id=site["project"], title="很久以前的课", form="党课",
                     starts_at=clock.now - dt.timedelta(days=20),
                     ends_at=clock.now - dt.timedelta(days=20), place="会议室", audience="all",
                     crews=[], created_at=clock.now)
        s.add_all([lesson, old])
    secretary = chat.user("u1")
    await secretary.say("/quiz new")
    await secretary.say("课后小测")
    await secretary.tap("全部（5 题）")
    said = await secretary.tap("10 题")
    assert said.buttons == ["11-25 高处作业安全专题党课", "不关联", "取消"]
    said = await secretary.tap("11-25 高处作业安全专题党课")
    assert "11-25 至 12-01 开放" in said and said.buttons == ["看排行"]
    async with db.sessions() as s:
        [quiz] = (await s.execute(sa.select(Quiz))).scalars().all()
        held = (await s.execute(sa.select(OutboxMessage).where(
            OutboxMessage.kind == "quiz_opened"))).scalars().all()
    assert (quiz.lesson_id, quiz.opens_on, quiz.closes_on, quiz.category) == (
        lesson.id, dt.date(2026, 11, 25), dt.date(2026, 12, 1), None)
    # told once the lesson is over, not before
    assert len(held) == 4 and all(m.next_attempt_at == lesson.ends_at and m.sent_at is None for m in held)
    said = await chat.user("w1").say(f"/quiz {quiz.id}")
    assert "「课后小测」11-25 开放，到时再来。" in said

    clock.advance(days=2, hours=2)
    said = await chat.user("w1").say(f"/quiz {quiz.id}")
    assert "共 5 题" in said  # fewer in the bank than asked for
    clock.advance(days=8)
    said = await chat.user("w2").say(f"/quiz {quiz.id}")
    assert "「课后小测」已于 12-01 结束。" in said


# ---- ranking


async def test_ranking_best_score_per_person_ties_by_earlier_finish(chat, db, site, clock, config, capsys):
    now = clock.now
    async with db.sessions() as s, s.begin():
        quiz = await store.create_quiz(
            s, project_id=site["project"], lesson_id=None, title="竞赛", category=None,
            question_count=5, attempts=2, opens_on=dt.date(2026, 11, 20), closes_on=dt.date(2026, 11, 30),
            created_by_id=site["王书记"], created_at=now)
        ids = list((await s.execute(sa.select(Question.id))).scalars())

        def attempt(name, score, minutes, finished=True):
            s.add(QuizAttempt(quiz_id=quiz.id, member_id=site[name], question_ids=ids,
                              answers=[0] * 5, score=score, started_at=now,
                              finished_at=now + dt.timedelta(minutes=minutes) if finished else None))

        attempt("张三", 3, 10)
        attempt("张三", 5, 50)  # best of two
        attempt("马强", 5, 30)  # the same best, finished earlier
        attempt("刘伟", 4, 5)
        attempt("李安监", 4, 20)
        attempt("王书记", 5, 1, finished=False)  # unfinished: not ranked
        quiz_id = quiz.id
    ranked = [(r.rank, r.name, r.score) for r in await _ranking(db, quiz_id)]
    assert ranked == [(1, "马强", 5), (2, "张三", 5), (3, "刘伟", 4), (4, "李安监", 4)]

    said = await chat.user("u2").say(f"/quiz rank {quiz_id}")
    assert said.text.splitlines() == ["🏆「竞赛」排行（4 人）：", "1. 马强 5/5", "2. 张三 5/5",
                                      "3. 刘伟 4/5", "4. 李安监 4/5", "我的排名：第 2 名（最好成绩 5/5）"]
    assert "没有这个答题" in await chat.user("u9").say(f"/quiz rank {quiz_id}")  # another project
    in_group = chat.user("u2", chat_id="g1", group=True)
    said = await in_group.say(f"/quiz rank {quiz_id}")  # names and scores: not in a group
    assert "排行请在与我的私聊中查看" in said and "马强" not in said

    code, out, _ = await run_cli(config, db, clock, capsys, "quizzes", "--project", "P1", "--json")
    data = json.loads(out)
    [q] = data["quizzes"]
    assert (q["attempts"], q["finished"], q["people"], q["average"], q["average_of"]) == (6, 5, 4, 4.2, 5)
    assert [(r["rank"], r["name"], r["score"]) for r in q["ranking"]] == ranked
    assert q["ranking"][0]["finished"] == "2026-11-23T10:30+08:00"
    code, out, _ = await run_cli(config, db, clock, capsys, "quizzes", "--project", "P1")
    assert "答题 6 次，完成 5 次，4 人；平均 4.2/5" in out and "  1. 马强  5/5  2026-11-23 10:30" in out


async def _ranking(db, quiz_id):
    async with db.sessions() as s:
        return await store.ranking(s, quiz_id)


async def test_more_attempts_when_the_quiz_allows_them(chat, db, site):
    await set_quiz(chat.user("u1"), category="施工用电（2 题）")
    async with db.sessions() as s, s.begin():
        await s.execute(sa.update(Quiz).values(attempts=2))
    ma = chat.user("w1")
    bank = await key(db)
    said = await ma.say("/quiz")
    assert "还可答 2 次" in said
    said = await ma.tap(said.buttons[0])
    said = await reply(ma, said, bank, right=False)
    said = await reply(ma, said, bank, right=False)
    assert "🏁 答题结束：得分 0/2" in said and said.buttons == ["再答一次"]
    said = await ma.tap("再答一次")
    said = await reply(ma, said, bank, right=True)
    said = await reply(ma, said, bank, right=True)
    assert "🏁 答题结束：得分 2/2" in said and said.buttons == []
    assert "我的排名：第 1 名（最好成绩 2/2）" in said
    said = await ma.say("/quiz 1")
    assert "您已经答过「十一月高处作业竞赛」了（每人 2 次）。" in said
    found = await attempts(db)
    assert [(a.score, a.finished_at is not None) for a in found] == [(0, True), (2, True)]
    async with db.sessions() as s:
        entries = (await s.execute(sa.select(StarEntry))).scalars().all()
    # only the first attempt pays (it scored 0): the explanations gave the answers away
    assert entries == []
