"""Reading whole numbers that members type (command arguments, settings)."""

from __future__ import annotations

import re

_SIGNED = re.compile(r"[+-]?[0-9]+")
_MINUS_ONLY = re.compile(r"-?[0-9]+")


def parse_whole_number(text: str, *, bound: int, allow_plus: bool = True) -> int | None:
    """The integer in ``text`` (thousands separators ``,`` and ``_`` allowed), or None.

    A number with more digits than ``bound`` comes back as ``bound + 1`` (or its negative), so
    the caller's range check refuses it without int() parsing an arbitrarily long string.
    """
    cleaned = text.replace(",", "").replace("_", "")
    if not (_SIGNED if allow_plus else _MINUS_ONLY).fullmatch(cleaned):
        return None
    if len(cleaned.lstrip("+-0")) > len(str(abs(bound))):
        return -(abs(bound) + 1) if cleaned.startswith("-") else abs(bound) + 1
    return int(cleaned)
