"""core/commands/params.py: converting one token (or the rest of the line) per parameter."""

from __future__ import annotations

from typing import cast

import pytest

from bot.app import App
from core.commands.context import Context
from core.commands.errors import ArgError
from core.commands.params import (
    MAX_INT,
    Choice,
    Int,
    MemberParam,
    Param,
    Rest,
    Word,
    describe,
)
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef
from core.i18n import render
from core.members.models import Member
from tests.conftest import START

# Int, Word, Rest and Choice never look at the context.
NO_CONTEXT = cast(Context, None)


def _text(error: pytest.ExceptionInfo[ArgError]) -> str:
    return render(error.value.message, "en")


# -- Int ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [("5", 5), ("+5", 5), ("1,000", 1000), ("1_000", 1000), ("007", 7), (str(MAX_INT), MAX_INT)],
)
async def test_int_accepts(token: str, expected: int) -> None:
    assert await Int("amount").convert(token, NO_CONTEXT) == expected


@pytest.mark.parametrize("token", ["abc", "5x", "1.5", "", "+", ",", " 5", "5 ", "0x10", "1e3", "五"])
async def test_int_refuses_what_is_not_a_whole_number(token: str) -> None:
    with pytest.raises(ArgError) as error:
        await Int("amount").convert(token, NO_CONTEXT)
    assert _text(error) == f"{token} is not a whole number."


@pytest.mark.parametrize("token", ["１２", "٣", "²", "１,０００"])
async def test_int_refuses_non_ascii_digits(token: str) -> None:
    with pytest.raises(ArgError) as error:
        await Int("amount").convert(token, NO_CONTEXT)
    assert "is not a whole number" in _text(error)


@pytest.mark.parametrize("token", ["0", "-3", str(MAX_INT + 1), "99999999999999999999"])
async def test_int_refuses_out_of_the_default_range(token: str) -> None:
    with pytest.raises(ArgError) as error:
        await Int("amount").convert(token, NO_CONTEXT)
    assert _text(error) == f"{token} is out of range (1 to {MAX_INT})."


async def test_int_with_custom_range() -> None:
    param = Int("delta", minimum=-10, maximum=10)
    assert await param.convert("-10", NO_CONTEXT) == -10
    assert await param.convert("0", NO_CONTEXT) == 0
    with pytest.raises(ArgError, match="out of range"):
        await param.convert("11", NO_CONTEXT)
    with pytest.raises(ArgError, match="out of range"):
        await param.convert("-11", NO_CONTEXT)


async def test_int_echoes_at_most_30_characters_of_a_bad_token() -> None:
    with pytest.raises(ArgError) as error:
        await Int("amount").convert("x" * 500, NO_CONTEXT)
    assert error.value.message.params["value"] == "x" * 30


@pytest.mark.parametrize("token", ["+-5", "--5", "-+5"])
async def test_int_refuses_doubled_signs(token: str) -> None:
    with pytest.raises(ArgError):
        await Int("amount").convert(token, NO_CONTEXT)


async def test_int_refuses_an_absurdly_long_number() -> None:
    with pytest.raises(ArgError):
        await Int("amount").convert("9" * 5000, NO_CONTEXT)


# -- Choice ---------------------------------------------------------------------------------

LANG = Choice("language", choices=("en", "zh_CN"), synonyms={"zh": "zh_CN", "中文": "zh_CN", "english": "en"})


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("zh_cn", "zh_CN"),
        ("ZH_CN", "zh_CN"),
        (" zh_CN ", "zh_CN"),
        ("zh", "zh_CN"),
        ("ZH", "zh_CN"),
        ("中文", "zh_CN"),
        ("English", "en"),
    ],
)
async def test_choice_returns_the_canonical_spelling(token: str, expected: str) -> None:
    assert await LANG.convert(token, NO_CONTEXT) == expected


async def test_choice_refuses_others_and_lists_the_choices() -> None:
    with pytest.raises(ArgError) as error:
        await LANG.convert("fr", NO_CONTEXT)
    assert _text(error) == "fr is not one of: en, zh_CN."


async def test_choice_without_synonyms_refuses_other_words() -> None:
    param = Choice("role", choices=("learner",))
    with pytest.raises(ArgError):
        await param.convert("moderator", NO_CONTEXT)


# -- Word and Rest --------------------------------------------------------------------------


async def test_word_up_to_its_max_length() -> None:
    param = Word("tag", max_length=5)
    assert await param.convert("abcde", NO_CONTEXT) == "abcde"
    with pytest.raises(ArgError) as error:
        await param.convert("abcdef", NO_CONTEXT)
    assert _text(error) == "tag is too long (at most 5 characters)."


async def test_word_default_max_length_is_100() -> None:
    assert await Word("tag").convert("x" * 100, NO_CONTEXT) == "x" * 100
    with pytest.raises(ArgError):
        await Word("tag").convert("x" * 101, NO_CONTEXT)


async def test_rest_consumes_the_line_and_is_capped() -> None:
    param = Rest("reason")
    assert param.consumes_rest
    assert await param.convert("a " * 1000, NO_CONTEXT) == "a " * 1000
    with pytest.raises(ArgError) as error:
        await param.convert("x" * 2001, NO_CONTEXT)
    assert _text(error) == "reason is too long (at most 2000 characters)."


