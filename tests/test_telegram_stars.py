"""bot/adapters/telegram/stars.py and the adapter's payment updates: Telegram Stars invoices,
pre-checkout answers and successful payments, with recorded Bot API shapes (the emulator has
no payments), asserting the exact Bot API requests made."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Update

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.app import App
from core.catalog.money import Money
from core.events import UserRef
from core.members.models import Community, Role
from core.orders.models import Status
from tests.telegram_peer import RecordingRequest

ANA = {"id": 100, "is_bot": False, "first_name": "Ana", "language_code": "en"}
BEN = {"id": 200, "is_bot": False, "first_name": "Ben", "language_code": "zh-hans"}
MEI = {"id": 9, "is_bot": False, "first_name": "Mei", "language_code": "en"}


def private(user: dict[str, Any], update_id: int, **message: Any) -> dict[str, Any]:
    chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    return {
        "update_id": update_id,
        "message": {"message_id": update_id, "date": 0, "chat": chat, "from": user, **message},
    }


def command(user: dict[str, Any], update_id: int, text: str) -> dict[str, Any]:
    entity = {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
    return private(user, update_id, text=text, entities=[entity])


def pre_checkout(user: dict[str, Any], update_id: int, payload: str, amount: int = 50) -> dict[str, Any]:
    query = {
        "id": f"q{update_id}",
        "from": user,
        "currency": "XTR",
        "total_amount": amount,
        "invoice_payload": payload,
    }
    return {"update_id": update_id, "pre_checkout_query": query}


def paid(user: dict[str, Any], update_id: int, payload: str, charge: str = "tg-charge-1") -> dict[str, Any]:
    payment = {
        "currency": "XTR",
        "total_amount": 50,
        "invoice_payload": payload,
        "telegram_payment_charge_id": charge,
        "provider_payment_charge_id": "",
    }
    return private(user, update_id, successful_payment=payment)


class Bot:
    """The adapter on a recording request: feeds updates, returns the requests they caused."""

    def __init__(self, adapter: TelegramAdapter, recorder: RecordingRequest) -> None:
        self.adapter, self.recorder = adapter, recorder

    async def __call__(self, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        start = len(self.recorder.calls)
        update = Update.de_json(payload, self.adapter.bot)
        await self.adapter._on_update(update, None)  # type: ignore[arg-type]
        return [(e, p) for e, p in self.recorder.calls[start:] if e not in ("getMe",)]


@pytest.fixture
async def bot(app: App) -> AsyncIterator[Bot]:
    community = await app.community()
    members = app.services.members
    mei = await members.ensure_member(community, UserRef("telegram", "9", "Mei"))
    mei = await members.assign_role(community, mei, Role.CREATOR, via="test")
    await app.services.catalog.add_course(community, mei, "stars1", Money("XTR", 50), "Prompting basics")
    recorder = RecordingRequest()
    adapter = TelegramAdapter(app, {"token": "1:STARS"}, request=recorder, updates_request=RecordingRequest())
    await adapter.application.initialize()
    try:
        yield Bot(adapter, recorder)
    finally:
        await adapter.application.shutdown()


async def community(app: App) -> Community:
    return await app.community()


async def test_buying_a_stars_course_sends_an_invoice_after_the_order(bot: Bot) -> None:
    calls = await bot(command(ANA, 1, "/buy stars1"))
    assert [endpoint for endpoint, _ in calls] == ["sendMessage", "sendInvoice"]
    assert "Order #1: Prompting basics, 50 ⭐" in calls[0][1]["text"]
    invoice = calls[1][1]
    assert {k: invoice[k] for k in ("chat_id", "title", "description", "payload", "currency")} == {
        "chat_id": "100",
        "title": "Prompting basics",
        "description": "Prompting basics",
        "payload": "order:1",
        "currency": "XTR",
    }
    assert invoice["prices"] == [{"label": "Prompting basics", "amount": 50}]
    assert invoice.get("provider_token", "") == ""


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


async def test_on_the_web_the_same_order_is_paid_through_an_invoice_link(app: App, bot: Bot) -> None:
    bot.recorder.results["createInvoiceLink"] = "https://t.me/$Abc123"
    await bot(command(ANA, 1, "/buy stars1"))
    order = await app.services.orders.get(1)

    checkout = await app.services.orders.start_payment(order, on_web=True)

    assert checkout.url == "https://t.me/$Abc123"
    endpoint, sent = bot.recorder.calls[-1]
    assert endpoint == "createInvoiceLink"
    assert {k: sent[k] for k in ("title", "payload", "currency")} == {
        "title": "Prompting basics",
        "payload": "order:1",
        "currency": "XTR",
    }
    assert sent["prices"] == [{"label": "Prompting basics", "amount": 50}]
    assert "subscription_period" not in sent
    paid_later = await bot(paid(ANA, 2, "order:1"))  # Telegram reports it as for a chat invoice
    assert "Payment received for order #1" in paid_later[0][1]["text"]


async def test_a_creator_refunds_stars_in_full_only(app: App, bot: Bot) -> None:
    await bot(command(ANA, 1, "/buy stars1"))
    await bot(paid(ANA, 2, "order:1"))
    partial = await bot(command(MEI, 3, "/refund 1 10"))
    assert [e for e, _ in partial] == ["sendMessage"]
    assert "Telegram Stars can only be refunded in full" in partial[0][1]["text"]
    full = await bot(command(MEI, 4, "/refund 1"))
    assert ("refundStarPayment", {"user_id": 100, "telegram_payment_charge_id": "tg-charge-1"}) in full
    assert (await app.services.orders.get(1)).status is Status.REFUNDED


async def test_a_join_request_to_a_paid_group_is_approved_for_owners_and_declined_otherwise(
    app: App, bot: Bot
) -> None:
    from core.events import ChatKind, ChatRef

    community = await app.community()
    members = app.services.members
    mei = (await members.find_by_name(community.id, "Mei"))[0]
    group = await members.ensure_chat(community, ChatRef("telegram", "-100500", ChatKind.GROUP, "Prompt lab"))
    await app.services.paid_chats.bind(community, mei, group, "course", "stars1")
    chat = {"id": -100500, "type": "supergroup", "title": "Prompt lab"}

    def request(user: dict[str, Any], update_id: int) -> dict[str, Any]:
        join = {"chat": chat, "from": user, "user_chat_id": user["id"], "date": 0}
        return {"update_id": update_id, "chat_join_request": join}

    declined = await bot(request(ANA, 1))
    assert declined[0] == ("declineChatJoinRequest", {"chat_id": "-100500", "user_id": 100})
    assert declined[1][0] == "sendMessage" and "Prompt lab is for members only" in declined[1][1]["text"]

    await bot(command(ANA, 2, "/buy stars1"))
    await bot(paid(ANA, 3, "order:1"))
    approved = await bot(request(ANA, 4))
    assert approved[0] == ("approveChatJoinRequest", {"chat_id": "-100500", "user_id": 100})


async def test_a_file_sent_with_lesson_add_becomes_the_lessons_file(app: App) -> None:
    community = await app.community()
    members = app.services.members
    mei = await members.ensure_member(community, UserRef("telegram", "9", "Mei"))
    mei = await members.assign_role(community, mei, Role.CREATOR, via="test")
    await app.services.catalog.add_course(community, mei, "py101", Money("USD", 1999), "Python")
    recorder = RecordingRequest(
        {
            "getFile": {
                "file_id": "doc1",
                "file_unique_id": "u1",
                "file_size": 9,
                "file_path": "documents/f.pdf",
            },
            "f.pdf": b"%PDF-1.4\n",
        }
    )
    adapter = TelegramAdapter(app, {"token": "1:DOC"}, request=recorder, updates_request=RecordingRequest())
    await adapter.application.initialize()
    try:
        caption = "/lesson add py101 Slides | Read before Monday."
        document = {"file_id": "doc1", "file_unique_id": "u1", "file_name": "week1.pdf", "file_size": 9}
        payload = private(
            MEI,
            1,
            document=document,
            caption=caption,
            caption_entities=[{"type": "bot_command", "offset": 0, "length": 7}],
        )
        await adapter._on_update(Update.de_json(payload, adapter.bot), None)  # type: ignore[arg-type]
    finally:
        await adapter.application.shutdown()
    assert ("getFile", {"file_id": "doc1"}) in recorder.calls
    course = await app.services.catalog.course(community, "py101")
    [lesson] = await app.services.catalog.lessons(course)
    assert (lesson.title, lesson.file_name) == ("Slides", "week1.pdf")


def charged(
    user: dict[str, Any], update_id: int, payload: str, charge: str, expires: int, *, first: bool
) -> dict[str, Any]:
    """A Stars subscription's charge as Telegram sends it (first, or a renewal)."""
    update = paid(user, update_id, payload, charge)
    payment = update["message"]["successful_payment"]
    payment.update(is_recurring=True, subscription_expiration_date=expires)
    if first:
        payment["is_first_recurring"] = True
    return update


async def add_plan(app: App, code: str, period: str) -> None:
    community = await app.community()
    mei = (await app.services.members.find_by_name(community.id, "Mei"))[0]
    await app.services.plans.add(
        community, mei, code=code, title="Stars circle", price=Money("XTR", 50), period=period
    )


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


async def test_a_yearly_stars_plan_is_paid_one_period_at_a_time(app: App, bot: Bot) -> None:
    await add_plan(app, "year", "year")
    calls = await bot(command(ANA, 1, "/subscribe year"))
    assert [e for e, _ in calls] == ["sendMessage", "sendInvoice"]
    assert "subscription_period" not in calls[1][1]


async def test_a_renewal_charge_for_no_known_subscription_is_recorded_not_lost(app: App, bot: Bot) -> None:
    await bot(command(ANA, 1, "/buy stars1"))
    await bot(paid(ANA, 2, "order:1"))
    now = int(app.clock.now().timestamp())
    assert await bot(charged(ANA, 3, "order:1", "tg-odd", now + 86400, first=False)) == []
    assert await app.services.orders.event_seen("stars", "tg-odd")
