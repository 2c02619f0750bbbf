"""Joining with an invite code, /help, /me, /lang, and what unknown users hear."""
from __future__ import annotations

import hashlib
import hmac

import pytest
import sqlalchemy as sa

from handlers import codes, invites
from storage.models import Identity, InviteCode
from tests import factories as f


@pytest.fixture
async def site(db):
    """One project with a member 张三 who holds a fresh invite code."""
    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        z = await f.zone(s, p)
        zhang = await f.member(s, p, "张三", roles=("member", "vanguard"), zones=[z])
        code = await f.invite(s, zhang)
    return {"code": code, "member_id": zhang.id}


async def identities(db):
    async with db.sessions() as s:
        return (await s.execute(sa.select(Identity.external_id, Identity.member_id))).all()


async def test_unknown_user_is_told_how_to_join(chat):
    said = await chat.user("stranger").say("你好")
    assert "邀请码" in said and "/start" in said


async def test_start_with_code_binds_and_shows_help(chat, site, db):
    said = await chat.user("u1").say(f"/start {site['code']}")
    assert "绑定成功" in said and "张三" in said
    assert "我的" in said.buttons
    assert await identities(db) == [("u1", site["member_id"])]

    me = await chat.user("u1").say("/me")
    assert "张三 · 示例项目（示例项目党支部）" in me
    assert "党员、先锋队员" in me and "施工现场A区" in me


async def test_code_is_accepted_in_lower_case_without_dash(chat, site):
    code = site["code"].replace("-", "").lower()
    assert "绑定成功" in await chat.user("u1").say(f"/start {code}")


async def test_start_without_code_asks_for_it_and_survives_a_restart(chat, site, db, config, clock):
    alice = chat.user("u1")
    said = await alice.say("/start")
    assert "邀请码" in said and "取消" in said

    # A new engine on the same database: the question is still open.
    from tests.chatbot import TestBot, test_app

    restarted = TestBot(test_app(config, clock, db)).user("u1")
    assert "绑定成功" in await restarted.say(site["code"])


async def test_used_code_is_refused(chat, site, db):
    await chat.user("u1").say(f"/start {site['code']}")
    said = await chat.user("u2").say(f"/start {site['code']}")
    assert "已经用过" in said
    assert await identities(db) == [("u1", site["member_id"])]


async def test_expired_code_is_refused(chat, site, clock, db):
    clock.advance(days=15)
    assert "已失效" in await chat.user("u1").say(f"/start {site['code']}")
    assert await identities(db) == []


async def test_reissued_code_replaces_the_old_one(chat, site, db):
    async with db.sessions() as s, s.begin():
        from storage.directory import get_member

        new = await f.invite(s, await get_member(s, site["member_id"]))
    assert "已失效" in await chat.user("u1").say(f"/start {site['code']}")
    assert "绑定成功" in await chat.user("u1").say(f"/start {new}")


async def test_wrong_codes_are_limited(chat, site, db, clock):
    mallory = chat.user("m")
    for _ in range(4):
        said = await mallory.say("/start ABCD-EFGH")
        assert "不正确" in said
    said = await mallory.say("/start ABCD-EFGH")
    assert "错误次数太多" in said and "15 分钟" in said
    # Even the right code waits until the window has passed.
    assert "错误次数太多" in await mallory.say(f"/start {site['code']}")
    assert await identities(db) == []
    clock.advance(minutes=16)
    assert "绑定成功" in await mallory.say(f"/start {site['code']}")


async def test_malformed_code_gets_the_format_and_the_question_again(chat, site):
    alice = chat.user("u1")
    await alice.say("/start")
    said = await alice.say("hello")
    assert "8位" in said and "请输入" in said
    assert "绑定成功" in await alice.say(site["code"])


async def test_account_bound_to_someone_else_is_not_rebound(chat, site, db):
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="P2")
        li = await f.member(s, p, "李四")
        code = await f.invite(s, li)
    await chat.user("u1").say(f"/start {site['code']}")
    assert "已绑定其他成员" in await chat.user("u1").say(f"/start {code}")
    async with db.sessions() as s:
        unused = (await s.execute(sa.select(InviteCode).where(InviteCode.member_id == li.id))).scalar_one()
    assert unused.used_at is None  # the code is still good for 李四's own phone


async def test_start_in_a_group_points_to_the_private_chat(chat, site, db):
    said = await chat.user("u1", chat_id="group-1", group=True).say(f"/start {site['code']}")
    assert "私聊" in said
    assert await identities(db) == []


async def test_help_lists_only_what_roles_allow_and_works_mid_question(chat, site):
    alice = chat.user("u1")
    await alice.say(f"/start {site['code']}")
    await alice.say("/lang")
    said = await alice.say("帮助")
    assert "/me" in said and "/start" not in said
    assert "请选择语言" in said  # the open question is asked again
    assert "English" in said.buttons
    said = await alice.tap("English")
    assert "English" in said.text


async def test_language_switch_changes_every_reply(chat, site):
    alice = chat.user("u1")
    await alice.say(f"/start {site['code']}")
    await alice.say("语言")
    await alice.tap("English")
    me = await alice.say("/me")
    assert "Roles: Party member, Vanguard member" in me
    assert "Language: English" in me


async def test_platform_language_is_used_before_any_choice(chat):
    said = await chat.user("x", language="en-GB").say("hi")
    assert "invite code" in said.text


