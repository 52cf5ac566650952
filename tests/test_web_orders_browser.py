"""The Orders and Referrals pages in a real headless Chromium, as a creator uses them: find the
order, review what a refund takes back, confirm it, and see the clawback in the learner's /points
in the chat; every page usable at 375 px."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from tests.browser import horizontal_overflow
from tests.web_fixtures import WebWorld

PHONE = {"width": 375, "height": 740}


def _base(world: WebWorld) -> str:
    return str(world.client.make_url("")).rstrip("/")


async def points_of(world: WebWorld, name: str) -> int:
    text = await world.console.text(f":as {name}", ":dm", "/points")
    found = re.search(r"Points: (\d+)", text)
    assert found, text
    return int(found.group(1))


async def test_a_creator_refunds_an_order_and_the_points_come_back_out_of_points(
    world: WebWorld, page: Page
) -> None:
    await world.console(
        ":as Mei creator",
        "/course add py101 19.99 USD Python for data analysis",
        ":as Ana",
        "/buy py101",
        ":pay",
    )
    assert await points_of(world, "Ana") == 19  # the purchase's points
    base = _base(world)
    await page.goto(base + urlsplit(await world.link("Mei", "creator")).path)

    await page.get_by_role("link", name="Orders").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Orders")
    await page.get_by_label("State").select_option("fulfilled")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#orders tbody tr")).to_have_count(1)
    await page.set_viewport_size(PHONE)
    assert await horizontal_overflow(page) == 0
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.get_by_role("link", name="1", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Order #1")
    await expect(page.locator("#timeline li")).to_have_count(3)  # ordered, paid, delivered

    # A refused amount: the core's words beside the field, nothing refunded.
    await page.get_by_label("Amount to refund").fill("50")
    await page.get_by_role("button", name="Review the refund").click()
    await expect(page.locator("#refund-error")).to_have_text("Order 1 can be refunded at most $19.99.")

    await page.get_by_label("Amount to refund").fill("")  # all of it
    await page.get_by_role("button", name="Review the refund").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Refund $19.99 of order #1?")
    await expect(page.locator("#clawbacks li")).to_have_text(["19 purchase points from Ana"])
    await page.set_viewport_size(PHONE)
    assert await horizontal_overflow(page) == 0
    await page.get_by_role("button", name="Confirm the refund").click()

    await expect(page.locator("#done")).to_have_text("Refunded $19.99 of order #1.")
    await expect(page.locator("#state")).to_have_text("refunded")
    await expect(page.locator("#timeline li")).to_have_count(4)
    await expect(page.locator("#nothing-left")).to_be_visible()
    assert await horizontal_overflow(page) == 0
    assert await points_of(world, "Ana") == 0  # clawed back, as /points shows it
    assert await world.console.text(":as Ana", "/learn py101") == "\n".join(
        ["(you are Ana, learner, in dm)", "bot> You do not own Python for data analysis yet: /buy py101"]
    )


async def test_the_referrals_page_sets_a_rate_and_fits_a_phone(world: WebWorld, page: Page) -> None:
    await world.console(":as Mei creator", "/course add py101 19.99 USD Python for data analysis")
    base = _base(world)
    await page.set_viewport_size(PHONE)
    await page.goto(base + urlsplit(await world.link("Mei", "creator")).path)
    await page.goto(base + "/dashboard/referrals")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Referrals")
    await page.get_by_label("Product").select_option("py101")
    await page.get_by_label("Level 1 (the buyer's referrer)").fill("10")
    await page.get_by_label("Level 2 (their referrer)").fill("95")
    await page.get_by_role("button", name="Set the rate").click()
    await expect(page.locator("#error-level2")).to_have_text("Both levels together are at most 100%.")
    assert await horizontal_overflow(page) == 0
    await page.get_by_label("Level 2 (their referrer)").fill("5")
    await page.get_by_role("button", name="Set the rate").click()
    await expect(page.locator("#done")).to_have_text(
        "Referrers now earn 10% on py101, and their own referrers 5%."
    )
    await expect(page.locator("#rate-py101")).to_be_visible()
    assert await horizontal_overflow(page) == 0
