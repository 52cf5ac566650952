"""bot/payments/stripe_webhook.py: webhook payloads signed with Stripe's real scheme, posted to
the running HTTP app: valid, forged, stale, replayed, out of order, at once, malformed in every
way a signed sender could make them (hypothesis), and with the database down."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import App, Outgoing
from bot.config import Config
from bot.http import HttpServer
from bot.payments.stripe_webhook import PATH, StripeWebhook
from core.access.plans import Plan
from core.clock import ManualClock
from core.ledger.service import Balance
from core.orders.models import Order, Status
from tests.conftest import snapshot
from tests.shop_fixtures import Shop
from tests.stripe_peer import event, paid_session, signed
from tests.telegram_peer import free_port

SECRET = "whsec_test_secret"


@dataclass
class Hook:
    url: str
    told: list[Outgoing]
    client: httpx.AsyncClient

    async def post(self, body: str, signature: str | None = None) -> int:
        headers = {"Stripe-Signature": signed(body, SECRET) if signature is None else signature}
        return (await self.client.post(self.url, content=body, headers=headers)).status_code


async def serve(app: App, told: list[Outgoing]) -> tuple[HttpServer, str]:
    async def sender(outgoing: Outgoing) -> bool:
        told.append(outgoing)
        return True

    app.register_sender(sender)
    http = HttpServer("127.0.0.1", free_port())
    StripeWebhook(app, SECRET).install(http)
    await http.start()
    return http, f"http://127.0.0.1:{http.port}{PATH}"


@pytest.fixture
async def hook(app: App) -> AsyncIterator[Hook]:
    told: list[Outgoing] = []
    http, url = await serve(app, told)
    try:
        async with httpx.AsyncClient() as client:
            yield Hook(url, told, client)
    finally:
        await http.stop()


async def stripe_order(app: App, shop: Shop) -> Order:
    order = await app.services.orders.order_course(shop.community, shop.ana, shop.course)
    async with app.db.write() as conn:  # as if made by the Stripe provider
        from sqlalchemy import update

        from core.orders.tables import orders

        await conn.execute(update(orders).where(orders.c.id == order.id).values(provider="stripe"))
    return await app.services.orders.get(order.id)


async def test_a_completed_checkout_delivers_once_however_often_it_is_reported(
    app: App, shop: Shop, hook: Hook
) -> None:
    order = await stripe_order(app, shop)
    completed = event("evt_1", "checkout.session.completed", paid_session(order.id, 1999))
    assert await hook.post(completed) == 200
    assert await hook.post(completed) == 200  # the same event again
    again = event("evt_2", "checkout.session.async_payment_succeeded", paid_session(order.id, 1999))
    assert await hook.post(again) == 200  # the same payment under another event

    done = await app.services.orders.get(order.id)
    assert (done.status, done.provider_ref) == (Status.FULFILLED, "pi_1")
    assert [o.member.display_name for o in hook.told if o.member] == ["Ana"]  # told once
    assert await app.services.ledger.balance(shop.community.id, shop.ana.id) == Balance(19, 19)


async def test_forged_stale_and_unsigned_calls_are_refused_and_change_nothing(
    app: App, shop: Shop, hook: Hook
) -> None:
    order = await stripe_order(app, shop)
    body = event("evt_1", "checkout.session.completed", paid_session(order.id, 1999))
    before = await snapshot(app.db)
    assert await hook.post(body, signature=signed(body, "whsec_someone_else")) == 400
    assert await hook.post(body, signature=signed(body, SECRET, at=int(time.time()) - 3600)) == 400
    assert await hook.post(body, signature="") == 400
    tampered = body.replace('"amount_total": 1999', '"amount_total": 1')
    assert await hook.post(tampered, signature=signed(body, SECRET)) == 400
    assert await snapshot(app.db) == before


async def test_an_expiry_after_the_payment_leaves_it_paid_and_one_before_expires_it(
    app: App, shop: Shop, hook: Hook
) -> None:
    orders = app.services.orders
    order = await stripe_order(app, shop)
    session = paid_session(order.id, 1999)
    assert await hook.post(event("evt_1", "checkout.session.completed", session)) == 200
    expired = {**session, "status": "expired", "payment_status": "unpaid"}
    assert await hook.post(event("evt_2", "checkout.session.expired", expired)) == 200
    assert (await orders.get(order.id)).status is Status.FULFILLED

    other = await orders.order_course(shop.community, shop.ben, shop.course)
    late = {**paid_session(other.id, 1999), "status": "expired", "payment_status": "unpaid"}
    assert await hook.post(event("evt_3", "checkout.session.expired", late)) == 200
    assert (await orders.get(other.id)).status is Status.EXPIRED


async def test_a_refund_made_in_the_dashboard_is_recorded(app: App, shop: Shop, hook: Hook) -> None:
    order = await stripe_order(app, shop)
    await hook.post(event("evt_1", "checkout.session.completed", paid_session(order.id, 1999, intent="pi_7")))
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_7", "amount_refunded": 1999}
    assert await hook.post(event("evt_2", "charge.refunded", charge)) == 200
    assert await hook.post(event("evt_2", "charge.refunded", charge)) == 200
    done = await app.services.orders.get(order.id)
    assert (done.status, done.refunded) == (Status.REFUNDED, 1999)
    assert await app.services.catalog.enrollment(shop.ana, shop.course) is None
    assert (await app.services.ledger.balance(shop.community.id, shop.ana.id)).balance == 0


async def test_a_payment_of_the_wrong_amount_or_an_unknown_order_is_acknowledged_not_taken(
    app: App, shop: Shop, hook: Hook
) -> None:
    order = await stripe_order(app, shop)
    assert await hook.post(event("evt_1", "checkout.session.completed", paid_session(order.id, 999))) == 200
    assert (
        await hook.post(event("evt_2", "checkout.session.completed", paid_session(order.id + 50, 999))) == 200
    )
    assert await hook.post(event("evt_3", "customer.created", {"id": "cus_1"})) == 200
    assert (await app.services.orders.get(order.id)).status is Status.PENDING
    assert hook.told == []


@pytest.fixture
async def second_app(config: Config, clock: ManualClock) -> AsyncIterator[App]:
    other = await App.open(config, clock=clock)
    yield other
    await other.close()


async def test_two_deliveries_at_once_to_two_processes_deliver_once(
    app: App, second_app: App, shop: Shop, hook: Hook
) -> None:
    order = await stripe_order(app, shop)
    told: list[Outgoing] = []
    http, second_url = await serve(second_app, told)
    try:
        completed = event("evt_1", "checkout.session.completed", paid_session(order.id, 1999))
        other = Hook(second_url, told, hook.client)
        statuses = await asyncio.gather(hook.post(completed), other.post(completed), hook.post(completed))
    finally:
        await http.stop()
    assert statuses == [200, 200, 200]
    assert len(hook.told) + len(told) == 1
    assert (await app.services.orders.get(order.id)).status is Status.FULFILLED
    assert await app.services.ledger.balance(shop.community.id, shop.ana.id) == Balance(19, 19)


async def stripe_plan(app: App, shop: Shop, hook: Hook) -> tuple[Plan, Order]:
    """Ana's monthly plan, bought with Stripe as subscription sub_1."""
    from sqlalchemy import update

    from core.catalog.money import Money
    from core.orders.tables import orders

    plan = await app.services.plans.add(
        shop.community, shop.mei, code="monthly", title="Monthly", price=Money("USD", 999), period="month"
    )
    done = await app.services.subscriptions.subscribe(shop.community, shop.ana, plan)
    assert done.order is not None
    async with app.db.write() as conn:
        await conn.execute(update(orders).where(orders.c.id == done.order.id).values(provider="stripe"))
    app.services.orders.register(_Recurring(), first=True)
    session = {**paid_session(done.order.id, 999), "mode": "subscription", "subscription": "sub_1"}
    assert await hook.post(event("evt_plan", "checkout.session.completed", session)) == 200
    return plan, done.order


