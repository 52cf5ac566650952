"""bot/adapters/telegram/outbound.py: Replies → Bot API messages (HTML, keyboards, media)."""

from __future__ import annotations

from html import escape, unescape
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot.adapters.telegram.outbound import (
    MAX_CALLBACK_BYTES,
    MAX_CAPTION,
    MAX_MESSAGE,
    CallbackData,
    DocumentMessage,
    OutboundMessage,
    PhotoMessage,
    TextMessage,
    render_messages,
)
from core import i18n
from core.i18n import Catalogs, msg
from core.replies import Button, Buttons, File, Image, Reply, ReplyBuilder, Style, Text

# msgids the handlers use (bot/handlers/basics.py), with their translations
ZH_PO = r"""
msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\n"
"Language: zh_CN\n"
"Plural-Forms: nplurals=1; plural=0;\n"

msgid "Welcome to {community}, {name}!"
msgstr "欢迎来到 {community}，{name}！"

msgid "Help"
msgstr "帮助"

msgid "Language"
msgstr "语言"
"""


@pytest.fixture
def zh_catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalogs:
    """Default catalogs holding only the zh_CN .po above (independent of the project's wording)."""
    folder = tmp_path / "locales" / "zh_CN" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(ZH_PO, encoding="utf-8")
    catalogs = Catalogs(tmp_path / "locales")
    monkeypatch.setattr(i18n, "_default_catalogs", catalogs)
    return catalogs


def render(reply: Reply, locale: str = "en", callbacks: CallbackData | None = None) -> list[OutboundMessage]:
    return render_messages(reply, locale, callbacks or CallbackData())


def texts(messages: list[OutboundMessage]) -> list[str]:
    return [message.html for message in messages if isinstance(message, TextMessage)]


