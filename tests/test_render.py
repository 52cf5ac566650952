"""bot/adapters/render.py: a Reply as plain text for platforms without markup."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.render import PlainReply, render_plain
from core import i18n
from core.i18n import Catalogs, msg, nmsg
from core.replies import Button, File, Image, Reply, ReplyBuilder, Text

ZH_PO = r"""
msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\n"
"Language: zh_CN\n"
"Plural-Forms: nplurals=1; plural=0;\n"

msgid "Welcome, {name}!"
msgstr "欢迎，{name}！"

msgid "Open the guide"
msgstr "打开指南"

msgid "Buy"
msgstr "购买"

msgid "Weekly chart"
msgstr "每周图表"

msgid "Your export"
msgstr "你的导出"

msgid "{n} point"
msgid_plural "{n} points"
msgstr[0] "{n} 积分"
"""


@pytest.fixture
def zh_catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalogs:
    """Default catalogs from a temporary folder holding only the zh_CN .po above."""
    folder = tmp_path / "locales" / "zh_CN" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(ZH_PO, encoding="utf-8")
    catalogs = Catalogs(tmp_path / "locales")
    monkeypatch.setattr(i18n, "_default_catalogs", catalogs)
    return catalogs


def test_text_segments_are_joined_without_separators() -> None:
    reply = Reply((Text("a"), Text("b"), Text("\n"), Text("c")))
    assert render_plain(reply, "en") == PlainReply("ab\nc", (), ())


def test_user_content_is_shown_as_is() -> None:
    reply = Reply.text("{not a placeholder} 100% <b>raw</b>")
    assert render_plain(reply, "en").text == "{not a placeholder} 100% <b>raw</b>"


def test_messages_are_formatted(zh_catalogs: Catalogs) -> None:
    reply = Reply.text(msg("Welcome, {name}!", name="Ana"), nmsg("{n} point", "{n} points", 3))
    assert render_plain(reply, "en").text == "Welcome, Ana!\n3 points"


def test_messages_are_translated_for_the_locale(zh_catalogs: Catalogs) -> None:
    reply = Reply.text(msg("Welcome, {name}!", name="小王"), nmsg("{n} point", "{n} points", 3))
    assert render_plain(reply, "zh_CN").text == "欢迎，小王！\n3 积分"


def test_message_without_translation_falls_back_to_english(zh_catalogs: Catalogs) -> None:
    reply = Reply.text(msg("Not translated yet, {name}.", name="Ana"))
    assert render_plain(reply, "zh_CN").text == "Not translated yet, Ana."


def test_link_shows_label_and_url(zh_catalogs: Catalogs) -> None:
    reply = ReplyBuilder().link(msg("Open the guide"), "https://example.test/guide").build()
    assert render_plain(reply, "en").text == "Open the guide (https://example.test/guide)"
    assert render_plain(reply, "zh_CN").text == "打开指南 (https://example.test/guide)"


def test_buttons_are_listed_in_reading_order_and_not_in_the_text(zh_catalogs: Catalogs) -> None:
    buy = Button(msg("Buy"), data="cmd:/buy 1")
    site = Button("Site", url="https://example.test")
    more = Button("More", data="cmd:/more")
    reply = ReplyBuilder().text("Pick one:").buttons((buy, site), (more,)).build()
    plain = render_plain(reply, "zh_CN")
    assert plain.text == "Pick one:"
    assert plain.buttons == (("购买", buy), ("Site", site), ("More", more))
    assert plain.attachments == ()


def test_image_is_an_attachment_with_a_placeholder(zh_catalogs: Catalogs) -> None:
    image = Image(b"\x89PNG...", caption=msg("Weekly chart"))
    plain = render_plain(Reply((Text("Here:"), image)), "zh_CN")
    assert plain.text == "Here:[image: 每周图表]"
    assert plain.attachments == (image,)


def test_image_without_caption_is_called_a_chart() -> None:
    image = Image(b"\x89PNG")
    assert render_plain(Reply((image,)), "en").text == "[image: chart]"


def test_file_is_an_attachment_with_name_and_caption(zh_catalogs: Catalogs) -> None:
    file = File("export.json", b"{}", caption=msg("Your export"))
    plain = render_plain(Reply((file,)), "zh_CN")
    assert plain.text == "[file export.json: 你的导出]"
    assert plain.attachments == (file,)


def test_file_without_caption_has_no_dangling_colon() -> None:
    assert render_plain(Reply((File("notes.txt", b"x"),)), "en").text == "[file notes.txt]"


def test_attachments_keep_their_order() -> None:
    first, second, third = Image(b"1"), File("b.txt", b"2", "b"), Image(b"3", "c")
    plain = render_plain(Reply((first, Text(" "), second, third)), "en")
    assert plain.attachments == (first, second, third)


def test_empty_reply() -> None:
    assert render_plain(Reply(()), "en") == PlainReply("", (), ())