async def test_a_plan_bought_with_stripe_renews_by_its_invoices_until_stripe_ends_it(
    app: App, shop: Shop, hook: Hook, clock: ManualClock
) -> None:
    from datetime import timedelta

    from core.access.plans import add_period
    from core.catalog.money import Money

    plan, _ = await stripe_plan(app, shop, hook)
    subs = app.services.subscriptions
    first = await subs.get(shop.ana, plan)
    assert first is not None and (first.status, first.provider_ref) == ("active", "sub_1")
    assert first.period_end == add_period(clock.now(), "month")

    def invoice(event_id: str, kind: str, end: datetime, reason: str = "subscription_cycle") -> str:
        lines = {"data": [{"period": {"start": 0, "end": int(end.timestamp())}}]}
        return event(
            event_id,
            kind,
            {
                "id": f"in_{event_id}",
                "subscription": "sub_1",
                "billing_reason": reason,
                "lines": lines,
                "amount_paid": 999,
                "currency": "usd",
            },
        )

    second_end = add_period(first.period_end, "month")
    assert await hook.post(invoice("evt_2", "invoice.paid", second_end)) == 200
    renewed = await subs.get(shop.ana, plan)
    assert renewed is not None and (renewed.status, renewed.period_end) == ("active", second_end)
    # The renewal is an order too (revenue, refunds, commissions), once however often it comes.
    assert await hook.post(invoice("evt_2b", "invoice.paid", second_end)) == 200  # the same period again
    kept = [o for o in await app.services.orders.of_member(shop.ana) if o.provider_ref == "in_evt_2"]
    assert [(o.amount, o.status.value, o.title) for o in kept] == [
        (Money("USD", 999), "fulfilled", "Monthly")
    ]

    clock.set(second_end + timedelta(hours=1))
    assert await hook.post(invoice("evt_3", "invoice.payment_failed", second_end)) == 200
    grace = await subs.get(shop.ana, plan)
    assert grace is not None and grace.status == "grace" and await subs.entitled(shop.ana.id, plan.id)
    assert any("did not go through" in str(o.reply) for o in hook.told)

    assert await hook.post(event("evt_4", "customer.subscription.deleted", {"id": "sub_1"})) == 200
    assert (await subs.get(shop.ana, plan)).status == "ended"  # type: ignore[union-attr]
    assert not await subs.entitled(shop.ana.id, plan.id)