class _TagChecker(HTMLParser):
    """Collects the problems of one HTML fragment: unbalanced or unexpected tags."""

    ALLOWED = frozenset({"b", "code", "a"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.ALLOWED:
            self.problems.append(f"unexpected <{tag}>")
        if self.stack:
            self.problems.append(f"<{tag}> nested in <{self.stack[-1]}>")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unmatched </{tag}>")
        else:
            self.stack.pop()


def tag_problems(fragment: str) -> list[str]:
    checker = _TagChecker()
    checker.feed(fragment)
    checker.close()
    if "<" in checker.rawdata:
        checker.problems.append("a tag cut in the middle")
    return checker.problems + [f"<{tag}> not closed" for tag in checker.stack]


# -- escaping and markup ---------------------------------------------------------------------


def test_plain_text_escapes_user_content() -> None:
    assert render(Reply.text("1 < 2 > 0 & done")) == [TextMessage("1 &lt; 2 &gt; 0 &amp; done")]


def test_user_markup_is_not_markup() -> None:
    [message] = render(Reply.text("<b>free points</b> <a href='x'>click</a>"))
    assert isinstance(message, TextMessage)
    assert "<" not in message.html
    assert message.html == "&lt;b&gt;free points&lt;/b&gt; &lt;a href='x'&gt;click&lt;/a&gt;"
    assert unescape(message.html) == "<b>free points</b> <a href='x'>click</a>"


def test_entities_already_in_user_text_are_escaped_again() -> None:
    assert texts(render(Reply.text("&amp; &lt;"))) == ["&amp;amp; &amp;lt;"]


def test_bold_code_and_link_render_as_html() -> None:
    reply = (
        ReplyBuilder()
        .bold("Top <3>")
        .text(" & ")
        .code("x<y")
        .line()
        .link("guide & more", 'https://example.test/?q="a"&b=1')
        .build()
    )
    assert texts(render(reply)) == [
        "<b>Top &lt;3&gt;</b> &amp; <code>x&lt;y</code>\n"
        '<a href="https://example.test/?q=&quot;a&quot;&amp;b=1">guide &amp; more</a>'
    ]


def test_styles_are_applied_per_line() -> None:
    reply = Reply((Text("one\ntwo", Style.BOLD),))
    assert texts(render(reply)) == ["<b>one</b>\n<b>two</b>"]


@pytest.mark.usefixtures("zh_catalogs")
def test_messages_are_translated_for_the_locale() -> None:
    welcome = msg("Welcome to {community}, {name}!", community="Study <Hall>", name="Ana & Bo")
    assert texts(render(Reply.text(welcome), "zh_CN")) == ["欢迎来到 Study &lt;Hall&gt;，Ana &amp; Bo！"]
    assert texts(render(Reply.text(welcome), "en")) == ["Welcome to Study &lt;Hall&gt;, Ana &amp; Bo!"]


@pytest.mark.usefixtures("zh_catalogs")
def test_untranslated_message_falls_back_to_english() -> None:
    reply = ReplyBuilder().bold(msg("Not translated <yet>, {name}.", name="小王")).build()
    assert texts(render(reply, "zh_CN")) == ["<b>Not translated &lt;yet&gt;, 小王.</b>"]


@pytest.mark.usefixtures("zh_catalogs")
def test_link_label_and_button_label_are_translated() -> None:
    reply = (
        ReplyBuilder()
        .link(msg("Help"), "https://example.test/help")
        .buttons((Button(msg("Language"), data="cmd:/language"),))
        .build()
    )
    [message] = render(reply, "zh_CN")
    assert isinstance(message, TextMessage)
    assert message.html == '<a href="https://example.test/help">帮助</a>'
    assert message.keyboard is not None
    assert message.keyboard.inline_keyboard[0][0].text == "语言"


def test_a_web_app_button_opens_a_mini_app_and_a_plain_url_button_a_link() -> None:
    reply = (
        ReplyBuilder()
        .text("Lesson 1")
        .buttons(
            (Button(msg("Open in the app"), url="https://learn.example/learn/app", web_app=True),),
            (Button("Docs", url="https://example.test/docs"),),
        )
        .build()
    )
    [message] = render(reply, "en")
    assert isinstance(message, TextMessage) and message.keyboard is not None
    (app,), (docs,) = message.keyboard.inline_keyboard
    assert app.web_app == WebAppInfo("https://learn.example/learn/app") and app.url is None
    assert docs.url == "https://example.test/docs" and docs.web_app is None


def test_empty_and_blank_replies_give_no_messages() -> None:
    assert render(Reply(())) == []
    assert render(Reply.text("", "  ", "")) == []


# -- splitting -------------------------------------------------------------------------------


def test_many_lines_split_between_lines() -> None:
    lines = [f"line {index}: <note> & " + "word " * (index % 17) for index in range(600)]
    messages = texts(render(Reply.text(*lines)))
    assert len(messages) > 2
    assert all(len(message) <= MAX_MESSAGE for message in messages)
    # joined back with the line breaks the split took, nothing is lost, added or reordered
    assert unescape("\n".join(messages)) == "\n".join(lines)


def test_split_fills_each_message_before_starting_the_next() -> None:
    lines = [f"{index:04} " + "x" * (index % 90) for index in range(900)]
    messages = texts(render(Reply.text(*lines)))
    assert len(messages) > 2
    for current, following in pairwise(messages):
        first_line = following.split("\n")[0]
        assert len(current) + 1 + len(first_line) > MAX_MESSAGE


def test_a_single_overlong_line_of_ampersands_is_cut_to_fit() -> None:
    line = "&" * 10_000
    messages = texts(render(Reply.text(line)))
    assert len(messages) > 2
    assert all(len(message) <= MAX_MESSAGE for message in messages)
    assert "".join(unescape(message) for message in messages) == line


def test_cutting_an_overlong_line_adds_no_line_breaks() -> None:
    line = "word " * 2_000
    messages = texts(render(Reply.text(line)))
    assert all(len(message) <= MAX_MESSAGE for message in messages)
    assert "".join(unescape(message) for message in messages) == line


def test_tags_are_balanced_in_every_message() -> None:
    builder = ReplyBuilder()
    for index in range(250):
        builder.bold(f"Heading {index} <&>").text(" - ").code(f"x<{index}>&y").line()
        builder.link(f"guide {index}", f"https://example.test/{index}?a=1&b=2").line()
    builder.bold("B&<" * 3_000).line().code("c" * 9_000).line().bold("the end")
    messages = texts(render(builder.build()))
    assert len(messages) > 5
    for message in messages:
        assert len(message) <= MAX_MESSAGE
        assert tag_problems(message) == []
        for line in message.split("\n"):  # every line is closed on its own
            assert tag_problems(line) == [], line
    assert messages[-1].endswith("<b>the end</b>")


# -- keyboards -------------------------------------------------------------------------------


def keyboard_reply(*lines: str) -> Reply:
    builder = ReplyBuilder()
    for index, line in enumerate(lines):
        if index:
            builder.line()
        builder.text(line)
    return builder.buttons(
        (Button("Join", data="cmd:/join"), Button("Docs", url="https://example.test/docs")),
        (Button("Leave", data="cmd:/leave"),),
    ).build()


def test_buttons_become_an_inline_keyboard_with_rows_kept() -> None:
    [message] = render(keyboard_reply("Pick one"))
    assert isinstance(message, TextMessage)
    assert message.html == "Pick one"
    assert message.keyboard == InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Join", callback_data="cmd:/join"),
                InlineKeyboardButton("Docs", url="https://example.test/docs"),
            ],
            [InlineKeyboardButton("Leave", callback_data="cmd:/leave")],
        ]
    )
    join, docs = message.keyboard.inline_keyboard[0]
    assert (join.callback_data, join.url) == ("cmd:/join", None)
    assert (docs.url, docs.callback_data) == ("https://example.test/docs", None)
    assert [len(row) for row in message.keyboard.inline_keyboard] == [2, 1]


