"""``key=value`` options: one parser for every command that takes them.

A command, or one action of it (``/mall add``), declares the options it takes in an
``OptionSet``.  Before the command's parameters are converted, the router takes every
``key=value`` word out of the line (only before ``until``, so a lesson's text or an item's note
may hold ``a=b``), refuses a key the set does not have (naming the ones it has), converts each
value or refuses it with the range it takes, and hands the handler ``ctx.options``.  An option
with ``words`` may also end the line as a word and a value (``/ask … bounty 30``).

Refusing here, before the handler runs, is what makes "the command changes nothing" hold for
every option of every command at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from core.commands.errors import ArgError
from core.commands.parser import ParsedCommand, split_args
from core.i18n import msg
from core.numbers import parse_whole_number

# A key is ASCII letters (and _); the value is one word. `"a=b"` in quotes is not an option.
_KEYED = re.compile(r"^(?P<key>[A-Za-z][A-Za-z_]{0,19})=(?P<value>\S*)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AMOUNT = re.compile(r"^\d{1,12}(?:\.\d{1,3})?(?:[A-Za-z]{3})?$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Option:
    """One option: its key, what it takes (for usage lines), and how its value converts."""

    key: str
    words: tuple[str, ...] = ()  # also accepted as "WORD VALUE" (or "WORDVALUE") ending the line
    sample: str | None = None  # a value the command takes in the registry-wide test's world

    @property
    def placeholder(self) -> str:
        return "VALUE"

    def convert(self, value: str, given: str) -> Any:
        return value

    def refusal(self, given: str) -> ArgError:
        raise NotImplementedError

    def examples(self) -> tuple[str, tuple[str, ...]]:
        """A value the command takes and values it refuses (the registry-wide test sends them)."""
        good, bad = self._examples()
        return self.sample or good, bad

    def _examples(self) -> tuple[str, tuple[str, ...]]:
        raise NotImplementedError


@dataclass(frozen=True)
class IntOption(Option):
    minimum: int = 1
    maximum: int = 10**6

    @property
    def placeholder(self) -> str:
        return "N"

    def convert(self, value: str, given: str) -> int:
        number = parse_whole_number(value, bound=max(abs(self.minimum), abs(self.maximum)))
        if number is None or not self.minimum <= number <= self.maximum:
            raise self.refusal(given)
        return number

    def refusal(self, given: str) -> ArgError:
        return ArgError(
            msg(
                "{given}: {key} takes a whole number from {minimum} to {maximum}.",
                given=given[:40],
                key=self.key,
                minimum=self.minimum,
                maximum=self.maximum,
            )
        )

    def _examples(self) -> tuple[str, tuple[str, ...]]:
        return str(self.maximum), (
            str(self.minimum - 1),
            str(self.maximum + 1),
            "9" * 20,
            "-" + "9" * 20,
            "many",
            "",
        )


@dataclass(frozen=True)
class WordOption(Option):
    """A name: letters, digits, ``-`` or ``_``, up to ``max_length``."""

    max_length: int = 40

    @property
    def placeholder(self) -> str:
        return "NAME"

    def convert(self, value: str, given: str) -> str:
        if not 1 <= len(value) <= self.max_length or not all(c.isalnum() or c in "-_" for c in value):
            raise self.refusal(given)
        return value

    def refusal(self, given: str) -> ArgError:
        return ArgError(
            msg(
                "{given}: {key} takes a name of 1 to {max} letters, digits, - or _.",
                given=given[:40],
                key=self.key,
                max=self.max_length,
            )
        )

    def _examples(self) -> tuple[str, tuple[str, ...]]:
        return "Gold", ("", "x" * (self.max_length + 1), "a.b", "a/b")


@dataclass(frozen=True)
class DateOption(Option):
    """A calendar day, ``YYYY-MM-DD`` (the handler places it in the community's time zone)."""

    @property
    def placeholder(self) -> str:
        return "YYYY-MM-DD"

    def convert(self, value: str, given: str) -> date:
        if not _DATE.match(value):
            raise self.refusal(given)
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.refusal(given) from None

    def refusal(self, given: str) -> ArgError:
        return ArgError(msg("{given}: {key} takes a date like 2026-12-31.", given=given[:40], key=self.key))

    def _examples(self) -> tuple[str, tuple[str, ...]]:
        return "2030-01-31", ("", "2030-02-30", "2030-13-01", "tomorrow", "30-01-2030")


@dataclass(frozen=True)
class AmountOption(Option):
    """An amount of money, with its currency or without (``50USD``, ``50``): the handler
    knows the currency it defaults to and reads it with the catalog's money parser."""

    @property
    def placeholder(self) -> str:
        return "AMOUNT"

    def convert(self, value: str, given: str) -> str:
        if not _AMOUNT.match(value):
            raise self.refusal(given)
        return value

    def refusal(self, given: str) -> ArgError:
        return ArgError(
            msg("{given}: {key} takes an amount like 50 or 50USD.", given=given[:40], key=self.key)
        )

    def _examples(self) -> tuple[str, tuple[str, ...]]:
        return "5", ("", "-5", "five", "5US", "1" * 13)


@dataclass(frozen=True)
class CodesOption(Option):
    """Codes of catalog things, separated by commas (``py101,sql201``)."""

    max_codes: int = 20

    @property
    def placeholder(self) -> str:
        return "CODE,…"

    def convert(self, value: str, given: str) -> tuple[str, ...]:
        codes = tuple(value.lower().split(","))
        if not 1 <= len(codes) <= self.max_codes or not all(_CODE.match(code) for code in codes):
            raise self.refusal(given)
        return codes

    def refusal(self, given: str) -> ArgError:
        return ArgError(
            msg(
                "{given}: {key} takes 1 to {max} codes separated by commas, like py101,sql201.",
                given=given[:40],
                key=self.key,
                max=self.max_codes,
            )
        )

    def _examples(self) -> tuple[str, tuple[str, ...]]:
        return "py101", ("", ",", "py101,,x", ",".join(["c1"] * (self.max_codes + 1)))


@dataclass(frozen=True)
class OptionSet:
    """The options of a command, or of one of its actions (``action``: its first word).

    ``usage`` is the line shown with a refusal; ``example`` a command line that works on a
    community with a creator, the course py101 and the coupon half (the registry-wide test
    adds each option to it); ``keyed`` False takes options only in their ``words`` form (for
    free text, where ``a=b`` is the member's own words)."""

    options: tuple[Option, ...]
    usage: str
    example: str
    action: str | None = None
    until: str | None = None
    keyed: bool = True

    def get(self, key: str) -> Option | None:
        return next((option for option in self.options if option.key == key.lower()), None)

    @property
    def keys_text(self) -> str:
        return ", ".join(f"{option.key}=" for option in self.options)


def option_set_for(sets: Sequence[OptionSet], parsed: ParsedCommand) -> OptionSet | None:
    """The set that applies to this command line: its action's, or the command's own."""
    first = parsed.args[0].lower() if parsed.args else None
    for candidate in sets:
        if candidate.action is None or candidate.action == first:
            return candidate
    return None


def take_options(
    sets: Sequence[OptionSet], parsed: ParsedCommand, command: str
) -> tuple[ParsedCommand, dict[str, Any]]:
    """The command line without its options, and the options converted; ArgError (naming the
    keys allowed, or the range a value takes) if one does not fit."""
    found = option_set_for(sets, parsed)
    if found is None:
        return parsed, {}
    head, separator, tail = parsed.rest.partition(found.until) if found.until else (parsed.rest, "", "")
    values: dict[str, Any] = {}
    kept: list[str] = []
    for word in re.split(r"(\s+)", head):
        match = _KEYED.match(word) if found.keyed else None
        if match is None:
            kept.append(word)
            continue
        if kept and kept[-1].isspace():
            kept.pop()  # the space before the option goes with it
        option = found.get(match["key"])
        if option is None:
            where = f"/{command} {found.action}" if found.action else f"/{command}"
            raise ArgError(
                msg(
                    "{given} is not an option of {command}; it takes {keys}.",
                    given=word[:40],
                    command=where,
                    keys=found.keys_text,
                )
            )
        if option.key in values:
            raise ArgError(msg("{key}= is given twice.", key=option.key))
        values[option.key] = option.convert(match["value"], word)
    head = "".join(kept)
    for option in found.options:
        if option.words and option.key not in values:
            head = _take_trailing(option, head, values)
    rest = (head + separator + tail).strip() if separator else head.strip()
    return ParsedCommand(parsed.name, split_args(rest), rest), values


def _take_trailing(option: Option, head: str, values: dict[str, Any]) -> str:
    # A Latin word stands apart from the text before it; 悬赏 may follow Chinese text directly.
    words = "|".join(
        rf"(?:(?<!\S){re.escape(word)})" if word.isascii() else re.escape(word) for word in option.words
    )
    match = re.search(rf"(?P<word>{words})\s*(?P<value>[-+]?\d\S*)\s*$", head, re.IGNORECASE)
    if match is None:
        return head
    given = f"{match['word']} {match['value']}"
    values[option.key] = option.convert(match["value"], given)
    return head[: match.start()]
