"""Lesson versions and drafts in a real headless Chromium: the owner reviews a moderator's draft
(written in chat with content.review on) on the Drafts page, sees its diff, approves it, and
the lesson's page lists both versions; the older one's page restores it. Usable at 375 px."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from tests.browser import horizontal_overflow
from tests.web_fixtures import WebWorld

PHONE = {"width": 375, "height": 740}


async def test_the_owner_approves_a_draft_then_restores_the_old_version(world: WebWorld, page: Page) -> None:
    await world.console(
        ":as Mei creator",
        "/course add py101 19.99 USD Python",
        "/lesson add py101 Setup | Install Python.",
        "/rules set content.review on",
        ":as Sam moderator",
        "/lesson edit py101 1 Setup | Install Python 3.13 with uv.",
    )
    base = str(world.client.make_url("")).rstrip("/")
    await page.set_viewport_size(PHONE)
    await page.goto(base + urlsplit(await world.link("Mei")).path)
    await page.wait_for_url(base + "/dashboard")

    await page.goto(base + "/dashboard/catalog/drafts")
    await page.locator("table a").first.click()
    await expect(page.locator("#state")).to_have_text("draft, waiting for review")
    await expect(page.locator("#diff .removed")).to_have_text("- Install Python.")
    await expect(page.locator("#diff .added")).to_have_text("+ Install Python 3.13 with uv.")
    assert await horizontal_overflow(page) == 0
    await page.get_by_role("button", name="Approve and publish").click()
    await expect(page.locator("#done")).to_have_text("Approved: learners read it now.")
    await expect(page.locator("#state")).to_have_text("published")

    await page.goto(base + "/dashboard/catalog/courses/py101/lessons/1")
    versions = page.locator("#versions tbody tr")
    await expect(versions).to_have_count(2)
    await versions.nth(1).get_by_role("link").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Version \d+: Setup"))
    await page.get_by_role("button", name="Restore this version").click()
    await expect(page.locator("#done")).to_contain_text("Restored")
    learned = await world.console.text(":as Ana", "/buy py101", ":pay", "/learn py101")
    assert "bot> Install Python." in learned and "3.13" not in learned
