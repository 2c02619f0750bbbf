from bot.adapters.base import split_text, utf8_size


def test_short_text_is_one_piece():
    assert split_text("你好", 4096) == ["你好"]


def test_long_text_is_cut_at_line_breaks():
    text = "\n".join(f"第{i}行" + "安" * 50 for i in range(200))
    pieces = split_text(text, 4096)
    assert len(pieces) > 1 and all(len(p) <= 4096 for p in pieces)
    assert "\n".join(pieces) == text
    assert all(p.startswith("第") for p in pieces)


def test_byte_limit_counts_utf8_bytes():
    text = "安" * 2000  # 6000 bytes, one line
    pieces = split_text(text, 2048, utf8_size)
    assert all(utf8_size(p) <= 2048 for p in pieces)
    assert "".join(pieces) == text
