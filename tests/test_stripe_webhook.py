"""bot/payments/stripe_webhook.py: webhook payloads signed with Stripe's real scheme, posted to
the running HTTP app: valid, forged, stale, replayed, out of order, and at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest

from bot.app import App, Outgoing
from bot.config import Config
from bot.http import HttpServer
from bot.payments.stripe_webhook import PATH, StripeWebhook
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

    async def post(self, body: str, signature: str | None = None) -> int:
        headers = {"Stripe-Signature": signed(body, SECRET) if signature is None else signature}
        async with httpx.AsyncClient() as client:
            return (await client.post(self.url, content=body, headers=headers)).status_code


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
        yield Hook(url, told)
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
        other = Hook(second_url, told)
        statuses = await asyncio.gather(hook.post(completed), other.post(completed), hook.post(completed))
    finally:
        await http.stop()
    assert statuses == [200, 200, 200]
    assert len(hook.told) + len(told) == 1
    assert (await app.services.orders.get(order.id)).status is Status.FULFILLED
    assert await app.services.ledger.balance(shop.community.id, shop.ana.id) == Balance(19, 19)


async def test_a_plan_bought_with_stripe_renews_by_its_invoices_until_stripe_ends_it(
    app: App, shop: Shop, hook: Hook, clock: ManualClock
) -> None:
    from datetime import timedelta

    from core.access.plans import add_period
    from core.catalog.money import Money

    plan = await app.services.plans.add(
        shop.community, shop.mei, code="monthly", title="Monthly", price=Money("USD", 999), period="month"
    )
    subs = app.services.subscriptions
    done = await subs.subscribe(shop.community, shop.ana, plan)
    assert done.order is not None
    async with app.db.write() as conn:
        from sqlalchemy import update

        from core.orders.tables import orders

        await conn.execute(update(orders).where(orders.c.id == done.order.id).values(provider="stripe"))
    app.services.orders.register(_Recurring(), first=True)
    session = {**paid_session(done.order.id, 999), "mode": "subscription", "subscription": "sub_1"}
    assert await hook.post(event("evt_1", "checkout.session.completed", session)) == 200
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
