"""web/dashboard/channels.py over HTTP: each channel's first-touch and last-touch figures side by
side (the same report /channels gives), a channel added by the same core call as /channel add
and audited as from the dashboard, refusals beside the field with nothing changed, creators
only; and a course page's ?src=TAG carried into its Telegram link and, by a cookie, into the
member's touch when they sign in."""

from __future__ import annotations

import html as html_lib
import re

from sqlalchemy import select

from core.audit.tables import audit_log
from core.channels.tables import channel_touches
from core.links import remember_telegram_username
from tests.conftest import console_member, snapshot
from tests.learner_fixtures import web_link
from tests.web_fixtures import WebWorld
from web.app import PAGES
from web.dashboard import channels as channels_page
from web.learn.pages import SRC_COOKIE

PAGE = "/dashboard/channels"
VOLATILE = ("activity", "job_runs", "web_sessions", "web_form_keys")


def row(html: str, tag: str, model: int) -> dict[str, str]:
    """The figures of channel ``tag``'s row ``model`` (1: first touch, 2: last touch)."""
    section = re.search(rf'<section id="channel-{tag}" class="channel">(.*?)</section>', html, re.S)
    assert section, html
    found = re.search(rf'<tr class="model-{model}">(.*?)</tr>', section.group(1), re.S)
    assert found, section.group(1)
    cells = re.findall(r'<td data-label="[^"]*" class="(\w+)">([^<]*)</td>', found.group(1))
    return {name: html_lib.unescape(value) for name, value in cells}


async def test_the_page_shows_both_models_side_by_side_as_channels_does(world: WebWorld) -> None:
    assert channels_page in PAGES and channels_page.MENU.creators_only
    await world.console(":as Mei creator", "/course add py101 19.99 USD Python", "/channel add xhs Notes")
    await world.console("/channel add wx", "/spend add 10 USD xhs")
    await world.console(":as Ana", "/start src_xhs", "/buy py101", ":pay")
    await world.console(":as Ben", "/start src_wx", "/start src_xhs", "/buy py101", ":pay")
    await world.sign_in("Mei")
    response = await world.client.get(PAGE)
    html = await response.text()
    assert response.status == 200
    assert '<a href="/dashboard/channels" aria-current="page">Channels</a>' in html
    assert re.findall(r'<section id="channel-([\w-]+)"', html) == ["xhs", "wx"]
    assert row(html, "xhs", 1) == {
        "members": "1",
        "active": "1",
        "buyers": "1",
        "conversion": "100%",
        "revenue": "$19.99",
        "cac": "$10.00",
        "roi": "+100%",
    }
    assert row(html, "xhs", 2)["revenue"] == "$39.98" and row(html, "xhs", 2)["roi"] == "+300%"
    assert row(html, "wx", 1)["buyers"] == "1" and row(html, "wx", 2)["buyers"] == "0"
    assert row(html, "wx", 1)["cac"] == "—"
    assert "<code>/start src_xhs</code>" in html and "WeChat QR code scene: src_xhs" in html
    assert "http://127.0.0.1" in html and "/c/py101?src=xhs" in html  # the web entry link
    # The chat's report says the same.
    out = await world.console(":as Mei", "/channels")
    assert any("revenue $39.98 · CAC $5.00 · ROI +300%" in line for line in out)


async def test_adding_a_channel_on_the_page_is_the_commands_call(world: WebWorld) -> None:
    await world.sign_in("Mei")
    response = await world.submit(PAGE, PAGE, tag="Ads-1", name="Spring ads")
    assert response.status == 303
    assert response.headers["Location"] == "/dashboard/channels?added=ads-1#channel-ads-1"
    html = await (await world.client.get(response.headers["Location"])).text()
    assert 'id="done">Channel ads-1 is ready.' in html
    mei = await console_member(world.app, "Mei")
    async with world.app.db.read() as conn:
        entry = (await conn.execute(select(audit_log).where(audit_log.c.action == "channel.add"))).one()
    assert entry.actor_member_id == mei.id and '"via": "dashboard"' in entry.detail
    # Refused: shown beside the field, what was typed kept, nothing changed.
    before = await snapshot(world.app.db, exclude=VOLATILE)
    for tag, name, field, message in (
        ("bad tag", "", "tag", "A channel tag is 1 to 32 letters, digits, _ or - (no spaces)."),
        ("ADS-1", "", "tag", "There is a channel ads-1 already."),
        ("long", "n" * 65, "name", "Name the channel in at most 64 characters."),
    ):
        refused = await world.submit(PAGE, PAGE, tag=tag, name=name)
        page = await refused.text()
        assert refused.status == 400
        assert f'id="error-{field}">{html_lib.escape(message, quote=False)}</span>' in page.replace(
            "&#39;", "'"
        )
    assert await snapshot(world.app.db, exclude=VOLATILE) == before


async def test_moderators_are_refused(world: WebWorld) -> None:
    await world.sign_in("Sam", role="moderator")
    response = await world.client.get(PAGE)
    assert response.status == 403


async def test_a_course_pages_src_reaches_the_start_link_and_the_touch_at_sign_in(
    learners: WebWorld,
) -> None:
    app = learners.app
    community = await app.community()
    mei = await console_member(app, "Mei")
    await app.services.channels.add(community, mei, "xhs")
    await app.services.channels.add(community, mei, "wx")
    await remember_telegram_username(app.db, "hall_bot")
    first = await learners.client.get("/c/py101?src=WX")
    assert first.cookies[SRC_COOKIE].value == "wx" and first.headers["Cache-Control"] == "private, max-age=60"
    assert "https://t.me/hall_bot?start=src_wx" in await first.text()
    ana = await console_member(app, "Ana")
    code = await app.services.referrals.code_of(ana)
    second = await learners.client.get(f"/c/py101?src=xhs&ref={code}")
    assert second.cookies[SRC_COOKIE].value == "xhs"  # the newest visit: the last touch
    assert f"https://t.me/hall_bot?start=src_xhs-ref_{code}" in await second.text()
    unknown = await learners.client.get("/c/py101?src=nope")
    assert SRC_COOKIE not in unknown.cookies and "src_nope" not in await unknown.text()  # ignored

    ben = await console_member(app, "Ben")
    response = await learners.client.get(await web_link(learners, "Ben"), allow_redirects=False)
    assert response.status == 303 and response.cookies[SRC_COOKIE].value == ""  # used up
    assert await app.services.channels.touches_of(ben) == ("xhs", "xhs")
    async with app.db.read() as conn:
        via = (await conn.execute(select(channel_touches.c.via))).scalars().all()
    assert via == ["web"]
