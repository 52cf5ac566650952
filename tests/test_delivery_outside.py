"""core/delivery/outside.py: consents for one message outside the send window, spent once even
when several senders race for them, given back when a send never left; and the record of what
went outside the window."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.app import App
from core.clock import ManualClock
from core.delivery.outside import NEWS, NOTES, WindowFallbacks
from core.storage.database import Database

WX = "wechat"


async def test_each_consent_allows_one_message_for_its_scene(app: App) -> None:
    fallbacks = app.services.fallbacks
    assert await fallbacks.take_consent(WX, "o1", NEWS) is None
    assert await fallbacks.consent(WX, "o1", NEWS, "tmpl") == 1
    assert await fallbacks.consent(WX, "o1", NEWS, "tmpl") == 2
    assert await fallbacks.consent(WX, "o1", NOTES, "tmpl") == 1
    first = await fallbacks.take_consent(WX, "o1", NEWS)
    second = await fallbacks.take_consent(WX, "o1", NEWS)
    assert first is not None and second is not None and first.id < second.id  # oldest first
    assert first.template_id == "tmpl"
    assert await fallbacks.take_consent(WX, "o1", NEWS) is None
    assert await fallbacks.take_consent(WX, "o2", NOTES) is None  # another follower's are theirs
    assert await fallbacks.consents_left(WX, "o1", NOTES) == 1


async def test_a_consent_given_back_is_there_for_the_next_message(app: App) -> None:
    fallbacks = app.services.fallbacks
    await fallbacks.consent(WX, "o1", NEWS, "tmpl")
    taken = await fallbacks.take_consent(WX, "o1", NEWS)
    assert taken is not None and await fallbacks.consents_left(WX, "o1", NEWS) == 0
    await fallbacks.give_back(taken)
    again = await fallbacks.take_consent(WX, "o1", NEWS)
    assert again is not None and again.id == taken.id


async def test_concurrent_senders_spend_each_consent_once(app: App) -> None:
    fallbacks = app.services.fallbacks
    for _ in range(3):
        await fallbacks.consent(WX, "o1", NEWS, "tmpl")
    taken = await asyncio.gather(*(fallbacks.take_consent(WX, "o1", NEWS) for _ in range(10)))
    spent = [consent.id for consent in taken if consent is not None]
    assert len(spent) == 3 and len(set(spent)) == 3
    assert await fallbacks.consents_left(WX, "o1", NEWS) == 0


async def test_what_went_outside_the_window_is_counted_by_way(app: App, clock: ManualClock) -> None:
    fallbacks = app.services.fallbacks
    await fallbacks.sent(WX, "o1", None, "template", "window_closed", "Refund")
    await fallbacks.sent(WX, "o1", None, "subscribe", "no_contact", "x" * 500)
    since = clock.now() - timedelta(minutes=1)
    assert await fallbacks.sent_since(WX, since) == {"template": 1, "subscribe": 1}
    assert await fallbacks.sent_since("discord", since) == {}
    clock.advance(timedelta(days=2))
    assert await fallbacks.sent_since(WX, clock.now() - timedelta(days=1)) == {}


async def test_two_processes_racing_for_one_followers_consents_spend_each_once(
    app: App, two_processes: tuple[Database, Database], clock: ManualClock
) -> None:
    first, second = (WindowFallbacks(db, clock) for db in two_processes)
    for _ in range(2):
        await first.consent(WX, "o1", NEWS, "tmpl")
    taken = await asyncio.gather(*(side.take_consent(WX, "o1", NEWS) for side in (first, second) * 4))
    spent = [consent.id for consent in taken if consent is not None]
    assert len(spent) == 2 and len(set(spent)) == 2
