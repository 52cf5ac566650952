"""core/catalog/service.py: creators build the catalog; owners learn lesson by lesson."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import App
from core.catalog.money import Money
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed
from core.i18n import render
from core.orders.models import Status
from tests.conftest import snapshot
from tests.shop_fixtures import Shop


def reason(error: pytest.ExceptionInfo[Exception]) -> str:
    return render(error.value.message, "en")  # type: ignore[attr-defined]


async def test_a_course_is_added_listed_and_shown(app: App, shop: Shop) -> None:
    catalog = app.services.catalog
    assert [c.code for c in await catalog.courses(shop.community)] == ["py101"]
    found = await catalog.course(shop.community, "PY101")
    assert (found.title, found.price, found.hidden) == ("Python for data analysis", Money("USD", 1999), False)
    assert [
        (lesson.position, lesson.title, lesson.unlock_days) for lesson in await catalog.lessons(found)
    ] == [
        (1, "Setup", 0),
        (2, "Loops", 2),
    ]


async def test_only_creators_change_the_catalog_and_nothing_changes_otherwise(app: App, shop: Shop) -> None:
    catalog = app.services.catalog
    before = await snapshot(app.db)
    with pytest.raises(NotAllowed):
        await catalog.add_course(shop.community, shop.ana, "x1", Money("USD", 100), "Mine")
    with pytest.raises(NotAllowed):
        await catalog.edit_course(shop.community, shop.ana, "py101", "title", "Hacked")
    with pytest.raises(NotAllowed):
        await catalog.set_hidden(shop.community, shop.ana, "py101", True)
    with pytest.raises(NotAllowed):
        await catalog.add_lesson(shop.community, shop.ana, "py101", "Extra", "text")
    assert await snapshot(app.db) == before


@pytest.mark.parametrize(
    ("code", "title", "expected"),
    [
        ("py101", "Again", "The code py101 is taken already."),
        ("P", "Short code", "A course code is 2 to 30 lowercase letters, digits, - or _, like py101."),
        ("has space", "x", "A course code is 2 to 30 lowercase letters, digits, - or _, like py101."),
        ("ok2", "   ", "A title cannot be empty."),
        ("ok3", "x" * 201, "A title is at most 200 characters."),
    ],
)
async def test_bad_courses_are_refused_with_the_reason(
    app: App, shop: Shop, code: str, title: str, expected: str
) -> None:
    before = await snapshot(app.db)
    with pytest.raises(InvalidInput) as caught:
        await app.services.catalog.add_course(shop.community, shop.mei, code, Money("USD", 100), title)
    assert reason(caught) == expected
    assert await snapshot(app.db) == before


async def test_edits_change_the_course_and_hidden_courses_are_only_for_creators(app: App, shop: Shop) -> None:
    catalog = app.services.catalog
    await catalog.edit_course(shop.community, shop.mei, "py101", "price", Money("EUR", 2500))
    await catalog.edit_course(shop.community, shop.mei, "py101", "points", 300)
    edited = await catalog.edit_course(shop.community, shop.mei, "py101", "description", "Hands-on.")
    assert (edited.price, edited.points_price, edited.description) == (Money("EUR", 2500), 300, "Hands-on.")

    await catalog.set_hidden(shop.community, shop.mei, "py101", True)
    assert await catalog.courses(shop.community) == []
    with pytest.raises(InvalidInput) as caught:
        await catalog.course(shop.community, "py101")
    assert reason(caught) == "There is no course py101. /courses lists them."
    assert (await catalog.course(shop.community, "py101", include_hidden=True)).hidden


async def test_learning_opens_lessons_in_order_with_the_drip_and_only_for_owners(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    catalog, orders = app.services.catalog, app.services.orders
    with pytest.raises(NotAllowed) as caught:
        await catalog.learn(shop.ana, shop.course)
    assert reason(caught) == "You do not own Python for data analysis yet: /buy py101"

    order = await orders.order_course(shop.community, shop.ana, shop.course)
    await orders.record_payment(order.id, provider="sandbox", provider_ref="s1", paid=order.amount)

    first = await catalog.learn(shop.ana, shop.course)
    assert (first.lesson and first.lesson.title, first.done, first.total) == ("Setup", 1, 2)
    waiting = await catalog.learn(shop.ana, shop.course)
    assert (waiting.lesson, waiting.opens_at) == (None, clock.now() + timedelta(days=2))
    clock.advance(timedelta(days=2))
    second = await catalog.learn(shop.ana, shop.course)
    assert (second.lesson and second.lesson.title, second.just_completed) == ("Loops", True)
    finished = await catalog.learn(shop.ana, shop.course)
    assert (finished.lesson, finished.opens_at, finished.done) == (None, None, 2)
    assert [(c.code, done, total) for c, done, total in await catalog.owned(shop.ana)] == [("py101", 2, 2)]
    assert (await orders.get(order.id)).status is Status.FULFILLED


async def test_a_courses_page_offers_the_visible_bundles_that_include_it(app: App, shop: Shop) -> None:
    from sqlalchemy import update

    from core.catalog.tables import bundles

    catalog = app.services.catalog
    for code in ("ml201", "sql1"):
        await catalog.add_course(shop.community, shop.mei, code, Money("USD", 999), code)
    usd = Money("USD", 2999)
    for code, courses in (
        ("path", ["py101", "ml201"]),
        ("other", ["ml201", "sql1"]),
        ("old", ["sql1", "py101"]),
    ):
        await catalog.add_bundle(shop.community, shop.mei, code, usd, code.title(), courses)
    await catalog.add_bundle(shop.community, shop.mei, "wide", usd, "Wide", ["sql1", "py101", "ml201"])
    async with app.db.write() as conn:
        await conn.execute(update(bundles).where(bundles.c.code == "old").values(hidden=True))

    found = await catalog.bundles_including(shop.community, shop.course)

    assert [(b.code, [c.code for c in b.courses]) for b in found] == [
        ("path", ["py101", "ml201"]),
        ("wide", ["py101", "ml201", "sql1"]),  # a bundle lists its courses in their own order
    ]


async def test_a_bundle_groups_courses_at_its_own_price_and_codes_are_shared(app: App, shop: Shop) -> None:
    catalog = app.services.catalog
    ml = await catalog.add_course(shop.community, shop.mei, "ml201", Money("USD", 2999), "Machine learning")
    bundle = await catalog.add_bundle(
        shop.community, shop.mei, "path", Money("USD", 3999), "Data path", ["py101", "ml201"]
    )
    assert [c.code for c in bundle.courses] == ["py101", "ml201"]
    product = await catalog.product(shop.community, "PATH")
    assert (product.kind, product.price, [c.id for c in product.courses]) == (
        "bundle",
        Money("USD", 3999),
        [shop.course.id, ml.id],
    )
    assert (await catalog.product(shop.community, "py101")).kind == "course"

    await catalog.add_course(shop.community, shop.mei, "jp1", Money("JPY", 500), "Japanese")
    before = await snapshot(app.db)
    for code, currency, courses, expected in [
        ("py101", "USD", ["py101", "ml201"], "The code py101 is taken already."),
        ("mixed", "USD", ["py101", "jp1"], "A bundle's courses must be priced in its currency, USD."),
        ("solo", "USD", ["py101", "py101"], "A bundle holds at least two courses."),
        ("gone", "USD", ["py101", "nope"], "There is no course nope. /courses lists them."),
    ]:
        with pytest.raises(InvalidInput) as caught:
            await catalog.add_bundle(shop.community, shop.mei, code, Money(currency, 100), "B", courses)
        assert reason(caught) == expected
    with pytest.raises(InvalidInput) as caught:
        await catalog.add_course(shop.community, shop.mei, "path", Money("USD", 100), "Clash")
    assert reason(caught) == "The code path is taken already."
    with pytest.raises(NotAllowed):
        await catalog.add_bundle(shop.community, shop.ana, "b2", Money("USD", 100), "B", ["py101", "ml201"])
    assert await snapshot(app.db) == before


async def test_a_lessons_file_is_kept_and_handed_out_with_the_lesson(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    from core.catalog.lessons import MAX_FILE
    from core.events import Attachment

    catalog, orders = app.services.catalog, app.services.orders
    slides = Attachment("slides.pdf", b"%PDF-1.4 " + bytes(range(256)))
    added = await catalog.add_lesson(shop.community, shop.mei, "py101", "Slides", "", 0, slides)
    assert added.file_name == "slides.pdf"
    with pytest.raises(InvalidInput) as caught:
        await catalog.add_lesson(
            shop.community, shop.mei, "py101", "Huge", "", 0, Attachment("big.bin", bytes(MAX_FILE + 1))
        )
    assert reason(caught) == "A lesson's file can be at most 10 MB."
    order = await orders.order_course(shop.community, shop.ana, shop.course)
    await orders.record_payment(order.id, provider="sandbox", provider_ref="s", paid=order.amount)
    await catalog.learn(shop.ana, shop.course)  # Setup
    clock.advance(timedelta(days=2))
    await catalog.learn(shop.ana, shop.course)  # Loops
    third = await catalog.learn(shop.ana, shop.course)
    assert third.lesson is not None and third.file == ("slides.pdf", slides.data)


async def test_a_lesson_is_rewritten_its_file_kept_or_replaced_and_refusals_name_the_field(
    app: App, shop: Shop
) -> None:
    from core.events import Attachment

    catalog = app.services.catalog
    before = await snapshot(app.db)
    for changes, field in (
        ({"unlock_days": 3651}, "unlock_days"),
        ({"title": " "}, "title"),
        ({"body": " "}, "body"),
        ({"body": "x" * 4001}, "body"),
    ):
        with pytest.raises(InvalidInput) as caught:
            await catalog.edit_lesson(
                shop.community,
                shop.mei,
                "py101",
                2,
                **{"title": "T", "body": "b", "unlock_days": 0, **changes},
            )
        assert caught.value.field == field  # type: ignore[attr-defined]
    with pytest.raises(NotAllowed):
        await catalog.edit_lesson(shop.community, shop.ana, "py101", 2, title="T", body="b", unlock_days=0)
    assert await snapshot(app.db) == before
    slides = Attachment("slides.pdf", b"%PDF")
    edited = await catalog.edit_lesson(
        shop.community, shop.mei, "py101", 2, title="Loops, again", body="", unlock_days=5, file=slides
    )
    assert (edited.title, edited.body, edited.unlock_days, edited.file_name) == (
        "Loops, again",
        "",
        5,
        "slides.pdf",
    )
    kept = await catalog.edit_lesson(
        shop.community, shop.mei, "py101", 2, title="Loops", body="", unlock_days=5
    )
    assert kept.file_name == "slides.pdf"  # an empty text is fine while the lesson has its file
    replaced = await catalog.edit_lesson(
        shop.community,
        shop.mei,
        "py101",
        2,
        title="Loops",
        body="x",
        unlock_days=5,
        file=Attachment("b.pdf", b"2"),
    )
    assert replaced.file_name == "b.pdf" and len(await catalog.lessons(shop.course)) == 2
