"""What Stripe sends, read as plain JSON field by field, each with the type Stripe documents.

A webhook body is signed, so one that is not an event (``null``, a list, an event without an
``id`` or ``type``) or an event whose object has a field of another type (an amount as a
string, a list where an object belongs, a charge without its id) can never be handled, however
often it comes. The readers raise ``NotAnEvent`` or ``Malformed`` for it before anything is
changed, and the webhook answers without asking for a retry. Identifiers are bounded to what
the database keeps, times and amounts to what the core computes with, so no malformed value
reaches the database and comes back as a "server error" that Stripe would retry for days.

Messages name the field and the type found, never the value (it may be anything).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.catalog.money import MAX_MINOR, is_currency

MAX_KIND = 100  # payment_events.kind
# Stripe's ids (evt_…, cs_…, pi_…, in_…, sub_…) are printable ASCII without spaces; the
# database keeps provider refs and event ids to 200 characters.
_REF = re.compile(r"[!-~]{1,200}")
_WORD = re.compile(r"[!-~]{0,100}")  # event types, statuses, modes (MAX_KIND)
# Times Stripe could mean (its timestamps are Unix seconds): 2000-01-01 to 2200-01-01 UTC.
EARLIEST, LATEST = 946_684_800, 7_258_118_400


class Malformed(Exception):
    """A Stripe object without the shape Stripe documents: handling it can never succeed."""


class NotAnEvent(Malformed):
    """A signed body that is not a Stripe event at all (not JSON, not an object, no id or type)."""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


class Fields:
    """One JSON object from Stripe. Each reader returns None for a missing or null field and
    raises Malformed for a value of another type or out of range."""

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self._data = data
        self.path = path

    def missing(self, key: str) -> Malformed:
        """The error for a field that must be there (raise it)."""
        return Malformed(f"{self.path}.{key} is missing")

    def _wrong(self, key: str, value: Any, wanted: str) -> Malformed:
        return Malformed(f"{self.path}.{key} is {_kind(value)}, not {wanted}")

    def _value(self, key: str, kind: type, wanted: str) -> Any:
        value = self._data.get(key)
        if value is None:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self._wrong(key, value, wanted)
        return value

    def ref(self, key: str) -> str | None:
        """An id of a Stripe object (``pi_…``, ``sub_…``)."""
        value = self._value(key, str, "an id")
        if value is not None and not _REF.fullmatch(value):
            raise Malformed(f"{self.path}.{key} is not a Stripe id")
        return value

    def word(self, key: str) -> str | None:
        """A short text Stripe chooses from a list (``status``, ``mode``, ``billing_reason``)."""
        value = self._value(key, str, "a string")
        if value is not None and not _WORD.fullmatch(value):
            raise Malformed(f"{self.path}.{key} is not one of Stripe's words")
        return value

    def text(self, key: str) -> str | None:
        """A text of any length, as sent (compared, never stored)."""
        return self._value(key, str, "a string")  # type: ignore[no-any-return]

    def amount(self, key: str) -> int | None:
        """An amount in minor units (what Stripe's amounts are)."""
        value = self._value(key, int, "an integer")
        if value is not None and not 0 <= value <= MAX_MINOR:
            raise Malformed(f"{self.path}.{key} is out of range")
        return value

    def currency(self, key: str) -> str | None:
        """An ISO 4217 code (Stripe sends it in lower case), upper-cased."""
        value = self._value(key, str, "a currency code")
        if value is None:
            return None
        code = value.upper()
        if len(code) != 3 or not code.isascii() or not is_currency(code):
            raise Malformed(f"{self.path}.{key} is not a currency code")
        return code

    def time(self, key: str) -> datetime | None:
        """A Unix timestamp in seconds."""
        value = self._value(key, int, "a timestamp")
        if value is None:
            return None
        if not EARLIEST <= value <= LATEST:
            raise Malformed(f"{self.path}.{key} is out of range")
        return datetime.fromtimestamp(value, UTC)

    def child(self, key: str) -> Fields | None:
        """A nested object."""
        value = self._value(key, dict, "an object")
        return None if value is None else Fields(value, f"{self.path}.{key}")

    def children(self, key: str) -> list[Fields]:
        """A list of objects (empty when the field is missing or null)."""
        values = self._value(key, list, "a list")
        items: list[Fields] = []
        for number, value in enumerate(values or ()):
            if not isinstance(value, dict):
                raise Malformed(f"{self.path}.{key}[{number}] is {_kind(value)}, not an object")
            items.append(Fields(value, f"{self.path}.{key}[{number}]"))
        return items


def fields_of(obj: Any, path: str = "object") -> Fields:
    """A Stripe object from the API (stripe 16's objects are not dicts) or a plain dict."""
    if isinstance(obj, Fields):
        return obj
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    if not isinstance(data, dict):
        raise Malformed(f"{path} is {_kind(data)}, not an object")
    return Fields(data, path)


class StripeEvent:
    """A webhook event: its id and type are checked when it is read, its object when asked for."""

    def __init__(self, event_id: str, kind: str, envelope: Fields) -> None:
        self.id = event_id
        self.type = kind
        self._envelope = envelope

    def object(self) -> Fields:
        """``data.object``: the object the event is about."""
        data = self._envelope.child("data")
        if data is None:
            raise self._envelope.missing("data")
        obj = data.child("object")
        if obj is None:
            raise data.missing("object")
        return obj


def read_event(payload: str) -> StripeEvent:
    """The event in a webhook body (already verified as signed), or NotAnEvent."""
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth
        raise NotAnEvent("the body is not JSON") from None
    if not isinstance(body, dict):
        raise NotAnEvent(f"the body is {_kind(body)}, not an event")
    envelope = Fields(body, "event")
    try:
        event_id, kind = envelope.ref("id"), envelope.word("type")
    except Malformed as error:
        raise NotAnEvent(str(error)) from None
    if event_id is None:
        raise NotAnEvent("event.id is missing")
    if kind is None:
        raise NotAnEvent("event.type is missing")
    return StripeEvent(event_id, kind, envelope)
