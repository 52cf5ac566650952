"""web/dashboard/orders.py over HTTP: the filtered list and its keyset pages, the CSV, an order's
timeline, and refunds behind a confirmation whose preview is what the refund then does."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from bot.adapters.console.session import ConsoleSession
from core.clock import ManualClock
from tests.conftest import ConsoleDriver, console_member, snapshot
from tests.web_fixtures import WebWorld, new_key
from web.auth import LANG_COOKIE
from web.dashboard import orders as orders_page

SHOP = (
    ":as Mei creator",
    "/course add py101 19.99 USD Python for data analysis",
    "/course add ml201 29.99 USD Machine learning",
)
# Tables a page view or a refused form may touch without changing anything a creator sees.
VOLATILE = ("activity", "job_runs", "web_sessions", "web_form_keys")


async def shop(world: WebWorld, clock: ManualClock) -> None:
    """Order 1: Ana, py101, paid; 2: Ben, ml201, left pending; 3: Cy, py101, paid — a day apart."""
    await world.console(*SHOP, ":as Ana", "/buy py101", ":pay")
    clock.advance(timedelta(days=1))
    await world.console(":as Ben", "/buy ml201")
    clock.advance(timedelta(days=1))
    await world.console(":as Cy", "/buy py101", ":pay")


def ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr id="order-(\d+)">', html)]


async def get(world: WebWorld, path: str) -> tuple[int, str]:
    response = await world.client.get(path)
    return response.status, await response.text()


def field_error(html: str) -> str:
    found = re.search(r'id="refund-error">([^<]*)<', html)
    assert found, html
    return found.group(1)


# -- the list ----------------------------------------------------------------------------------


async def test_the_list_shows_each_order_newest_first_and_filters(
    world: WebWorld, clock: ManualClock
) -> None:
    await shop(world, clock)
    await world.sign_in("Mei")
    status, html = await get(world, "/dashboard/orders")
    assert status == 200 and ids(html) == [3, 2, 1]
    row = re.search(r'<tr id="order-1">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[1:] == [
        "2026-01-05 09:00",  # in the community's zone
        "Ana",
        "Python for data analysis",
        "$19.99",
        "sandbox",
        "delivered",
    ]
    assert '<a href="/dashboard/orders/1">1</a>' in cells[0]
    assert ids((await get(world, "/dashboard/orders?state=pending"))[1]) == [2]
    assert ids((await get(world, "/dashboard/orders?state=fulfilled"))[1]) == [3, 1]
    assert ids((await get(world, "/dashboard/orders?provider=sandbox"))[1]) == [3, 2, 1]
    assert ids((await get(world, "/dashboard/orders?provider=stripe"))[1]) == []
    community = await world.app.community()
    py101 = await world.app.services.catalog.course(community, "py101")
    assert ids((await get(world, f"/dashboard/orders?product=course:{py101.id}"))[1]) == [3, 1]
    assert ids((await get(world, "/dashboard/orders?from=2026-01-06&to=2026-01-06"))[1]) == [2]
    assert ids((await get(world, "/dashboard/orders?from=2026-01-06"))[1]) == [3, 2]
    assert ids((await get(world, "/dashboard/orders?to=2026-01-05"))[1]) == [1]
    status, html = await get(world, "/dashboard/orders?from=2026-13-45")
    assert status == 400 and 'id="error-from">Write a date like 2026-01-31.<' in html and ids(html) == []


async def test_pages_are_keyed_on_the_last_order_and_keep_the_filters(
    world: WebWorld, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orders_page, "PAGE", 2)
    await world.console(*SHOP)
    for name in ("Ana", "Ben", "Cy", "Dee", "Eve"):
        await world.console(f":as {name}", "/buy py101", ":pay")
    await world.console(":as Fay", "/buy py101")  # pending: filtered out below
    await world.sign_in("Mei")
    html = (await get(world, "/dashboard/orders?state=fulfilled"))[1]
    assert ids(html) == [5, 4]
    older = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert older == "/dashboard/orders?state=fulfilled&before=4"
    html = (await get(world, older))[1]
    assert ids(html) == [3, 2] and 'id="newest"' in html
    html = (await get(world, "/dashboard/orders?state=fulfilled&before=2"))[1]
    assert ids(html) == [1] and 'rel="next"' not in html


async def test_the_csv_is_the_filtered_list(
    world: WebWorld, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.orders.listing.BATCH", 2)  # several batches, streamed
    await shop(world, clock)
    await world.console(":as -Evil", "/buy py101", ":pay")
    await world.sign_in("Mei")
    response = await world.client.get("/dashboard/orders.csv?state=fulfilled")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == orders_page.CSV_HEADER
    assert [(r[0], r[3], r[6], r[7], r[11]) for r in rows[1:]] == [
        ("4", "'-Evil", "19.99", "USD", "fulfilled"),  # not a formula in a spreadsheet
        ("3", "Cy", "19.99", "USD", "fulfilled"),
        ("1", "Ana", "19.99", "USD", "fulfilled"),
    ]
    assert rows[-1][1] == "2026-01-05T09:00:00+00:00"


# -- one order, and refunds ----------------------------------------------------------------------


async def test_the_timeline_shows_payment_delivery_and_refunds_with_provider_ids(
    world: WebWorld, clock: ManualClock
) -> None:
    await shop(world, clock)
    clock.advance(timedelta(hours=1))
    await world.console(":as Mei", "/refund 1 5")
    await world.sign_in("Mei")
    status, html = await get(world, "/dashboard/orders/1")
    assert status == 200 and "<h1>Order #1</h1>" in html
    steps = re.findall(r"<strong>([^<]+)</strong> · <time>([^<]+)</time>", html)
    assert steps == [
        ("Ordered", "2026-01-05 09:00"),
        ("Paid", "2026-01-05 09:00"),
        ("Delivered", "2026-01-05 09:00"),
        ("Refunded", "2026-01-07 10:00"),
    ]
    order = await world.app.services.orders.get(1)
    assert f"<code>{order.provider_ref}</code>" in html
    assert "<code>sandbox-refund:1:500</code>" in html
    assert "+19 purchase points" in html and "by Mei · via chat command" in html
    assert re.search(r'id="refunded">\$5\.00<', html)
    # A pending order has nothing to refund: no form.
    html = (await get(world, "/dashboard/orders/2"))[1]
    assert 'id="refund-form"' not in html and "Order 2 has nothing left to refund." in html
    status, html = await get(world, "/dashboard/orders/2/refund")  # typed in by hand: still refused
    assert status == 400 and field_error(html) == "Order 2 has nothing left to refund."


async def test_the_pages_speak_chinese(world: WebWorld, clock: ManualClock) -> None:
    await shop(world, clock)
    await world.sign_in("Mei")
    world.client.session.cookie_jar.update_cookies({LANG_COOKIE: "zh_CN"})
    for path, heading in (
        ("/dashboard/orders", "订单"),
        ("/dashboard/orders/1", "订单 #1"),
        ("/dashboard/orders/1/refund?amount=5", "退还订单 #1 的 US$5.00？"),
    ):
        status, html = await get(world, path)
        assert status == 200 and f"<h1>{heading}</h1>" in html, html
    assert "已交付" in (await get(world, "/dashboard/orders"))[1]


async def referred_purchase(world: WebWorld) -> None:
    """Omar invited Ana; Ana buys py101 (10% commission) as her first order: order 1."""
    await world.console(":as Mei creator", "/course add py101 19.99 USD Python", "/commission set py101 10%")
    out = await world.console(":as Omar", "/ref")
    code = re.search(r"/start (ref_[a-z0-9]{8})", out[1]).group(1)  # type: ignore[union-attr]
    await world.console(":as Ana", f"/start {code}", "/buy py101", ":pay")


async def test_the_preview_shows_what_the_refund_then_takes_back(world: WebWorld) -> None:
    await referred_purchase(world)
    services = world.app.services
    community = await world.app.community()
    mei = await console_member(world.app, "Mei")
    ana, omar = await console_member(world.app, "Ana"), await console_member(world.app, "Omar")
    await world.sign_in("Mei")

    status, html = await get(world, "/dashboard/orders/1/refund?amount=5")
    assert status == 200 and "<h1>Refund $5.00 of order #1?</h1>" in html
    preview = await services.orders.refund_preview(community, mei, 1, 500)
    assert re.findall(r"<li>([^<]+)</li>", html.split('id="clawbacks"')[1]) == [
        "4 purchase points from Ana",
        "$0.49 of Omar&#39;s level 1 commission (cancelled: it is still held)",
    ]
    ana_before = (await services.points.ledger.balance(community.id, ana.id)).balance

    fields = await world.fields("/dashboard/orders/1/refund?amount=5")
    posted = await world.client.post(
        "/dashboard/orders/1/refund", data={**fields, "amount": "5"}, allow_redirects=False
    )
    assert posted.status == 303 and posted.headers["Location"] == "/dashboard/orders/1?refunded=500"
    html = (await get(world, posted.headers["Location"]))[1]
    assert 'id="done">Refunded $5.00 of order #1.<' in html and "by Mei · via dashboard" in html
    # What the preview said is what happened: Ana's points, Omar's commission.
    [points] = [c for c in preview.clawbacks if c.what == "purchase_points"]
    assert (await services.points.ledger.balance(community.id, ana.id)).balance == ana_before - points.points
    [commission] = await services.commissions.history(omar)
    [share] = [c for c in preview.clawbacks if c.what == "commission"]
    assert share.money is not None and commission.reversed_minor == share.money.minor
    # The buyer is told, as /refund tells them (at the next send of notices).
    assert any(
        reply.to_member == ana.id and "refunded" in repr(reply) for _, reply in services.notices.take()
    )

    # The rest: a full refund takes back the remaining points, the commission and the course.
    status, html = await get(world, "/dashboard/orders/1/refund")
    assert "<h1>Refund $14.99 of order #1?</h1>" in html and 'id="full"' in html
    full = await services.orders.refund_preview(community, mei, 1, None)
    [reward] = [c for c in full.clawbacks if c.what == "referral_points"]  # Omar's first-purchase points
    assert reward.member_id == omar.id and reward.points > 0
    assert f"{reward.points} points Omar got when the buyer first bought" in html
    omar_before = (await services.points.ledger.balance(community.id, omar.id)).balance
    posted = await world.submit("/dashboard/orders/1/refund", "/dashboard/orders/1/refund", amount="")
    assert posted.status == 303
    omar_after = (await services.points.ledger.balance(community.id, omar.id)).balance
    assert omar_after == omar_before - reward.points
    [commission] = await services.commissions.history(omar)
    [share] = [c for c in full.clawbacks if c.what == "commission"]
    assert share.money is not None and commission.reversed_minor == 49 + share.money.minor == 199
    [points] = [c for c in full.clawbacks if c.what == "purchase_points"]
    assert points.points == 15
    assert (await services.points.ledger.balance(community.id, ana.id)).balance == ana_before - 4 - 15
    assert (await services.orders.get(1)).status.value == "refunded"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("50", "Order 1 can be refunded at most $19.99."),
        ("abc", "Write a price like 19.99 USD or 500 XTR."),
        ("0", "A price must be more than zero."),
        ("-3", "A price must be more than zero."),
        ("1.999", "USD has 2 decimals; 1.999 has more."),
    ],
)
async def test_a_refused_amount_is_shown_beside_the_field_and_nothing_changes(
    world: WebWorld, clock: ManualClock, typed: str, message: str
) -> None:
    await shop(world, clock)
    reply = (await world.console(":as Mei", f"/refund 1 {typed}"))[1]
    assert reply == f"bot> {message}"  # the command's own words
    await world.sign_in("Mei")
    before = await snapshot(world.app.db, exclude=VOLATILE)
    status, html = await get(world, f"/dashboard/orders/1/refund?amount={typed}")
    assert status == 400 and field_error(html) == message.replace("$", "$")
    assert f'value="{typed}"' in html and 'aria-invalid="true"' in html
    posted = await world.submit("/dashboard/orders/1", "/dashboard/orders/1/refund", amount=typed)
    assert posted.status == 400 and field_error(await posted.text()) == message
    assert await snapshot(world.app.db, exclude=VOLATILE) == before


async def test_a_double_submit_refunds_once(world: WebWorld, clock: ManualClock) -> None:
    await shop(world, clock)
    await world.sign_in("Mei")
    fields = await world.fields("/dashboard/orders/1/refund?amount=5")
    first = await world.client.post(
        "/dashboard/orders/1/refund", data={**fields, "amount": "5"}, allow_redirects=False
    )
    second = await world.client.post(
        "/dashboard/orders/1/refund", data={**fields, "amount": "5"}, allow_redirects=False
    )
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert (await world.app.services.orders.get(1)).refunded == 500
    fresh = {**fields, "form_key": new_key()}  # a new form: a second refund
    third = await world.client.post(
        "/dashboard/orders/1/refund", data={**fresh, "amount": "5"}, allow_redirects=False
    )
    assert third.status == 303 and (await world.app.services.orders.get(1)).refunded == 1000


async def test_a_moderator_is_refused_every_orders_page(world: WebWorld, clock: ManualClock) -> None:
    await shop(world, clock)
    await world.sign_in("Sam", "moderator")
    for path in (
        "/dashboard/orders",
        "/dashboard/orders.csv",
        "/dashboard/orders/1",
        "/dashboard/orders/1/refund",
    ):
        assert (await world.client.get(path)).status == 403, path
    html = await (await world.client.get("/dashboard")).text()
    assert 'href="/dashboard/orders"' not in html  # not in a moderator's menu
    csrf = await world.csrf("/dashboard")
    refused = await world.client.post(
        "/dashboard/orders/1/refund", data={"csrf": csrf, "form_key": new_key()}, allow_redirects=False
    )
    assert refused.status == 403 and (await world.app.services.orders.get(1)).refunded == 0


async def test_another_communitys_order_is_not_found(world: WebWorld, clock: ManualClock) -> None:
    output: list[str] = []
    session = await ConsoleSession.open(
        world.app, clock, community="otherhall", locale="en", write=output.append
    )
    other = ConsoleDriver(session, output)
    await other(":as Zed creator", "/course add go101 9.99 USD Go", ":as Yan", "/buy go101", ":pay")
    theirs = await world.app.services.orders.get(1)  # the only order so far
    assert theirs.community_id != (await world.app.community()).id
    await world.console(":as Mei creator")
    await world.sign_in("Mei")
    for path in (f"/dashboard/orders/{theirs.id}", f"/dashboard/orders/{theirs.id}/refund"):
        response = await world.client.get(path)
        assert response.status == 404, path
        assert "There is no order" in await response.text()
    fields = await world.fields("/dashboard/orders")  # the sign-out form's token and a key
    posted = await world.client.post(
        f"/dashboard/orders/{theirs.id}/refund", data=fields, allow_redirects=False
    )
    assert posted.status == 404 and (await world.app.services.orders.get(theirs.id)).refunded == 0
    assert ids((await get(world, "/dashboard/orders"))[1]) == []  # nor listed
    assert (await get(world, f"/dashboard/orders?before={theirs.id}"))[0] == 400
