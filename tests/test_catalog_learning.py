"""core/catalog/learning.py: one lesson for its owner (content only once it has opened), marking
lessons done, a lesson's file, and completion points once per member and course whether the
course is finished in the chat (/learn) or on the web (mark as done)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import App
from core.clock import ManualClock
from core.errors import NotAllowed, NotFound
from core.events import Attachment
from tests.shop_fixtures import Shop


async def own(app: App, shop: Shop) -> None:
    orders = app.services.orders
    order = await orders.order_course(shop.community, shop.ana, shop.course)
    await orders.record_payment(order.id, provider="sandbox", provider_ref="r1", paid=order.amount)


async def test_a_lesson_shows_its_content_only_to_owners_once_open(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    learning = app.services.learning
    with pytest.raises(NotAllowed):
        await learning.lesson(shop.ana, shop.course, 1)
    await own(app, shop)

    first = await learning.lesson(shop.ana, shop.course, 1)
    second = await learning.lesson(shop.ana, shop.course, 2)

    assert (first.lesson.body, first.opens_at, first.total, first.done) == (
        "Install Python and pandas.",
        None,
        2,
        False,
    )
    assert second.lesson.body == "" and second.opens_at == clock.now() + timedelta(days=2)
    with pytest.raises(NotFound):
        await learning.lesson(shop.ana, shop.course, 3)
    clock.advance(timedelta(days=2))
    assert (await learning.lesson(shop.ana, shop.course, 2)).lesson.body.startswith("for x in range(3)")


async def test_marking_done_is_idempotent_and_a_closed_lesson_cannot_be_done(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    await own(app, shop)
    learning = app.services.learning
    with pytest.raises(NotAllowed):
        await learning.mark_done(shop.community, shop.ana, shop.course, 2)

    first = await learning.mark_done(shop.community, shop.ana, shop.course, 1)
    again = await learning.mark_done(shop.community, shop.ana, shop.course, 1)

    assert (first.done, first.total, first.finished) == (1, 2, False)
    assert (again.done, again.finished) == (1, False)
    assert (await learning.lesson(shop.ana, shop.course, 1)).done


@pytest.mark.parametrize("finish_with", ["web", "chat"])
async def test_finishing_a_course_earns_its_completion_points_once(
    app: App, shop: Shop, clock: ManualClock, finish_with: str
) -> None:
    await app.services.catalog.edit_course(shop.community, shop.mei, "py101", "completion", 20)
    course = await app.services.catalog.course(shop.community, "py101")
    await own(app, shop)
    learning, ledger = app.services.learning, app.services.ledger
    before = (await ledger.balance(shop.community.id, shop.ana.id)).balance
    await learning.mark_done(shop.community, shop.ana, course, 1)
    clock.advance(timedelta(days=2))

    if finish_with == "web":
        done = await learning.mark_done(shop.community, shop.ana, course, 2)
        assert (done.finished, done.points) == (True, 20)
    else:
        step, points = await learning.next_lesson(shop.community, shop.ana, course)
        assert (step.just_completed, points) == (True, 20)
    assert (await learning.mark_done(shop.community, shop.ana, course, 2)).points == 0
    step, points = await learning.next_lesson(shop.community, shop.ana, course)
    assert (step.lesson, points) == (None, 0)
    assert (await ledger.balance(shop.community.id, shop.ana.id)).balance == before + 20


async def test_a_lessons_file_goes_only_to_owners_of_an_open_lesson(app: App, shop: Shop) -> None:
    catalog, learning = app.services.catalog, app.services.learning
    await catalog.add_lesson(
        shop.community, shop.mei, "py101", "Slides", "", unlock_days=1, file=Attachment("s.pdf", b"%PDF")
    )
    await catalog.add_lesson(
        shop.community, shop.mei, "py101", "Clip", "", file=Attachment("c.mp4", b"\x00\x01")
    )
    with pytest.raises(NotAllowed):
        await learning.file(shop.ana, shop.course, 4)
    await own(app, shop)

    assert await learning.file(shop.ana, shop.course, 4) == ("c.mp4", b"\x00\x01")
    view = await learning.lesson(shop.ana, shop.course, 3)
    assert view.file is None and view.opens_at is not None  # closed: not even its name
    with pytest.raises(NotAllowed):
        await learning.file(shop.ana, shop.course, 3)
    with pytest.raises(NotFound):
        await learning.file(shop.ana, shop.course, 1)
