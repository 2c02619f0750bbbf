"""Hypothesis strategies for the fuzz tests: Telegram updates (as JSON dicts) and
WeCom callback XML, both as the platforms send them and broken in the ways a
careless proxy, an attacker or a future platform change could break them."""
from __future__ import annotations

import json

from hypothesis import strategies as st

BOT_USERNAME = "RedShieldTestBot"
COMMANDS = ["start", "help", "me", "lang", "cancel", "patrol", "log", "team", "rectify",
            "recheck", "hazard", "overdue", "report", "track", "violations", "leave", "week"]
WORDS = ["取消", "跳过", "完成", "帮助", "我的", "巡查", "隐患", "举报", "整改", "复查", "语言",
         "请假", "超期", "周报", "补记", "团队巡查", "查询", "举报处理", "language", "English",
         "中文", "是", "否", "确认", "1", "2", "3", "0", "99", "-1", "１"]

# Pieces that have broken chat bots before: zero-width and bidi controls, RTL
# scripts, emoji sequences, combining marks, full-width spaces, markup, format
# placeholders, things that look like our own separators.
ODD_PIECES = [
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",
    "\u202e", "\u202d", "\u2066", "\u2067", "\u2069",
    "مرحبا بالعالم", "שלום עולם", "سلام", "👷", "👷🏽\u200d♀️", "🏗️", "🇨🇳", "🦺⚠️", "🔥" * 5,
    "e\u0301\u0301\u0301", "Z̷̡̛a̶l̵g̴o̷", "𠜎𠜱𠝹", "ﷺ", "\u3000", "\u00a0", " ", "\t", "\n", "\r\n",
    "<b>粗</b>", "&amp;&lt;", "]]>", "<![CDATA[", "%s%d", "{id}", "{0}{name}", "\\", "null",
    "'; DROP TABLE members;--", "/", "//", "@", "|", "||", "-", "K7MQ-X4PD", "/start",
    "/help", "/me", "/cancel", "/patrol", "/hazard", "/lang",
]
CONTROL_PIECES = ["\x1b[31m", "\x7f", "\x08", "\x01", "\u0085", "\u2028", "\u2029"]
# U+0000 stays out of the texts for now: PostgreSQL refuses it in text columns
# (see test_fuzz.py, test_a_nul_character_in_text_is_stored_without_error).
NUL = "\x00"


def _text(alphabet, pieces, max_len: int) -> st.SearchStrategy[str]:
    piece = st.one_of(st.text(alphabet, max_size=12), st.sampled_from(pieces))
    short = st.lists(piece, max_size=6).map("".join)
    # Very long: a short text repeated, up to max_len characters.
    seed = st.one_of(st.text(alphabet, min_size=1, max_size=12), st.sampled_from(pieces))
    long = st.tuples(seed, st.integers(100, 5000)).map(lambda t: (t[0] * t[1])[:max_len])
    return st.one_of(short, short, long)


def texts(max_len: int = 6000) -> st.SearchStrategy[str]:
    """Any Unicode Telegram can carry (it never sends lone surrogates)."""
    return _text(st.characters(exclude_categories=("Cs",), exclude_characters=NUL),
                 ODD_PIECES + CONTROL_PIECES, max_len)


def xml_texts(max_len: int = 6000) -> st.SearchStrategy[str]:
    """Unicode an XML 1.0 document can carry (WeCom's callbacks are XML)."""
    alphabet = st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff",
                             include_characters="\t\n")
    return _text(alphabet, ODD_PIECES, max_len)


def short_texts() -> st.SearchStrategy[str]:
    return texts(max_len=80).map(lambda s: s[:80])


def chat_inputs(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """What a member types: mostly our own words and commands, sometimes anything."""
    command = st.tuples(st.sampled_from(COMMANDS),
                        st.sampled_from(["", " ", " 1", " abc", " 2026-1"])
                        ).map(lambda t: "/" + "".join(t))
    return st.one_of(st.sampled_from(WORDS), command, text)


# Numbers JSON carries and Telegram could plausibly send at the edges.
LATITUDES = st.one_of(st.floats(-90, 90), st.sampled_from(
    [0.0, -0.0, 90.0, -90.0, 5e-324, 1e-300, 89.99999999999999, 31.2304, -31.2304]))
LONGITUDES = st.one_of(st.floats(-180, 180), st.sampled_from(
    [0.0, -0.0, 180.0, -180.0, 5e-324, 121.4737, -58.5263, 179.99999999999997]))


# ---- Telegram


def tg_user(ids: st.SearchStrategy[int]) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {"id": ids, "is_bot": st.just(False), "first_name": short_texts()},
        optional={
            "last_name": short_texts(),
            "username": st.from_regex(r"[A-Za-z][A-Za-z0-9_]{4,31}", fullmatch=True),
            "language_code": st.one_of(st.sampled_from(
                ["zh-hans", "zh", "zh-hant", "zh-CN", "en", "en-US", "ru", "ar", "fa", "", "xx"]),
                short_texts()),
        })


