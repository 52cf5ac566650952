"""web/learn/account.py over HTTP: a learner signs in with the one-time link /web sends, or from
Telegram's Mini App data, and sees their own courses, orders, points and invitation link; the
link and the session are the learner's scope only; sign-out needs the session's CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.config import Config, Secret
from core.clock import ManualClock
from core.web_sessions.service import Scope
from tests.learner_fixtures import web_link
from tests.mini_app_fixtures import init_data
from tests.web_fixtures import WebWorld, web_world
from tests.wechat_peer import APP_ID, APP_SECRET, FakeWeChat, running_wechat


async def test_a_learner_signs_in_with_the_web_link_and_sees_only_their_own(learners: WebWorld) -> None:
    path = await web_link(learners, "Ana")
    signed_in = await learners.client.get(path, allow_redirects=False)
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/me"
    cookie = signed_in.cookies["studyhall_learner"]
    assert cookie["httponly"] and cookie["path"] == "/" and cookie["samesite"] == "Lax"

    page = await (await learners.client.get("/me")).text()

    assert "<h1>Ana</h1>" in page
    course = '<a href="/learn/py101/1">Python for data analysis</a> <span class="drip">1 of 2 lessons done'
    assert course in page
    assert page.count("#") == 1  # not Ben's
    assert '<a href="/me/orders/1">#1 Python for data analysis</a> · $19.99 · delivered' in page
    assert 'id="points">19 points<' in page  # purchase points for py101
    assert re.search(r'value="/start ref_[a-z2-9]{8}"', page)


async def test_a_used_or_unknown_link_is_refused_with_what_to_do(learners: WebWorld) -> None:
    path = await web_link(learners, "Ana")
    await learners.client.get(path, allow_redirects=False)
    again = await learners.client.get(path, allow_redirects=False)
    made_up = await learners.client.get("/me/login/" + "x" * 43, allow_redirects=False)

    assert again.status == 403
    assert (
        "This sign-in link has been used already. Send /web to the bot for a new one." in await again.text()
    )
    assert made_up.status == 403 and "is not valid" in await made_up.text()


async def test_a_learner_link_never_opens_the_dashboard_nor_a_dashboard_link_the_learners_page(
    learners: WebWorld,
) -> None:
    learner_token = (await web_link(learners, "Mei")).rsplit("/", 1)[1]  # Mei is a creator
    dashboard = await learners.client.get(f"/dashboard/login/{learner_token}", allow_redirects=False)
    assert dashboard.status != 303 and "studyhall_session" not in dashboard.cookies

    staff_token = urlsplit(await learners.link("Mei", "creator")).path.rsplit("/", 1)[1]
    mine = await learners.client.get(f"/me/login/{staff_token}", allow_redirects=False)
    assert mine.status == 403 and "studyhall_learner" not in mine.cookies


async def test_me_without_a_session_says_how_to_sign_in(learners: WebWorld) -> None:
    response = await learners.client.get("/me", allow_redirects=False)
    assert response.status == 401
    assert "Send /web to the bot in a private chat for a sign-in link." in await response.text()


async def test_signing_out_needs_the_sessions_csrf_token(learners: WebWorld) -> None:
    await learners.client.get(await web_link(learners, "Ana"), allow_redirects=False)
    page = await (await learners.client.get("/me")).text()
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert token

    forged = await learners.client.post("/me/logout", data={"csrf": "0" * 64})
    assert forged.status == 403 and (await learners.client.get("/me")).status == 200

    out = await learners.client.post("/me/logout", data={"csrf": token.group(1)})
    assert out.status == 200 and "You are signed out." in await out.text()
    assert (await learners.client.get("/me", allow_redirects=False)).status == 401


async def test_the_mini_app_signs_the_telegram_user_in(learners: WebWorld, clock: ManualClock) -> None:
    app_page = await (await learners.client.get("/learn/app")).text()
    assert '<script src="/assets/mini_app.js" defer></script>' in app_page
    assert (await learners.client.get("/assets/mini_app.js")).status == 200

    signed = init_data(signed_at=clock.now())
    response = await learners.client.post(
        "/learn/telegram", data={"init_data": signed}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/me"
    page = await (await learners.client.get("/me")).text()
    assert "<h1>Ana Lee</h1>" in page and "No courses yet." in page

    community = await learners.app.community()
    member = await learners.app.services.members.find_by_identity(community.id, "telegram", "279058397")
    assert member is not None and member.display_name == "Ana Lee"
    sessions = await learners.app.services.web_sessions.sessions(member)
    assert len(sessions) == 1
    assert (
        await learners.app.services.web_sessions.authenticate(
            response.cookies["studyhall_learner"].value, Scope.DASHBOARD
        )
        is None
    )


@pytest.mark.parametrize("case", ["stale", "forged", "another bot", "missing"])
async def test_the_mini_app_refuses_data_telegram_did_not_vouch_for(
    learners: WebWorld, clock: ManualClock, case: str
) -> None:
    from datetime import timedelta

    data = {
        "stale": init_data(signed_at=clock.now() - timedelta(hours=2)),
        "forged": init_data(signed_at=clock.now()).replace("279058397", "1"),
        "another bot": init_data(token="1:other", signed_at=clock.now()),
        "missing": "",
    }[case]
    response = await learners.client.post("/learn/telegram", data={"init_data": data}, allow_redirects=False)

    assert response.status == 403
    assert (
        "Telegram did not vouch for this sign-in. Open the page again from the bot." in await response.text()
    )
    assert "studyhall_learner" not in response.cookies


@pytest.mark.parametrize(
    ("then", "lands_on"), [("/learn/py101/1", "/learn/py101/1"), ("//evil.example/x", "/me"), ("", "/me")]
)
async def test_the_mini_app_lands_where_the_bots_button_pointed_and_only_on_this_site(
    learners: WebWorld, clock: ManualClock, then: str, lands_on: str
) -> None:
    page = await (await learners.client.get("/learn/app", params={"next": then})).text()
    assert f'name="next" value="{lands_on}"' in page

    signed = init_data(signed_at=clock.now())
    data = {"init_data": signed, "next": then}
    response = await learners.client.post("/learn/telegram", data=data, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == lands_on


async def test_a_course_pages_referral_code_is_attributed_when_the_visitor_signs_in(
    learners: WebWorld, clock: ManualClock
) -> None:
    app = learners.app
    community = await app.community()
    members = app.services.members
    ana, ben = [await members.find_by_identity(community.id, "console", name) for name in ("ana", "ben")]
    assert ana is not None and ben is not None
    ana_code, ben_code = await app.services.referrals.code_of(ana), await app.services.referrals.code_of(ben)

    first = await learners.client.get(f"/c/py101?ref={ana_code}")
    assert (
        first.cookies["studyhall_ref"].value == ana_code
        and first.headers["Cache-Control"] == "private, max-age=60"
    )
    second = await learners.client.get(f"/c/py101?ref={ben_code}")
    assert "studyhall_ref" not in second.cookies  # the first valid link wins

    signed = init_data(signed_at=clock.now())  # a newcomer from Telegram's Mini App
    response = await learners.client.post(
        "/learn/telegram", data={"init_data": signed}, allow_redirects=False
    )

    assert response.status == 303 and response.cookies["studyhall_ref"].value == ""  # used up
    assert (await app.services.referrals.stats(ana)).invited == 1
    assert (await app.services.referrals.stats(ben)).invited == 0


async def test_nobody_refers_themselves_through_a_course_page(learners: WebWorld) -> None:
    app = learners.app
    community = await app.community()
    ana = await app.services.members.find_by_identity(community.id, "console", "ana")
    assert ana is not None
    await learners.client.get(f"/c/py101?ref={await app.services.referrals.code_of(ana)}")

    await learners.client.get(await web_link(learners, "Ana"), allow_redirects=False)

    assert (await app.services.referrals.stats(ana)).invited == 0


@pytest.fixture
async def followers(config: Config, clock: ManualClock) -> AsyncIterator[tuple[WebWorld, FakeWeChat]]:
    """The web world with the Official Account configured against the local fake of WeChat."""
    fake = FakeWeChat()
    async with running_wechat(fake) as base:
        wechat = {"wechat": {"app_id": APP_ID, "app_secret": Secret(APP_SECRET), "api_base": base}}
        async with web_world(config, clock, adapter_settings=wechat) as world:
            yield world, fake


async def test_wechat_h5_signs_the_follower_in_through_oauth(followers: tuple[WebWorld, FakeWeChat]) -> None:
    world, fake = followers
    start = await world.client.get("/learn/wechat", params={"next": "/learn/py101/1"}, allow_redirects=False)
    assert start.status == 302
    target = urlsplit(start.headers["Location"])
    query = parse_qs(target.query)
    assert target.path == "/connect/oauth2/authorize" and query["scope"] == ["snsapi_base"]
    assert query["redirect_uri"] == [f"{world.app.config.base_url}/learn/wechat?next=%2Flearn%2Fpy101%2F1"]
    state = query["state"][0]
    assert start.cookies["studyhall_wechat_state"].value == state

    fake.oauth_codes["code-7"] = "o_follower_0042"  # what WeChat hands the visitor on the way back
    back = await world.client.get(
        "/learn/wechat",
        params={"code": "code-7", "state": state, "next": "/learn/py101/1"},
        allow_redirects=False,
    )

    assert back.status == 303 and back.headers["Location"] == "/learn/py101/1"
    me = await (await world.client.get("/me")).text()
    assert "<h1>微信用户0042</h1>" in me
    community = await world.app.community()
    assert await world.app.services.members.find_by_identity(community.id, "wechat", "o_follower_0042")


@pytest.mark.parametrize("case", ["another state", "no state cookie", "refused code"])
async def test_wechat_h5_refuses_what_it_cannot_trust(
    followers: tuple[WebWorld, FakeWeChat], case: str
) -> None:
    world, fake = followers
    start = await world.client.get("/learn/wechat", allow_redirects=False)
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    fake.oauth_codes["code-7"] = "o_follower_0042"
    if case == "no state cookie":
        world.client.session.cookie_jar.clear()
    params = {
        "another state": {"code": "code-7", "state": "forged"},
        "no state cookie": {"code": "code-7", "state": state},
        "refused code": {"code": "code-8", "state": state},
    }[case]

    back = await world.client.get("/learn/wechat", params=params, allow_redirects=False)

    assert back.status == 403 and "studyhall_learner" not in back.cookies
    assert "WeChat did not confirm who you are." in await back.text()


async def test_without_an_official_account_wechat_sign_in_says_so(learners: WebWorld) -> None:
    response = await learners.client.get("/learn/wechat", allow_redirects=False)
    assert response.status == 404 and "Signing in with WeChat is not set up here." in await response.text()


async def test_a_member_stops_and_resumes_a_membership_from_their_page(learners: WebWorld) -> None:
    await learners.console(":as Mei", "/plan add monthly 9.99 USD month Monthly")
    paid = await learners.console.text(":as Ana", ":dm", "/subscribe monthly", ":pay")
    assert "You are a member now" in paid, paid
    await learners.client.get(await web_link(learners, "Ana"), allow_redirects=False)
    page = await (await learners.client.get("/me")).text()
    assert re.search(r"Monthly</span> · active · <span class=\"drip\">renews on \d{4}-\d\d-\d\d", page)
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert token and 'action="/me/memberships/monthly/cancel"' in page

    stopped = await learners.client.post(
        "/me/memberships/monthly/cancel", data={"csrf": token.group(1)}, allow_redirects=False
    )
    assert stopped.status == 303
    page = await (await learners.client.get("/me")).text()
    assert "access until" in page and 'action="/buy/monthly"' in page and "Keep renewing" in page
    assert "will not renew" not in await learners.console.text("/subscription")
    assert "access until" in await learners.console.text("/subscription")

    resumed = await learners.client.post("/buy/monthly", data={"csrf": token.group(1)}, allow_redirects=False)
    assert resumed.status == 303 and resumed.headers["Location"] == "/me"
    assert "renews on" in await learners.console.text("/subscription")
    unknown = await learners.client.post("/me/memberships/nope/cancel", data={"csrf": token.group(1)})
    assert unknown.status == 409


async def test_over_https_the_mini_apps_cookie_also_reaches_telegram_webs_frame(
    config: Config, clock: ManualClock
) -> None:
    from tests.mini_app_fixtures import TOKEN

    settings = {"telegram": {"token": Secret(TOKEN)}}
    async with web_world(
        config, clock, adapter_settings=settings, public_url="https://hall.example"
    ) as world:
        framed = await world.client.post(
            "/learn/telegram", data={"init_data": init_data(signed_at=clock.now())}, allow_redirects=False
        )
        cookie = framed.cookies["studyhall_learner"]
        assert (cookie["samesite"], cookie["secure"], cookie["httponly"]) == ("None", True, True)
        linked = await world.client.get(await web_link(world, "Ana"), allow_redirects=False)
        assert linked.cookies["studyhall_learner"]["samesite"] == "Lax"  # a browser of its own
        page = await world.client.get("/me")
        assert "frame-ancestors 'self' https://web.telegram.org" in page.headers["Content-Security-Policy"]
