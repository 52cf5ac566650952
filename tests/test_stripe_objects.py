"""bot/payments/stripe_objects.py: reading Stripe's JSON with the types Stripe documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import stripe

from bot.payments.stripe_objects import Fields, Malformed, NotAnEvent, fields_of, read_event


def test_an_event_is_read_with_its_object() -> None:
    event = read_event(
        json.dumps({"id": "evt_1", "type": "charge.refunded", "data": {"object": {"id": "ch"}}})
    )
    assert (event.id, event.type, event.object().ref("id")) == ("evt_1", "charge.refunded", "ch")
    assert event.object().path == "event.data.object"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("", "the body is not JSON"),
        ("{", "the body is not JSON"),
        ("[" * 100_000 + "]" * 100_000, "the body is not JSON"),
        ("1" * 5000, "the body is not JSON"),  # past Python's limit on digits in an integer
        ("null", "the body is null, not an event"),
        ("[]", "the body is a list, not an event"),
        ('"x"', "the body is a string, not an event"),
        ("123", "the body is an integer, not an event"),
        ("1.5", "the body is a number, not an event"),
        ("true", "the body is a boolean, not an event"),
        ('{"type": "x"}', "event.id is missing"),
        ('{"id": null, "type": "x"}', "event.id is missing"),
        ('{"id": ["evt_1"], "type": "x"}', "event.id is a list, not an id"),
        ('{"id": true, "type": "x"}', "event.id is a boolean, not an id"),
        ('{"id": "evt 1", "type": "x"}', "event.id is not a Stripe id"),
        ('{"id": "evt_1"}', "event.type is missing"),
        ('{"id": "evt_1", "type": {"a": 1}}', "event.type is an object, not a string"),
        ('{"id": "evt_1", "type": "a\\u0000b"}', "event.type is not one of Stripe's words"),
    ],
)
def test_a_body_that_is_not_an_event_says_why(body: str, why: str) -> None:
    with pytest.raises(NotAnEvent) as raised:
        read_event(body)
    assert str(raised.value) == why


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({}, "event.data is missing"),
        ({"data": []}, "event.data is a list, not an object"),
        ({"data": {}}, "event.data.object is missing"),
        ({"data": {"object": "cs_1"}}, "event.data.object is a string, not an object"),
    ],
)
def test_an_event_without_its_object_is_malformed_when_the_object_is_asked_for(
    data: dict[str, object], why: str
) -> None:
    event = read_event(json.dumps({"id": "evt_1", "type": "charge.refunded", **data}))
    with pytest.raises(Malformed) as raised:
        event.object()
    assert not isinstance(raised.value, NotAnEvent)
    assert str(raised.value) == why


def test_missing_and_null_fields_are_none_and_everything_else_must_have_its_type() -> None:
    fields = Fields({"a": None}, "obj")
    for read in (
        fields.ref,
        fields.word,
        fields.text,
        fields.amount,
        fields.currency,
        fields.time,
        fields.child,
    ):
        assert read("a") is None and read("nothing") is None
    assert fields.children("a") == [] and fields.children("nothing") == []
    assert str(fields.missing("id")) == "obj.id is missing"


@pytest.mark.parametrize(
    ("value", "amount"),
    [(0, 0), (1999, 1999), (10**11, 10**11)],
)
def test_amounts_are_whole_minor_units(value: int, amount: int) -> None:
    assert Fields({"a": value}, "obj").amount("a") == amount


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1999", "obj.a is a string, not an integer"),
        (19.99, "obj.a is a number, not an integer"),
        (1999.0, "obj.a is a number, not an integer"),  # never truncated
        (True, "obj.a is a boolean, not an integer"),
        (-1, "obj.a is out of range"),
        (10**11 + 1, "obj.a is out of range"),
        ([1], "obj.a is a list, not an integer"),
    ],
)
def test_anything_else_is_not_an_amount(value: object, why: str) -> None:
    with pytest.raises(Malformed) as raised:
        Fields({"a": value}, "obj").amount("a")
    assert str(raised.value) == why


def test_ids_are_short_printable_ascii() -> None:
    assert Fields({"a": "pi_3MtwBwLkdIwHu7ix28a3tqPa"}, "o").ref("a") == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    for bad in ("", "pi 1", "pi_\u00e9", "pi\u0000", "p" * 201, 7, {"id": "pi_1"}):
        with pytest.raises(Malformed):
            Fields({"a": bad}, "o").ref("a")


def test_currencies_are_known_iso_codes_in_upper_case() -> None:
    assert Fields({"c": "usd"}, "o").currency("c") == "USD"
    assert Fields({"c": "CNY"}, "o").currency("c") == "CNY"
    for bad in ("dollars", "us", "zzz", "ｕｓｄ", 840, ["usd"]):
        with pytest.raises(Malformed):
            Fields({"c": bad}, "o").currency("c")


def test_times_are_unix_seconds_within_two_centuries() -> None:
    assert Fields({"t": 1_767_600_000}, "o").time("t") == datetime.fromtimestamp(1_767_600_000, UTC)
    for bad in (0, -1, 10**12, 1.7e9, "1767600000", True):
        with pytest.raises(Malformed):
            Fields({"t": bad}, "o").time("t")


def test_nested_objects_and_lists_name_where_they_went_wrong() -> None:
    invoice = Fields({"lines": {"data": [{"period": {"end": 1_767_600_000}}, "x"]}}, "invoice")
    lines = invoice.child("lines")
    assert lines is not None
    with pytest.raises(Malformed) as raised:
        lines.children("data")
    assert str(raised.value) == "invoice.lines.data[1] is a string, not an object"
    with pytest.raises(Malformed, match=r"invoice.lines is a list, not an object"):
        Fields({"lines": []}, "invoice").child("lines")
    with pytest.raises(Malformed, match=r"o.data is an object, not a list"):
        Fields({"data": {}}, "o").children("data")


def test_values_never_appear_in_the_messages() -> None:
    with pytest.raises(Malformed) as raised:
        Fields({"amount": "sk_live_secret"}, "o").amount("amount")
    assert "sk_live" not in str(raised.value)


def test_objects_from_the_api_are_read_like_dicts() -> None:
    session = stripe.checkout.Session.construct_from({"id": "cs_1", "amount_total": 5}, "sk_test")
    assert fields_of(session).amount("amount_total") == 5
    assert fields_of({"id": "cs_1"}).ref("id") == "cs_1"
    with pytest.raises(Malformed, match="session is a list"):
        fields_of([], "session")
