"""The Q&A page in a real headless Chromium: a moderator signs in by the bot's link, finds the
reported question, tries to hide it without a reason (refused beside the field), hides it with
one, and learners in the chat no longer see it. Usable at 375 px."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from tests.browser import horizontal_overflow
from tests.web_fixtures import WebWorld


async def test_a_moderator_hides_a_reported_question(world: WebWorld, page: Page) -> None:
    await world.console(
        ":as Mei creator",
        ":as Ana",
        ":in lounge",
        "/ask How do I merge two DataFrames on a key?",
        "/ask Buy followers cheap here at my shop today",
        ":as Ben",
        "/report Q2 spam, selling followers",
    )
    assert "Buy followers" in await world.console.text(":as Ben", "/questions")
    base = str(world.client.make_url("")).rstrip("/")
    await page.goto(base + urlsplit(await world.link("Sam", "moderator")).path)
    await page.get_by_role("link", name="Q&A").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Q&A")
    await page.get_by_role("link", name="Reported").click()
    await expect(page.locator("#questions li")).to_have_count(1)
    await page.get_by_role("link", name="#2 Buy followers cheap here at my shop today").click()
    await expect(page.locator("#reports")).to_contain_text("spam, selling followers")

    question = page.locator("#question")
    await page.set_viewport_size({"width": 375, "height": 740})
    assert await horizontal_overflow(page) == 0
    # Without a reason: refused beside the field (the browser's own check is bypassed to reach
    # the server's), nothing hidden.
    await question.get_by_label("Reason").evaluate("field => field.removeAttribute('required')")
    await question.get_by_role("button", name="Hide").click()
    await expect(question.get_by_role("alert")).to_have_text("Say why it is hidden.")
    assert "Buy followers" in await world.console.text(":as Ben", "/questions")

    await question.get_by_label("Reason").fill("spam: selling followers")
    await question.get_by_role("button", name="Hide").click()
    await expect(page.locator("#done")).to_have_text("Hidden. Learners no longer see it.")
    await expect(page.locator("#question-hidden")).to_be_visible()
    assert await horizontal_overflow(page) == 0
    listed = await world.console.text(":as Ben", "/questions")
    assert "Buy followers" not in listed and "merge two DataFrames" in listed
    assert "There is no question #2." in await world.console.text("/q 2")

    await page.get_by_role("link", name="All questions").click()
    await page.get_by_role("link", name="Reported").click()
    await expect(page.locator("#no-questions")).to_be_visible()
    assert await horizontal_overflow(page) == 0
