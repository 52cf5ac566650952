"""The Members page in a real headless Chromium: a creator finds a member, awards points with a
reason, and the member's /points in the chat shows them; both pages fit a 375 px screen."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from tests.browser import horizontal_overflow
from tests.web_fixtures import WebWorld


async def test_a_creator_finds_a_member_and_awards_points(world: WebWorld, page: Page) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start", ":as Ben", "/start")
    base = str(world.client.make_url("")).rstrip("/")
    await page.goto(base + urlsplit(await world.link("Mei")).path)
    await page.get_by_role("link", name="Members").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    await expect(page.locator("#members tbody tr")).to_have_count(3)

    await page.get_by_label("Name or account id").fill("an")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#members tbody tr")).to_have_count(1)
    await page.set_viewport_size({"width": 375, "height": 740})
    assert await horizontal_overflow(page) == 0
    await page.get_by_role("link", name="Ana", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ana")

    points = page.locator("#points")
    await points.get_by_label("Points").fill("25")
    await points.get_by_role("button", name="Award").click()  # no reason: refused beside it
    await expect(points.locator("#error-reason")).to_have_text("Please give a reason.")
    await points.get_by_label("Reason").fill("great notes")
    await points.get_by_role("button", name="Award").click()
    await expect(page.locator("#done")).to_have_text("Points awarded.")
    await expect(page.locator("#balance")).to_have_text("25")
    await expect(page.locator("#history")).to_contain_text("great notes")
    assert await horizontal_overflow(page) == 0

    chat = await world.console.text(":as Ana", ":dm", "/points")
    assert "Points: 25" in chat, chat