@st.composite
def tg_chat(draw, user: dict, kinds=("private", "private", "group", "supergroup", "channel")):
    kind = draw(st.sampled_from(kinds))
    if kind == "private":
        return {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    return {"id": draw(st.integers(-(10 ** 13), -1)), "type": kind, "title": draw(short_texts())}


FILE_IDS = st.one_of(
    st.from_regex(r"[A-Za-z0-9_\-]{1,90}", fullmatch=True),
    # The fake Bot API serves bytes that are no image for these.
    st.from_regex(r"junk[A-Za-z0-9_\-]{0,20}", fullmatch=True),
)
UNIQUE_IDS = st.from_regex(r"[A-Za-z0-9_\-]{1,20}", fullmatch=True)
FILE_SIZES = st.one_of(st.integers(0, 30 * 1024 * 1024), st.sampled_from(
    [0, 1, 20 * 1024 * 1024, 20 * 1024 * 1024 + 1, 2 ** 31 - 1, 2 ** 53]))
MIME_TYPES = st.one_of(st.sampled_from(
    ["image/jpeg", "image/png", "image/webp", "image/heic", "image/gif", "IMAGE/JPEG",
     "image/jpeg; charset=x", "image/svg+xml", "application/pdf", "text/plain", "video/mp4",
     "application/octet-stream", ""]), short_texts())

PHOTO_SIZE = st.fixed_dictionaries(
    {"file_id": FILE_IDS, "file_unique_id": UNIQUE_IDS, "width": st.integers(0, 20000),
     "height": st.integers(0, 20000)},
    optional={"file_size": FILE_SIZES})


@st.composite
def tg_command(draw) -> dict:
    name = draw(st.one_of(st.sampled_from(COMMANDS), st.sampled_from(["START", "Help", "x"]),
                          st.from_regex(r"[A-Za-z0-9_]{1,32}", fullmatch=True)))
    addressed = draw(st.sampled_from(["", "", "@" + BOT_USERNAME, "@" + BOT_USERNAME.lower(),
                                      "@SomeOtherBot", "@"]))
    head = f"/{name}{addressed}"
    args = draw(st.one_of(st.just(""), st.sampled_from(
        ["report", "report-x", "hazard", "K7MQ-X4PD", "2026-1", "-", "  "]), texts(300)))
    text = f"{head} {args}" if args else head
    entities = [{"type": "bot_command", "offset": 0, "length": len(head)}]
    return {"text": text, "entities": entities}


ENTITY = st.fixed_dictionaries(
    {"type": st.sampled_from(["bold", "italic", "mention", "hashtag", "url", "bot_command",
                              "code", "pre", "spoiler", "email", "phone_number", "underline",
                              "strikethrough", "blockquote", "cashtag", "future_type"]),
     "offset": st.integers(0, 100), "length": st.integers(0, 100)})


def tg_location() -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {"location": st.fixed_dictionaries(
            {"latitude": LATITUDES, "longitude": LONGITUDES},
            optional={"live_period": st.sampled_from([60, 900, 86400, 0x7FFFFFFF]),
                      "horizontal_accuracy": st.floats(0, 1500),
                      "heading": st.integers(1, 360)})})


