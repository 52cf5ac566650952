"""core/delivery/service.py: send windows (WeChat's customer-service rules), skipped messages,
inbound deduplication and numbered options — in the database, so processes agree."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.app import App
from core.clock import ManualClock
from core.delivery.service import DeliveryService, Option, SkipReason, WindowPolicy
from tests.conftest import START

WX = "wechat"


async def _claims(service: DeliveryService, n: int, who: str = "o1") -> list[SkipReason | None]:
    return [await service.claim_send(WX, who) for _ in range(n)]


async def test_nobody_who_never_wrote_can_be_messaged(app: App) -> None:
    assert await app.services.delivery.claim_send(WX, "o-new") is SkipReason.NO_CONTACT


async def test_five_messages_in_the_48_hours_after_a_message(app: App, clock: ManualClock) -> None:
    delivery = app.services.delivery
    await delivery.contact(WX, "o1")
    assert await _claims(delivery, 6) == [None] * 5 + [SkipReason.QUOTA_USED]
    await delivery.contact(WX, "o1")  # another message: a fresh count
    clock.advance(timedelta(hours=47))
    assert await _claims(delivery, 1) == [None]
    clock.advance(timedelta(hours=1, seconds=1))
    assert await _claims(delivery, 1) == [SkipReason.WINDOW_CLOSED]


async def test_three_messages_in_the_minute_after_a_click(app: App, clock: ManualClock) -> None:
    delivery = app.services.delivery
    await delivery.contact(WX, "o1", interaction=True)
    assert await _claims(delivery, 4) == [None, None, None, SkipReason.QUOTA_USED]
    await delivery.contact(WX, "o1", interaction=True)
    clock.advance(timedelta(seconds=61))
    assert await _claims(delivery, 1) == [SkipReason.WINDOW_CLOSED]


async def test_a_click_uses_its_own_minute_before_the_48_hours(app: App, clock: ManualClock) -> None:
    delivery = app.services.delivery
    await delivery.contact(WX, "o1")
    await delivery.contact(WX, "o1", interaction=True)
    assert await _claims(delivery, 9) == [None] * 8 + [SkipReason.QUOTA_USED]  # 3 + 5


async def test_any_number_in_the_48_hours_after_a_payment(app: App, clock: ManualClock) -> None:
    delivery = app.services.delivery
    await delivery.paid(WX, "o1")
    assert await _claims(delivery, 20) == [None] * 20
    clock.advance(timedelta(hours=48, seconds=1))
    assert await _claims(delivery, 1) == [SkipReason.WINDOW_CLOSED]


async def test_concurrent_claims_never_exceed_the_allowance(app: App) -> None:
    delivery = app.services.delivery
    await delivery.contact(WX, "o1")
    results = await asyncio.gather(*(delivery.claim_send(WX, "o1") for _ in range(12)))
    assert results.count(None) == 5


async def test_a_policy_can_be_narrower(app: App) -> None:
    delivery = app.services.delivery
    await delivery.contact(WX, "o1")
    policy = WindowPolicy(after_message=1)
    assert [await delivery.claim_send(WX, "o1", policy) for _ in range(2)] == [None, SkipReason.QUOTA_USED]


async def test_accounts_and_platforms_are_counted_apart(app: App) -> None:
    delivery = app.services.delivery
    await delivery.contact(WX, "o1")
    assert await delivery.claim_send(WX, "o2") is SkipReason.NO_CONTACT
    assert await delivery.claim_send("other", "o1") is SkipReason.NO_CONTACT


async def test_skipped_messages_are_kept_with_their_reason(app: App, clock: ManualClock) -> None:
    delivery = app.services.delivery
    await delivery.skipped(WX, "o1", None, SkipReason.WINDOW_CLOSED, "x" * 500)
    await delivery.skipped(WX, "o2", None, SkipReason.QUOTA_USED, "second")
    await delivery.skipped(WX, "o2", None, SkipReason.QUOTA_USED, "third")
    latest = await delivery.latest_skipped(WX)
    assert [s.preview for s in latest] == ["third", "second", "x" * 200]
    assert await delivery.skipped_since(WX, START) == {"window_closed": 1, "quota_used": 2}
    assert await delivery.skipped_since(WX, clock.now() + timedelta(seconds=1)) == {}


async def test_an_inbound_key_is_taken_once_and_remembers_its_digest(app: App, clock: ManualClock) -> None:
    delivery = app.services.delivery
    assert await delivery.take_inbound(WX, "msg:1", "d1") is None
    assert await delivery.take_inbound(WX, "msg:1", "d2") == "d1"
    assert await delivery.take_inbound("other", "msg:1") is None
    clock.advance(timedelta(days=3))
    assert await delivery.forget_old_inbound() == 2
    assert await delivery.take_inbound(WX, "msg:1", "d3") is None


async def test_concurrent_takes_of_one_key_let_exactly_one_through(app: App) -> None:
    delivery = app.services.delivery
    results = await asyncio.gather(*(delivery.take_inbound(WX, "msg:race", "d") for _ in range(8)))
    assert results.count(None) == 1


async def test_options_are_kept_per_account_for_a_day(app: App, clock: ManualClock) -> None:
    delivery = app.services.delivery
    options = [Option("cmd:/help"), Option(url="https://pay.example/1")]
    await delivery.set_options(WX, "o1", options)
    assert await delivery.options(WX, "o1") == options
    assert await delivery.options(WX, "o2") == []
    await delivery.set_options(WX, "o1", [Option("cmd:/lang en")])
    assert await delivery.options(WX, "o1") == [Option("cmd:/lang en")]
    clock.advance(timedelta(days=1, seconds=1))
    assert await delivery.options(WX, "o1") == []
