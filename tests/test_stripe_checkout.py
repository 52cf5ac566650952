"""bot/payments/stripe_checkout.py: Checkout Sessions, refunds and reconciliation, against a local
stand-in for the Stripe API (asserting the exact requests made)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.app import App
from bot.payments.stripe_checkout import StripeProvider
from core.catalog.money import Money
from core.clock import ManualClock
from core.orders.models import RefundFailed, SettledPayment, Status
from tests.shop_fixtures import Shop
from tests.stripe_peer import FakeStripe, paid_session, running_stripe


@pytest.fixture
async def stripe_api() -> AsyncIterator[tuple[FakeStripe, str]]:
    fake = FakeStripe()
    async with running_stripe(fake) as base:
        yield fake, base


@pytest.fixture
def provider(app: App, stripe_api: tuple[FakeStripe, str], clock: ManualClock) -> StripeProvider:
    stripe = StripeProvider(
        "sk_test_123", public_url="https://hall.example/", clock=clock, api_base=stripe_api[1]
    )
    app.services.orders.register(stripe, first=True)
    return stripe


async def test_an_order_in_usd_gets_a_checkout_session_carrying_its_id(
    app: App, shop: Shop, provider: StripeProvider, stripe_api: tuple[FakeStripe, str]
) -> None:
    fake, _ = stripe_api
    order = await app.services.orders.order_course(shop.community, shop.ana, shop.course)
    assert order.provider == "stripe"
    checkout = await provider.start(order)
    assert checkout.url == "https://checkout.stripe.test/c/pay/cs_test_1"
    [(method, path, form, headers)] = fake.calls
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert {k: form[k] for k in form if not k.startswith(("expires_at",))} == {
        "mode": "payment",
        "client_reference_id": str(order.id),
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "1999",
        "line_items[0][price_data][product_data][name]": "Python for data analysis",
        "metadata[order_id]": str(order.id),
        "metadata[community_id]": str(shop.community.id),
        "payment_intent_data[metadata][order_id]": str(order.id),
        "success_url": f"https://hall.example/paid?order={order.id}",
        "cancel_url": f"https://hall.example/cancelled?order={order.id}",
    }
    assert headers["Idempotency-Key"] == f"studyhall-checkout-{order.id}"
    assert headers["Authorization"] == "Bearer sk_test_123"


async def test_an_order_in_cny_also_offers_wechat_pay_and_alipay(
    app: App, shop: Shop, provider: StripeProvider, stripe_api: tuple[FakeStripe, str]
) -> None:
    fake, _ = stripe_api
    catalog = app.services.catalog
    course = await catalog.add_course(shop.community, shop.mei, "zh101", Money("CNY", 9900), "数据分析入门")
    order = await app.services.orders.order_course(shop.community, shop.ana, course)
    checkout = await provider.start(order)
    assert checkout.url is not None
    [(_, _, form, _)] = fake.calls
    assert form["line_items[0][price_data][currency]"] == "cny"
    assert [form[f"payment_method_types[{i}]"] for i in range(3)] == ["card", "alipay", "wechat_pay"]
    assert form["payment_method_options[wechat_pay][client]"] == "web"


async def test_an_order_in_usd_is_paid_by_the_methods_the_dashboard_enables(
    app: App, shop: Shop, provider: StripeProvider, stripe_api: tuple[FakeStripe, str]
) -> None:
    fake, _ = stripe_api
    await provider.start(await app.services.orders.order_course(shop.community, shop.ana, shop.course))
    [(_, _, form, _)] = fake.calls
    assert not any(key.startswith("payment_method") for key in form)


async def test_stars_prices_are_not_for_stripe(provider: StripeProvider) -> None:
    assert provider.accepts("USD") and provider.accepts("CNY") and not provider.accepts("XTR")


async def test_a_refund_goes_to_the_payment_intent_once_per_amount(
    app: App, shop: Shop, provider: StripeProvider, stripe_api: tuple[FakeStripe, str]
) -> None:
    fake, _ = stripe_api
    orders = app.services.orders
    order = await orders.order_course(shop.community, shop.ana, shop.course)
    await orders.record_payment(order.id, provider="stripe", provider_ref="pi_123", paid=order.amount)
    fake.calls.clear()

    done = await orders.refund(shop.community, shop.mei, order.id, 500)
    assert done.order.refunded == 500
    [(_, path, form, headers)] = fake.calls
    assert (path, form) == ("/v1/refunds", {"payment_intent": "pi_123", "amount": "500"})
    assert headers["Idempotency-Key"] == f"studyhall-refund-{order.id}-500"

    fake.refuse_refunds = "Charge has already been refunded."
    with pytest.raises(RefundFailed, match="already been refunded"):
        await orders.refund(shop.community, shop.mei, order.id, None)
    assert (await orders.get(order.id)).refunded == 500  # nothing recorded for a refused refund


async def test_reconciliation_delivers_a_paid_session_whose_webhook_never_came(
    app: App, shop: Shop, provider: StripeProvider, stripe_api: tuple[FakeStripe, str], clock: ManualClock
) -> None:
    fake, _ = stripe_api
    orders = app.services.orders
    order = await orders.order_course(shop.community, shop.ana, shop.course)
    fake.sessions = [paid_session(order.id, 1999, intent="pi_9"), {"id": "cs_other", "status": "open"}]

    assert await provider.settled_since(clock.now()) == [SettledPayment(order.id, "pi_9", Money("USD", 1999))]
    delivered = await orders.reconcile(clock.now())
    assert [f.order.id for f in delivered] == [order.id]
    assert (await orders.get(order.id)).status is Status.FULFILLED
    assert await orders.reconcile(clock.now()) == []


async def test_reconciliation_skips_a_session_it_cannot_read_and_takes_the_others(
    app: App,
    shop: Shop,
    provider: StripeProvider,
    stripe_api: tuple[FakeStripe, str],
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, _ = stripe_api
    order = await app.services.orders.order_course(shop.community, shop.ana, shop.course)
    odd = {**paid_session(order.id + 1, 1999), "amount_total": "1999"}
    fake.sessions = [odd, paid_session(order.id, 1999, intent="pi_9"), {**odd, "client_reference_id": 7}]
    with caplog.at_level(logging.WARNING):
        settled = await provider.settled_since(clock.now())
    assert settled == [SettledPayment(order.id, "pi_9", Money("USD", 1999))]
    skipped = [r.getMessage() for r in caplog.records if "skipped a session" in r.getMessage()]
    assert skipped == [
        "stripe: reconciliation skipped a session: session.amount_total is a string, not an integer",
        "stripe: reconciliation skipped a session: session.client_reference_id is an integer, not a string",
    ]


async def test_refunds_against_localstripe_a_real_payment_intent(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    import stripe

    from tests.stripe_peer import running_localstripe

    orders = app.services.orders
    async with running_localstripe() as base:
        client = stripe.StripeClient(
            "sk_test_local", base_addresses={"api": base}, http_client=stripe.HTTPXClient()
        )
        card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
        method = await client.v1.payment_methods.create_async(params={"type": "card", "card": card})
        intent = await client.v1.payment_intents.create_async(
            params={"amount": 1999, "currency": "usd", "payment_method": method.id, "confirm": True}
        )
        assert intent.status == "succeeded"
        orders.register(
            StripeProvider("sk_test_local", public_url="https://h", clock=clock, api_base=base), first=True
        )
        order = await orders.order_course(shop.community, shop.ana, shop.course)
        await orders.record_payment(order.id, provider="stripe", provider_ref=intent.id, paid=order.amount)

        await orders.refund(shop.community, shop.mei, order.id, 500)
        done = await orders.refund(shop.community, shop.mei, order.id, None)

        refunds = await client.v1.refunds.list_async(params={"payment_intent": intent.id})
    assert sorted(r.amount for r in refunds.data) == [500, 1499]
    assert (done.order.status, done.order.refunded) == (Status.REFUNDED, 1999)


async def test_a_plan_is_sold_as_a_stripe_subscription_and_cancel_stops_it_there(
    app: App, shop: Shop, stripe_api: tuple[FakeStripe, str], clock: ManualClock
) -> None:
    fake, base = stripe_api
    plans, subs, orders = app.services.plans, app.services.subscriptions, app.services.orders

    async def period(plan_id: int) -> str:
        return (await plans.by_id(plan_id)).period

    stripe = StripeProvider(
        "sk_test_1", public_url="https://h", clock=clock, api_base=base, plan_period=period
    )
    orders.register(stripe, first=True)
    plan = await plans.add(
        shop.community,
        shop.mei,
        code="quarterly",
        title="Quarterly",
        price=Money("USD", 2500),
        period="quarter",
    )
    done = await subs.subscribe(shop.community, shop.ana, plan)
    assert done.order is not None and done.order.provider == "stripe"
    await stripe.start(done.order)
    [(_, _, form, _)] = fake.calls
    assert form["mode"] == "subscription"
    assert (
        form["line_items[0][price_data][recurring][interval]"],
        form["line_items[0][price_data][recurring][interval_count]"],
    ) == ("month", "3")
    assert form["subscription_data[metadata][order_id]"] == str(done.order.id)
    assert "payment_intent_data[metadata][order_id]" not in form

    await orders.record_payment(
        done.order.id, provider="stripe", provider_ref="sub_9", paid=done.order.amount
    )
    fake.calls.clear()
    await subs.cancel(shop.ana, plan)
    await subs.subscribe(shop.community, shop.ana, plan)  # changes her mind
    assert [(path, form) for _, path, form, _ in fake.calls] == [
        ("/v1/subscriptions/sub_9", {"cancel_at_period_end": "true"}),
        ("/v1/subscriptions/sub_9", {"cancel_at_period_end": "false"}),
    ]
