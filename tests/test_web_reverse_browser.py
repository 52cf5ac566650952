"""Correcting an award from the Audit log in a real headless Chromium: Correct, the confirmation
showing what will be reversed, the reason, done; the member's /points shows it; 375 px wide."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from tests.browser import horizontal_overflow
from tests.web_fixtures import WebWorld


async def test_a_creator_corrects_an_award_from_the_audit_log(world: WebWorld, page: Page) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start", ":as Mei", "/award @Ana 30 nice work")
    base = str(world.client.make_url("")).rstrip("/")
    await page.set_viewport_size({"width": 375, "height": 740})
    await page.goto(base + urlsplit(await world.link("Mei")).path)
    await page.goto(base + "/dashboard/audit")
    assert await horizontal_overflow(page) == 0
    await page.get_by_role("link", name="Correct").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Correct a transfer")
    await expect(page.locator("#transfer-amount")).to_have_text("+30")
    assert await horizontal_overflow(page) == 0
    await page.get_by_label("Reason").fill("given twice")
    await page.get_by_role("button", name="Reverse this transfer").click()
    await expect(page.locator("#done")).to_contain_text("reversed by")
    assert await horizontal_overflow(page) == 0
    chat = await world.console.text(":as Ana", ":dm", "/points")
    assert "Points: 0" in chat, chat
