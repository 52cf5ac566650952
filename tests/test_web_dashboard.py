"""web/app.py pages: the overview (from the analytics /stats reads), the sessions page, the
language menu, escaping — as plain HTML forms that work without JavaScript."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.clock import ManualClock
from tests.web_fixtures import WebWorld, new_key


def figure(html: str, name: str) -> str:
    found = re.search(rf'id="{name}">([^<]*)<', html)
    assert found, html
    return found.group(1)


async def test_the_overview_shows_what_stats_shows(world: WebWorld, clock: ManualClock) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start", ":as Ben", "/start")
    await world.console(":as Mei", "/course add py101 19.99 USD Python", ":as Ana", "/buy py101", ":pay")
    clock.advance(timedelta(days=10))
    await world.console(":as Ben", ":in lounge", "hello")
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard")).text()
    assert figure(html, "members") == "2"  # the learners, as /stats counts them
    assert figure(html, "active-7") == "1"  # Ben, today; Ana ten days ago
    assert figure(html, "active-30") == "2"
    assert re.search(r"<td>USD</td><td>\$19\.99</td>", html), html
    assert "joined <strong>2</strong>" in html and "first purchase <strong>1</strong>" in html
    assert "Computed at 2026-01-15 09:00" in html
    stats = await world.console.text(":as Mei", ":dm", "/stats")
    assert "Members 2" in stats


async def test_recompute_is_a_post_then_a_redirect(world: WebWorld, clock: ManualClock) -> None:
    await world.sign_in("Mei")
    assert "Computed at 2026-01-05 09:00" in await (await world.client.get("/dashboard")).text()
    clock.advance(timedelta(hours=2))
    csrf = await world.csrf()
    posted = await world.client.post("/dashboard/recompute", data={"csrf": csrf}, allow_redirects=False)
    assert posted.status == 303 and posted.headers["Location"] == "/dashboard"
    assert "Computed at 2026-01-05 11:00" in await (await world.client.get("/dashboard")).text()


async def test_a_moderator_sees_no_overview_and_cannot_recompute(world: WebWorld) -> None:
    await world.console(":as Mei creator")
    await world.sign_in("Sam", "moderator")
    html = await (await world.client.get("/dashboard")).text()
    assert "The overview is for creators." in html and 'id="members"' not in html
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]
    refused = await world.client.post("/dashboard/recompute", data={"csrf": csrf}, allow_redirects=False)
    assert refused.status == 403 and "Only creators" in await refused.text()


async def test_sessions_list_revoke_one_and_everywhere(world: WebWorld, clock: ManualClock) -> None:
    from aiohttp.test_utils import TestClient

    await world.sign_in("Mei")  # this browser
    other = TestClient(world.client.server)  # a second browser
    await other.start_server()
    try:
        path = "/dashboard/login/" + (await world.link("Mei")).rsplit("/", 1)[1]
        assert (await other.get(path, headers={"User-Agent": "PhoneBrowser/1.0"})).status == 200
        html = await (await world.client.get("/dashboard/sessions")).text()
        assert "PhoneBrowser/1.0" in html and "(this browser)" in html
        ids = re.findall(r'action="/dashboard/sessions/(\d+)/revoke"', html)
        assert len(ids) == 2
        phone = max(ids)
        csrf = await world.csrf()
        revoked = await world.client.post(
            f"/dashboard/sessions/{phone}/revoke", data={"csrf": csrf}, allow_redirects=False
        )
        assert revoked.status == 303 and revoked.headers["Location"] == "/dashboard/sessions"
        assert (await other.get("/dashboard")).status == 401
        assert "PhoneBrowser" not in await (await world.client.get("/dashboard/sessions")).text()
        assert (
            await other.get("/dashboard/login/" + (await world.link("Mei")).rsplit("/", 1)[1])
        ).status == 200
        everywhere = await world.client.post("/dashboard/sessions/revoke-all", data={"csrf": csrf})
        assert everywhere.status == 200 and "You are signed out." in await everywhere.text()
        assert (await other.get("/dashboard")).status == 401
        assert (await world.client.get("/dashboard")).status == 401
    finally:
        await other.close()


async def test_the_language_menu_is_remembered(world: WebWorld) -> None:
    await world.sign_in("Mei")
    assert "<title>Overview" in await (await world.client.get("/dashboard")).text()
    switched = await world.client.get(
        "/dashboard/lang?to=zh_CN&next=/dashboard/sessions", allow_redirects=False
    )
    assert switched.status == 303 and switched.headers["Location"] == "/dashboard/sessions"
    assert "studyhall_lang=zh_CN" in switched.headers["Set-Cookie"]
    html = await (await world.client.get("/dashboard")).text()
    assert '<html lang="zh-CN">' in html and "<title>概览" in html and "退出登录" in html
    away = await world.client.get("/dashboard/lang?to=en&next=https://evil.example/", allow_redirects=False)
    assert away.headers["Location"] == "/dashboard"  # never an open redirect


async def test_pages_escape_what_members_typed(world: WebWorld) -> None:
    await world.console(":as Mei creator")
    community = await world.app.community()
    mei = (await world.app.services.members.find_by_name(community.id, "Mei"))[0]
    path = (
        "/dashboard/login/"
        + (await world.app.services.web_sessions.login_link(community, mei)).rsplit("/", 1)[1]
    )
    await world.client.get(path, headers={"User-Agent": "<script>alert(1)</script>"})
    html = await (await world.client.get("/dashboard/sessions")).text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_pages_work_at_phone_width_with_labels_and_no_script(world: WebWorld) -> None:
    await world.sign_in("Mei")
    for page in ("/dashboard", "/dashboard/sessions"):
        html = await (await world.client.get(page)).text()
        assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
        assert "<script" not in html
        assert '<label for="lang-menu">' in html and 'id="lang-menu"' in html
    css = await world.client.get("/dashboard/static/dashboard.css")
    assert css.status == 200 and "focus-visible" in await css.text()


# -- settings ----------------------------------------------------------------------------------


def rule_field(html: str, key: str) -> str:
    """The <li> of one rule on the settings page."""
    found = re.search(rf'<li id="rule-{re.escape(key)}">(.*?)</li>', html, re.S)
    assert found, html
    return found.group(1)


async def test_settings_list_every_rule_with_value_help_and_range(world: WebWorld) -> None:
    from core.settings.registry import SETTINGS

    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard/settings")).text()
    assert '<a href="/dashboard/settings" aria-current="page">Settings</a>' in html
    assert re.findall(r'<li id="rule-([a-z_.]+)">', html) == list(SETTINGS)
    points = rule_field(html, "message.points")
    assert 'value="1"' in points and "points for a qualifying group message" in points
    assert "a whole number from 0 to 100" in points and '<label for="value-message.points">' in points
    staff = rule_field(html, "top.include_staff")
    assert '<option value="off" selected>' in staff and "on or off" in staff


async def test_a_rule_changed_on_the_page_is_what_rules_shows(world: WebWorld) -> None:
    await world.sign_in("Mei")
    csrf = await world.csrf("/dashboard/settings")
    posted = await world.client.post(
        "/dashboard/settings",
        data={"csrf": csrf, "form_key": new_key(), "key": "message.points", "value": "3"},
        allow_redirects=False,
    )
    assert posted.status == 303
    assert posted.headers["Location"] == "/dashboard/settings?saved=message.points#rule-message.points"
    html = await (await world.client.get(posted.headers["Location"])).text()
    assert 'id="saved">message.points is now 3.</p>' in html
    assert 'value="3"' in rule_field(html, "message.points")
    await world.client.post(
        "/dashboard/settings",
        data={"csrf": csrf, "form_key": new_key(), "key": "top.include_staff", "value": "on"},
    )
    rules = await world.console.text(":as Mei", ":dm", "/rules")
    assert "message.points = 3" in rules and "top.include_staff = on" in rules


async def test_a_bad_value_is_refused_beside_its_field_and_changes_nothing(world: WebWorld) -> None:
    from tests.conftest import snapshot

    await world.sign_in("Mei")
    csrf = await world.csrf("/dashboard/settings")
    command = await world.console.text(":as Mei", ":dm", "/rules set message.points 500")
    assert "message.points must be between 0 and 100." in command
    before = await snapshot(world.app.db)
    refused = await world.client.post(
        "/dashboard/settings",
        data={"csrf": csrf, "form_key": new_key(), "key": "message.points", "value": "500"},
        allow_redirects=False,
    )
    assert refused.status == 400
    html = await refused.text()
    field = rule_field(html, "message.points")
    assert 'id="error-message.points">message.points must be between 0 and 100.</p>' in field
    assert 'value="500"' in field and 'aria-invalid="true"' in field  # what was typed, to fix
    assert "Nothing was changed." in html and html.count('class="field-error"') == 1
    assert await snapshot(world.app.db) == before
    await world.client.get("/dashboard/lang?to=zh_CN&next=/dashboard/settings")
    chinese = await world.client.post(
        "/dashboard/settings",
        data={"csrf": csrf, "form_key": new_key(), "key": "top.include_staff", "value": "maybe"},
    )
    assert "top.include_staff 只能是" in rule_field(await chinese.text(), "top.include_staff")
    assert await snapshot(world.app.db) == before
    assert "message.points = 1" in await world.console.text(":as Mei", ":dm", "/rules")


async def test_settings_refuse_a_post_without_csrf_a_moderator_and_a_stranger(world: WebWorld) -> None:
    from tests.conftest import snapshot

    await world.console(":as Mei creator")
    before = (await snapshot(world.app.db))["community_settings"]
    anonymous = await world.client.get("/dashboard/settings")
    assert anonymous.status == 401
    await world.sign_in("Sam", "moderator")
    html = await (await world.client.get("/dashboard")).text()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]
    page = await world.client.get("/dashboard/settings")
    assert page.status == 403 and "This page is for creators." in await page.text()
    refused = await world.client.post(
        "/dashboard/settings",
        data={"csrf": csrf, "form_key": new_key(), "key": "message.points", "value": "3"},
    )
    assert refused.status == 403 and "Only creators can change the rules." in await refused.text()
    await world.sign_in("Mei")
    missing = await world.client.post("/dashboard/settings", data={"key": "message.points", "value": "3"})
    assert missing.status == 403 and "This form has expired" in await missing.text()
    assert (await snapshot(world.app.db))["community_settings"] == before
    assert "message.points = 1" in await world.console.text(":as Mei", ":dm", "/rules")


async def test_settings_escape_what_was_typed(world: WebWorld) -> None:
    await world.sign_in("Mei")
    csrf = await world.csrf("/dashboard/settings")
    typed = '"><script>alert(1)</script>'
    refused = await world.client.post(
        "/dashboard/settings",
        data={"csrf": csrf, "form_key": new_key(), "key": "message.points", "value": typed},
    )
    html = await refused.text()
    assert refused.status == 400 and "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rule_field(html, "message.points")


# -- audit log ---------------------------------------------------------------------------------


def audit_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr id="transfer-(\d+)"', html)]


async def test_the_audit_log_shows_what_audit_shows_newest_first_by_pages(
    world: WebWorld, clock: ManualClock
) -> None:
    await world.console(":as Mei creator", ":as Sam moderator", ":as Ana", "/start")
    clock.advance(timedelta(minutes=1))  # the roles given (audit log entries) come before the awards
    await world.console(":as Mei", *(f"/award @Ana 1 note {n}" for n in range(21)))
    await world.console(":as Sam", "/award @Ana 2 <b>kind</b> & helpful", ":as Mei", "/deduct @Ana 1 spam")
    command = await world.console.text(":as Mei", ":dm", "/audit")
    await world.sign_in("Mei")
    first = await (await world.client.get("/dashboard")).text()
    assert '<a href="/dashboard/audit">Audit log</a>' in first
    html = await (await world.client.get("/dashboard/audit")).text()
    ids = audit_ids(html)
    assert len(ids) == 20 and ids == sorted(ids, reverse=True)
    newest = re.search(rf"#{ids[0]} (\S+ \S+) Mei → Ana -1 deduct: spam", command)
    assert newest, command  # the same entry, at the same time in the community's zone
    row = re.search(rf'<tr id="transfer-{ids[0]}"(.*?)</tr>', html).group(1)  # type: ignore[union-attr]
    assert f"<td>{newest.group(1)}</td>" in row and "<td>-1</td>" in row and "<td>deduction</td>" in row
    assert "&lt;b&gt;kind&lt;/b&gt; &amp; helpful" in html and "<b>kind</b>" not in html
    older = re.search(r'<a href="([^"]+)" rel="next" id="older">', html)
    assert older and re.fullmatch(rf"/dashboard/audit\?before=\d+-t{ids[-1]}", older.group(1))
    rest = await (await world.client.get(older.group(1))).text()
    assert audit_ids(rest) == [ids[-1] - 3, ids[-1] - 2, ids[-1] - 1][::-1] and 'id="older"' not in rest

    sam = (await world.app.services.members.find_by_name((await world.app.community()).id, "Sam"))[0]
    by_sam = await (await world.client.get(f"/dashboard/audit?actor={sam.id}")).text()
    assert len(audit_ids(by_sam)) == 1 and f'<option value="{sam.id}" selected>Sam</option>' in by_sam
    deductions = await (await world.client.get("/dashboard/audit?kind=deduct")).text()
    assert audit_ids(deductions) == [ids[0]]
    cursor = re.search(r"before=([\w-]+)", older.group(1)).group(1).replace(str(ids[-1]), str(ids[0]))  # type: ignore[union-attr]
    none_older = await world.client.get(f"/dashboard/audit?kind=deduct&before={cursor}")
    assert audit_ids(await none_older.text()) == []
    bad = await world.client.get("/dashboard/audit?before=abc")
    assert bad.status == 400 and "This page&#39;s address is not valid." in await bad.text()


async def test_the_audit_log_is_for_staff(world: WebWorld) -> None:
    from core.audit.trail import AuditTrail
    from core.errors import NotAllowed

    await world.console(":as Mei creator", ":as Sam moderator", ":as Ana", "/start")
    await world.console(":as Mei", "/award @Ana 5 welcome")
    assert (await world.client.get("/dashboard/audit")).status == 401
    await world.sign_in("Sam", "moderator")
    page = await world.client.get("/dashboard/audit")
    assert page.status == 200 and "welcome" in await page.text()  # moderators read it too
    sessions = await (await world.client.get("/dashboard/sessions")).text()
    assert "/dashboard/audit" in sessions and "/dashboard/settings" not in sessions  # what is offered
    services, community = world.app.services, await world.app.community()
    ana = (await services.members.find_by_name(community.id, "Ana"))[0]
    trail = AuditTrail(services.db, services.ledger, services.members)
    with pytest.raises(NotAllowed):  # the core refuses a learner, whatever page asks
        await trail.read(community, ana)


async def test_a_rule_change_is_audited_via_the_dashboard_or_the_command(world: WebWorld) -> None:
    from core.audit.log import recent

    await world.sign_in("Mei")
    csrf = await world.csrf("/dashboard/settings")
    await world.client.post(
        "/dashboard/settings", data={"csrf": csrf, "form_key": new_key(), "key": "cap.award", "value": "900"}
    )
    await world.client.post(
        "/dashboard/settings", data={"csrf": csrf, "form_key": new_key(), "key": "cap.award", "value": "-1"}
    )
    await world.console(":as Mei", ":dm", "/rules set cap.award 800")
    community = await world.app.community()
    mei = (await world.app.services.members.find_by_name(community.id, "Mei"))[0]
    async with world.app.db.read() as conn:
        entries = [e for e in await recent(conn, community.id) if e.action == "rules.set"]
    assert [(e.actor_member_id, e.detail) for e in entries] == [
        (mei.id, {"key": "cap.award", "value": "800", "via": "command"}),
        (mei.id, {"key": "cap.award", "value": "900", "via": "dashboard"}),
    ]  # newest first; the refused -1 left nothing


async def test_a_form_sent_twice_acts_once_and_both_answers_go_to_the_same_place(world: WebWorld) -> None:
    import asyncio

    from core.audit.log import recent

    await world.sign_in("Mei")
    fields = await world.fields("/dashboard/settings")
    data = {**fields, "key": "cap.award", "value": "700"}
    first, second = await asyncio.gather(
        *(world.client.post("/dashboard/settings", data=data, allow_redirects=False) for _ in range(2))
    )
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"]
    again = await world.client.post("/dashboard/settings", data=data, allow_redirects=False)
    assert again.status == 303 and again.headers["Location"] == first.headers["Location"]
    community = await world.app.community()
    async with world.app.db.read() as conn:
        entries = [e for e in await recent(conn, community.id) if e.action == "rules.set"]
    assert len(entries) == 1


async def test_a_refused_form_can_be_corrected_and_sent_with_the_same_key(world: WebWorld) -> None:
    await world.sign_in("Mei")
    fields = await world.fields("/dashboard/settings")
    refused = await world.client.post(
        "/dashboard/settings", data={**fields, "key": "cap.award", "value": "-1"}
    )
    assert refused.status == 400
    fixed = await world.client.post(
        "/dashboard/settings", data={**fields, "key": "cap.award", "value": "650"}, allow_redirects=False
    )
    assert fixed.status == 303
    assert "cap.award = 650" in await world.console.text(":as Mei", ":dm", "/rules")


async def test_a_form_without_a_well_formed_key_is_refused(world: WebWorld) -> None:
    await world.sign_in("Mei")
    fields = await world.fields("/dashboard/settings")
    for key in ("", "short", "x" * 65, "bad key with spaces!!"):
        refused = await world.client.post(
            "/dashboard/settings", data={**fields, "form_key": key, "key": "cap.award", "value": "650"}
        )
        assert refused.status == 400 and "This form has expired" in await refused.text()
    assert "cap.award = 650" not in await world.console.text(":as Mei", ":dm", "/rules")


async def test_tiers_are_listed_and_set_as_tier_set_does(world: WebWorld) -> None:
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard/settings")).text()
    assert "<td>premium</td><td>500</td><td>×1.2</td>" in html
    posted = await world.submit(
        "/dashboard/settings", "/dashboard/settings/tiers", name="Gold", threshold="1,000", multiplier="x1.5"
    )
    assert posted.status == 303 and posted.headers["Location"] == "/dashboard/settings?tier=Gold#tiers"
    page = await (await world.client.get(posted.headers["Location"])).text()
    assert 'id="tier-saved">Tier Gold now starts at 1000 points with participation ×1.5.</p>' in page
    tiers = await world.console.text(":as Mei", ":dm", "/tier")
    assert "Gold: from 1000 points, participation ×1.5" in tiers


async def test_a_bad_tier_is_refused_under_its_form_with_the_command_message(world: WebWorld) -> None:
    from tests.conftest import snapshot

    await world.sign_in("Mei")
    before = await snapshot(world.app.db)
    cases = [
        (
            {"name": "Gold", "threshold": "1000", "multiplier": "x0"},
            "The multiplier must be between 1 and 10.",
        ),
        ({"name": "Gold", "threshold": "lots", "multiplier": "2"}, "The threshold must be between 0 and"),
        ({"name": "Gold", "threshold": "-5", "multiplier": "2"}, "The threshold must be between 0 and"),
        ({"name": "Gold", "threshold": "9" * 30, "multiplier": "2"}, "The threshold must be between 0 and"),
        ({"name": "Gold", "threshold": "10", "multiplier": "lots"}, "lots is not a multiplier like 1.5"),
        ({"name": "two words", "threshold": "10", "multiplier": "2"}, "A tier name is one word"),
    ]
    for fields, message in cases:
        refused = await world.submit("/dashboard/settings", "/dashboard/settings/tiers", **fields)
        html = await refused.text()
        assert refused.status == 400, fields
        assert 'id="tier-error">' + message in html, (fields, html[-1500:])
        assert f'value="{fields["threshold"]}"' in html  # what was typed, to fix
    assert await snapshot(world.app.db) == before
    command = await world.console.text(":as Mei", ":dm", "/tier set Gold 1000 x0")
    assert "The multiplier must be between 1 and 10." in command


async def test_a_moderator_cannot_set_a_tier(world: WebWorld) -> None:
    await world.sign_in("Sam", "moderator")
    csrf = await world.csrf("/dashboard/sessions")
    refused = await world.client.post(
        "/dashboard/settings/tiers",
        data={"csrf": csrf, "form_key": new_key(), "name": "Gold", "threshold": "5", "multiplier": "2"},
    )
    assert refused.status == 403 and "Only creators can change tiers." in await refused.text()