class _Recurring:
    """Stands in for the Stripe provider's flag (its API is not called in this test)."""

    name = "stripe"
    bills_plans_itself = True

    def accepts(self, currency: str) -> bool:
        return False


# -- what can never succeed, and what may later -------------------------------------------------

CHANGES = ("activity", "payment_events")  # tables a refused or ignored event may touch


def tracebacks(caplog: pytest.LogCaptureFixture, since: int = 0) -> list[logging.LogRecord]:
    return [r for r in caplog.records[since:] if r.levelno >= logging.ERROR and r.exc_info]


def webhook_lines(caplog: pytest.LogCaptureFixture, since: int = 0) -> list[str]:
    return [r.getMessage() for r in caplog.records[since:] if r.name == "bot.payments.stripe_webhook"]


def raw(event_id: str, kind: str, data: object) -> str:
    return json.dumps({"id": event_id, "object": "event", "type": kind, "data": data})


NOT_EVENTS = [
    "null",
    "[]",
    '"x"',
    "123",
    "true",
    "{}",
    "{not json",
    "[" * 100_000 + "]" * 100_000,  # deeper than the JSON parser goes
    json.dumps({"id": ["evt_1"], "type": "checkout.session.completed", "data": {"object": {}}}),
    json.dumps({"id": None, "type": "checkout.session.completed", "data": {"object": {}}}),
    json.dumps({"id": 42, "type": "checkout.session.completed", "data": {"object": {}}}),
    json.dumps({"id": "evt 1\u0000", "type": "checkout.session.completed", "data": {"object": {}}}),
    json.dumps({"id": "e" * 201, "type": "checkout.session.completed", "data": {"object": {}}}),
    json.dumps({"type": "checkout.session.completed", "data": {"object": {}}}),
    json.dumps({"id": "evt_1", "data": {"object": {}}}),
    json.dumps({"id": "evt_1", "type": ["checkout.session.completed"], "data": {"object": {}}}),
    json.dumps({"id": "evt_1", "type": "x" * 101, "data": {"object": {}}}),
]
NO_OBJECT = [
    json.dumps({"id": "evt_1", "type": "checkout.session.completed"}),
    raw("evt_1", "checkout.session.completed", None),
    raw("evt_1", "checkout.session.completed", []),
    raw("evt_1", "checkout.session.completed", "x"),
    raw("evt_1", "checkout.session.completed", {}),
    raw("evt_1", "checkout.session.completed", {"object": None}),
    raw("evt_1", "checkout.session.completed", {"object": [1]}),
    raw("evt_1", "checkout.session.completed", {"object": "cs_1"}),
    raw("evt_1", "checkout.session.completed", {"object": 7}),
]


