"""bot/adapters/discord/outbound.py: Replies → Discord messages (embeds for headed replies,
escaped Markdown, 2,000-character splitting, components, attachments)."""

from __future__ import annotations

import discord

from bot.adapters.discord.outbound import (
    MAX_CUSTOM_ID,
    MAX_MESSAGE,
    OutboundMessage,
    callback_data,
    render_messages,
    split_text,
)
from core.i18n import msg
from core.replies import Button, Buttons, File, Image, Invoice, Reply, ReplyBuilder, Text


def render(reply: Reply, locale: str = "en") -> list[OutboundMessage]:
    return render_messages(reply, locale, callback_data())


def test_plain_lines_are_plain_text_with_markdown_escaped() -> None:
    (message,) = render(
        Reply.text("a *bold* claim_with_underscores", msg("Did you mean /{suggestion}?", suggestion="top"))
    )
    assert message.content == "a \\*bold\\* claim\\_with\\_underscores\nDid you mean /top?"
    assert not message.has_embed


def test_a_reply_with_a_bold_heading_is_an_embed_in_the_members_language() -> None:
    reply = ReplyBuilder().bold(msg("Paid chats:")).line().text("vip (discord): plan monthly").build()
    (message,) = render(reply, "zh_CN")
    assert message.has_embed
    assert message.embed_title == "付费群："
    assert message.embed_description == "vip (discord): plan monthly"
    embed = message.send_kwargs()["embed"]
    assert isinstance(embed, discord.Embed) and embed.title == "付费群："


def test_bold_and_code_inside_a_line() -> None:
    reply = ReplyBuilder().text("Use ").code("/buy py101").text(" or ").bold("a_b").build()
    (message,) = render(reply)
    assert message.content == "Use `/buy py101` or **a\\_b**"
    (code,) = render(ReplyBuilder().code("a`b").build())
    assert code.content == "`` a`b ``"


def test_long_text_is_split_at_2000_characters_on_line_boundaries() -> None:
    lines = [f"line {i} " + "x" * 90 for i in range(60)]
    messages = render(Reply.text(*lines))
    assert len(messages) > 1
    assert all(len(m.content) <= MAX_MESSAGE for m in messages)
    assert "\n".join(m.content for m in messages).split("\n") == lines


def test_a_single_line_longer_than_a_message_is_cut() -> None:
    messages = split_text(["y" * 4500])
    assert [len(m) for m in messages] == [2000, 2000, 500]


def test_a_headed_reply_too_long_for_an_embed_falls_back_to_text() -> None:
    builder = ReplyBuilder().bold("Title").line()
    for i in range(80):
        builder.text(f"row {i} " + "z" * 60).line()
    messages = render(builder.build())
    assert not any(m.has_embed for m in messages)
    assert messages[0].content.startswith("**Title**\nrow 0")
    assert all(len(m.content) <= MAX_MESSAGE for m in messages)


def test_buttons_become_components_on_the_last_message() -> None:
    reply = (
        ReplyBuilder()
        .text(msg("Choose your language:"))
        .buttons(
            (Button("English", "cmd:/lang en"), Button("中文", "cmd:/lang zh")),
            (Button("Docs", url="https://example.org/docs"),),
        )
        .build()
    )
    (message,) = render(reply)
    assert [[(b.label, b.custom_id, b.url) for b in row] for row in message.rows] == [
        [("English", "cmd:/lang en", ""), ("中文", "cmd:/lang zh", "")],
        [("Docs", "", "https://example.org/docs")],
    ]
    view = message.send_kwargs()["view"]
    assert isinstance(view, discord.ui.View)
    assert not view.is_dispatchable()  # discord.py keeps no state for it: presses come as interactions
    components = view.to_components()
    assert components[0]["components"][0]["custom_id"] == "cmd:/lang en"
    assert components[1]["components"][0]["url"] == "https://example.org/docs"


async def test_long_button_data_is_packed_within_the_custom_id_limit() -> None:
    callbacks = callback_data()
    data = "cmd:/course " + "edit py101 description " + "x" * 200
    reply = ReplyBuilder().text("go").buttons((Button("Go", data),)).build()
    (message,) = render_messages(reply, "en", callbacks)
    sent = message.rows[0][0].custom_id
    assert len(sent) <= MAX_CUSTOM_ID
    assert await callbacks.unpack(sent) == data


def test_a_row_of_more_than_five_buttons_wraps_and_more_than_five_rows_go_on() -> None:
    row = tuple(Button(str(i), f"cmd:/x {i}") for i in range(7))
    (message,) = render(ReplyBuilder().text("many").buttons(row).build())
    assert [len(r) for r in message.rows] == [5, 2]
    rows = tuple((Button(str(i), f"cmd:/x {i}"),) for i in range(7))
    first, second = render(ReplyBuilder().text("many").buttons(*rows).build())
    assert len(first.rows) == 5 and len(second.rows) == 2


def test_buttons_without_text_still_get_a_message() -> None:
    (message,) = render(Reply((Buttons(((Button("Help", "cmd:/help"),),)),)))
    assert message.content and message.rows


def test_images_and_files_are_attachments() -> None:
    reply = Reply(
        (Text("Your chart"), Image(b"\x89PNG...", caption="week"), File("notes.pdf", b"%PDF", "slides"))
    )
    text, image, document = render(reply)
    assert text.content == "Your chart"
    assert image.files == (("chart.png", b"\x89PNG..."),) and image.content == "week"
    assert document.files == (("notes.pdf", b"%PDF"),) and document.content == "slides"
    files = document.send_kwargs()["files"]
    assert isinstance(files, list) and files[0].filename == "notes.pdf"


def test_an_invoice_is_shown_as_its_title_and_price() -> None:
    (message,) = render(Reply((Invoice("Python", "Course", "order:1", "XTR", 50),)))
    assert "Python" in message.content and "50" in message.content


def test_no_message_pings_anyone() -> None:
    (message,) = render(Reply.text("@everyone look"))
    mentions = message.send_kwargs()["allowed_mentions"]
    assert isinstance(mentions, discord.AllowedMentions)
    assert mentions.everyone is False and mentions.users is False and mentions.roles is False


def test_links_in_text_get_no_preview_so_no_crawler_opens_a_one_time_link() -> None:
    (message,) = render(Reply.text("Open the dashboard: https://hall.example.com/dashboard/login/abc"))
    assert message.send_kwargs()["suppress_embeds"] is True
    headed = ReplyBuilder().bold(msg("Paid chats:")).line().text("vip").build()
    (embedded,) = render(headed)
    assert "suppress_embeds" not in embedded.send_kwargs()  # our own embed stays
