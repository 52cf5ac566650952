"""bot/adapters/telegram/checkout.py: Telegram Stars arriving as updates, on a recording Bot
API with recorded update shapes (the emulator has no payments): the pre-checkout answer, a
payment delivered once however often it arrives, and a Stars subscription's later charges."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import App
from core.orders.models import Status
from tests.stars_peer import ANA, BEN, add_plan, charged, command, paid, pre_checkout, stars_bot
from tests.telegram_peer import RecordedBot as Bot


@pytest.fixture
async def bot(app: App) -> AsyncIterator[Bot]:
    async with stars_bot(app) as running:
        yield running


async def test_pre_checkout_is_accepted_only_for_the_buyers_open_order_at_its_price(bot: Bot) -> None:
    await bot(command(ANA, 1, "/buy stars1"))
    await bot(command(BEN, 2, "/start"))
    cases = [
        (pre_checkout(ANA, 3, "order:1"), {"pre_checkout_query_id": "q3", "ok": True}),
        (
            pre_checkout(ANA, 4, "order:1", amount=40),
            {
                "pre_checkout_query_id": "q4",
                "ok": False,
                "error_message": "The price of order #1 has changed. Use /buy again.",
            },
        ),
        (
            pre_checkout(ANA, 5, "order:99"),
            {
                "pre_checkout_query_id": "q5",
                "ok": False,
                "error_message": "This order does not exist any more. Use /buy again.",
            },
        ),
        (
            pre_checkout(ANA, 6, "something-else"),
            {
                "pre_checkout_query_id": "q6",
                "ok": False,
                "error_message": "This invoice is no longer valid. Use /buy again.",
            },
        ),
        (
            pre_checkout(BEN, 7, "order:1"),
            {
                "pre_checkout_query_id": "q7",
                "ok": False,
                "error_message": "这张账单属于另一位成员。请用 /buy 获取你自己的账单。",
            },
        ),
    ]
    for update, answer in cases:
        assert await bot(update) == [("answerPreCheckoutQuery", answer)], update


async def test_a_successful_payment_delivers_once_however_often_it_arrives(app: App, bot: Bot) -> None:
    await bot(command(ANA, 1, "/buy stars1"))
    first = await bot(paid(ANA, 2, "order:1"))
    again = await bot(paid(ANA, 2, "order:1"))  # Telegram redelivers the same update
    assert [e for e, _ in first] == ["sendMessage"]
    assert "Payment received for order #1: Prompting basics." in first[0][1]["text"]
    assert again == []
    order = await app.services.orders.get(1)
    assert (order.status, order.provider, order.provider_ref) == (Status.FULFILLED, "stars", "tg-charge-1")


async def test_a_monthly_stars_plan_is_a_stars_subscription_that_renews_by_itself(app: App, bot: Bot) -> None:
    await add_plan(app, "circle", "month")
    bot.recorder.results["createInvoiceLink"] = "https://t.me/$sub-circle"
    calls = await bot(command(ANA, 1, "/subscribe circle"))
    assert [e for e, _ in calls] == ["sendMessage", "createInvoiceLink", "sendMessage"]
    link = calls[1][1]
    assert (link["payload"], link["currency"], link["subscription_period"]) == ("order:1", "XTR", 2592000)
    assert link["prices"] == [{"label": "Stars circle", "amount": 50}]
    assert calls[2][1]["text"] == "Stars circle: 50 ⭐ every 30 days"
    assert calls[2][1]["reply_markup"]["inline_keyboard"] == [
        [{"text": "Subscribe for 50 ⭐", "url": "https://t.me/$sub-circle"}]
    ]
    assert await bot(pre_checkout(ANA, 2, "order:1")) == [
        ("answerPreCheckoutQuery", {"pre_checkout_query_id": "q2", "ok": True})
    ]
    now = int(app.clock.now().timestamp())
    first = await bot(charged(ANA, 3, "order:1", "tg-sub-1", now + 30 * 86400, first=True))
    assert "Payment received for order #1: Stars circle." in first[0][1]["text"]
    community = await app.community()
    ana = (await app.services.members.find_by_name(community.id, "Ana"))[0]
    plan = await app.services.plans.get(community, "circle")
    sub = await app.services.subscriptions.get(ana, plan)
    assert sub is not None and sub.renews_by_itself
    assert (sub.provider, sub.provider_ref, int(sub.period_end.timestamp())) == (
        "stars",
        "tg-sub-1",
        now + 30 * 86400,
    )
    # Telegram may ask again before a renewal: the running subscription's price is accepted.
    assert await bot(pre_checkout(ANA, 4, "order:1")) == [
        ("answerPreCheckoutQuery", {"pre_checkout_query_id": "q4", "ok": True})
    ]
    # Thirty days on, Telegram charges again: the period runs to the new expiry, once.
    renewal = charged(ANA, 5, "order:1", "tg-sub-2", now + 60 * 86400, first=False)
    told = await bot(renewal)
    assert [e for e, _ in told] == ["sendMessage"]
    assert "Your subscription to Stars circle renewed" in told[0][1]["text"]
    assert await bot(renewal) == []
    sub = await app.services.subscriptions.get(ana, plan)
    assert sub is not None and int(sub.period_end.timestamp()) == now + 60 * 86400
    # The renewal charge is kept as an order of its own, once.
    orders = await app.services.orders.of_member(ana)
    assert sorted((o.provider_ref, o.amount.minor, o.status.value) for o in orders) == [
        ("tg-sub-1", 50, "fulfilled"),
        ("tg-sub-2", 50, "fulfilled"),
    ]
    # /cancel stops Telegram's charges first; /subscribe resumes them.
    cancelled = await bot(command(ANA, 6, "/cancel"))
    assert cancelled[0] == (
        "editUserStarSubscription",
        {"user_id": 100, "telegram_payment_charge_id": "tg-sub-1", "is_canceled": True},
    )
    assert (await app.services.subscriptions.get(ana, plan)).cancel_at_period_end  # type: ignore[union-attr]
    resumed = await bot(command(ANA, 7, "/subscribe circle"))
    assert resumed[0] == (
        "editUserStarSubscription",
        {"user_id": 100, "telegram_payment_charge_id": "tg-sub-1", "is_canceled": False},
    )


async def test_a_renewal_charge_for_no_known_subscription_is_recorded_not_lost(app: App, bot: Bot) -> None:
    await bot(command(ANA, 1, "/buy stars1"))
    await bot(paid(ANA, 2, "order:1"))
    now = int(app.clock.now().timestamp())
    assert await bot(charged(ANA, 3, "order:1", "tg-odd", now + 86400, first=False)) == []
    assert await app.services.orders.event_seen("stars", "tg-odd")
