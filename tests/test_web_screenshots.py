"""Every dashboard page in a real Chromium, as the demo's creator sees it on the seeded demo
community: each page the menu offers answers 200, shows no console error and fits a 375 px
phone. The menu is read from the page, so pages added later are visited too; so are the key
sub-pages (a member, a course and a lesson's preview, the catalog's sections, an order and its
refund confirmation, a push, a question), found by following links on their list pages.

With STUDYHALL_DOCS_SCREENSHOTS=1 it also saves each page as docs/images/dashboard-<page>.png
for docs/dashboard.md; otherwise it writes nothing."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import ConsoleMessage, Error, Page

from bot.app import App
from bot.config import Config
from bot.demo import seed_demo
from core.clock import ManualClock
from tests.browser import horizontal_overflow
from tests.web_fixtures import web_world

DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
SAVE = os.environ.get("STUDYHALL_DOCS_SCREENSHOTS") == "1"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
# (picture name, the list page — None: the page visited just before —, the pattern of the link on
# it to follow): the first link whose path matches, so no id is written here. A sub-page the demo
# has no link for is skipped.
SUB_PAGES = (
    ("member", "/dashboard/members?paying=yes", r"/dashboard/members/\d+"),  # one with orders
    ("catalog-course", "/dashboard/catalog", r"/dashboard/catalog/courses/[\w-]+"),
    ("catalog-lesson", None, r"/dashboard/catalog/courses/[\w-]+/lessons/\d+"),
    *(
        (f"catalog-{section}", "/dashboard/catalog", f"/dashboard/catalog/{section}")
        for section in ("bundles", "plans", "coupons", "mall", "drafts")
    ),
    ("catalog-version", None, r"/dashboard/catalog/versions/\d+"),  # Sam's draft in the demo
    ("order", "/dashboard/orders", r"/dashboard/orders/\d+"),
    ("pushes-automations", "/dashboard/pushes", r"/dashboard/pushes/automations"),
    ("push", "/dashboard/pushes", r"/dashboard/pushes/\d+"),
    ("qa-question", "/dashboard/qa", r"/dashboard/qa/\d+"),
)


def page_name(path: str) -> str:
    """/dashboard → overview, /dashboard/audit → audit."""
    rest = path.removeprefix("/dashboard").strip("/")
    return rest.replace("/", "-") or "overview"


async def test_every_menu_page_as_the_demo_creator(config: Config, clock: ManualClock, page: Page) -> None:
    seeding = await App.open(config, clock=clock)
    try:
        assert await seed_demo(seeding, config.community)
    finally:
        await seeding.close()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{page.url}: {m.text}") if _is_error(m) else None)
    page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))

    async with web_world(config, clock) as world:
        base = str(world.client.make_url("")).rstrip("/")
        await page.goto(base + urlsplit(await world.link("Mei")).path)  # the demo's creator
        await page.wait_for_url(base + "/dashboard")
        await page.goto(base + "/dashboard/lang?to=en&next=/dashboard")  # docs in English
        menu = await page.locator("header nav a").evaluate_all("links => links.map(a => a.pathname)")
        assert "/dashboard" in menu and "/dashboard/audit" in menu, menu
        shots: list[str] = []
        for path in menu:
            await _visit(page, base, path, page_name(path), shots)
        visited = "/dashboard"
        for name, listing, pattern in SUB_PAGES:
            path = await _link(page, base + (listing or visited), pattern)
            if path is None:
                continue
            visited = path
            await _visit(page, base, path, name, shots)
            if name == "catalog-lesson":  # the editor's Preview: the sanitised Markdown, unsaved
                await page.set_viewport_size(DESKTOP)
                async with page.expect_navigation():
                    await page.click("#preview-button")
                await _check(page, path, "catalog-lesson-preview", shots)
            if name == "order" and await page.locator("#refund-form").count():
                await _visit(page, base, path + "/refund", "order-refund", shots)  # the full refund
    assert {"member", "catalog-course", "catalog-lesson-preview", "order", "order-refund"} <= set(shots)
    assert problems == []
    assert not SAVE or all((DOCS_IMAGES / f"dashboard-{name}.png").stat().st_size > 0 for name in shots)


async def _link(page: Page, url: str, pattern: str) -> str | None:
    """The path of the first link on ``url`` whose path is ``pattern``."""
    await page.set_viewport_size(DESKTOP)
    await page.goto(url)
    paths = await page.locator("a").evaluate_all("links => links.map(a => a.pathname)")
    return next((p for p in paths if re.fullmatch(pattern, p)), None)


async def _visit(page: Page, base: str, path: str, name: str, shots: list[str]) -> None:
    await page.set_viewport_size(DESKTOP)
    response = await page.goto(base + path, wait_until="load")  # images included
    assert response is not None and response.status == 200, path
    await _check(page, path, name, shots)


async def _check(page: Page, path: str, name: str, shots: list[str]) -> None:
    """No broken image, the picture when asked for, and nothing wider than a phone."""
    shots.append(name)
    broken = await page.evaluate("() => [...document.images].filter(i => !i.naturalWidth).length")
    assert broken == 0, path
    if SAVE:
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(DOCS_IMAGES / f"dashboard-{name}.png"), full_page=True)
    await page.set_viewport_size(PHONE)
    wide = await page.evaluate(
        "() => [...document.querySelectorAll('body *')]"
        ".filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"
    )
    assert await horizontal_overflow(page) == 0, (path, wide)


def _is_error(message: ConsoleMessage) -> bool:
    """A console error, but for the favicon Chromium asks every site for (there is none)."""
    try:
        return message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico")
    except Error:  # the page went away while the message was read
        return False