def tg_content(answers_only: bool = False) -> st.SearchStrategy[dict]:
    """A message's content; with `answers_only`, what answers a question (text, photo,
    document, location)."""
    text = st.fixed_dictionaries({"text": chat_inputs(texts())},
                                 optional={"entities": st.lists(ENTITY, max_size=3)})
    caption = {"caption": short_texts()}
    photo = st.fixed_dictionaries({"photo": st.lists(PHOTO_SIZE, min_size=1, max_size=4)},
                                  optional=caption)
    document = st.fixed_dictionaries(
        {"document": st.fixed_dictionaries(
            {"file_id": FILE_IDS, "file_unique_id": UNIQUE_IDS},
            optional={"file_name": short_texts(), "mime_type": MIME_TYPES,
                      "file_size": FILE_SIZES})},
        optional=caption)
    location = tg_location()
    voice = st.fixed_dictionaries({"voice": st.fixed_dictionaries(
        {"file_id": FILE_IDS, "file_unique_id": UNIQUE_IDS, "duration": st.integers(0, 3600)})})
    contact = st.fixed_dictionaries({"contact": st.fixed_dictionaries(
        {"phone_number": short_texts(), "first_name": short_texts()})})
    dice = st.fixed_dictionaries({"dice": st.fixed_dictionaries(
        {"emoji": st.sampled_from(["🎲", "🎯", "🏀"]), "value": st.integers(1, 6)})})
    if answers_only:
        return st.one_of(text, text, photo, document, location, location)
    return st.one_of(text, tg_command(), tg_command(), photo, document, location, voice,
                     contact, dice, st.just({}))


def starters() -> st.SearchStrategy[str]:
    """How a member starts something: a command (maybe with arguments) or a word; the
    commands that open conversations come more often."""
    flows = ["/patrol", "/patrol", "/patrol", "巡查", "/hazard", "/hazard", "隐患", "/report",
             "/report", "举报", "/log", "/log", "/team", "/team", "/leave", "/leave", "/lang",
             "/violations", "/rectify", "/recheck", "/track", "/week", "/overdue", "/me",
             "/help", "/cancel", "/start", "/patrol end", "/patrol fix", "/start report",
             "/hazard 1", "/hazard 2026-1", "/rectify 1", "/recheck 1", "/track x"]
    return st.one_of(
        st.sampled_from(flows),
        st.tuples(st.sampled_from(COMMANDS), st.sampled_from(["", " 1", " report", " x"])
                  ).map(lambda t: "/" + "".join(t)),
        st.sampled_from(WORDS[:17]))


MEMBER_IDS = st.one_of(st.just(4242), st.just(4242), st.just(4343),
                       st.integers(1, 2 ** 52))


@st.composite
def tg_message(draw, user: dict | None = None, *, edited: bool = False) -> dict:
    user = user or draw(tg_user(MEMBER_IDS))
    chat = draw(tg_chat(user))
    message = {"message_id": draw(st.integers(1, 2 ** 31 - 1)),
               "date": draw(st.integers(1, 2 ** 31 - 1)), "chat": chat}
    if chat["type"] == "channel":
        message["sender_chat"] = chat
    elif draw(st.integers(0, 9)):  # rarely: an anonymous group admin (no "from")
        message["from"] = user
    message.update(draw(tg_content()))
    if edited:
        message["edit_date"] = message["date"] + draw(st.integers(0, 10 ** 6))
    return message


CALLBACK_DATA = st.one_of(
    st.tuples(st.from_regex(r"[0-9a-f]{1,16}", fullmatch=True),
              st.one_of(st.sampled_from(["_done", "_skip", "_cancel", "zh_CN", "en", "y", "n",
                                         "/me", "0", ""]), short_texts())
              ).map(lambda t: f"{t[0]}|{t[1]}"),
    st.sampled_from(["/me", "/help", "/patrol", "/hazard", "/report", "/lang", "/", "|", "||",
                     "|x", "x|", "", "/nosuch"]),
    short_texts(),
).map(lambda s: s.encode()[:64].decode(errors="ignore"))  # Telegram's 64 bytes


@st.composite
def tg_callback_query(draw) -> dict:
    user = draw(tg_user(MEMBER_IDS))
    query = {"id": str(draw(st.integers(1, 2 ** 63))), "from": user,
             "chat_instance": draw(st.from_regex(r"-?[0-9]{1,19}", fullmatch=True))}
    data = draw(st.one_of(st.none(), CALLBACK_DATA))
    if data is not None:
        query["data"] = data
    shape = draw(st.sampled_from(["message", "message", "inaccessible", "none"]))
    if shape != "none":
        chat = draw(tg_chat(user, kinds=("private", "private", "group", "supergroup")))
        message = {"message_id": draw(st.integers(1, 2 ** 31 - 1)), "chat": chat}
        if shape == "inaccessible":
            message["date"] = 0
        else:
            message.update(date=draw(st.integers(1, 2 ** 31 - 1)), text=draw(short_texts()))
            labels = draw(st.lists(short_texts().filter(bool), max_size=4))
            buttons = [{"text": label, "callback_data": data if i == 0 and data else f"x{i}"}
                       for i, label in enumerate(labels)]
            if buttons:
                message["reply_markup"] = {"inline_keyboard": [buttons]}
        query["message"] = message
    return query


