"""The lesson reader in a real headless Chromium, as the issue's walk-through goes: a learner who
bought py101 in the chat (the sandbox) reads lesson 1 in the browser, finds lesson 2 closed until
its drip day, comes back when the clock has moved, marks it done, and /mycourses in the console
shows the progress. At 375 px nothing scrolls sideways."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import Page, expect

from core.clock import ManualClock
from tests.browser import horizontal_overflow
from tests.learner_fixtures import web_link
from tests.web_fixtures import WebWorld

PHONE = {"width": 375, "height": 740}


async def test_a_buyer_reads_lesson_1_waits_for_lesson_2_and_marks_it_done(
    learners: WebWorld, page: Page, clock: ManualClock
) -> None:
    bought = await learners.console.text(":as Cai", ":dm", "/buy py101", ":pay")
    assert "It is yours now" in bought, bought
    base = str(learners.client.make_url("")).rstrip("/")
    await page.set_viewport_size(PHONE)
    await page.goto(base + await web_link(learners, "Cai"))
    await page.wait_for_url(base + "/me")

    await page.get_by_role("link", name="Python for data analysis", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Lesson 1 of 2: Setup")
    await expect(page.locator(".lesson")).to_contain_text("Install Python and pandas.")
    await page.get_by_role("button", name="Mark as done").click()
    await expect(page.locator("#done")).to_have_text("✓ Done")
    assert await horizontal_overflow(page) == 0

    await page.get_by_role("link", name="Next lesson").click()
    await expect(page.locator("#opens")).to_contain_text("This lesson opens on")
    await expect(page.get_by_role("button", name="Mark as done")).to_have_count(0)

    clock.advance(timedelta(days=2))
    await page.reload()
    await expect(page.locator(".lesson")).to_contain_text("for x in range(3): print(x)")
    await page.get_by_role("button", name="Mark as done").click()
    await expect(page.locator("#finished")).to_have_text(
        "You have finished Python for data analysis. Well done!"
    )

    mine = await learners.console.text(":as Cai", ":dm", "/mycourses")
    assert "py101  Python for data analysis · 2 of 2 lessons done" in mine