async def test_rest_counts_characters_not_bytes() -> None:
    text = "学" * 10
    assert await Rest("text", max_length=10).convert(text, NO_CONTEXT) == text


# -- describe -------------------------------------------------------------------------------


def test_describe_builds_a_usage_fragment() -> None:
    params: list[Param] = [
        MemberParam("member"),
        Choice("role", choices=("learner", "moderator")),
        Int("amount"),
        Word("tag", optional=True),
        Rest("reason", optional=True),
    ]
    assert describe(params) == "@member learner|moderator AMOUNT [tag] [reason…]"


def test_describe_required_rest_and_empty() -> None:
    assert describe([Rest("text")]) == "text…"
    assert describe([]) == ""


# -- MemberParam (through a real Context on the app's database) -----------------------------

CHAT = ChatRef("console", "room-1", ChatKind.GROUP, "Room")


async def _member(app: App, external_id: str, name: str, platform: str = "console") -> Member:
    community = await app.community()
    return await app.services.members.ensure_member(community, UserRef(platform, external_id, name))


async def _context(app: App, sender: Member, mentions: dict[str, UserRef] | None = None) -> Context:
    community = await app.community()
    chat = await app.services.members.ensure_chat(community, CHAT)
    event = Event(
        platform="console",
        community=community.name,
        chat=CHAT,
        sender=UserRef("console", "sender", sender.display_name),
        kind=EventKind.COMMAND,
        timestamp=START,
        text="/test",
        mentions=mentions or {},
    )
    return Context(event, community, chat, sender, "en", app.services)


async def test_member_by_name_case_insensitive(app: App) -> None:
    me = await _member(app, "1", "Mei")
    ana = await _member(app, "2", "Ana")
    ctx = await _context(app, me)
    assert await MemberParam("member").convert("@ana", ctx) == ana
    assert await MemberParam("member").convert("ANA", ctx) == ana


async def test_member_with_a_chinese_name(app: App) -> None:
    me = await _member(app, "1", "Mei")
    wang = await _member(app, "2", "小王")
    ctx = await _context(app, me)
    assert await MemberParam("member").convert("@小王", ctx) == wang


async def test_unknown_member(app: App) -> None:
    ctx = await _context(app, await _member(app, "1", "Mei"))
    with pytest.raises(ArgError) as error:
        await MemberParam("member").convert("@nobody", ctx)
    assert _text(error) == "No member called @nobody here."


async def test_member_of_another_community_is_not_found(app: App) -> None:
    other = await app.community("elsewhere")
    await app.services.members.ensure_member(other, UserRef("console", "9", "Zed"))
    ctx = await _context(app, await _member(app, "1", "Mei"))
    with pytest.raises(ArgError, match="No member called"):
        await MemberParam("member").convert("@Zed", ctx)


async def test_ambiguous_name(app: App) -> None:
    me = await _member(app, "1", "Mei")
    await _member(app, "2", "Sam")
    await _member(app, "3", "sam")
    ctx = await _context(app, me)
    with pytest.raises(ArgError) as error:
        await MemberParam("member").convert("@Sam", ctx)
    assert _text(error) == "Several members are called @Sam; ask them to set distinct names."


@pytest.mark.parametrize("token", ["@", "@ ", "   "])
async def test_empty_name(app: App, token: str) -> None:
    ctx = await _context(app, await _member(app, "1", "Mei"))
    with pytest.raises(ArgError) as error:
        await MemberParam("member").convert(token, ctx)
    assert _text(error) == "Name a member like @name."


async def test_self_allowed_by_default(app: App) -> None:
    me = await _member(app, "1", "Mei")
    ctx = await _context(app, me)
    assert await MemberParam("member").convert("@Mei", ctx) == me


async def test_self_refused_when_not_allowed(app: App) -> None:
    me = await _member(app, "1", "Mei")
    ana = await _member(app, "2", "Ana")
    ctx = await _context(app, me)
    param = MemberParam("member", allow_self=False)
    with pytest.raises(ArgError) as error:
        await param.convert("@Mei", ctx)
    assert _text(error) == "You cannot name yourself here."
    assert await param.convert("@Ana", ctx) == ana


async def test_platform_mention_resolves_through_the_identity(app: App) -> None:
    me = await _member(app, "1", "Mei")
    # Display name differs from the mention text: the identity decides, not the name.
    bo = await _member(app, "4242", "Bo Chen", platform="telegram")
    ctx = await _context(app, me, {"@bo_handle": UserRef("telegram", "4242", "Bo")})
    assert await MemberParam("member").convert("@bo_handle", ctx) == bo


async def test_platform_mention_of_someone_unknown(app: App) -> None:
    me = await _member(app, "1", "Mei")
    await _member(app, "2", "Ana")
    ctx = await _context(app, me, {"@Ana": UserRef("telegram", "777", "Ana")})
    # The mention points at an account the bot has never seen, even though a member has that name.
    with pytest.raises(ArgError) as error:
        await MemberParam("member").convert("@Ana", ctx)
    assert _text(error) == "@Ana has not talked to the bot yet."


async def test_self_refused_through_a_mention(app: App) -> None:
    me = await _member(app, "55", "Mei", platform="telegram")
    ctx = await _context(app, me, {"@me": UserRef("telegram", "55", "Mei")})
    with pytest.raises(ArgError, match="yourself"):
        await MemberParam("member", allow_self=False).convert("@me", ctx)
