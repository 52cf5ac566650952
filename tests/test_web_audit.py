"""web/dashboard/audit.py: the whole audit trail (audit log and ledger) on one page, each entry
marked "via dashboard" or "via command", filtered by actor, action and dates in the community's
zone, paged by keyset across both sources."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.config import Config
from core.clock import ManualClock
from tests.conftest import snapshot
from tests.web_fixtures import WebWorld, new_key, web_world


@pytest.fixture
async def world(config: Config, clock: ManualClock) -> AsyncIterator[WebWorld]:
    async with web_world(config, clock, timezone="Asia/Shanghai") as built:
        yield built


def rows(html: str) -> list[tuple[str, str, str]]:
    """(row id, action code, where) of each listed entry."""
    return re.findall(
        r'<tr id="([a-z]+-\d+)" data-action="([\w.]+)">.*?<td class="via-\w+">([^<]*)</td></tr>', html
    )


async def test_dashboard_and_command_actions_are_listed_with_where_they_were_done(
    world: WebWorld, clock: ManualClock
) -> None:
    await world.console(":as Mei creator", ":as Sam", "/start", ":as Ana", "/start")
    clock.advance(timedelta(minutes=1))
    await world.sign_in("Mei")
    fields = await world.fields("/dashboard/settings")
    await world.client.post("/dashboard/settings", data={**fields, "key": "cap.award", "value": "900"})
    clock.advance(timedelta(minutes=1))
    await world.console(
        ":as Mei", ":dm", "/rules set cap.award 800", "/role @Sam moderator", "/award @Ana 3 nice"
    )
    html = await (await world.client.get("/dashboard/audit")).text()
    listed = rows(html)
    assert [(action, where) for _, action, where in listed[:4]] == [
        ("role.change", "via command"),
        ("rules.set", "via command"),
        ("points.award", "via command"),
        ("rules.set", "via dashboard"),
    ]  # within one instant, audit log entries come before the ledger's
    assert "key: cap.award; value: 900" in html and "<td>rule changed</td>" in html
    only_rules = await (await world.client.get("/dashboard/audit?action=rules.set")).text()
    assert [where for _, _, where in rows(only_rules)] == ["via command", "via dashboard"]
    assert '<option value="rules.set" selected>rule changed</option>' in only_rules


async def test_dates_are_days_in_the_community_zone(world: WebWorld, clock: ManualClock) -> None:
    # 2026-01-05 09:00 UTC is 17:00 in Shanghai; 16:30 UTC is 00:30 the next day there.
    await world.console(":as Mei creator", ":as Ana", "/start")
    clock.advance(timedelta(hours=6))
    await world.console(":as Mei", "/award @Ana 2 evening of the 5th")  # 15:00 UTC, 23:00 there
    clock.advance(timedelta(hours=1))
    await world.console(":as Mei", "/award @Ana 1 late on the 5th")  # 16:00 UTC: 00:00 on the 6th there
    await world.sign_in("Mei")
    fifth = await (
        await world.client.get("/dashboard/audit?action=points.award&since=2026-01-05&until=2026-01-05")
    ).text()
    assert "evening of the 5th" in fifth and "late on the 5th" not in fifth
    sixth = await (await world.client.get("/dashboard/audit?action=points.award&since=2026-01-06")).text()
    assert "late on the 5th" in sixth and "evening of the 5th" not in sixth
    assert "2026-01-06 00:00" in sixth  # shown in the zone too
    assert 'name="since" type="date" value="2026-01-06"' in sixth


async def test_a_bad_date_is_refused_beside_its_field(world: WebWorld) -> None:
    await world.console(":as Mei creator")
    await world.sign_in("Mei")
    before = await snapshot(world.app.db)
    bad = await world.client.get("/dashboard/audit?since=2026-02-30")
    html = await bad.text()
    assert bad.status == 400
    assert re.search(r'id="audit-since-error" role="alert">Enter a date as YYYY-MM-DD.<', html), html
    reversed_ = await world.client.get("/dashboard/audit?since=2026-02-02&until=2026-02-01")
    assert reversed_.status == 400
    assert (
        'id="audit-until-error" role="alert">The end date is before the start date.<'
        in await reversed_.text()
    )
    for address in ("/dashboard/audit?before=12-x3", "/dashboard/audit?action=<b>"):
        refused = await world.client.get(address)
        assert refused.status == 400 and "This page&#39;s address is not valid." in await refused.text()
    assert await snapshot(world.app.db) == before


async def test_older_pages_go_through_both_sources_without_repeats_or_gaps(
    world: WebWorld, clock: ManualClock
) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    await world.sign_in("Mei")
    for n in range(12):  # per minute: a point award (ledger) and a rule change (audit log)
        clock.advance(timedelta(minutes=1))
        await world.console(":as Mei", f"/award @Ana 1 round {n}")
        csrf = await world.csrf("/dashboard/settings")
        value = {"csrf": csrf, "form_key": new_key(), "key": "cap.award", "value": str(900 + n)}
        await world.client.post("/dashboard/settings", data=value)
    seen: list[str] = []
    address: str | None = "/dashboard/audit"
    pages = 0
    while address:
        html = await (await world.client.get(address)).text()
        seen += [row for row, _, _ in rows(html)]
        older = re.search(r'<a href="([^"]+)" rel="next" id="older">', html)
        address = older.group(1).replace("&amp;", "&") if older else None
        pages += 1
    assert pages == 2 and len(seen) == len(set(seen))
    assert sum(row.startswith("transfer-") for row in seen) == 12
    assert len([row for row in seen if row.startswith("entry-")]) >= 12  # the rule changes, the roles
    first = await (await world.client.get("/dashboard/audit?action=rules.set")).text()
    assert len(rows(first)) == 12 and 'id="older"' not in first