@pytest.mark.parametrize("body", NOT_EVENTS, ids=range(len(NOT_EVENTS)))
async def test_a_signed_body_that_is_not_an_event_is_answered_400_in_one_line(
    app: App, shop: Shop, hook: Hook, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    order = await stripe_order(app, shop)
    before = await snapshot(app.db)
    with caplog.at_level(logging.INFO):
        assert await hook.post(body) == 400
    assert await snapshot(app.db) == before
    assert tracebacks(caplog) == []
    assert len(webhook_lines(caplog)) == 1 and "not an event" in webhook_lines(caplog)[0]
    assert (await app.services.orders.get(order.id)).status is Status.PENDING


@pytest.mark.parametrize("body", NO_OBJECT, ids=range(len(NO_OBJECT)))
async def test_an_event_without_its_object_is_acknowledged_once_and_ignored(
    app: App, shop: Shop, hook: Hook, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    await stripe_order(app, shop)
    before = await snapshot(app.db, exclude=CHANGES)
    with caplog.at_level(logging.INFO):
        assert await hook.post(body) == 200
        assert await hook.post(body) == 200  # a redelivery is skipped: not logged again
    assert await snapshot(app.db, exclude=CHANGES) == before
    assert tracebacks(caplog) == []
    assert [line.split(":")[0] for line in webhook_lines(caplog)] == ["stripe"]
    assert "evt_1 (checkout.session.completed) is malformed" in webhook_lines(caplog)[0]
    assert hook.told == []


@dataclass
class World:
    """A Stripe order open for payment (course), one paid with intent pi_7, and a plan bought
    as Stripe subscription sub_1 (its period ends at ``period_end``)."""

    open_order: Order
    paid_order: Order
    period_end: datetime

    def session(self, **changes: object) -> dict[str, object]:
        return {**paid_session(self.open_order.id, 1999), **changes}

    def invoice(self, **changes: object) -> dict[str, object]:
        from core.access.plans import add_period

        end = int(add_period(self.period_end, "month").timestamp())
        return {
            "id": "in_1",
            "object": "invoice",
            "subscription": "sub_1",
            "billing_reason": "subscription_cycle",
            "lines": {"object": "list", "data": [{"period": {"start": 0, "end": end}}]},
            "amount_paid": 999,
            "currency": "usd",
            **changes,
        }

    def charge(self, **changes: object) -> dict[str, object]:
        return {"id": "ch_1", "object": "charge", "payment_intent": "pi_7", "amount_refunded": 500, **changes}

    def valid(self) -> dict[str, dict[str, object]]:
        """A valid object of every event type the webhook acts on."""
        expired = {**self.session(), "status": "expired", "payment_status": "unpaid"}
        return {
            "checkout.session.completed": self.session(),
            "checkout.session.async_payment_succeeded": self.session(),
            "checkout.session.expired": expired,
            "invoice.paid": self.invoice(),
            "invoice.payment_failed": self.invoice(),
            "customer.subscription.deleted": {"id": "sub_1", "object": "subscription"},
            "charge.refunded": self.charge(),
        }


@pytest.fixture
async def world(app: App, shop: Shop, hook: Hook) -> World:
    plan, _ = await stripe_plan(app, shop, hook)
    sub = await app.services.subscriptions.get(shop.ana, plan)
    assert sub is not None and sub.status == "active"
    paid = await stripe_order(app, shop)
    completed = event("evt_paid", "checkout.session.completed", paid_session(paid.id, 1999, intent="pi_7"))
    assert await hook.post(completed) == 200
    open_order = await app.services.orders.order_course(shop.community, shop.ben, shop.course)
    hook.told.clear()
    return World(open_order, await app.services.orders.get(paid.id), sub.period_end)


GONE = object()  # a field taken away
HANDLED = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.expired",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.deleted",
    "charge.refunded",
]
_SESSION = [
    {"amount_total": "1999"},
    {"amount_total": 19.99},
    {"amount_total": True},
    {"amount_total": -1999},
    {"amount_total": GONE},
    {"currency": ["usd"]},
    {"currency": "dollars"},
    {"client_reference_id": 7},
    {"payment_intent": {"id": "pi_1"}},
    {"payment_intent": "pi 1"},
    {"status": ["complete"]},
    {"mode": 3},
]
_SUBSCRIPTION_OF = [
    {"subscription": 7},
    {"subscription": {"id": "sub_1"}},
    {"subscription": GONE, "parent": []},
    {"subscription": GONE, "parent": {"subscription_details": "sub_1"}},
    {"subscription": GONE, "parent": {"subscription_details": {"subscription": ["sub_1"]}}},
]
# For each event type the webhook acts on: its object with one field of another type, or missing.
WRONG: dict[str, list[dict[str, object]]] = {
    "checkout.session.completed": _SESSION,
    "checkout.session.async_payment_succeeded": _SESSION,
    "checkout.session.expired": [{"client_reference_id": 7}, {"client_reference_id": ["7"]}],
    "invoice.paid": [
        *_SUBSCRIPTION_OF,
        {"lines": []},
        {"lines": {"data": {"period": {}}}},
        {"lines": {"data": ["x"]}},
        {"lines": {"data": [{"period": [0, 1]}]}},
        {"lines": {"data": [{"period": {"end": "soon"}}]}},
        {"lines": {"data": [{"period": {"end": 1.8e9}}]}},
        {"lines": {"data": [{"period": {"end": 10**12}}]}},  # after 2200
        {"amount_paid": "999"},
        {"amount_paid": 9.99},
        {"currency": 840},
        {"currency": "dollars"},
        {"id": ["in_1"]},
        {"billing_reason": 3},
    ],
    "invoice.payment_failed": _SUBSCRIPTION_OF,
    "customer.subscription.deleted": [{"id": GONE}, {"id": 7}, {"id": ["sub_1"]}, {"id": "s" * 201}],
    "charge.refunded": [
        {"amount_refunded": "500"},
        {"amount_refunded": 5.5},
        {"amount_refunded": -500},
        {"amount_refunded": GONE},
        {"id": GONE},
        {"id": 7},
        {"payment_intent": {"id": "pi_7"}},
    ],
}


def _with(obj: dict[str, object], changes: dict[str, object]) -> dict[str, object]:
    changed = {**obj, **changes}
    return {key: value for key, value in changed.items() if value is not GONE}


@pytest.mark.parametrize("kind", HANDLED)
async def test_an_object_with_a_field_of_another_type_is_acknowledged_once_and_changes_nothing(
    app: App, world: World, hook: Hook, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    for number, changes in enumerate(WRONG[kind]):
        name = repr(changes)
        body = event(f"evt_bad_{number}", kind, _with(world.valid()[kind], changes))
        before = await snapshot(app.db, exclude=CHANGES)
        start = len(caplog.records)
        with caplog.at_level(logging.INFO):
            assert await hook.post(body) == 200, name
            assert await hook.post(body) == 200, name  # a redelivery is skipped, silently
        assert await snapshot(app.db, exclude=CHANGES) == before, name
        assert tracebacks(caplog, start) == [], name
        lines = webhook_lines(caplog, start)
        assert len(lines) == 1 and f"evt_bad_{number} ({kind}) is malformed" in lines[0], (name, lines)
    assert hook.told == []
    # ...while the valid object still works after all that.
    assert await hook.post(event("evt_good", kind, world.valid()[kind])) == 200
    assert tracebacks(caplog) == []


async def test_fields_the_webhook_does_not_read_may_be_anything(app: App, world: World, hook: Hook) -> None:
    odd = {"metadata": ["not", "an", "object"], "customer": 7, "livemode": "yes"}
    assert await hook.post(event("evt_1", "checkout.session.completed", world.session(**odd))) == 200
    assert (await app.services.orders.get(world.open_order.id)).status is Status.FULFILLED
    assert await hook.post(event("evt_2", "charge.refunded", world.charge(**odd))) == 200
    assert (await app.services.orders.get(world.paid_order.id)).refunded == 500


async def test_with_the_database_down_the_event_is_answered_500_and_handled_when_retried(
    app: App, world: World, hook: Hook, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    completed = event("evt_1", "checkout.session.completed", world.session())
    working = app.db.engine
    down = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:9/nothing_listens_here")
    monkeypatch.setattr(app.db, "engine", down)
    try:
        with caplog.at_level(logging.ERROR):
            assert await hook.post(completed) == 500  # Stripe retries
    finally:
        monkeypatch.setattr(app.db, "engine", working)
        await down.dispose()
    assert any("Stripe will retry" in r.getMessage() for r in caplog.records)
    assert (await app.services.orders.get(world.open_order.id)).status is Status.PENDING
    assert await hook.post(completed) == 200  # the retry, the database back
    assert (await app.services.orders.get(world.open_order.id)).status is Status.FULFILLED
    assert [o.member.display_name for o in hook.told if o.member] == ["Ben"]


# -- any body a signed sender could send (hypothesis) -----------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "sub_1", "pi_7", "usd", "complete", "paid", "subscription", "1", "0"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# The fields the webhook reads, so random objects reach into its handlers.
READ = ["id", "client_reference_id", "status", "payment_status", "mode", "subscription", "payment_intent"]
READ += ["amount_total", "currency", "billing_reason", "lines", "data", "period", "end", "amount_paid"]
READ += ["parent", "subscription_details", "amount_refunded"]
json_objects = st.recursive(
    st.dictionaries(st.sampled_from(READ) | st.text(max_size=8), json_values, max_size=6),
    lambda inner: st.dictionaries(st.sampled_from(READ), inner | st.lists(inner, max_size=2), max_size=4),
    max_leaves=6,
)
event_ids = st.uuids().map(lambda u: f"evt_{u.hex}")
random_bodies = st.one_of(
    st.text(max_size=60),
    json_values.map(json.dumps),
    # an event of a type the webhook acts on, about a random object
    st.builds(lambda i, k, o: raw(i, k, {"object": o}), event_ids, st.sampled_from(HANDLED), json_objects),
    # an envelope of random parts
    st.fixed_dictionaries(
        {"id": event_ids | json_values},
        optional={
            "type": st.sampled_from(HANDLED) | json_values,
            "data": st.fixed_dictionaries({"object": json_objects}) | json_values,
        },
    ).map(json.dumps),
)


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every place in a JSON value (object keys and list indices), outermost first."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


def _change(value: object, path: tuple[object, ...], new: object) -> object:
    """``value`` with the field at ``path`` set to ``new`` (taken away when ``new`` is GONE)."""
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if rest:
            copy[head] = _change(copy[head], rest, new)
        elif new is GONE:
            del copy[head]
        else:
            copy[head] = new
        return copy
    assert isinstance(value, list) and isinstance(head, int)
    items = list(value)
    if rest:
        items[head] = _change(items[head], rest, new)
    elif new is GONE:
        del items[head]
    else:
        items[head] = new
    return items


@st.composite
def almost_valid_bodies(draw: st.DrawFn, world: World) -> str:
    """A valid event of a type the webhook acts on, with one field of its object removed,
    replaced or retyped (the envelope's own fields are what ``random_bodies`` varies)."""
    kind = draw(st.sampled_from(HANDLED))
    obj = world.valid()[kind]
    path = draw(st.sampled_from(_paths({"object": obj})))
    current: object = {"object": obj}
    for step in path:
        current = current[step]  # type: ignore[index]
    retyped = [str(current), [current], {"id": current}, None, 0, -1, 10**20, 1.5, True, "", "x" * 300]
    new = draw(st.one_of(st.just(GONE), st.sampled_from(retyped), json_values))
    data = _change({"object": obj}, path, new)
    return json.dumps({"id": f"evt_{draw(st.uuids()).hex}", "object": "event", "type": kind, "data": data})


def _outcome(status: int, lines: list[str]) -> str:
    """What the webhook made of a body, for hypothesis's statistics."""
    for words in ("not signed", "not an event", "is malformed", "amount its order", "order studyhall"):
        if any(words in line for line in lines):
            return f"{status}: {words}"
    return f"{status}: acted on, or nothing to do"


async def _post_any(hook: Hook, caplog: pytest.LogCaptureFixture, body: str) -> None:
    start = len(caplog.records)
    with caplog.at_level(logging.INFO):
        status = await hook.post(body)
    assert status in (200, 400), status
    assert tracebacks(caplog, start) == []
    note(_outcome(status, webhook_lines(caplog, start)))  # pytest --hypothesis-show-statistics


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=random_bodies)
async def test_any_signed_body_is_answered_2xx_or_4xx_without_a_traceback(
    world: World, hook: Hook, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    await _post_any(hook, caplog, body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_almost_valid_event_is_answered_2xx_without_a_traceback(
    world: World, hook: Hook, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    await _post_any(hook, caplog, data.draw(almost_valid_bodies(world), label="body"))
