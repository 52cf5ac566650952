"""web/dashboard/analytics.py: segments and naming a cluster, marketing spend, undelivered
messages — the same core calls and words as /segments, /spend and /undelivered."""

from __future__ import annotations

from core.clock import ManualClock
from tests.conftest import snapshot
from tests.test_analytics_service import shape_community
from tests.web_fixtures import WebWorld


async def test_segments_and_clusters_are_shown_and_a_cluster_is_named(
    world: WebWorld, clock: ManualClock
) -> None:
    await shape_community(world.app, clock)
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard/analytics")).text()
    assert "<tr><td>paying</td><td>10</td></tr>" in html and 'id="cluster-1"' in html
    assert "recently active" in html
    posted = await world.submit(
        "/dashboard/analytics", "/dashboard/analytics/segments", cluster="1", name="Superfans"
    )
    assert (
        posted.status == 303 and posted.headers["Location"] == "/dashboard/analytics?done=cluster-1#cluster-1"
    )
    page = await (await world.client.get(posted.headers["Location"])).text()
    assert "<strong>Cluster 1</strong> “Superfans”" in page
    segments = await world.console.text(":as Mei", ":dm", "/segments")
    assert "“Superfans”" in segments


async def test_a_bad_cluster_name_is_refused_beside_its_field(world: WebWorld, clock: ManualClock) -> None:
    await shape_community(world.app, clock)
    await world.sign_in("Mei")
    await world.client.get("/dashboard/analytics")  # the run the page shows
    before = await snapshot(world.app.db)
    refused = await world.submit(
        "/dashboard/analytics", "/dashboard/analytics/segments", cluster="1", name="paying"
    )
    assert refused.status == 400
    html = await refused.text()
    assert 'id="cluster-error-1">A segment name is 1 to 40 characters' in html and 'value="paying"' in html
    missing = await world.submit(
        "/dashboard/analytics", "/dashboard/analytics/segments", cluster="99", name="x"
    )
    assert missing.status == 400  # no cluster 99: no field to show it beside, but nothing changes
    assert "There is no cluster 99" in await missing.text()
    assert await snapshot(world.app.db) == before


async def test_spend_is_recorded_as_spend_add_records_it(world: WebWorld) -> None:
    from core.audit.log import recent

    await world.console(":as Mei creator")
    await world.sign_in("Mei")
    posted = await world.submit(
        "/dashboard/analytics",
        "/dashboard/analytics/spend",
        amount="50",
        currency="usd",
        channel="Xiaohongshu",
    )
    assert posted.status == 303, await posted.text()
    html = await (await world.client.get("/dashboard/analytics")).text()
    assert "<tr><td>xiaohongshu</td><td>$50.00</td></tr>" in html
    community = await world.app.community()
    async with world.app.db.read() as conn:
        entry = next(e for e in await recent(conn, community.id) if e.action == "analytics.spend")
    assert entry.detail["via"] == "dashboard"


async def test_bad_spend_is_refused_with_the_command_words(world: WebWorld) -> None:
    await world.console(":as Mei creator")
    await world.sign_in("Mei")
    await world.client.get("/dashboard/analytics")  # the run the page shows
    before = await snapshot(world.app.db)
    for amount, currency, channel in (("0", "USD", "ads"), ("1.999", "USD", "ads"), ("lots", "USD", "ads")):
        refused = await world.submit(
            "/dashboard/analytics",
            "/dashboard/analytics/spend",
            amount=amount,
            currency=currency,
            channel=channel,
        )
        html = await refused.text()
        assert refused.status == 400 and 'id="spend-error">' in html, amount
        shown = html.split('id="spend-error">')[1].split("</p>")[0]
        command = await world.console.text(":as Mei", ":dm", f"/spend add {amount} {currency} {channel}")
        assert shown.replace("&#39;", "'") in command, (shown, command)
    blank = await world.submit(
        "/dashboard/analytics", "/dashboard/analytics/spend", amount="10", currency="USD", channel="  "
    )
    assert blank.status == 400 and "Name the channel in 1 to 40 characters." in await blank.text()
    assert await snapshot(world.app.db) == before


async def test_undelivered_messages_are_counted_by_reason(world: WebWorld) -> None:
    await world.console(":as Mei creator")
    delivery = world.app.services.delivery
    await delivery.skipped("wechat", "o1", None, "window_closed", "Your lesson is ready")
    await delivery.skipped("wechat", "o2", None, "window_closed", "Your lesson is ready")
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard/analytics")).text()
    assert "<td>wechat · 48 hours passed since their last message</td><td>2</td>" in html
    assert "Your lesson is ready" in html


async def test_analytics_is_for_creators(world: WebWorld) -> None:
    await world.sign_in("Sam", "moderator")
    assert (await world.client.get("/dashboard/analytics")).status == 403
    csrf = await world.csrf("/dashboard/sessions")
    from tests.web_fixtures import new_key

    refused = await world.client.post(
        "/dashboard/analytics/spend",
        data={"csrf": csrf, "form_key": new_key(), "amount": "5", "currency": "USD", "channel": "ads"},
    )
    assert refused.status == 403