@st.composite
def tg_update(draw) -> dict:
    """An update as Telegram sends it (update_id added by the caller)."""
    kind = draw(st.sampled_from(["message"] * 5 + ["edited_message", "channel_post",
                                                   "callback_query", "callback_query"]))
    if kind == "callback_query":
        return {"callback_query": draw(tg_callback_query())}
    if kind == "channel_post":
        channel = {"id": draw(st.integers(-(10 ** 13), -1)), "type": "channel",
                   "title": draw(short_texts())}
        post = {"message_id": draw(st.integers(1, 2 ** 31 - 1)),
                "date": draw(st.integers(1, 2 ** 31 - 1)), "chat": channel,
                "sender_chat": channel, "text": draw(texts(500))}
        return {"channel_post": post}
    return {kind: draw(tg_message(edited=kind == "edited_message"))}


# ---- broken JSON

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False,
                                                                            allow_infinity=False),
                         st.text(max_size=20))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


# The fields of an update the Telegram adapter reads: mutations go there most often.
READ_FIELDS = {"update_id", "message", "edited_message", "callback_query", "text", "entities",
               "type", "offset", "length", "chat", "id", "from", "language_code", "photo",
               "file_id", "file_size", "document", "mime_type", "location", "latitude",
               "longitude", "data", "reply_markup", "inline_keyboard", "callback_data"}


WRONG_TYPES = {
    str: st.one_of(st.integers(), st.floats(), st.lists(st.text(max_size=3), max_size=2),
                   st.just({}), st.none(), st.booleans()),
    int: st.one_of(st.text(max_size=5), st.sampled_from(["3", "", "1.5"]), st.floats(),
                   st.just([]), st.just({}), st.none(), st.booleans(),
                   st.integers(2 ** 63, 2 ** 80)),
    float: st.one_of(st.text(max_size=5), st.sampled_from(["31.2", ""]), st.just([]),
                     st.none(), st.booleans()),
    list: st.one_of(st.text(max_size=5), st.integers(), st.just({}), st.none(),
                    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=3)),
                             min_size=1, max_size=2)),
    dict: st.one_of(st.text(max_size=5), st.integers(), st.just([]), st.none(), st.just({})),
}


@st.composite
def mutated(draw, base: st.SearchStrategy[dict], focus: set[str] = READ_FIELDS) -> dict:
    """A well-formed document with one value given another type, or removed; mostly
    one of the `focus` fields (each field name as likely as another)."""
    doc = json.loads(json.dumps(draw(base)))
    paths = [p for p in _paths(doc) if p]
    names = sorted({p[-1] for p in paths if p[-1] in focus})
    if names and draw(st.integers(0, 3)):
        name = draw(st.sampled_from(names))
        path = draw(st.sampled_from([p for p in paths if p[-1] == name]))
    else:
        path = draw(st.sampled_from(paths))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    value = parent[path[-1]]
    if isinstance(parent, dict) and not draw(st.integers(0, 3)):
        del parent[path[-1]]
    elif type(value) in WRONG_TYPES and draw(st.integers(0, 3)):
        parent[path[-1]] = draw(WRONG_TYPES[type(value)])
    else:
        parent[path[-1]] = draw(st.one_of(JSON_VALUES, st.sampled_from(
            ["", "\ud800", 10 ** 30, -1, 1.5, True, [], {}, None, "NaN"])))
    return doc


def _dumps(value) -> bytes:
    return json.dumps(value).encode()


