"""web/app.py and web/auth.py: signing in by the link /dashboard sends, cookies, CSRF, and
refusals — through the real HTTP app."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import update

from bot.config import Config
from core.clock import ManualClock
from core.members.tables import members as members_table
from tests.web_fixtures import SECRET_KEY, WebWorld, web_world


async def test_the_link_from_dashboard_signs_in(world: WebWorld) -> None:
    link = await world.link("Mei", "creator")
    assert link.startswith("http://127.0.0.1:8080/dashboard/login/")  # no public URL: host and port
    response = await world.client.get(urlsplit(link).path, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/dashboard"
    cookie = response.headers["Set-Cookie"]
    assert "studyhall_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here
    assert response.headers["Referrer-Policy"] == "no-referrer"
    page = await world.client.get("/dashboard")
    assert page.status == 200
    assert "Mei" in await page.text()


async def test_secure_cookies_behind_https(config: Config, clock: ManualClock) -> None:
    async with web_world(config, clock, public_url="https://hall.example.com") as world:
        link = await world.link("Mei", "creator")
        assert link.startswith("https://hall.example.com/dashboard/login/")
        response = await world.client.get(urlsplit(link).path, allow_redirects=False)
        assert response.status == 303 and "Secure" in response.headers["Set-Cookie"]


async def test_a_link_works_once(world: WebWorld) -> None:
    path = await world.sign_in("Mei")
    world.client.session.cookie_jar.clear()
    again = await world.client.get(path, allow_redirects=False)
    assert again.status == 403 and "Set-Cookie" not in again.headers
    assert "has been used already" in await again.text()
    assert (await world.client.get("/dashboard")).status == 401


async def test_an_expired_or_forged_link_is_refused(world: WebWorld, clock: ManualClock) -> None:
    path = urlsplit(await world.link("Mei", "creator")).path
    clock.advance(timedelta(minutes=10, seconds=1))
    expired = await world.client.get(path, allow_redirects=False)
    assert expired.status == 403 and "has expired" in await expired.text()
    forged = await world.client.get("/dashboard/login/" + "A" * 43, allow_redirects=False)
    assert forged.status == 403 and "is not valid" in await forged.text()
    assert "Set-Cookie" not in expired.headers and "Set-Cookie" not in forged.headers
    assert (await world.client.get("/dashboard")).status == 401


async def test_a_post_without_the_csrf_token_is_refused(world: WebWorld) -> None:
    await world.sign_in("Mei")
    token = await world.csrf()
    for form in ({}, {"csrf": "0" * 64}, {"csrf": token[:-1]}):
        refused = await world.client.post("/dashboard/logout", data=form, allow_redirects=False)
        assert refused.status == 403, form
    assert (await world.client.get("/dashboard")).status == 200  # still signed in
    done = await world.client.post("/dashboard/logout", data={"csrf": token}, allow_redirects=False)
    assert done.status == 200 and "You are signed out." in await done.text()
    assert (await world.client.get("/dashboard")).status == 401


async def test_the_csrf_token_belongs_to_one_session(world: WebWorld) -> None:
    await world.sign_in("Mei")
    old_token = await world.csrf()
    await world.sign_in("Mei")  # a new login: a new session id, so a new token
    refused = await world.client.post("/dashboard/logout", data={"csrf": old_token}, allow_redirects=False)
    assert refused.status == 403


async def test_a_learner_is_refused(world: WebWorld) -> None:
    assert "Only moderators and creators" in await world.console.text(":as Ana", ":dm", "/dashboard")
    await world.sign_in("Sam", "moderator")
    community = await world.app.community()
    sam = (await world.app.services.members.find_by_name(community.id, "Sam"))[0]
    async with world.app.db.write() as conn:  # demoted behind the app's back: refused at once
        await conn.execute(update(members_table).where(members_table.c.id == sam.id).values(role="learner"))
    refused = await world.client.get("/dashboard")
    assert refused.status == 403 and "for creators and moderators" in await refused.text()


async def test_a_role_change_and_forget_end_the_web_session(world: WebWorld) -> None:
    await world.console(":as Mei creator")  # the owner (whom /forget would refuse)
    await world.sign_in("Sam", "moderator")
    assert (await world.client.get("/dashboard/sessions")).status == 200
    await world.console(":as Sam creator")
    assert (await world.client.get("/dashboard/sessions")).status == 401
    await world.sign_in("Sam", None)
    assert (await world.client.get("/dashboard/sessions")).status == 200
    assert "erased" in await world.console.text(":as Sam", ":dm", "/forget confirm")
    assert (await world.client.get("/dashboard/sessions")).status == 401


async def test_the_command_is_for_private_chats_and_needs_the_secret_key(world: WebWorld, console) -> None:  # type: ignore[no-untyped-def]
    group = await world.console.text(":as Mei creator", ":in lounge", "/dashboard")
    assert "/dashboard/login/" not in group
    # The conftest app has no secret key: no dashboard.
    assert "not enabled" in await console.text(":as Mei creator", ":dm", "/dashboard")


async def test_no_login_link_session_id_or_key_reaches_a_log(
    world: WebWorld, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    path = await world.sign_in("Mei")
    token = path.rsplit("/", 1)[1]
    session_id = next(c.value for c in world.client.session.cookie_jar if c.key == "studyhall_session")
    csrf = await world.csrf()
    await world.client.post("/dashboard/recompute", data={"csrf": csrf})

    async def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(world.app.services.analytics, "recompute", broken)
    failed = await world.client.post("/dashboard/recompute", data={"csrf": csrf})
    assert failed.status == 500 and "Traceback" not in await failed.text()
    await world.client.get(path)  # used: refused
    await world.client.post("/dashboard/logout", data={"csrf": csrf})
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "dashboard: a page failed" in logged and "a bug" in logged
    for secret in (token, session_id, csrf, SECRET_KEY):
        assert secret not in logged
