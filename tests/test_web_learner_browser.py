"""The learner's page in a real headless Chromium: signing in with the /web link, the page at
phone width, signing out; and the Mini App page, whose script hands Telegram's init data (from
the address's fragment, where Telegram puts it) to the server and lands on the learner's page."""

from __future__ import annotations

from urllib.parse import quote

from playwright.async_api import Page, expect

from core.clock import ManualClock
from tests.browser import horizontal_overflow
from tests.learner_fixtures import web_link
from tests.mini_app_fixtures import init_data
from tests.web_fixtures import WebWorld

PHONE = {"width": 375, "height": 740}


def base_of(world: WebWorld) -> str:
    return str(world.client.make_url("")).rstrip("/")


async def test_a_learner_opens_the_web_link_reads_their_page_and_signs_out(
    learners: WebWorld, page: Page
) -> None:
    base = base_of(learners)
    await page.set_viewport_size(PHONE)
    await page.goto(base + await web_link(learners, "Ana"))
    await page.wait_for_url(base + "/me")

    await expect(page.get_by_role("heading", level=1)).to_have_text("Ana")
    await expect(page.locator("ul.owned li")).to_have_text(["Python for data analysis 1 of 2 lessons done"])
    await expect(page.locator("#points")).to_have_text("19 points")
    assert await horizontal_overflow(page) == 0

    await page.get_by_role("link", name="Python for data analysis", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Lesson 1 of 2: Setup")
    await page.goto(base + "/me")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("alert")).to_have_text("You are signed out.")
    response = await page.goto(base + "/me")
    assert response is not None and response.status == 401


async def test_the_mini_app_page_signs_the_telegram_user_in(
    learners: WebWorld, page: Page, clock: ManualClock
) -> None:
    base = base_of(learners)
    await page.goto(
        f"{base}/learn/app#tgWebAppData={quote(init_data(signed_at=clock.now()))}&tgWebAppVersion=8.0"
    )
    await page.wait_for_url(base + "/me")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ana Lee")


async def test_the_mini_app_page_opened_outside_telegram_says_where_to_open_it(
    learners: WebWorld, page: Page
) -> None:
    await page.goto(base_of(learners) + "/learn/app")
    await expect(page.locator("#open-from-bot")).to_have_text("Open this page from the bot in Telegram.")