def test_keyboard_rides_on_the_last_text_message() -> None:
    messages = render(keyboard_reply(*(f"line {index} " + "y" * 60 for index in range(300))))
    assert len(messages) > 2
    assert all(isinstance(message, TextMessage) for message in messages)
    assert [message.keyboard is not None for message in messages] == [False] * (len(messages) - 1) + [True]


def test_rows_from_several_button_segments_are_kept_in_order() -> None:
    reply = Reply(
        (
            Text("Choose"),
            Buttons(((Button("A", data="a"),),)),
            Buttons(((Button("B", data="b"), Button("C", data="c")),)),
        )
    )
    [message] = render(reply)
    assert isinstance(message, TextMessage)
    assert message.keyboard is not None
    labels = [[button.text for button in row] for row in message.keyboard.inline_keyboard]
    assert labels == [["A"], ["B", "C"]]


def test_buttons_alone_still_send_a_text_carrying_the_keyboard() -> None:
    reply = Reply((Buttons(((Button("Yes", data="yes"), Button("No", data="no")),)),))
    [message] = render(reply)
    assert isinstance(message, TextMessage)
    assert message.html.strip()
    assert message.keyboard is not None
    assert [button.callback_data for button in message.keyboard.inline_keyboard[0]] == ["yes", "no"]


async def test_long_button_data_is_packed_and_unpacks() -> None:
    callbacks = CallbackData()
    data = "cmd:/give @小王 5 " + "谢谢你的笔记" * 4
    [message] = render(Reply((Text("Thank?"), Buttons(((Button("OK", data=data),),)))), callbacks=callbacks)
    assert isinstance(message, TextMessage)
    assert message.keyboard is not None
    sent = message.keyboard.inline_keyboard[0][0].callback_data
    assert isinstance(sent, str)
    assert len(sent.encode()) <= MAX_CALLBACK_BYTES
    assert await callbacks.unpack(sent) == data


# -- media -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("zh_catalogs")
def test_images_and_files_follow_the_text_with_escaped_captions() -> None:
    reply = Reply(
        (
            Text("Your week"),
            Image(b"\x89PNG-1", caption="chart <1> & 2"),
            File("points.csv", b"a,b\n", caption=msg("Help")),
            Text("\n"),
            Text("done"),
            Image(b"\x89PNG-2"),
        )
    )
    assert render(reply, "zh_CN") == [
        TextMessage("Your week\ndone"),
        PhotoMessage(b"\x89PNG-1", "chart &lt;1&gt; &amp; 2"),
        DocumentMessage("points.csv", b"a,b\n", "帮助"),
        PhotoMessage(b"\x89PNG-2", ""),
    ]


def test_keyboard_stays_on_the_text_when_media_follow() -> None:
    reply = Reply((Text("Chart"), Image(b"png"), Buttons(((Button("More", data="more"),),))))
    messages = render(reply)
    assert [type(message) for message in messages] == [TextMessage, PhotoMessage]
    first = messages[0]
    assert isinstance(first, TextMessage)
    assert first.keyboard is not None


def test_media_only_reply_sends_no_text() -> None:
    assert render(Reply((File("a.txt", b"x"),))) == [DocumentMessage("a.txt", b"x", "")]


def test_escaped_caption_fits_the_caption_limit() -> None:
    [photo] = render(Reply((Image(b"png", caption="&<>" * 2_000),)))
    assert isinstance(photo, PhotoMessage)
    assert len(photo.caption_html) <= MAX_CAPTION
    assert ("&<>" * 2_000).startswith(unescape(photo.caption_html))


