"""Telegram Stars as the Bot API sends them, for the Stars tests (stars.py: invoices, refunds;
checkout.py: pre-checkout answers, payments, a subscription's charges): the update payloads, and
the adapter on a recording Bot API with a creator and a 50-Star course ``stars1``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.app import App
from core.catalog.money import Money
from core.events import UserRef
from core.members.models import Role
from tests.telegram_peer import RecordedBot, recorded_bot

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


@asynccontextmanager
async def stars_bot(app: App) -> AsyncIterator[RecordedBot]:
    """The adapter on a recording Bot API; Mei is a creator selling ``stars1`` for 50 Stars."""
    community = await app.community()
    members = app.services.members
    mei = await members.ensure_member(community, UserRef("telegram", "9", "Mei"))
    mei = await members.assign_role(community, mei, Role.CREATOR, via="test")
    await app.services.catalog.add_course(community, mei, "stars1", Money("XTR", 50), "Prompting basics")
    async with recorded_bot(app) as bot:
        yield bot
