"""The Paid chats page in a real headless Chromium: a creator binds a group to a plan, sees the
dry run and fixes it now; a bad code is refused beside its field. Usable at 375 px."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from tests.browser import horizontal_overflow
from tests.web_fixtures import WebWorld


async def test_a_creator_binds_a_group_and_fixes_access(world: WebWorld, page: Page) -> None:
    await world.console(
        ":as Mei creator",
        "/plan add monthly 9.99 USD month Monthly membership",
        ":in vip",
        "hello",
        ":as Ana",
        "/subscribe monthly",
        ":pay",
    )
    base = str(world.client.make_url("")).rstrip("/")
    await page.set_viewport_size({"width": 375, "height": 740})
    await page.goto(base + urlsplit(await world.link("Mei", "creator")).path)
    await page.get_by_role("link", name="Paid chats").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Paid chats")
    assert await horizontal_overflow(page) == 0

    form = page.locator("#bind")
    await form.get_by_label("Chat").select_option(label="vip (Console)")
    await form.get_by_label("Requires").select_option("plan")
    await form.get_by_label("Code or tier name").fill("yearly")
    await form.get_by_role("button", name="Bind").click()
    await expect(page.locator("#error-target")).to_have_text("There is no plan yearly. /plans lists them.")
    assert await horizontal_overflow(page) == 0

    await page.locator("#bind").get_by_label("Code or tier name").fill("monthly")
    await page.locator("#bind").get_by_role("button", name="Bind").click()
    await expect(page.locator("#done")).to_have_text("The group is paid now.")
    await expect(page.locator("#bindings li")).to_contain_text("subscribers to the plan Monthly membership")

    await page.get_by_role("link", name="Check who should be in").click()
    await expect(page.locator("#actions li")).to_have_text(
        ["send an invite Ana · vip · entitled but not in the chat"]
    )
    assert await horizontal_overflow(page) == 0
    await page.get_by_role("button", name="Fix now").click()
    await expect(page.locator("#fixed")).to_have_text("Done: 1 change.")
    await expect(page.locator("#in-order")).to_be_visible()
    assert "Paid chats are in order" in await world.console.text(":as Mei", ":dm", "/access check")
