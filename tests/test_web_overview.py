"""web/dashboard/overview.py: next week's forecast and the analytics charts as SVG, each with a
text alternative, for creators only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.clock import ManualClock
from tests.web_fixtures import WebWorld


async def seed(world: WebWorld, clock: ManualClock) -> None:
    """Two learners, a sale, activity over two weeks."""
    await world.console(":as Mei creator", ":as Ana", "/start", ":as Ben", "/start")
    await world.console(":as Mei", "/course add py101 19.99 USD Python", ":as Ana", "/buy py101", ":pay")
    clock.advance(timedelta(days=10))
    await world.console(":as Ben", ":in lounge", "hello")


def figures(html: str) -> dict[str, tuple[str, str, str]]:
    """chart name → (img src, alt, caption)."""
    found = re.findall(
        r'<figure id="chart-([\w-]+)">\s*<img src="([^"]+)" alt="([^"]*)"[^>]*>'
        r"\s*<figcaption>([^<]*)</figcaption>",
        html,
    )
    return {name: (src, alt, caption) for name, src, alt, caption in found}


async def test_the_overview_shows_the_forecast_and_each_chart_with_its_figures(
    world: WebWorld, clock: ManualClock
) -> None:
    await seed(world, clock)
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard")).text()
    stats = await world.console.text(":as Mei", ":dm", "/stats")
    forecast = re.search(r'<p id="forecast">([^<]*)</p>', html)
    assert forecast and forecast.group(1).startswith("Next week, forecast: ")
    assert forecast.group(1) in stats  # word for word what /stats says
    shown = figures(html)
    assert list(shown) == ["revenue-USD", "signups", "retention-activity", "retention-paying", "segments"]
    assert shown["revenue-USD"][0] == "/dashboard/charts/revenue-USD.svg"
    assert shown["revenue-USD"][1] == "Revenue by month (USD)"
    assert re.fullmatch(r"Revenue by month \(USD\): \d{4}-\d\d \$19\.99", shown["revenue-USD"][2])
    assert shown["signups"][2].startswith("Sign-ups in the last weeks: ")
    assert shown["retention-activity"][2].startswith("1 weekly cohort; active in the week after joining: ")
    assert shown["segments"][2].startswith("Segments: ")
    assert "https://" not in html and "<script" not in html  # no CDN, no script


async def test_each_chart_is_an_svg_nobody_caches(world: WebWorld, clock: ManualClock) -> None:
    await seed(world, clock)
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard")).text()
    for src, _, _ in figures(html).values():
        response = await world.client.get(src)
        assert response.status == 200, src
        assert response.headers["Content-Type"] == "image/svg+xml"
        assert response.headers["Cache-Control"] == "no-store"
        body = await response.read()
        assert body.startswith(b"<?xml") and b"<svg" in body and b"<script" not in body
    for missing in ("revenue-EUR", "nothing", "retention-other"):
        assert (await world.client.get(f"/dashboard/charts/{missing}.svg")).status == 404


async def test_a_cluster_name_a_creator_typed_cannot_script_the_chart(
    world: WebWorld, clock: ManualClock
) -> None:
    import json

    from core.analytics.tables import analytics_runs

    await seed(world, clock)
    community = await world.app.community()
    mei = (await world.app.services.members.find_by_name(community.id, "Mei"))[0]
    summary = await world.app.services.analytics.latest(community, mei)
    summary["clusters"] = [{"number": 1, "size": 2, "name": "<script>alert(1)</script>", "traits": []}]
    async with world.app.db.write() as conn:  # as /segments name would leave it, had K-means run
        await conn.execute(analytics_runs.update().values(summary=json.dumps(summary)))
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 2" in figures(html)["segments"][2]
    assert "<script>" not in html
    body = await (await world.client.get("/dashboard/charts/segments.svg")).read()
    assert b"<script" not in body


async def test_charts_are_for_creators(world: WebWorld, clock: ManualClock) -> None:
    await seed(world, clock)
    assert (await world.client.get("/dashboard/charts/signups.svg")).status == 401
    await world.sign_in("Sam", "moderator")
    html = await (await world.client.get("/dashboard")).text()
    assert 'id="forecast"' not in html and "/dashboard/charts/" not in html
    refused = await world.client.get("/dashboard/charts/signups.svg")
    assert refused.status == 403 and "This page is for creators." in await refused.text()


async def test_the_overview_in_chinese(world: WebWorld, clock: ManualClock) -> None:
    await seed(world, clock)
    await world.sign_in("Mei")
    await world.client.get("/dashboard/lang?to=zh_CN&next=/dashboard")
    html = await (await world.client.get("/dashboard")).text()
    forecast = re.search(r'<p id="forecast">([^<]*)</p>', html)
    assert forecast and "Next week" not in forecast.group(1)
    assert all("Revenue" not in alt for _, alt, _ in figures(html).values())
    response = await world.client.get("/dashboard/charts/segments.svg")
    assert response.status == 200 and response.headers["Content-Type"] == "image/svg+xml"


async def test_a_chart_is_drawn_once_per_run_and_language(
    world: WebWorld, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.analytics import charts

    drawn: list[str] = []
    real_draw = charts.draw

    async def counting_draw(chart, source, locale, format="png"):  # type: ignore[no-untyped-def]
        drawn.append(locale)
        return await real_draw(chart, source, locale, format)

    monkeypatch.setattr(charts, "draw", counting_draw)
    await seed(world, clock)
    await world.sign_in("Mei")
    first = await (await world.client.get("/dashboard/charts/signups.svg")).read()
    again = await (await world.client.get("/dashboard/charts/signups.svg")).read()
    assert again == first and drawn == ["en"]
    await world.client.get("/dashboard/lang?to=zh_CN&next=/dashboard")
    await world.client.get("/dashboard/charts/signups.svg")
    assert drawn == ["en", "zh_CN"]
    clock.advance(timedelta(minutes=5))
    await world.submit("/dashboard", "/dashboard/recompute")  # a new run: drawn anew
    await world.client.get("/dashboard/charts/signups.svg")
    assert drawn == ["en", "zh_CN", "zh_CN"]
