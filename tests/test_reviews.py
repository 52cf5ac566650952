"""core/catalog/reviews.py: one editable review per owner; hidden ones leave the rating."""

from __future__ import annotations

import pytest

from bot.app import App
from core.errors import NotAllowed
from core.orders.models import Order
from tests.shop_fixtures import Shop


async def own(app: App, shop: Shop, member: object) -> Order:
    orders = app.services.orders
    order = await orders.order_course(shop.community, member, shop.course)  # type: ignore[arg-type]
    await orders.record_payment(order.id, provider="sandbox", provider_ref=f"r{order.id}", paid=order.amount)
    return order


async def test_ratings_average_visible_reviews_and_an_edit_keeps_a_hidden_review_hidden(
    app: App, shop: Shop
) -> None:
    reviews = app.services.reviews
    assert (await reviews.rating(shop.course)).count == 0
    await own(app, shop, shop.ana)
    await own(app, shop, shop.ben)
    assert await reviews.review(shop.ana, shop.course, 4, "good") is False
    assert await reviews.review(shop.ana, shop.course, 5, "better") is True
    await reviews.review(shop.ben, shop.course, 1, "spam")
    assert (await reviews.rating(shop.course)).average == 3.0

    await reviews.hide(shop.community, shop.mei, shop.course, shop.ben)
    await reviews.review(shop.ben, shop.course, 1, "spam again")
    rating = await reviews.rating(shop.course)
    assert (rating.average, rating.count) == (5.0, 1)
    assert [(line.member_name, line.stars, line.text) for line in await reviews.latest(shop.course)] == [
        ("Ana", 5, "better")
    ]


async def test_only_owners_review_and_only_staff_hide(app: App, shop: Shop) -> None:
    reviews = app.services.reviews
    with pytest.raises(NotAllowed):
        await reviews.review(shop.ana, shop.course, 5, "")
    await own(app, shop, shop.ana)
    await reviews.review(shop.ana, shop.course, 5, "")
    with pytest.raises(NotAllowed):
        await reviews.hide(shop.community, shop.ben, shop.course, shop.ana)
