"""The Catalog pages in a real headless Chromium, as a creator uses them: add a course, write a
Markdown lesson, preview it, save it — then the chat's /courses lists the course and /learn
shows the lesson's text. A refusal appears beside its field. Usable at 375 px."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, expect

from tests.browser import horizontal_overflow
from tests.web_fixtures import WebWorld

LESSON = "# Reading CSV\n\n- open the file\n- read it with **pandas**\n"
PHONE = {"width": 375, "height": 740}


async def sign_in(world: WebWorld, page: Page) -> str:
    base = str(world.client.make_url("")).rstrip("/")
    await page.goto(base + urlsplit(await world.link("Mei", "creator")).path)
    await page.wait_for_url(base + "/dashboard")
    return base


async def test_a_creator_adds_a_course_with_a_markdown_lesson(world: WebWorld, page: Page) -> None:
    await sign_in(world, page)
    await page.get_by_role("link", name="Catalog").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")

    form = page.locator("#add-course")
    await form.get_by_label("Code", exact=True).fill("py101")
    await form.get_by_label("Title", exact=True).fill("Python for data")
    await form.get_by_label("Price", exact=True).fill("19.999")
    await form.get_by_label("Currency code", exact=True).fill("USD")
    await form.get_by_label("Description", exact=True).fill("Hands-on.")
    await form.get_by_role("button", name="Add").click()
    await expect(page.locator("#error-price")).to_have_text("USD has 2 decimals; 19.999 has more.")
    await expect(page.locator("#add-course").get_by_label("Title", exact=True)).to_have_value(
        "Python for data"
    )

    await page.locator("#add-course").get_by_label("Price", exact=True).fill("19.99")
    await page.locator("#add-course").get_by_role("button", name="Add").click()
    await expect(page.locator("#saved")).to_have_text("Saved: py101.")
    await expect(page.locator("#state")).to_contain_text("$19.99")

    await page.get_by_role("link", name="Add a lesson").click()
    await page.get_by_label("Title", exact=True).fill("CSV")
    await page.get_by_label("Text (Markdown)", exact=True).fill(LESSON)
    preview = page.locator("#preview")
    await expect(preview.get_by_role("heading", name="Reading CSV")).to_be_visible()  # live, as typed
    await page.get_by_role("button", name="Preview").click()
    await expect(preview.get_by_role("heading", name="Reading CSV")).to_be_visible()
    await expect(preview.locator("li")).to_have_count(2)
    await expect(preview.locator("strong")).to_have_text("pandas")
    await expect(page.get_by_label("Text (Markdown)", exact=True)).to_have_value(LESSON)
    await page.set_viewport_size(PHONE)
    assert await horizontal_overflow(page) == 0

    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#saved")).to_have_text("Saved: py101 #1.")
    await page.get_by_role("link", name="Python for data").click()
    await expect(page.locator("#lessons li")).to_have_count(1)
    assert await horizontal_overflow(page) == 0

    assert "py101  Python for data · $19.99" in await world.console.text(":as Ana", "/courses")
    text = await world.console.text(":as Ana", "/buy py101", ":pay", "/learn py101")
    assert "Lesson 1 of 1: CSV" in text and "# Reading CSV" in text and "- read it with **pandas**" in text


async def test_the_other_catalog_pages_at_phone_width(world: WebWorld, page: Page) -> None:
    base = await sign_in(world, page)
    await page.set_viewport_size(PHONE)
    for section, heading in (
        ("bundles", "Bundles"),
        ("plans", "Plans"),
        ("coupons", "Coupons"),
        ("mall", "Mall"),
    ):
        await page.goto(f"{base}/dashboard/catalog/{section}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        assert await horizontal_overflow(page) == 0, section

    form = page.locator("#add-form")
    await form.get_by_label("Code", exact=True).fill("mug")
    await form.get_by_label("Points", exact=True).fill("50")
    await form.get_by_label("Title", exact=True).fill("A mug")
    await form.get_by_label("Stock", exact=True).fill("2000000")
    await form.get_by_role("button", name="Add").click()
    await expect(page.locator("#error-stock")).to_have_text("Stock is 0 to 1000000, or unlimited.")
    await page.locator("#add-form").get_by_label("Stock", exact=True).fill("5")
    await page.locator("#add-form").get_by_role("button", name="Add").click()
    await expect(page.locator("#saved")).to_have_text("Saved: mug.")
    await expect(page.locator("#item-mug")).to_contain_text("A mug")
    assert await horizontal_overflow(page) == 0
    assert "mug  A mug · 50 · 5 left" in await world.console.text(":as Ana", "/mall")


async def test_the_preview_button_works_without_javascript(world: WebWorld, browser: Browser) -> None:
    await world.console(":as Mei creator", "/course add py101 19.99 USD Python")
    context = await browser.new_context(java_script_enabled=False)
    try:
        page = await context.new_page()
        base = await sign_in(world, page)
        await page.goto(base + "/dashboard/catalog/courses/py101/lessons/new")
        await expect(page.locator("#preview")).to_be_hidden()
        await page.get_by_label("Title", exact=True).fill("CSV")
        await page.get_by_label("Text (Markdown)", exact=True).fill(LESSON + "\n<img src=x onerror=alert(1)>")
        await page.get_by_role("button", name="Preview").click()
        preview = page.locator("#preview")
        await expect(preview.get_by_role("heading", name="Reading CSV")).to_be_visible()
        await expect(preview.locator("li")).to_have_count(2)
        await expect(preview.locator("img")).to_have_count(0)
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator("#saved")).to_have_text("Saved: py101 #1.")
    finally:
        await context.close()
