"""core/commands/options.py: key=value options taken out of a command line, and — walking the
whole command registry — every option of every command refusing a bad value with nothing
changed, and taking a good one."""

from __future__ import annotations

import re
from datetime import date

import pytest

from bot.app import App
from bot.handlers import build_router
from core.commands.errors import ArgError
from core.commands.options import (
    AmountOption,
    CodesOption,
    DateOption,
    IntOption,
    Option,
    OptionSet,
    WordOption,
    take_options,
)
from core.commands.parser import parse_command
from core.i18n import msg, render
from core.ledger.models import Kind, MemberAccount, Posting, SystemAccount, SystemCode
from tests.conftest import ConsoleDriver, console_member, snapshot

ADD = OptionSet(
    (IntOption("stock", minimum=0, maximum=100), WordOption("tier")),
    usage="/thing add CODE TITLE… [stock=N] [tier=NAME] [| NOTE]",
    example="/thing add zz Title",
    action="add",
    until="|",
)
ASK = OptionSet(
    (IntOption("bounty", words=("bounty", "悬赏"), minimum=1, maximum=1000),),
    usage="/ask QUESTION… [bounty N]",
    example="/ask Why?",
    keyed=False,
)


def _take(line: str, *sets: OptionSet) -> tuple[tuple[str, ...], str, dict[str, object]]:
    parsed = parse_command(line)
    assert parsed is not None
    taken, values = take_options(sets or (ADD,), parsed, parsed.name)
    return taken.args, taken.rest, values


def _refusal(line: str, *sets: OptionSet) -> str:
    with pytest.raises(ArgError) as caught:
        _take(line, *sets)
    return render(caught.value.message, "en")


def test_options_are_taken_out_of_the_line_and_converted() -> None:
    assert _take("/thing add mug stock=5 Big mug TIER=Gold") == (
        ("add", "mug", "Big", "mug"),
        "add mug Big mug",
        {"stock": 5, "tier": "Gold"},
    )


def test_text_after_the_separator_keeps_its_equals_signs() -> None:
    args, rest, values = _take("/thing add mug Mug stock=1 | send x=1 to\n  y=2")
    assert values == {"stock": 1}
    assert rest == "add mug Mug | send x=1 to\n  y=2"
    assert args == ("add", "mug", "Mug", "|", "send", "x=1", "to", "y=2")


def test_a_quoted_word_and_an_address_are_not_options() -> None:
    args, _rest, values = _take('/thing add mug "a=b" https://x.example/?a=b')
    assert values == {}
    assert args == ("add", "mug", "a=b", "https://x.example/?a=b")


def test_other_actions_and_commands_without_options_are_untouched() -> None:
    assert _take("/thing list a=b") == (("list", "a=b"), "list a=b", {})
    assert _take("/thing add a=b", ASK) == (("add", "a=b"), "add a=b", {})


def test_an_unknown_key_is_refused_naming_the_keys_allowed() -> None:
    assert _refusal("/thing add mug colour=red Mug") == (
        "colour=red is not an option of /thing add; it takes stock=, tier=."
    )
    assert _refusal("/ask Why? x=1 bounty=5", OptionSet(ASK.options, "u", "e")) == (
        "x=1 is not an option of /ask; it takes bounty=."
    )


def test_a_key_given_twice_is_refused() -> None:
    assert _refusal("/thing add mug stock=1 stock=2 Mug") == "stock= is given twice."


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("stock=-1", "stock=-1: stock takes a whole number from 0 to 100."),
        ("stock=101", "stock=101: stock takes a whole number from 0 to 100."),
        ("stock=" + "9" * 40, "stock=" + "9" * 34 + ": stock takes a whole number from 0 to 100."),
        ("stock=lots", "stock=lots: stock takes a whole number from 0 to 100."),
        ("stock=", "stock=: stock takes a whole number from 0 to 100."),
        ("tier=a.b", "tier=a.b: tier takes a name of 1 to 40 letters, digits, - or _."),
    ],
)
def test_a_value_out_of_range_is_refused_with_its_range(given: str, expected: str) -> None:
    assert _refusal(f"/thing add mug {given} Mug") == expected


