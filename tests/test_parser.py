"""core/commands/parser.py: message text → command name, arguments and the rest of the line."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.commands.parser import MAX_ARGS, ParsedCommand, parse_command, split_args

# -- what counts as a command ---------------------------------------------------------------


def test_slash_command_without_arguments() -> None:
    assert parse_command("/help") == ParsedCommand("help", (), "")


def test_full_width_slash_from_chinese_input_methods() -> None:
    assert parse_command("／help me") == ParsedCommand("help", ("me",), "me")


def test_chinese_command_name() -> None:
    assert parse_command("/帮助") == ParsedCommand("帮助", (), "")
    assert parse_command("／积分 查看") == ParsedCommand("积分", ("查看",), "查看")


def test_name_is_lower_cased() -> None:
    parsed = parse_command("/HeLP Topic")
    assert parsed is not None
    assert parsed.name == "help"
    assert parsed.args == ("Topic",)  # arguments keep their case


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_command("  \n/help  a  \t") == ParsedCommand("help", ("a",), "a")


def test_ideographic_space_separates_name_and_arguments() -> None:
    assert parse_command("/help\u3000topic") == ParsedCommand("help", ("topic",), "topic")


def test_name_of_64_characters_is_accepted_and_65_is_not() -> None:
    parsed = parse_command("/" + "a" * 64)
    assert parsed is not None
    assert parsed.name == "a" * 64
    assert parse_command("/" + "a" * 65) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "hello /help",
        "/ help",
        "/",
        "／",
        "//help",
        "/help,",
        "/help.",
        "/help!",
        "/help-me",
        "/help@",
        "\\help",
        "help/",
    ],
)
def test_not_a_command(text: str) -> None:
    assert parse_command(text) is None


# -- @bot suffix ----------------------------------------------------------------------------


def test_suffix_naming_this_bot_is_stripped() -> None:
    assert parse_command("/help@StudyBot topic", "studybot") == ParsedCommand("help", ("topic",), "topic")


def test_suffix_is_compared_case_insensitively() -> None:
    assert parse_command("/HELP@STUDYBOT", "StudyBot") == ParsedCommand("help", (), "")


def test_suffix_naming_another_bot_is_not_for_us() -> None:
    assert parse_command("/help@OtherBot", "studybot") is None
    assert parse_command("/help@OtherBot some args", "studybot") is None


def test_suffix_is_stripped_when_the_bot_name_is_unknown() -> None:
    # The console has no bot username: the suffix must not end up in the name.
    assert parse_command("/help@SomeBot") == ParsedCommand("help", (), "")


def test_suffix_must_be_followed_by_a_space() -> None:
    assert parse_command("/help@studybot,", "studybot") is None


# -- arguments ------------------------------------------------------------------------------


def test_double_and_single_quotes_group_words() -> None:
    parsed = parse_command("""/note "two words" 'and three more' last""")
    assert parsed is not None
    assert parsed.args == ("two words", "and three more", "last")


def test_rest_is_the_line_as_typed() -> None:
    parsed = parse_command('/warn @ana  "spam"   twice ')
    assert parsed is not None
    assert parsed.rest == '@ana  "spam"   twice'
    assert parsed.args == ("@ana", "spam", "twice")


def test_multiline_rest_keeps_inner_newlines() -> None:
    parsed = parse_command("/ask first line\nsecond line\n")
    assert parsed is not None
    assert parsed.rest == "first line\nsecond line"
    assert parsed.args == ("first", "line", "second", "line")


def test_unbalanced_quote_falls_back_to_splitting_on_spaces() -> None:
    parsed = parse_command('/note "unfinished thought here')
    assert parsed is not None
    assert parsed.args == ('"unfinished', "thought", "here")
    assert parsed.rest == '"unfinished thought here'


def test_trailing_backslash_falls_back_to_splitting_on_spaces() -> None:
    assert split_args("path C:\\") == ("path", "C:\\")


def test_hash_is_not_a_comment() -> None:
    assert split_args("#general is #1") == ("#general", "is", "#1")


def test_empty_quotes_are_an_empty_argument() -> None:
    assert split_args('a "" b') == ("a", "", "b")


def test_no_arguments_gives_empty_tuple() -> None:
    assert split_args("") == ()


def test_arguments_are_capped_at_max_args() -> None:
    words = [f"w{i}" for i in range(MAX_ARGS + 25)]
    parsed = parse_command("/spam " + " ".join(words))
    assert parsed is not None
    assert parsed.args == tuple(words[:MAX_ARGS])
    assert parsed.rest == " ".join(words)  # rest is not truncated


def test_cap_also_applies_on_the_unbalanced_quote_fallback() -> None:
    words = ['"open', *(f"w{i}" for i in range(MAX_ARGS + 5))]
    assert len(split_args(" ".join(words))) == MAX_ARGS


def test_name_stays_within_64_characters_after_lower_casing() -> None:
    parsed = parse_command("/" + "İ" * 64)
    assert parsed is None or len(parsed.name) <= 64


# -- properties -----------------------------------------------------------------------------


@given(text=st.text(), bot=st.one_of(st.none(), st.text(max_size=70)))
@example(text='/x "', bot=None)
@example(text="/x \\", bot=None)
@example(text="／帮助@bot a b", bot="bot")
@example(text="/a " + "x " * (MAX_ARGS + 3), bot=None)
def test_parse_command_never_raises_and_keeps_its_promises(text: str, bot: str | None) -> None:
    parsed = parse_command(text, bot)
    if parsed is None:
        return
    assert parsed.name == parsed.name.lower()
    assert 1 <= len(parsed.name) <= 64
    assert len(parsed.args) <= MAX_ARGS
    assert parsed.rest == parsed.rest.strip()
    assert text.strip()[0] in "/／"


@given(st.lists(st.text(alphabet="abcxyz积分", min_size=1, max_size=8), min_size=1, max_size=10))
def test_plain_words_come_back_as_arguments(words: list[str]) -> None:
    parsed = parse_command("/cmd " + " ".join(words))
    assert parsed is not None
    assert parsed.args == tuple(words)