async def test_cancel_leaves_nothing_behind(chat, site, db):
    alice = chat.user("u1")
    await alice.say("/start")
    assert "已取消" in await alice.say("取消")
    assert "没看懂" not in await alice.say(site["code"])  # no open question: not a code
    assert await identities(db) == []
    assert "没有进行中的操作" in await alice.say("/cancel")


async def test_cancel_button_and_expired_buttons(chat, site):
    alice = chat.user("u1")
    await alice.say(f"/start {site['code']}")
    first = (await alice.say("/lang")).choices
    assert "已取消" in await alice.tap("取消")
    said = await alice.tap("English", choices=first)
    assert "已过期" in said
    # A button of an earlier question, while a new one is open, gets the question again.
    await alice.say("/lang")
    said = await alice.tap("English", choices=first)
    assert "已过期" in said and "请选择语言" in said


async def test_text_where_a_button_is_expected_gets_a_hint(chat, site):
    alice = chat.user("u1")
    await alice.say(f"/start {site['code']}")
    await alice.say("/lang")
    said = await alice.say("随便说点什么")
    assert "请点击下面的按钮" in said and said.buttons == ["中文", "English", "取消"]
    said = await alice.photo()
    assert "请点击下面的按钮" in said
    assert "English" in await alice.say("2")  # the number of an option counts as a tap


async def test_stale_dialog_expires_politely(chat, site, clock):
    alice = chat.user("u1")
    await alice.say("/start")
    clock.advance(minutes=31)
    said = await alice.say(site["code"])
    assert "已超时" in said and "绑定成功" not in said


async def test_unknown_command(chat, site):
    alice = chat.user("u1")
    await alice.say(f"/start {site['code']}")
    assert "没有 /dance 这个命令" in await alice.say("/dance")
    await alice.say("/lang")
    said = await alice.say("/dance")
    assert "没有 /dance" in said and "请选择语言" in said


async def test_a_redelivered_message_is_processed_once(chat, site, db):
    alice = chat.user("u1")
    first = await alice.say(f"/start {site['code']}", message_id="tg-1")
    again = await alice.say(f"/start {site['code']}", message_id="tg-1")
    assert "绑定成功" in first and again.replies == []


async def test_inactive_member_cannot_bind_or_use_commands(chat, db):
    async with db.sessions() as s, s.begin():
        p = await f.project(s)
        gone = await f.member(s, p, "王五", active=False)
        code = await f.invite(s, gone)
        other = await f.member(s, p, "赵六", active=False)
        await f.bind(s, other, external_id="u9")
    assert "已停用" in await chat.user("u1").say(f"/start {code}")
    assert "已停用" in await chat.user("u9").say("/me")


# ---- what a reader of the database can do with the invite table


async def keyed_code(db, app, config, name="孙七") -> tuple[str, str]:
    """A code issued as `redshield invite` issues it, and the hash the table keeps."""
    async with db.sessions() as s, s.begin():
        p = await f.project(s, code="K1")
        sun = await f.member(s, p, name)
        code = await invites.issue(s, sun, f.NOW, 14, hasher=invites.hasher(config, app.engine.anonymity))
        stored = (await s.execute(sa.select(InviteCode.code_hash)
                                  .where(InviteCode.member_id == sun.id))).scalar_one()
    return code, stored


async def test_a_code_is_stored_keyed_and_a_reader_of_the_table_cannot_confirm_a_guess(chat, app, db,
                                                                                     config):
    code, stored = await keyed_code(db, app, config)
    normalized = codes.normalize(code, invites.CODE_LENGTH)
    assert stored != hashlib.sha256(normalized.encode()).hexdigest()

    # The reader holds every hash and has guessed the right code: nothing they can
    # compute without the key (plain hashes of any spelling, HMACs under keys the
    # database could hold or be guessed) matches.
    spellings = {code, normalized, normalized.lower(), code.lower()}
    tries = {hashlib.sha256(x.encode()).hexdigest() for x in spellings}
    tries |= {hmac.new(k.encode(), m.encode(), hashlib.sha256).hexdigest()
              for k in ("", "invite", "redshield", code) for m in spellings | {"invite\x1f" + normalized}}
    async with db.sessions() as s:
        table = set((await s.execute(sa.select(InviteCode.code_hash))).scalars())
    assert stored in table and not tries & table
    # With the key it is the engine's keyed pseudonym, which is how the bot finds it.
    assert stored == app.engine.anonymity.pseudonym("invite", normalized)
    assert "绑定成功" in await chat.user("u7").say(f"/start {code}")


async def test_another_deployment_key_does_not_redeem_the_code(chat, app, db, config, clock):
    code, _ = await keyed_code(db, app, config)
    from tests.chatbot import TestBot, test_app

    other = config.model_copy(update={"security": config.security.model_copy(
        update={"secret_key": "another-deployment-" + "x" * 32})})
    said = await TestBot(test_app(other, clock, db)).user("u7").say(f"/start {code}")
    assert "不正确" in said
    assert await identities(db) == []


async def test_a_code_issued_before_keyed_hashes_is_still_redeemed_once(chat, site, db):
    """Rows stored as plain SHA-256 (before #14, or by a deployment without a key) still
    work, once, until they expire: nobody holding one is turned away."""
    normalized = codes.normalize(site["code"], invites.CODE_LENGTH)
    async with db.sessions() as s:
        stored = (await s.execute(sa.select(InviteCode.code_hash))).scalar_one()
    assert stored == hashlib.sha256(normalized.encode()).hexdigest()  # the old form
    assert "绑定成功" in await chat.user("u1").say(f"/start {site['code']}")
    assert "已经用过" in await chat.user("u2").say(f"/start {site['code']}")
