"""core/catalog/money.py: prices typed by creators, in integer minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.catalog.money import MAX_MINOR, Money, format_money, parse_money, precision
from core.errors import InvalidInput
from core.i18n import msg, render


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19.99 USD", Money("USD", 1999)),
        ("USD 19.99", Money("USD", 1999)),
        ("19.9 usd", Money("USD", 1990)),
        ("20 EUR", Money("EUR", 2000)),
        ("199 CNY", Money("CNY", 19900)),
        ("500 JPY", Money("JPY", 500)),
        ("50 XTR", Money("XTR", 50)),
        ("1.234 BHD", Money("BHD", 1234)),
    ],
)
def test_prices_parse_to_minor_units(text: str, expected: Money) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("19.99", "Write a price like 19.99 USD or 500 XTR."),
        ("19.99 US", "US is not a currency code (like USD, CNY, EUR or XTR)."),
        ("19.99 ABC", "ABC is not a currency code (like USD, CNY, EUR or XTR)."),
        ("0 USD", "A price must be more than zero."),
        ("0.00 USD", "A price must be more than zero."),
        ("-5 USD", "A price must be more than zero."),
        ("19.999 USD", "USD has 2 decimals; 19.999 has more."),
        ("1.5 XTR", "XTR has 0 decimals; 1.5 has more."),
        ("1.5 JPY", "JPY has 0 decimals; 1.5 has more."),
        ("1e3 USD", "Write a price like 19.99 USD or 500 XTR."),
        ("five USD", "Write a price like 19.99 USD or 500 XTR."),
        ("999999999999 USD", "That price is too large."),
        ("1,99 USD", "Write a price like 19.99 USD or 500 XTR."),
    ],
)
def test_bad_prices_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_money(text)
    assert render(caught.value.message, "en") == reason


@given(
    st.sampled_from(["USD", "EUR", "CNY", "JPY", "XTR", "BHD"]),
    st.integers(min_value=1, max_value=MAX_MINOR),
)
def test_a_formatted_major_amount_parses_back_to_the_same_money(currency: str, minor: int) -> None:
    money = Money(currency, minor)
    typed = f"{money.major:.{precision(currency)}f} {currency}"
    assert parse_money(typed) == money


@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_never_crashes(text: str) -> None:
    try:
        money = parse_money(text)
    except InvalidInput:
        return
    assert 0 < money.minor <= MAX_MINOR and money.major == Decimal(money.minor).scaleb(-money.precision)


def test_money_is_shown_in_the_readers_locale() -> None:
    assert format_money(Money("USD", 1999), "en") == "$19.99"
    assert format_money(Money("USD", 1999), "zh_CN") == "US$19.99"
    assert format_money(Money("JPY", 500), "en") == "¥500"
    assert format_money(Money("XTR", 50), "en") == "50 ⭐"


def test_money_as_a_message_parameter_is_shown_per_reader() -> None:
    message = msg("Refunded {amount} of order #{id}.", amount=Money("CNY", 19900), id=3)
    assert render(message, "en") == "Refunded CN¥199.00 of order #3."
    assert render(message, "zh_CN") == "已退还订单 #3 的 ¥199.00。"
