"""Money: integer minor units with an ISO 4217 currency (``XTR`` for Telegram Stars).

Prices are typed by creators as ``19.99 USD``, ``USD 19.99`` or ``199 CNY``; the number of
decimals allowed is the currency's own (none for JPY or Stars), so ``19.999 USD`` is refused
rather than rounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision, list_currencies

from core.errors import InvalidInput
from core.i18n import msg, nmsg

STARS = "XTR"
MAX_MINOR = 10**11  # a billion in two-decimal currencies: beyond any course price
_AMOUNT = re.compile(r"^\d{1,12}(?:\.\d{1,3})?$")
_CODE = re.compile(r"^[A-Za-z]{3}$")
PRICE_FORMAT = msg("Write a price like 19.99 USD or 500 XTR.")


@dataclass(frozen=True, order=True)
class Money:
    currency: str
    minor: int

    @property
    def precision(self) -> int:
        return precision(self.currency)

    @property
    def major(self) -> Decimal:
        return Decimal(self.minor).scaleb(-self.precision)

    def localized(self, locale: str) -> str:
        """How a reader in ``locale`` sees it (used when Money is a message parameter)."""
        return format_money(self, locale)


def precision(currency: str) -> int:
    """Decimals of ``currency`` (Stars have none)."""
    return 0 if currency == STARS else get_currency_precision(currency)


def is_currency(code: str) -> bool:
    return code == STARS or code in list_currencies()


def parse_money(text: str) -> Money:
    """``19.99 USD`` / ``USD 19.99`` → Money; InvalidInput for anything else, zero or negative."""
    parts = text.split()
    if len(parts) != 2:
        raise InvalidInput(PRICE_FORMAT, field="price")
    first, second = parts
    amount, code = (second, first) if _CODE.match(first) and not _CODE.match(second) else (first, second)
    code = code.upper()
    if not _CODE.match(code) or not is_currency(code):
        raise InvalidInput(
            msg("{code} is not a currency code (like USD, CNY, EUR or XTR).", code=code[:10]),
            field="currency",
        )
    if amount.startswith("-"):
        raise InvalidInput(msg("A price must be more than zero."), field="price")
    if not _AMOUNT.match(amount):
        raise InvalidInput(PRICE_FORMAT, field="price")
    digits = precision(code)
    whole, _, fraction = amount.partition(".")
    if len(fraction) > digits:
        raise InvalidInput(
            nmsg(
                "{code} has {n} decimal; {amount} has more.",
                "{code} has {n} decimals; {amount} has more.",
                digits,
                code=code,
                amount=amount,
            ),
            field="price",
        )
    minor = int(whole) * 10**digits + int(fraction.ljust(digits, "0") or 0)
    if minor <= 0:
        raise InvalidInput(msg("A price must be more than zero."), field="price")
    if minor > MAX_MINOR:
        raise InvalidInput(msg("That price is too large."), field="price")
    return Money(code, minor)


def format_money(money: Money, locale: str) -> str:
    """``$19.99``, ``¥199.00``, ``500 ⭐`` in the reader's locale."""
    if money.currency == STARS:
        return f"{money.minor} ⭐"
    return format_currency(money.major, money.currency, locale=locale)
