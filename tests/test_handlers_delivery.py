"""bot/handlers/delivery.py: /undelivered shows creators what WeChat's send rules kept back."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from core.clock import ManualClock
from core.delivery.service import SkipReason
from tests.conftest import ConsoleDriver


async def test_creators_see_undelivered_messages_by_reason(
    console: ConsoleDriver, app: App, clock: ManualClock
) -> None:
    await console(":as Mei creator")
    assert "Every message was delivered in the last 7 days." in await console.text("/undelivered")
    delivery = app.services.delivery
    await delivery.skipped("wechat", "o1", None, SkipReason.WINDOW_CLOSED, "Your trial ends tomorrow")
    await delivery.skipped("wechat", "o2", None, SkipReason.QUOTA_USED, "Question #3 was answered")
    await delivery.skipped("wechat", "o2", None, SkipReason.QUOTA_USED, "Question #4 was answered")
    out = await console.text("/undelivered")
    assert "Undelivered in the last 7 days:" in out
    assert "wechat · 48 hours passed since their last message: 1" in out
    assert "wechat · messages allowed since their last message used up: 2" in out
    assert "Your trial ends tomorrow" in out
    clock.advance(timedelta(days=8))
    assert "Every message was delivered" in await console.text("/undelivered")
    assert "Undelivered in the last 30 days:" in await console.text("/undelivered 30")
    assert "out of range" in await console.text("/undelivered 0")


async def test_learners_cannot_see_them(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Ana")
    assert "Only creators can use /undelivered." in await console.text("/undelivered")


async def test_what_went_by_template_or_consent_is_counted_too(console: ConsoleDriver, app: App) -> None:
    await console(":as Mei creator")
    fallbacks = app.services.fallbacks
    await fallbacks.sent("wechat", "o1", None, "template", "window_closed", "Refund of order #3")
    await fallbacks.sent("wechat", "o2", None, "subscribe", "no_contact", "Live on Saturday")
    await fallbacks.sent("wechat", "o2", None, "template", "quota_used", "Your trial ends")
    out = await console.text("/undelivered")
    assert "Every message was delivered in the last 7 days." in out
    assert "wechat · sent after 48 hours: 2 by template, 1 by the follower's consent" in out
    await app.services.delivery.skipped("wechat", "o3", None, SkipReason.WINDOW_CLOSED, "Hello")
    out = await console.text("/undelivered")
    assert "Undelivered in the last 7 days:" in out and "2 by template, 1 by the follower's consent" in out
