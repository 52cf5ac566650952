"""A course page in a real headless Chromium, as a visitor (or a crawler that runs scripts)
sees it: its title, OpenGraph tags and JSON-LD as the browser parsed them, the preview card,
the switch to Chinese, and no sideways scrolling at 375 px."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser import horizontal_overflow
from tests.course_page_fixtures import Hall

PHONE = {"width": 375, "height": 740}
BASE = "https://learn.example.org"  # the public URL the fixture configures


async def test_a_visitor_reads_a_course_page_and_switches_to_chinese(hall: Hall, page: Page) -> None:
    base = str(hall.world.client.make_url("")).rstrip("/")
    response = await page.goto(f"{base}/c/py101")
    assert response is not None and response.status == 200

    await expect(page).to_have_title("Python for data · testhall")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Python for data")
    og_image = await page.locator('meta[property="og:image"]').get_attribute("content")
    assert og_image == f"{BASE}/c/py101/card.png"
    data = await page.evaluate(
        "JSON.parse(document.querySelector('script[type=\"application/ld+json\"]').textContent)"
    )
    assert data["@type"] == "Course" and data["offers"]["price"] == "19.99"
    assert data["aggregateRating"]["ratingCount"] == 2
    await expect(page.locator("ol.lessons li")).to_have_count(2)
    await expect(page.locator("ol.lessons li").nth(1)).to_contain_text("opens 2 days after you buy it")
    await expect(page.locator(".description strong")).to_have_text("pandas")
    assert await page.locator(".description script, .description img").count() == 0

    await page.set_viewport_size(PHONE)
    assert await horizontal_overflow(page) == 0

    await page.get_by_role("link", name="中文").click()
    await expect(page.get_by_role("heading", level=2, name="课时")).to_be_visible()
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"

    card = await page.goto(f"{base}/c/py101/card.png")
    assert card is not None and card.status == 200 and card.headers["content-type"] == "image/png"


async def test_a_hidden_course_is_a_not_found_page(hall: Hall, page: Page) -> None:
    base = str(hall.world.client.make_url("")).rstrip("/")
    response = await page.goto(f"{base}/c/draft1")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("alert")).to_have_text(
        "There is no such course here. It may have been hidden or renamed."
    )