def test_a_closing_word_and_value_is_an_option_where_it_says_so() -> None:
    assert _take("/ask Why is x=1 here? bounty 30", ASK) == (
        ("Why", "is", "x=1", "here?"),
        "Why is x=1 here?",
        {"bounty": 30},
    )
    assert _take("/ask 为什么？悬赏30", ASK)[2] == {"bounty": 30}
    assert _take("/ask What is a bounty hunter?", ASK)[2] == {}
    assert _take("/ask Why? bounty=5", ASK)[1] == "Why? bounty=5"  # keyed=False: the asker's words
    assert _refusal("/ask Why? bounty 0", ASK) == "bounty 0: bounty takes a whole number from 1 to 1000."
    assert _refusal("/ask Why? BOUNTY -5", ASK) == "BOUNTY -5: bounty takes a whole number from 1 to 1000."


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        (DateOption("from"), "2030-01-31", date(2030, 1, 31)),
        (AmountOption("min"), "50USD", "50USD"),
        (AmountOption("min"), "19.99", "19.99"),
        (CodesOption("for"), "PY101,sql-2", ("py101", "sql-2")),
        (IntOption("n", minimum=-5, maximum=5), "-5", -5),
        (IntOption("n", minimum=0, maximum=2000), "1,000", 1000),
    ],
)
def test_each_kind_converts_what_it_takes(option: Option, value: str, expected: object) -> None:
    assert option.convert(value, f"{option.key}={value}") == expected


def test_each_kind_refuses_its_own_bad_examples() -> None:
    for option in (
        IntOption("n"),
        WordOption("w"),
        DateOption("d"),
        AmountOption("a"),
        CodesOption("c"),
    ):
        good, bad = option.examples()
        option.convert(good, good)
        for value in bad:
            with pytest.raises(ArgError):
                option.convert(value, value)


# -- every option of every command, through the console --------------------------------------

ROUTER = build_router()
CASES = [
    (spec.name, found, option)
    for spec in ROUTER.commands.values()
    for found in spec.options
    for option in found.options
]
SETS = [(spec.name, found) for spec in ROUTER.commands.values() for found in spec.options if found.keyed]


def test_the_commands_that_take_options_declare_them() -> None:
    declared = {(name, found.action) for name, found, _ in CASES}
    assert {("mall", "add"), ("plan", "add"), ("coupon", "add"), ("lesson", "add"), ("ask", None)} <= declared


@pytest.fixture
async def world(app: App, console: ConsoleDriver) -> ConsoleDriver:
    """Mei (creator, 200,000 points), the course py101 and the coupon half: what every
    option set's example needs."""
    await console(":as Mei creator", "/course add py101 19.99 USD Python", "/coupon add half 50%")
    mei = await console_member(app, "Mei")
    community = await app.community()
    await app.services.points.ledger.post(
        Posting(
            community_id=community.id,
            debit=SystemAccount(SystemCode.ISSUANCE),
            credit=MemberAccount(mei.id),
            amount=200_000,
            kind=Kind.AWARD,
            key="test:options-world",
            at=app.clock.now(),
        )
    )
    return console


def _line(found: OptionSet, written: str) -> str:
    """The set's example with ``written`` added where options go (before ``until``)."""
    if found.until and found.until in found.example:
        head, separator, tail = found.example.partition(found.until)
        return f"{head.rstrip()} {written} {separator}{tail}"
    return f"{found.example} {written}"


def _written(found: OptionSet, option: Option, value: str) -> str:
    return f"{option.key}={value}" if found.keyed else f"{option.words[0]} {value}"


@pytest.mark.parametrize(
    ("name", "found", "option"), CASES, ids=[f"{n}-{f.action or ''}-{o.key}" for n, f, o in CASES]
)
async def test_every_option_refuses_a_bad_value_and_takes_a_good_one(
    app: App, world: ConsoleDriver, name: str, found: OptionSet, option: Option
) -> None:
    good, bad = option.examples()
    usage = "bot> " + render(msg("Usage: {usage}", usage=found.usage), "en")
    before = await snapshot(app.db)
    for value in bad:
        if not found.keyed and not re.match(r"[-+]?\d", value):
            continue  # "bounty many" closing a question is the asker's own words
        written = _written(found, option, value)
        refusal = "bot> " + render(option.refusal(written).message, "en")
        assert await world(_line(found, written)) == [refusal, usage], written
        assert await snapshot(app.db) == before, written
    # The same line with a value in range is taken: the refusals above were the value's doing.
    out = await world(_line(found, _written(found, option, good)))
    assert usage not in out, out
    assert await snapshot(app.db) != before, out


@pytest.mark.parametrize(("name", "found"), SETS, ids=[f"{n}-{f.action or ''}" for n, f in SETS])
async def test_every_option_set_refuses_an_unknown_key(
    app: App, world: ConsoleDriver, name: str, found: OptionSet
) -> None:
    before = await snapshot(app.db)
    out = await world(_line(found, "zzz=1"))
    assert out[0].startswith("bot> zzz=1 is not an option of /"), out
    assert out[0].endswith(f"; it takes {found.keys_text}."), out
    assert await snapshot(app.db) == before
