"""core/replies.py: the neutral outbound reply and its builder."""

from __future__ import annotations

import dataclasses

import pytest

from core.i18n import msg
from core.replies import (
    NEWLINE,
    Button,
    Buttons,
    File,
    Image,
    Link,
    Reply,
    ReplyBuilder,
    Style,
    Text,
)


def test_reply_text_puts_a_newline_between_lines() -> None:
    greeting = msg("Hello {name}", name="Ana")
    reply = Reply.text(greeting, "user said this")
    assert reply.segments == (Text(greeting), NEWLINE, Text("user said this"))
    assert reply.to_member is None


def test_reply_text_of_one_line_has_no_newline() -> None:
    assert Reply.text("hi").segments == (Text("hi"),)


def test_reply_text_of_nothing_is_empty() -> None:
    assert Reply.text().segments == ()


def test_reply_text_to_a_member() -> None:
    reply = Reply.text("psst", to_member=42)
    assert reply.to_member == 42
    assert reply.segments == (Text("psst"),)


def test_text_is_plain_by_default() -> None:
    assert Text("x").style is Style.PLAIN
    assert Text("\n", Style.PLAIN) == NEWLINE


def test_reply_is_immutable() -> None:
    reply = Reply.text("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        reply.to_member = 3  # type: ignore[misc]


def test_button_defaults() -> None:
    button = Button(msg("Buy"), data="cmd:/buy 1")
    assert (button.data, button.url) == ("cmd:/buy 1", "")


def test_attachments_have_empty_captions_by_default() -> None:
    assert Image(b"\x89PNG").caption == ""
    assert File("a.csv", b"x").caption == ""


# -- ReplyBuilder ---------------------------------------------------------------------------


def test_builder_keeps_segments_in_order_with_styles() -> None:
    title, body = msg("Points"), msg("You have {n}", n=3)
    buy = Button(msg("Buy"), data="cmd:/buy")
    site = Button(msg("Site"), url="https://example.test")
    reply = (
        ReplyBuilder()
        .bold(title)
        .line()
        .text(body)
        .text(" ")
        .code("/points")
        .line()
        .link(msg("Read more"), "https://example.test/more")
        .buttons((buy, site), (buy,))
        .build()
    )
    assert reply.segments == (
        Text(title, Style.BOLD),
        NEWLINE,
        Text(body),
        Text(" "),
        Text("/points", Style.CODE),
        NEWLINE,
        Link(msg("Read more"), "https://example.test/more"),
        Buttons(((buy, site), (buy,))),
    )
    assert reply.to_member is None


def test_builder_trims_every_trailing_newline() -> None:
    reply = ReplyBuilder().text("a").line().line().line().build()
    assert reply.segments == (Text("a"),)


def test_builder_keeps_leading_and_inner_newlines() -> None:
    reply = ReplyBuilder().line().text("a").line().line().text("b").line().build()
    assert reply.segments == (NEWLINE, Text("a"), NEWLINE, NEWLINE, Text("b"))


def test_builder_does_not_trim_a_styled_or_user_newline() -> None:
    # Only the builder's own line breaks are trimmed; content is left as given.
    reply = ReplyBuilder().text("a").bold("\n").build()
    assert reply.segments == (Text("a"), Text("\n", Style.BOLD))


def test_builder_of_only_newlines_is_empty() -> None:
    assert ReplyBuilder().line().line().build().segments == ()


def test_builder_build_does_not_change_the_builder() -> None:
    builder = ReplyBuilder().text("a").line()
    first = builder.build()
    builder.text("b")
    assert first.segments == (Text("a"),)
    assert builder.build().segments == (Text("a"), NEWLINE, Text("b"))


def test_builder_to_member() -> None:
    assert ReplyBuilder(to_member=7).text("x").build().to_member == 7


def test_builders_do_not_share_segments() -> None:
    ReplyBuilder().text("leak")
    assert ReplyBuilder().build().segments == ()
