"""Browser tests: a Playwright ``page`` on Debian's headless Chromium, and ``serve`` to put an
aiohttp app on loopback in the test's own event loop.

Why not pytest-playwright: its fixtures use Playwright's sync API, which refuses to run inside
the running asyncio loop our tests (and the app under test) live in. Playwright's async objects
belong to the loop that made them and pytest-asyncio gives each test its own loop, so one
Chromium process serves the session (started here, reached over CDP on loopback) while each test
gets its own Playwright connection and a fresh browser context.

Fixtures: ``chromium`` (session; the CDP endpoint), ``browser``, ``context``, ``page``.
A failed test leaves a full-page screenshot of each of its pages in test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

CHROMIUM = os.environ.get("STUDYHALL_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Anything but loopback (which Chromium never proxies) goes to a closed local port and fails:
    # a page that loads from a CDN fails its test instead of reaching the internet.
    "--proxy-server=http://127.0.0.1:9",
)
VIEWPORT = {"width": 1280, "height": 800}
START_TIMEOUT = 30.0
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
_SHOTS = pytest.StashKey[list[str]]()


# -- Chromium, once per session ---------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start headless Chromium with a fresh profile; yield its CDP endpoint on loopback."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"browser tests need Chromium at {CHROMIUM}, which is missing: run `make test` (it installs"
            " it), or `apt-get update && apt-get install -y --no-install-recommends chromium` as root",
            pytrace=False,
        )
    # Under pytest's basetemp, which pytest prunes: Chromium's helpers may still write to the
    # profile for a moment after the browser exits, so removing it here would race them.
    profile = tmp_path_factory.mktemp("chromium-profile")
    args = [
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={profile}",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",  # Chromium picks a port and writes it to DevToolsActivePort
        "about:blank",
    ]
    log = profile.parent / "chromium.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        yield f"http://127.0.0.1:{_devtools_port(process, profile, log)}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _devtools_port(process: subprocess.Popen[bytes], profile: Path, log: Path) -> int:
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Chromium exited ({process.returncode}) at start:\n{_tail(log)}", pytrace=False)
        lines = active.read_text().split() if active.exists() else []
        if lines:
            return int(lines[0])
        time.sleep(0.05)
    pytest.fail(f"Chromium opened no DevTools port in {START_TIMEOUT:.0f} s:\n{_tail(log)}", pytrace=False)


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-20:])


# -- per test: a Playwright connection, a context, a page -------------------------------------


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        connected = await playwright.chromium.connect_over_cdp(chromium)
        try:
            yield connected
        finally:
            await connected.close()  # over CDP: closes our contexts, leaves Chromium running


@pytest.fixture
async def context(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[BrowserContext]:
    """A fresh context (cookies, storage) for the test. On failure, a screenshot of each page;
    after the test, a failure if a page asked for anything but loopback."""
    ctx = await browser.new_context(viewport=VIEWPORT, locale="en-US", accept_downloads=True)
    outside: list[str] = []
    ctx.on("request", lambda req: outside.append(req.url) if not _is_loopback(req.url) else None)
    try:
        yield ctx
        call = request.node.stash.get(_REPORTS, {}).get("call")
        if call is not None and call.failed:
            await _screenshots(ctx, request.node)
    finally:
        await ctx.close()
    if outside:
        pytest.fail(f"a page asked for something outside loopback: {sorted(set(outside))}", pytrace=False)


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


def _is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return True  # about:, data:, blob: never leave the browser
    return parts.hostname in ("127.0.0.1", "localhost", "::1")


def screenshot_dir(config: pytest.Config) -> Path:
    return config.rootpath / "test-artifacts" / "screenshots"


async def _screenshots(ctx: BrowserContext, item: pytest.Item) -> None:
    directory = screenshot_dir(item.config)
    directory.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{item.path.stem}.{item.name}")
    for number, open_page in enumerate(ctx.pages, start=1):
        suffix = "" if number == 1 else f"-{number}"
        path = directory / f"{name}{suffix}.png"
        try:
            await open_page.screenshot(path=str(path), full_page=True)
        except Exception as error:  # a crashed page must not hide the test's own failure
            shot = f"{item.nodeid}: no screenshot of {open_page.url}: {error}"
        else:
            shot = f"{item.nodeid}: {path.relative_to(item.config.rootpath)}"
        item.config.stash.setdefault(_SHOTS, []).append(shot)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The folder holds the screenshots of this run's failures only."""
    shutil.rmtree(screenshot_dir(session.config), ignore_errors=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so fixtures can see whether the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    shots = terminalreporter.config.stash.get(_SHOTS, [])
    if shots:
        terminalreporter.section("screenshots of failed browser tests")
        for line in shots:
            terminalreporter.write_line(line)


# -- the app under test ------------------------------------------------------------------------


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) in the running loop; yield its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no horizontal scroll)."""
    return await page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )
