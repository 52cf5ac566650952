"""The Pushes page in a real headless Chromium, as a creator uses it: compose a push to a
segment, preview who it reaches, send a test to herself, confirm; the pushes job delivers it
to the members on the console. (Page logic is tested in test_web_pushes.)"""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, expect

from tests.browser import horizontal_overflow
from tests.web_fixtures import WebWorld


async def narrow_fits(page: Page) -> None:
    await page.set_viewport_size({"width": 375, "height": 740})
    assert await horizontal_overflow(page) == 0
    await page.set_viewport_size({"width": 1280, "height": 800})


async def test_a_creator_pushes_to_a_segment_and_the_members_get_it(world: WebWorld, page: Page) -> None:
    await world.console(":as Ana", "/start", ":as Ben", "/start", ":as Li", "/start", "/mute")
    await world.app.services.analytics.run(await world.app.community())  # the segments of today
    base = str(world.client.make_url("")).rstrip("/")
    await page.goto(base + urlsplit(await world.link("Mei", "creator")).path)
    await page.get_by_role("link", name="Pushes").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Pushes")
    await narrow_fits(page)

    await page.get_by_label("Segment").fill("nosuch")  # the preview follows as one types
    await expect(page.locator("#reach")).to_have_text("There is no segment nosuch. /segments lists them.")
    await page.get_by_label("Segment").fill("new")
    await expect(page.locator("#reach-console td")).to_have_text("2")
    await page.get_by_label("Text", exact=True).fill("Live class tonight at 8")
    await page.get_by_role("button", name="Preview recipients").click()  # and without script
    await expect(page.locator("#reach-console td")).to_have_text("2")  # Ana and Ben
    await expect(page.locator("#reach-muted td")).to_have_text("1")  # Li
    await expect(page.get_by_label("Text", exact=True)).to_have_value("Live class tonight at 8")
    await narrow_fits(page)

    await page.get_by_role("button", name="Review before sending").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("#1 · new")
    await expect(page.locator("#push-status")).to_have_text("draft, not confirmed")
    await page.get_by_role("button", name="Send a test to me").click()
    await expect(page.locator("#notice")).to_have_text("The test was sent to you on console.")
    assert world.console._output[-1] == "bot> Live class tonight at 8"  # to Mei, who the console is
    await narrow_fits(page)

    await page.get_by_role("button", name="Confirm and send").click()
    await expect(page.locator("#push-status")).to_have_text("scheduled")
    assert await world.console(":clock +1m") == [
        "bot→Ana> Live class tonight at 8",
        "bot→Ben> Live class tonight at 8",
        "(sandbox time 2026-01-05 09:01 UTC; jobs run: orders, pushes)",
    ]
    await page.reload()
    await expect(page.locator("#push-status")).to_have_text("done")
    await expect(page.locator("#count-sent")).to_have_text("2")
    await expect(page.locator("#count-skipped")).to_have_text("1")
    await page.get_by_role("link", name="All pushes").click()
    await expect(page.locator("#push-1 .sent")).to_have_text("2")
    await narrow_fits(page)


async def test_a_refusal_shows_beside_its_field_and_automations_fit_a_phone(
    world: WebWorld, page: Page
) -> None:
    base = str(world.client.make_url("")).rstrip("/")
    await page.goto(base + urlsplit(await world.link("Mei", "creator")).path)
    await page.goto(base + "/dashboard/pushes")
    await page.get_by_label("Segment").fill("nosuch")
    await page.get_by_label("Text", exact=True).fill("Hello")
    await page.get_by_role("button", name="Review before sending").click()
    await expect(page.locator("#error-segment")).to_have_text(
        "There is no segment nosuch. /segments lists them."
    )
    await narrow_fits(page)

    await page.get_by_role("link", name="Automations").click()
    item = page.locator("#auto-winback")
    await item.get_by_label("Your text").fill("Come back soon!")
    await item.get_by_role("button", name="Save").click()
    await expect(page.locator("#auto-winback").get_by_label("Your text")).to_have_value("Come back soon!")
    switch = page.locator("#switch-push-welcome")
    await switch.get_by_label("Welcome sequence (day 0, 1, 3)").select_option("on")
    await switch.get_by_role("button", name="Save").click()
    await expect(page.locator("#switch-push-welcome select")).to_have_value("on")
    await narrow_fits(page)
    assert "Come back soon!" in await world.console.text(":as Mei", ":dm", "/push auto")


async def test_without_javascript_the_preview_button_shows_the_recipients(
    world: WebWorld, browser: Browser
) -> None:
    await world.console(":as Ana", "/start", ":as Li", "/start", "/mute")
    base = str(world.client.make_url("")).rstrip("/")
    context = await browser.new_context(java_script_enabled=False, locale="en-US")
    try:
        page = await context.new_page()
        await page.goto(base + urlsplit(await world.link("Mei", "creator")).path)
        await page.goto(base + "/dashboard/pushes")
        await page.get_by_label("Segment").fill("all")
        await expect(page.locator("#reach")).to_be_empty()
        await page.get_by_role("button", name="Preview recipients").click()
        await expect(page.locator("#reach-console td")).to_have_text("1")
        await expect(page.locator("#reach-muted td")).to_have_text("1")
    finally:
        await context.close()
