"""The browser-test harness against a small page served in the test: a labelled form posted
and redirected (POST → redirect → GET, as the dashboard does), and the 375 px layout check."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Page

from tests.browser import horizontal_overflow, serve

ROOT = Path(__file__).resolve().parent.parent

FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Join</title></head>
<body><main>
<form method="post" action="/join">
  <label for="name">Your name</label>
  <input id="name" name="name" required>
  <button type="submit">Join</button>
</form>
</main></body></html>"""

WIDE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Wide</title></head>
<body><table><tr><td style="min-width: 600px">a table too wide for a phone</td></tr></table></body></html>"""


class JoinSite:
    """The page under test; records every request and every name posted."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.posted: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/", self._form)
        app.router.add_post("/join", self._join)
        app.router.add_get("/welcome", self._welcome)
        app.router.add_get("/wide", self._wide)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: web.Handler) -> web.StreamResponse:
        if request.path != "/favicon.ico":  # the browser asks for it on its own
            self.requests.append((request.method, request.path))
        return await handler(request)

    async def _form(self, _request: web.Request) -> web.Response:
        return web.Response(text=FORM, content_type="text/html")

    async def _join(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.posted.append({key: str(value) for key, value in form.items()})
        raise web.HTTPSeeOther(location="/welcome")

    async def _welcome(self, _request: web.Request) -> web.Response:
        name = html.escape(self.posted[-1]["name"]) if self.posted else "nobody"
        return web.Response(text=f"<!doctype html><h1>Welcome, {name}</h1>", content_type="text/html")

    async def _wide(self, _request: web.Request) -> web.Response:
        return web.Response(text=WIDE, content_type="text/html")


async def test_a_form_posts_redirects_and_a_reload_does_not_post_again(page: Page) -> None:
    site = JoinSite()
    async with serve(site.app()) as base:
        await page.goto(base + "/")
        await page.get_by_label("Your name").fill("Ana <b>")
        await page.get_by_role("button", name="Join").click()
        await page.wait_for_url(base + "/welcome")

        assert await page.get_by_role("heading").inner_text() == "Welcome, Ana <b>"
        assert site.posted == [{"name": "Ana <b>"}]
        assert site.requests == [("GET", "/"), ("POST", "/join"), ("GET", "/welcome")]

        await page.reload()  # a refresh repeats the GET, never the POST
        assert site.posted == [{"name": "Ana <b>"}]
        assert site.requests[-1] == ("GET", "/welcome")


async def test_the_form_fits_a_375_px_phone_and_a_wide_table_does_not(page: Page) -> None:
    await page.set_viewport_size({"width": 375, "height": 740})
    async with serve(JoinSite().app()) as base:
        await page.goto(base + "/")
        assert await horizontal_overflow(page) == 0
        await page.goto(base + "/wide")
        assert await horizontal_overflow(page) > 0  # the check sees an overflow when there is one


# -- the harness itself, in a separate pytest run ---------------------------------------------

INNER = """
from playwright.async_api import Page


async def test_passes(page: Page) -> None:
    await page.set_content("<h1>Hello</h1>")
    assert await page.inner_text("h1") == "Hello"


async def test_wrong_heading(page: Page) -> None:
    await page.set_content("<h1>Hello</h1>")
    assert await page.inner_text("h1") == "Goodbye"


async def test_loads_from_a_cdn(page: Page) -> None:
    await page.set_content('<img src="https://cdn.example.com/logo.png"><p>ok</p>')
    assert await page.inner_text("p") == "ok"
"""


def _inner_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    """INNER run by a fresh pytest with only tests/browser.py as its plugin."""
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest('pytest_plugins = ("tests.browser",)\n')
    pytester.makepyfile(test_inner=INNER)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)


def test_a_failed_page_test_leaves_a_screenshot_and_a_page_reaching_out_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _inner_run(pytester, monkeypatch)

    result.assert_outcomes(passed=2, failed=1, errors=1)  # the CDN test passes, then errs
    shots = pytester.path / "test-artifacts" / "screenshots"
    assert sorted(p.name for p in shots.iterdir()) == ["test_inner.test_wrong_heading.png"]
    assert (shots / "test_inner.test_wrong_heading.png").read_bytes().startswith(b"\x89PNG\r\n")
    result.stdout.fnmatch_lines(
        [
            # (fnmatch: ? stands for the list's brackets)
            "*a page asked for something outside loopback: ?'https://cdn.example.com/logo.png'?",
            "*screenshots of failed browser tests*",
            "*test_wrong_heading: test-artifacts/screenshots/test_inner.test_wrong_heading.png",
        ]
    )


def test_a_missing_browser_fails_and_says_how_to_install_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDYHALL_TEST_CHROMIUM", str(pytester.path / "no-chromium"))
    result = _inner_run(pytester, monkeypatch)

    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*browser tests need Chromium at *no-chromium*apt-get install*chromium*"])
