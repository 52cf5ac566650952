"""core/numbers.py: whole numbers as members type them."""

from __future__ import annotations

import pytest

from core.numbers import parse_whole_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5", 5), ("+5", 5), ("-5", -5), ("1,000", 1000), ("1_000", 1000), ("007", 7), ("0", 0)],
)
def test_reads_whole_numbers(text: str, expected: int) -> None:
    assert parse_whole_number(text, bound=10_000) == expected


@pytest.mark.parametrize("text", ["", "abc", "1.5", "--5", "+-5", "５", " 5", "1e3", "-"])
def test_refuses_what_is_not_a_whole_number(text: str) -> None:
    assert parse_whole_number(text, bound=10_000) is None


def test_plus_can_be_refused() -> None:
    assert parse_whole_number("+5", bound=10, allow_plus=False) is None
    assert parse_whole_number("-5", bound=10, allow_plus=False) == -5


def test_too_many_digits_lands_just_outside_the_bound_without_parsing() -> None:
    assert parse_whole_number("9" * 5000, bound=1000) == 1001
    assert parse_whole_number("-" + "9" * 5000, bound=1000) == -1001
    assert parse_whole_number("0000000000000000000012", bound=1000) == 12
