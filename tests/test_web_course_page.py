"""web/learn/pages.py over HTTP: a course page with what search engines and link previews read
(meta description, canonical, OpenGraph and Twitter tags, JSON-LD Course), its language switch
and referral link, the 404 of a hidden course, the sitemap, robots.txt and the preview card."""

from __future__ import annotations

import html
import json
import re
import struct

import pytest

from bot.config import Config, Secret
from core.clock import ManualClock
from core.links import remember_telegram_username, remember_wechat_qr
from tests.course_page_fixtures import Hall, build_hall
from tests.web_fixtures import web_world
from tests.wechat_peer import PNG

BASE = "https://learn.example.org"


async def get(hall: Hall, path: str) -> tuple[int, str, dict[str, str]]:
    response = await hall.world.client.get(path)
    return response.status, await response.text(), dict(response.headers)


def meta(page: str, key: str) -> str:
    """The content of the <meta> whose name or property is ``key``."""
    found = re.search(rf'<meta (?:name|property)="{re.escape(key)}" content="([^"]*)">', page)
    assert found, key
    return html.unescape(found.group(1))


def json_ld(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert found
    return json.loads(found.group(1))


async def test_a_course_page_has_what_search_engines_and_previews_read(hall: Hall) -> None:
    status, page, headers = await get(hall, "/c/py101")

    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<title>Python for data · testhall</title>" in page
    assert f'<link rel="canonical" href="{BASE}/c/py101">' in page
    # The text of the creator's Markdown (typed tags are text there, escaped in the attribute).
    assert meta(page, "description").startswith("Learn pandas by doing. <script>alert(1)</script> <img")
    assert meta(page, "og:title") == meta(page, "twitter:title") == "Python for data"
    assert meta(page, "og:url") == f"{BASE}/c/py101"
    assert meta(page, "og:image") == meta(page, "twitter:image") == f"{BASE}/c/py101/card.png"
    assert meta(page, "twitter:card") == "summary_large_image"
    data = json_ld(page)
    assert data["@type"] == "Course" and data["name"] == "Python for data" and data["courseCode"] == "py101"
    assert data["offers"] == {
        "@type": "Offer",
        "price": "19.99",
        "priceCurrency": "USD",
        "category": "Paid",
        "availability": "https://schema.org/InStock",
        "url": f"{BASE}/c/py101",
    }
    assert data["aggregateRating"] == {
        "@type": "AggregateRating",
        "ratingValue": 4.5,
        "ratingCount": 2,
        "bestRating": 5,
        "worstRating": 1,
    }
    assert f'hreflang="zh-CN" href="{BASE}/c/py101?lang=zh_CN"' in page


async def test_the_page_shows_lessons_with_their_drip_price_bundles_and_reviews(hall: Hall) -> None:
    _, page, _ = await get(hall, "/c/py101")

    assert 'Setup</span> <span class="drip">available at once' in page
    assert 'Loops</span> <span class="drip">opens 2 days after you buy it' in page
    assert "<strong>$19.99</strong> · or 500 points" in page
    assert "Also in:\n      Data starter ($25.00)" in page
    assert "4.5 out of 5, from 2 reviews" in page
    assert "Clear &lt;b&gt;and&lt;/b&gt; practical." in page  # a learner's text, escaped
    assert "To buy it, send /buy py101 to the bot." in page


async def test_creators_markdown_is_sanitised(hall: Hall) -> None:
    _, page, _ = await get(hall, "/c/py101")
    description = page.split('<div class="description">')[1].split("</div>")[0]

    assert "<strong>pandas</strong>" in description
    assert "<script" not in description and "<img" not in description  # typed tags stay text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in description
    assert 'href="javascript' not in page
    assert page.count("<script") == 1  # only the JSON-LD data block


async def test_a_title_cannot_close_the_json_ld_script(hall: Hall) -> None:
    app = hall.world.app
    community = await app.community()
    mei = await app.services.members.find_by_identity(community.id, "console", "mei")
    assert mei is not None
    title = "</script><script>alert(1)</script> & more"
    await app.services.catalog.edit_course(community, mei, "py101", "title", title)

    _, page, _ = await get(hall, "/c/py101")

    assert page.count("<script") == 1
    assert json_ld(page)["name"] == title


async def test_the_language_switch_and_the_communitys_default(hall: Hall) -> None:
    _, chinese, _ = await get(hall, "/c/py101?lang=zh_CN")
    _, english, _ = await get(hall, "/c/py101?lang=klingon")

    assert '<html lang="zh-CN">' in chinese
    assert '<h2 id="lessons-title">课时</h2>' in chinese and "购买 2 天后开放" in chinese
    assert '<html lang="en">' in english and "Lessons" in english
    assert json_ld(chinese)["inLanguage"] == "zh-CN"


async def test_a_referral_code_rides_the_telegram_link_and_nobodys_is_dropped(hall: Hall) -> None:
    _, page, _ = await get(hall, "/c/py101")
    assert "Open in Telegram" not in page  # no bot has connected yet: no username to link to

    await remember_telegram_username(hall.world.app.db, "hall_bot")
    _, plain, _ = await get(hall, "/c/py101")
    _, referred, _ = await get(hall, f"/c/py101?ref={hall.ref_code.upper()}")
    _, nobody, _ = await get(hall, "/c/py101?ref=zzzzzzzz")

    assert 'href="https://t.me/hall_bot"' in plain
    assert f'href="https://t.me/hall_bot?start=ref_{hall.ref_code}"' in referred
    assert 'href="https://t.me/hall_bot"' in nobody and "zzzzzzzz" not in nobody


@pytest.mark.parametrize("path", ["/c/draft1", "/c/nosuch", "/c/draft1/card.png"])
async def test_a_hidden_or_unknown_course_is_not_found(hall: Hall, path: str) -> None:
    status, page, headers = await get(hall, path)

    assert status == 404
    assert "There is no such course here." in page and "Not ready" not in page
    assert '<meta name="robots" content="noindex">' in page
    assert headers["Cache-Control"] == "no-store"


async def test_a_failing_page_says_sorry_with_an_error_id_and_no_traceback(
    hall: Hall, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(hall.world.app.services.catalog, "lessons", broken)
    status, page, _ = await get(hall, "/c/py101?ref=secret")

    assert status == 500
    assert "Sorry, something went wrong on our side (error " in page
    assert "Traceback" not in page and "boom" not in page
    assert "secret" not in caplog.text


async def test_the_sitemap_lists_published_courses_and_robots_points_to_it(hall: Hall) -> None:
    status, sitemap, headers = await get(hall, "/sitemap.xml")
    assert status == 200 and headers["Content-Type"].startswith("application/xml")
    assert re.findall(r"<loc>([^<]+)</loc>", sitemap) == [f"{BASE}/c/py101", f"{BASE}/c/sql1"]

    status, robots, _ = await get(hall, "/robots.txt")
    assert status == 200
    assert "User-agent: *\nAllow: /c/\n" in robots
    assert "Disallow: /dashboard/\n" in robots and "Disallow: /learn/\n" in robots
    assert robots.endswith(f"Sitemap: {BASE}/sitemap.xml\n")


async def test_the_preview_card_is_a_1200_by_630_png(hall: Hall) -> None:
    response = await hall.world.client.get("/c/py101/card.png")
    body = await response.read()

    assert response.status == 200 and response.headers["Content-Type"] == "image/png"
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", body[16:24]) == (1200, 630)  # IHDR: width, height


async def test_open_in_discord_and_the_wechat_qr_code_appear_once_configured(
    config: Config, clock: ManualClock
) -> None:
    invite = "https://discord.gg/AbCd123"
    settings = {"discord": {"token": Secret("x"), "invite": invite}}
    async with web_world(config, clock, public_url=BASE, adapter_settings=settings) as world:
        hall = await build_hall(world)
        status, page, _ = await get(hall, "/c/py101")
        assert status == 200
        assert f'<a class="button" href="{invite}" rel="noopener">Open in Discord</a>' in page
        assert "wechat-qr" not in page and (await world.client.get("/wechat-qr.png")).status == 404

        await remember_wechat_qr(world.app.db, PNG)  # what the WeChat adapter keeps when it connects
        _, page, _ = await get(hall, "/c/py101")
        assert '<img src="/wechat-qr.png" width="160" height="160"' in page
        assert "Scan with WeChat to follow the Official Account" in page
        image = await world.client.get("/wechat-qr.png")
        assert image.status == 200 and image.content_type == "image/png" and await image.read() == PNG