@st.composite
def tg_broken_body(draw) -> bytes:
    """A webhook body Telegram would never send."""
    update = st.builds(lambda i, u: {"update_id": i, **u}, st.integers(1, 2 ** 31), tg_update())
    choice = draw(st.sampled_from(["bytes", "not_object", "no_update_id", "random_object",
                                   "truncated", "nan", "deep", "big_int", "latin1", "utf16",
                                   "out_of_range"] + ["mutated"] * 6))
    if choice == "bytes":
        return draw(st.binary(max_size=300))
    if choice == "not_object":
        return _dumps(draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict))))
    if choice == "no_update_id":
        u = draw(update)
        del u["update_id"]
        return _dumps(u)
    if choice == "random_object":
        return _dumps(draw(st.dictionaries(st.sampled_from(
            ["update_id", "message", "edited_message", "callback_query", "x"]), JSON_VALUES,
            max_size=4)))
    if choice == "mutated":
        return _dumps(draw(mutated(update)))
    if choice == "truncated":
        body = _dumps(draw(update))
        return body[:draw(st.integers(0, len(body) - 1))]
    if choice == "nan":
        u = draw(tg_message())
        u["location"] = {"latitude": draw(st.sampled_from([float("nan"), float("inf")])),
                         "longitude": draw(st.sampled_from([float("-inf"), float("nan"), 0.0]))}
        return json.dumps({"update_id": 1, "message": u}).encode()  # NaN/Infinity literals
    if choice == "deep":
        depth = draw(st.integers(1000, 100_000))
        return b"[" * depth + b"]" * depth
    if choice == "big_int":
        return b'{"update_id": ' + b"9" * draw(st.integers(20, 6000)) + b"}"
    if choice == "latin1":
        return json.dumps(draw(update), ensure_ascii=False).encode("utf-8", "surrogatepass"
                                                                   ).replace(b"\xe2", b"\xff")
    if choice == "utf16":
        return json.dumps(draw(update), ensure_ascii=False).encode("utf-16", "surrogatepass")
    # Numbers out of the ranges Telegram keeps to.
    u = draw(tg_message())
    u["location"] = {"latitude": draw(st.floats(allow_nan=False, allow_infinity=False)),
                     "longitude": draw(st.floats(allow_nan=False, allow_infinity=False))}
    return _dumps({"update_id": draw(st.integers(-(2 ** 70), 2 ** 70)), "message": u})


# ---- WeCom


def cdata_xml(fields: dict) -> str:
    """A callback's plain XML as WeCom writes it: numbers bare, text in CDATA."""
    parts = []
    for key, value in fields.items():
        if isinstance(value, int):
            parts.append(f"<{key}>{value}</{key}>")
        else:
            # "]]>" cannot sit inside one CDATA section: it is split over two.
            safe = str(value).replace("]]>", "]]]]><![CDATA[>")
            parts.append(f"<{key}><![CDATA[{safe}]]></{key}>")
    return "<xml>" + "".join(parts) + "</xml>"


WECOM_USERS = st.one_of(st.just("zhangsan"), st.just("zhangsan"), st.just("lisi"),
                        st.from_regex(r"[A-Za-z0-9_.@\-]{1,64}", fullmatch=True))
MEDIA_IDS = st.one_of(st.from_regex(r"[A-Za-z0-9_\-]{1,100}", fullmatch=True),
                      st.from_regex(r"(junk|gone)[A-Za-z0-9_\-]{0,20}", fullmatch=True),
                      xml_texts(60).map(lambda s: "m" + s[:60]))
# Decimal numbers, in and out of range, as text (finite: WeCom sends what a phone measured).
COORDINATES = st.one_of(
    st.floats(-90, 90).map(str), st.floats(-180, 180).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["0", "-0", "31.2304", "121.4737", "1e3", " 12.5 ", "+1", "90", "-180",
                     "1e308", "-1e308", "5e-324", "1_000", "３１"]))
# Text Python's float() takes for no number at all.
ODD_COORDINATES = st.sampled_from(["nan", "inf", "-inf", "NaN", "Infinity", "-Infinity",
                                   "1e309", "-1e400"])
BAD_COORDINATES = st.sampled_from(["", " ", "abc", "1,5", "0x10", "--1", "1e", "北纬31"])
EVENT_KEYS = st.one_of(
    st.sampled_from(["/me", "/help", "/patrol", "/hazard", "/report", "/lang", "/", "/ ",
                     "/me extra", "//", "me", "", "|", "x|", "|x", "/nosuch"]),
    st.tuples(st.from_regex(r"[0-9a-f]{1,16}", fullmatch=True),
              st.one_of(st.sampled_from(["_done", "_skip", "_cancel", "en", "zh_CN", "/me"]),
                        xml_texts(40))).map(lambda t: f"{t[0]}|{t[1]}"),
    xml_texts(300))


