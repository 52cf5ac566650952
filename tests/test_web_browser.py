"""The dashboard in a real headless Chromium, walked as a creator would: the link from the
bot's /dashboard, the overview, the language menu, sessions and signing out everywhere, and a
used link refused. (Page logic is tested in test_web_dashboard/test_web_auth; this is what a
person sees.)"""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from tests.browser import horizontal_overflow
from tests.web_fixtures import WebWorld
from web.auth import SESSION_COOKIE


def _base(world: WebWorld) -> str:
    return str(world.client.make_url("")).rstrip("/")


async def test_a_creator_signs_in_by_the_link_and_signs_out_everywhere(world: WebWorld, page: Page) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    path = urlsplit(await world.link("Mei")).path
    base = _base(world)

    await page.goto(base + path)
    await page.wait_for_url(base + "/dashboard")
    [cookie] = [c for c in await page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    await expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    await expect(page.locator("#members")).to_have_text("1")  # Ana; the creator is not counted
    await page.set_viewport_size({"width": 375, "height": 740})
    assert await horizontal_overflow(page) == 0

    await page.get_by_label("Language").select_option("zh_CN")
    await page.get_by_role("button", name="Change").click()
    await expect(page.get_by_role("heading", level=1)).not_to_have_text("Overview")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await page.get_by_label("语言").select_option("en")
    await page.get_by_role("button", name="切换").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Overview")

    await page.get_by_role("link", name="Sessions").click()
    await expect(page.locator("#sessions li")).to_have_count(1)
    await page.get_by_role("button", name="Sign out everywhere").click()
    response = await page.goto(base + "/dashboard")
    assert response is not None and response.status == 401

    response = await page.goto(base + path)  # the same link again: used
    assert response is not None and response.status == 403


async def test_a_forged_link_gets_a_refusal_page_and_no_session(world: WebWorld, page: Page) -> None:
    base = _base(world)
    response = await page.goto(base + "/dashboard/login/" + "A" * 43)
    assert response is not None and response.status == 403
    await expect(page.get_by_role("link", name="Overview")).to_have_count(0)  # no signed-in menu
    assert SESSION_COOKIE not in {cookie["name"] for cookie in await page.context.cookies()}


async def test_a_creator_changes_a_rule_on_the_settings_page(world: WebWorld, page: Page) -> None:
    base = _base(world)
    await page.goto(base + urlsplit(await world.link("Mei", "creator")).path)
    await page.get_by_role("link", name="Settings").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
    rule = page.locator("#rule-message\\.points")

    await rule.get_by_label("message.points").fill("500")
    await rule.get_by_role("button", name="Save").click()
    await expect(rule.get_by_role("alert")).to_have_text("message.points must be between 0 and 100.")

    await rule.get_by_label("message.points").fill("3")
    await rule.get_by_role("button", name="Save").click()
    await expect(page.locator("#saved")).to_have_text("message.points is now 3.")
    await expect(rule.get_by_label("message.points")).to_have_value("3")
    await page.set_viewport_size({"width": 375, "height": 740})
    assert await horizontal_overflow(page) == 0
    assert "message.points = 3" in await world.console.text(":as Mei", ":dm", "/rules")


async def test_a_moderator_sees_the_staff_pages_and_is_refused_a_creator_page(
    world: WebWorld, page: Page
) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    base = _base(world)
    await page.goto(base + urlsplit(await world.link("Sam", "moderator")).path)
    await page.wait_for_url(base + "/dashboard")
    menu = await page.locator("header nav a").evaluate_all("links => links.map(a => a.pathname)")
    assert {"/dashboard/members", "/dashboard/qa", "/dashboard/audit"} <= set(menu)
    assert not {"/dashboard/catalog", "/dashboard/settings", "/dashboard/orders"} & set(menu)
    for creator_page in (
        "/dashboard/catalog",
        "/dashboard/settings",
        "/dashboard/orders",
        "/dashboard/pushes",
    ):
        response = await page.goto(base + creator_page)
        assert response is not None and response.status == 403, creator_page
        await expect(page.locator("main")).to_contain_text("This page is for creators.")
    response = await page.goto(base + "/dashboard/members")
    assert response is not None and response.status == 200
    await expect(page.get_by_role("link", name="Ana", exact=True)).to_be_visible()