def test_caption_that_fits_is_sent_whole() -> None:
    caption = "Weekly points chart for the study group. " * 15  # 615 characters, nothing to escape
    [photo] = render(Reply((Image(b"png", caption=caption),)))
    assert isinstance(photo, PhotoMessage)
    assert photo.caption_html == caption


# -- callback data ---------------------------------------------------------------------------


async def test_short_callback_data_is_sent_as_it_is() -> None:
    callbacks = CallbackData()
    for data in ("cmd:/help", "x" * MAX_CALLBACK_BYTES, "语" * (MAX_CALLBACK_BYTES // 3)):
        assert callbacks.pack(data) == data
        assert await callbacks.unpack(data) == data


async def test_long_callback_data_becomes_a_token_that_unpacks() -> None:
    callbacks = CallbackData()
    data = "cmd:/give @小王 5 谢谢你帮我整理了这周的学习笔记"
    assert len(data.encode()) > MAX_CALLBACK_BYTES
    token = callbacks.pack(data)
    assert token != data
    assert len(token.encode()) <= MAX_CALLBACK_BYTES
    assert await callbacks.unpack(token) == data
    assert callbacks.pack(data) == token  # the same data, the same token
    assert callbacks.pack(data + "!") != token


async def test_data_one_byte_over_the_limit_is_packed() -> None:
    callbacks = CallbackData()
    data = "x" * (MAX_CALLBACK_BYTES + 1)
    token = callbacks.pack(data)
    assert token != data
    assert await callbacks.unpack(token) == data


async def test_unknown_long_token_has_expired() -> None:
    token = CallbackData().pack("long " * 20)
    assert await CallbackData().unpack(token) is None  # e.g. after a restart
    assert await CallbackData().unpack("h:" + "0" * 32) is None


async def test_oldest_tokens_expire_when_the_store_is_full() -> None:
    callbacks = CallbackData(max_size=1)
    first, second = "a" * 100, "b" * 100
    first_token, second_token = callbacks.pack(first), callbacks.pack(second)
    assert await callbacks.unpack(first_token) is None
    assert await callbacks.unpack(second_token) == second


@pytest.mark.parametrize("data", ["h:", "h:ok", "h:" + "0" * 32, "h:" + "x" * 80])
async def test_data_that_looks_like_a_token_still_round_trips(data: str) -> None:
    callbacks = CallbackData()
    sent = callbacks.pack(data)
    assert len(sent.encode()) <= MAX_CALLBACK_BYTES
    assert await callbacks.unpack(sent) == data


# -- property --------------------------------------------------------------------------------


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    remaining = iter(long)
    return all(any(item == candidate for candidate in remaining) for item in short)


@given(st.text())
def test_plain_text_survives_rendering_and_splitting(text: str) -> None:
    """For any text whose lines each fit in one message (an overlong line is cut into several
    lines; see the tests above):

    * every message is a TextMessage of at most MAX_MESSAGE characters, with no keyboard;
    * html.unescape of the messages joined with "\\n", split on "\\n", gives the text's own
      lines (``text.split("\\n")``) in order, except that lines that are empty or whitespace
      only (``not line.strip()``) may be missing: split_lines drops whitespace-only messages
      and a leading empty line. Every other line is there, unchanged.
    """
    lines = text.split("\n")
    assume(all(len(escape(line, quote=False)) <= MAX_MESSAGE for line in lines))
    messages = render(Reply.text(text))
    assert all(isinstance(message, TextMessage) and message.keyboard is None for message in messages)
    htmls = texts(messages)
    assert all(len(html) <= MAX_MESSAGE for html in htmls)
    assert all(html.strip() for html in htmls)
    rendered = unescape("\n".join(htmls)).split("\n") if htmls else []
    assert [line for line in rendered if line.strip()] == [line for line in lines if line.strip()]
    assert _is_subsequence(rendered, lines)


def test_an_invoice_follows_the_text_as_its_own_message() -> None:
    from bot.adapters.telegram.outbound import InvoiceMessage
    from core.replies import Invoice

    reply = Reply((Text("Order #1"), Invoice("A" * 40, "", "order:1", "XTR", 50)))
    messages = render_messages(reply, "en", CallbackData())
    assert messages[0] == TextMessage("Order #1")
    assert messages[1] == InvoiceMessage("A" * 32, "A" * 40, "order:1", "XTR", 50)  # title cut to 32
