"""Checkout in a real headless Chromium: from the course page a signed-in learner presses Buy,
enters a coupon, pays in the demo's sandbox, and the order page shows the delivery (the chat is
told too); and inside Telegram's Mini App a Stars order opens its invoice in place (the
``web_app_open_invoice`` event Telegram's apps receive), reloading once Telegram says it is
paid. At 375 px nothing scrolls sideways."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from playwright.async_api import Page, expect

from core.catalog.money import STARS
from core.clock import ManualClock
from core.i18n import msg
from core.orders.models import Checkout, Order
from tests.browser import horizontal_overflow
from tests.learner_fixtures import web_link
from tests.mini_app_fixtures import init_data
from tests.web_fixtures import WebWorld

PHONE = {"width": 375, "height": 740}


def base_of(world: WebWorld) -> str:
    return str(world.client.make_url("")).rstrip("/")


async def test_a_learner_buys_from_the_course_page_with_a_coupon_and_the_sandbox(
    learners: WebWorld, page: Page
) -> None:
    await learners.console(":as Mei", "/course add sql201 10 USD SQL in practice", "/coupon add SPRING15 15%")
    community = await learners.app.community()
    mei = await learners.app.services.members.find_by_identity(community.id, "console", "mei")
    assert mei is not None
    await learners.app.services.catalog.add_lesson(community, mei, "sql201", "Select", "SELECT 1;")
    base = base_of(learners)
    await page.set_viewport_size(PHONE)
    await page.goto(base + await web_link(learners, "Ana"))
    await page.wait_for_url(base + "/me")

    await page.goto(base + "/c/sql201")
    await page.get_by_role("link", name="Buy").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Checkout: SQL in practice")
    assert await horizontal_overflow(page) == 0
    await page.get_by_label("Coupon code (optional)").fill("nope")
    await page.get_by_role("button", name="Continue to payment").click()
    await expect(page.locator("#error")).to_have_text("There is no coupon nope.")
    await page.get_by_label("Coupon code (optional)").fill("spring15")
    await page.get_by_role("button", name="Continue to payment").click()

    await expect(page.locator("#amount")).to_contain_text("$8.50")
    await expect(page.locator("#status")).to_have_text("awaiting payment")
    assert await horizontal_overflow(page) == 0
    before = len(learners.console.printed())
    await page.get_by_role("button", name="Pay (sandbox)").click()
    await expect(page.locator("#status")).to_have_text("delivered")
    assert "Payment received for order" in "\n".join(learners.console.printed()[before:])

    await page.get_by_role("link", name="Start learning: SQL in practice").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Lesson 1 of 1: Select")


async def test_inside_the_mini_app_a_stars_invoice_opens_in_place(
    learners: WebWorld, page: Page, clock: ManualClock
) -> None:
    learners.app.services.orders.register(InvoiceLinks(), first=True)
    await learners.console(":as Mei", "/course add stars1 50 XTR Prompting basics")
    base = base_of(learners)
    # What Telegram's apps provide: the event bridge the page posts to.
    await page.add_init_script(
        "window.sent = [];"
        "window.TelegramWebviewProxy = {"
        "  postEvent: function (t, d) { window.sent.push([t, JSON.parse(d)]); }"
        "};"
    )
    await page.goto(
        f"{base}/learn/app#tgWebAppData={quote(init_data(signed_at=clock.now()))}&tgWebAppVersion=8.0"
    )
    await page.wait_for_url(base + "/me")
    await page.goto(base + "/buy/stars1")
    await page.get_by_role("button", name="Continue to payment").click()
    await page.get_by_role("button", name="Pay 50 ⭐").click()

    # Polled from here: wait_for_function evaluates its predicate with eval when it is not true at
    # once, which the page's CSP (rightly) refuses.
    for _ in range(200):
        if await page.evaluate("window.sent.length"):
            break
        await asyncio.sleep(0.05)
    assert await page.evaluate("window.sent") == [["web_app_open_invoice", {"slug": "Inv-1"}]]
    assert page.url.startswith(base + "/me/orders/")  # still in the app, not off to t.me
    await page.evaluate(
        "window.Telegram.WebView.receiveEvent('invoice_closed', {slug: 'Inv-1', status: 'paid'})"
    )
    await expect(page.locator("#stars-paid")).to_be_visible()


class InvoiceLinks:
    """Telegram Stars as the web sees it: an invoice link per order (the Bot API's
    createInvoiceLink is covered against recorded Bot API shapes in test_telegram_stars)."""

    name = "stars"

    def accepts(self, currency: str) -> bool:
        return currency == STARS

    async def start(self, order: Order) -> Checkout:
        return Checkout(msg("Pay"))

    async def start_on_web(self, order: Order, *, in_wechat: bool = False) -> Checkout:
        return Checkout(msg("Pay"), url="https://t.me/$Inv-1")

    async def refund(self, order: Order, amount_minor: int) -> str:
        return "refund"
