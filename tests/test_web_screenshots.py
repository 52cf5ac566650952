"""Every dashboard page in a real Chromium, as the demo's creator sees it on the seeded demo
community: each page the menu offers answers 200, shows no console error and fits a 375 px
phone. The menu is read from the page, so pages added later are visited too.

With STUDYHALL_DOCS_SCREENSHOTS=1 it also saves each page as docs/images/dashboard-<page>.png
for docs/dashboard.md; otherwise it writes nothing."""

from __future__ import annotations

import os
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
        shots: list[Path] = []
        for path in menu:
            await page.set_viewport_size(DESKTOP)
            response = await page.goto(base + path, wait_until="load")  # images included
            assert response is not None and response.status == 200, path
            broken = await page.evaluate("() => [...document.images].filter(i => !i.naturalWidth).length")
            assert broken == 0, path
            if SAVE:
                DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
                shot = DOCS_IMAGES / f"dashboard-{page_name(path)}.png"
                await page.screenshot(path=str(shot), full_page=True)
                shots.append(shot)
            await page.set_viewport_size(PHONE)
            wide = await page.evaluate(
                "() => [...document.querySelectorAll('body *')]"
                ".filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)"
                ".slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"
            )
            assert await horizontal_overflow(page) == 0, (path, wide)
    assert problems == []
    assert all(shot.stat().st_size > 0 for shot in shots)


def _is_error(message: ConsoleMessage) -> bool:
    """A console error, but for the favicon Chromium asks every site for (there is none)."""
    try:
        return message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico")
    except Error:  # the page went away while the message was read
        return False
