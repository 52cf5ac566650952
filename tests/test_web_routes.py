"""Every dashboard route, walked from the router (so a page added later is covered): signed out
it refuses, a POST without the CSRF token is a 403, a moderator is refused creator pages, and no
address — however odd its ids — answers with a server error. Through the real HTTP app."""

from __future__ import annotations

import re

from tests.web_fixtures import WebWorld
from web.app import PAGES
from web.kit import HEADERS

SIGNED_OUT_OK = ("/dashboard/login/", "/dashboard/lang", "/dashboard/static")
PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")
ODD_IDS = ("1", "999999", "0", "99999999999999999999")


def routes(world: WebWorld) -> list[tuple[str, str]]:
    """(method, path pattern) of every dashboard route but the static files and sign-in."""
    found = []
    for resource in world.client.server.app.router.resources():  # type: ignore[union-attr]
        info = resource.get_info()
        pattern = info.get("path") or info.get("formatter") or info.get("prefix", "")
        if not pattern.startswith("/dashboard") or pattern.startswith(SIGNED_OUT_OK):
            continue
        for route in resource:
            if route.method in ("GET", "POST"):
                found.append((route.method, pattern))
    assert len(found) > 8
    return found


def addresses(pattern: str) -> list[str]:
    """The pattern with each placeholder filled with odd ids (an id from the path is numeric in
    most routes; a code is a word: both get tried)."""
    return [PLACEHOLDER.sub(value, pattern) for value in ODD_IDS] + [PLACEHOLDER.sub("nope", pattern)]


CREATOR_PAGES = {page.MENU.path for page in PAGES if page.MENU is not None and page.MENU.creators_only}


async def test_signed_out_every_page_refuses_and_every_post_needs_the_token(world: WebWorld) -> None:
    for method, pattern in routes(world):
        for address in addresses(pattern):
            response = await world.client.request(method, address, allow_redirects=False)
            expected = {401} if method == "GET" else {403}
            assert response.status in expected | {404}, (method, address, response.status)
            if response.status != 404:
                for header, value in HEADERS.items():
                    assert response.headers.get(header) == value, (address, header)


async def test_a_post_without_a_valid_csrf_token_is_refused_everywhere(world: WebWorld) -> None:
    await world.sign_in("Mei")
    for method, pattern in routes(world):
        if method != "POST":
            continue
        for address in addresses(pattern)[:1]:
            for data in ({}, {"csrf": "0" * 64}):
                response = await world.client.post(address, data=data, allow_redirects=False)
                assert response.status in (403, 404), (address, data, response.status)


async def test_a_moderator_is_refused_every_creator_page(world: WebWorld) -> None:
    await world.sign_in("Sam", "moderator")
    for method, pattern in routes(world):
        if method != "GET":
            continue
        for address in addresses(pattern):
            response = await world.client.get(address, allow_redirects=False)
            assert response.status < 500, (address, response.status)
            section = next((p for p in CREATOR_PAGES if address == p or address.startswith(p + "/")), None)
            if section is not None:
                assert response.status in (403, 404), (address, response.status)


async def test_no_address_answers_a_server_error(world: WebWorld) -> None:
    await world.sign_in("Mei")
    fields = await world.fields("/dashboard/settings")
    for method, pattern in routes(world):
        for address in addresses(pattern):
            if method == "GET":
                response = await world.client.get(address, allow_redirects=False)
            else:
                if address.endswith(("/logout", "/revoke-all", "/revoke")):
                    continue  # would end the session the walk uses
                response = await world.client.post(address, data=fields, allow_redirects=False)
            assert response.status < 500, (method, address, response.status, await response.text())
