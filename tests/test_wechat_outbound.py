"""bot/adapters/wechat/outbound.py: Replies as WeChat text, numbered options, images and QR codes."""

from __future__ import annotations

from bot.adapters.wechat.outbound import MAX_TEXT_BYTES, WxImage, WxQr, WxText, render_reply, split_text
from core.delivery.service import Option
from core.i18n import msg
from core.replies import Button, Buttons, File, Image, Link, Reply, ReplyBuilder, Text


def test_text_is_plain_and_buttons_are_numbered_options() -> None:
    reply = (
        ReplyBuilder()
        .bold(msg("Welcome to {community}, {name}!", community="hall", name="Ana"))
        .line()
        .code("/start ref_abc")
        .buttons(
            (Button(msg("Help"), data="cmd:/help"), Button(msg("Language"), data="cmd:/lang")),
            (Button("Pay", url="https://pay.example/1"),),
        )
        .build()
    )
    rendered = render_reply(reply, "zh_CN")
    [text] = rendered.messages
    assert isinstance(text, WxText)
    assert text.text.splitlines() == [
        "欢迎来到 hall，Ana！",
        "/start ref_abc",
        "[1] 帮助",
        "[2] 语言",
        "[3] Pay: https://pay.example/1",
        "回复数字进行选择。",
    ]
    assert rendered.options == (Option("cmd:/help"), Option("cmd:/lang"), Option(url="https://pay.example/1"))


def test_images_follow_the_text_and_files_are_named() -> None:
    reply = Reply((*Reply.text("Chart:").segments, Image(b"png-bytes", "Weekly"), File("notes.pdf", b"%PDF")))
    rendered = render_reply(reply, "en")
    assert rendered.messages == (WxText("Chart:[file notes.pdf]\nWeekly"), WxImage(b"png-bytes"))
    assert rendered.options == ()


def test_a_referral_qr_link_becomes_a_qr_code() -> None:
    reply = Reply((*Reply.text("Invite:").segments, Link(msg("Your invitation QR code"), "qr:ref_abcdefgh")))
    assert render_reply(reply, "en").messages == (WxText("Invite:"), WxQr("ref_abcdefgh"))
    ordinary = Reply((Link("Docs", "https://docs.example"),))
    assert render_reply(ordinary, "en").messages == (WxText("Docs (https://docs.example)"),)


def test_an_empty_reply_sends_nothing() -> None:
    assert render_reply(Reply(()), "en").messages == ()


def test_long_text_is_split_on_line_ends_within_wechats_limit() -> None:
    lines = [f"第{n}行：" + "数据" * 30 for n in range(100)]
    pieces = split_text("\n".join(lines))
    assert len(pieces) > 1
    assert all(len(piece.encode()) <= MAX_TEXT_BYTES for piece in pieces)
    assert "\n".join(pieces) == "\n".join(lines)  # cut only between lines


def test_one_very_long_line_is_cut_by_characters() -> None:
    line = "长" * 2000  # 6,000 bytes
    pieces = split_text(line)
    assert all(len(piece.encode()) <= MAX_TEXT_BYTES for piece in pieces)
    assert "".join(pieces) == line
    assert split_text("\n\n") == []


def test_a_scale_of_numbered_buttons_is_answered_by_the_number_itself() -> None:
    scale = tuple(Button(str(n), data=f"cmd:/nps {n}") for n in range(11))
    rendered = render_reply(Reply((Text("How likely?"), Buttons((scale,)))), "en")
    [text] = [m for m in rendered.messages if isinstance(m, WxText)]
    assert "0 · 1 · 2 · 3 · 4 · 5 · 6 · 7 · 8 · 9 · 10" in text.text and "[11]" not in text.text
    assert [(o.number, o.data) for o in rendered.options][-1] == (10, "cmd:/nps 10")
    mixed = render_reply(Reply((Buttons(((Button("1", data="a"), Button("Yes", data="b")),)),)), "en")
    assert [o.number for o in mixed.options] == [None, None]  # not all numbers: places from 1