@st.composite
def wecom_fields(draw, user: st.SearchStrategy[str] = WECOM_USERS,
                 kinds: tuple[str, ...] | None = None,
                 coordinates: st.SearchStrategy[str] = COORDINATES) -> dict:
    """A decrypted callback as fields, as WeCom sends them (the caller sets ToUserName,
    and may renew MsgId and CreateTime); `kinds` narrows the message types."""
    head = {"ToUserName": "CORP", "FromUserName": draw(user),
            "CreateTime": draw(st.integers(0, 2 ** 32))}
    kinds = kinds or (["text"] * 4 + ["image", "location", "voice", "video", "file", "link",
                                      "other", "event", "event", "event"])
    kind = draw(st.sampled_from(kinds))
    msg_id = {"MsgId": draw(st.integers(1, 2 ** 64 - 1))}
    if kind == "text":
        return {**head, "MsgType": "text", "Content": draw(chat_inputs(xml_texts())), **msg_id}
    if kind == "image":
        return {**head, "MsgType": "image", "PicUrl": "https://wework.qpic.cn/x",
                "MediaId": draw(MEDIA_IDS), **msg_id}
    if kind == "location":
        return {**head, "MsgType": "location", "Location_X": draw(coordinates),
                "Location_Y": draw(coordinates), "Scale": draw(st.integers(0, 20)),
                "Label": draw(xml_texts(500)), **msg_id}
    if kind in ("voice", "video", "file"):
        return {**head, "MsgType": kind, "MediaId": draw(MEDIA_IDS), "Format": "amr", **msg_id}
    if kind == "link":
        return {**head, "MsgType": "link", "Title": draw(xml_texts(100)),
                "Description": draw(xml_texts(100)), "Url": "https://example.com", **msg_id}
    if kind == "other":
        return {**head, "MsgType": draw(st.from_regex(r"[a-z_]{1,20}", fullmatch=True)),
                "Content": draw(xml_texts(100)), **msg_id}
    event = draw(st.sampled_from(["enter_agent", "click", "click", "LOCATION",
                                  "template_card_event", "template_card_event", "view",
                                  "subscribe", "unsubscribe", "batch_job_result",
                                  "change_contact", "open_approval_change", "other"]))
    fields = {**head, "MsgType": "event"}
    if event == "other":
        event = draw(st.from_regex(r"[A-Za-z_]{1,30}", fullmatch=True))
    fields["Event"] = event
    if event == "LOCATION":
        fields.update(Latitude=draw(coordinates), Longitude=draw(coordinates),
                      Precision=draw(coordinates))
    elif event == "template_card_event":
        fields.update(EventKey=draw(EVENT_KEYS), TaskId=draw(xml_texts(128)),
                      CardType="button_interaction",
                      ResponseCode=draw(st.one_of(st.just(""), st.from_regex(
                          r"[A-Za-z0-9_\-]{1,64}", fullmatch=True))))
    else:
        fields["EventKey"] = draw(EVENT_KEYS)
    return fields


RANDOM_XML = st.one_of(
    st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
                    xml_texts(50), max_size=5).map(cdata_xml),
    st.text(max_size=200),
    st.sampled_from([
        "", "<xml/>", "<xml>", "<notxml><a>1</a></notxml>", "<xml><MsgType/></xml>",
        "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>"
        "<!ENTITY c '&b;&b;&b;&b;'>]><xml><Encrypt>&c;</Encrypt></xml>",
        "<!DOCTYPE x SYSTEM 'file:///etc/passwd'><xml><Encrypt>&x;</Encrypt></xml>",
        "<xml><Encrypt><![CDATA[a]]></Encrypt><Encrypt>b</Encrypt></xml>",
        "<xml><xml><MsgType>text</MsgType></xml></xml>",
        "<xml><MsgType>event</MsgType><FromUserName>u</FromUserName><Event/></xml>",
        "<xml><MsgType>text</MsgType><FromUserName><a>u</a></FromUserName><MsgId>1</MsgId></xml>",
        "<xml><MsgType>text</MsgType><FromUserName>u</FromUserName><MsgId>1</MsgId>"
        "<MsgId>2</MsgId></xml>",
        "<xml><MsgType>image</MsgType><FromUserName>u</FromUserName><MsgId>1</MsgId></xml>",
        "<xml><MsgType>location</MsgType><FromUserName>u</FromUserName><MsgId>1</MsgId></xml>",
        "<xml><MsgType>event</MsgType><FromUserName>u</FromUserName><Event>click</Event></xml>",
    ]),
)
