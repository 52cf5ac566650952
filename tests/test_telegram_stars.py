"""bot/adapters/telegram/stars.py: Telegram Stars invoices (in chat, as links on the web, one
period at a time), refunds, and what a bought course opens (a paid group, a lesson file), with
recorded Bot API shapes (the emulator has no payments), asserting the exact requests made."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Update

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.app import App
from core.catalog.money import Money
from core.events import UserRef
from core.members.models import Role
from core.orders.models import Status
from tests.stars_peer import ANA, MEI, add_plan, command, paid, private, stars_bot
from tests.telegram_peer import RecordedBot, RecordingRequest


@pytest.fixture
async def bot(app: App) -> AsyncIterator[RecordedBot]:
    async with stars_bot(app) as running:
        yield running


async def test_buying_a_stars_course_sends_an_invoice_after_the_order(bot: RecordedBot) -> None:
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


async def test_on_the_web_the_same_order_is_paid_through_an_invoice_link(app: App, bot: RecordedBot) -> None:
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


async def test_a_creator_refunds_stars_in_full_only(app: App, bot: RecordedBot) -> None:
    await bot(command(ANA, 1, "/buy stars1"))
    await bot(paid(ANA, 2, "order:1"))
    partial = await bot(command(MEI, 3, "/refund 1 10"))
    assert [e for e, _ in partial] == ["sendMessage"]
    assert "Telegram Stars can only be refunded in full" in partial[0][1]["text"]
    full = await bot(command(MEI, 4, "/refund 1"))
    assert ("refundStarPayment", {"user_id": 100, "telegram_payment_charge_id": "tg-charge-1"}) in full
    assert (await app.services.orders.get(1)).status is Status.REFUNDED


async def test_a_join_request_to_a_paid_group_is_approved_for_owners_and_declined_otherwise(
    app: App, bot: RecordedBot
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


async def test_a_yearly_stars_plan_is_paid_one_period_at_a_time(app: App, bot: RecordedBot) -> None:
    await add_plan(app, "year", "year")
    calls = await bot(command(ANA, 1, "/subscribe year"))
    assert [e for e, _ in calls] == ["sendMessage", "sendInvoice"]
    assert "subscription_period" not in calls[1][1]
