"""The web tests' world: an App with the dashboard on (a secret key), its HTTP app under
aiohttp's test server, and a console to ask for login links as a member would."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.console.session import ConsoleSession
from bot.app import App
from bot.config import Config, Secret
from bot.http import HttpServer
from bot.web import install_web
from core.clock import ManualClock
from tests.conftest import ConsoleDriver

SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnop"
LINK = re.compile(r"(https?://\S+/dashboard/login/[A-Za-z0-9_-]+)")


@pytest.fixture
async def world(config: Config, clock: ManualClock) -> AsyncIterator[WebWorld]:
    """The web tests' world with the default configuration (a plugin fixture: conftest)."""
    async with web_world(config, clock) as built:
        yield built


@asynccontextmanager
async def web_world(config: Config, clock: ManualClock, **settings: object) -> AsyncIterator[WebWorld]:
    """An App with the dashboard on (``settings`` override the Config), served by a test server."""
    config = replace(config, secret_key=Secret(SECRET_KEY), **settings)  # type: ignore[arg-type]
    app = await App.open(config, clock=clock)
    http = HttpServer("127.0.0.1", 0)
    install_web(app, http, sandbox=True)  # as the demo serves it
    output: list[str] = []
    session = await ConsoleSession.open(
        app, clock, community=config.community, locale="en", write=output.append
    )
    server = TestServer(http.app)
    await server.start_server(access_log=None)  # as HttpServer runs it: no access log
    client = TestClient(server)
    await client.start_server()
    try:
        yield WebWorld(app, ConsoleDriver(session, output), client)
    finally:
        await client.close()
        await app.close()


class WebWorld:
    def __init__(self, app: App, console: ConsoleDriver, client: TestClient) -> None:
        self.app = app
        self.console = console
        self.client = client

    async def link(self, name: str, role: str | None = None) -> str:
        """The login link ``name`` gets from /dashboard in their private chat (``role`` given
        first with the console's :as)."""
        lines = [f":as {name} {role}" if role else f":as {name}", ":dm", "/dashboard"]
        text = await self.console.text(*lines)
        found = LINK.search(text)
        assert found, text
        return found.group(1)

    async def sign_in(self, name: str, role: str | None = "creator") -> str:
        """Follow a fresh link as ``name``; returns the path of the login link used."""
        path = urlsplit(await self.link(name, role)).path
        response = await self.client.get(path, allow_redirects=False)
        assert response.status == 303, await response.text()
        return path

    async def csrf(self, page: str = "/dashboard") -> str:
        html = await (await self.client.get(page)).text()
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
        assert found, html
        return found.group(1)

    async def fields(self, page: str = "/dashboard") -> dict[str, str]:
        """The hidden fields of the first POST form on ``page``: its CSRF token and form key."""
        html = await (await self.client.get(page)).text()
        found = re.search(
            r'name="csrf" value="([0-9a-f]+)"><input type="hidden" name="form_key" value="([\w-]+)"', html
        )
        assert found, html
        return {"csrf": found.group(1), "form_key": found.group(2)}

    async def submit(self, page: str, action: str, **data: str) -> ClientResponse:
        """Send a form found on ``page`` (fresh hidden fields) to ``action``, not following
        the redirect."""
        return await self.client.post(action, data={**await self.fields(page), **data}, allow_redirects=False)


def new_key() -> str:
    """A fresh form key, as a page renders into each form."""
    return secrets.token_urlsafe(16)
