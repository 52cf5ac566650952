"""web/dashboard/members.py over HTTP: the directory (search, filters, keyset pages, CSV), a
member's page, and award/deduct, role change and erase by the core calls the commands make —
refusals beside their fields with nothing changed, a moderator's budget, creator-only actions,
another community's member, CSRF."""

from __future__ import annotations

import csv
import io
import json
import re

from aiohttp.test_utils import TestClient

from core.events import UserRef
from core.members.models import Member
from tests.conftest import snapshot
from tests.web_fixtures import WebWorld


async def member(world: WebWorld, name: str) -> Member:
    community = await world.app.community()
    [found] = await world.app.services.members.find_by_name(community.id, name)
    return found


async def telegram_member(world: WebWorld, external_id: str, name: str) -> Member:
    community = await world.app.community()
    return await world.app.services.members.ensure_member(community, UserRef("telegram", external_id, name))


async def store_segments(world: WebWorld, clusters: dict[str | None, list[str]]) -> None:
    """A stored analytics run whose K-means clusters (numbered from 1) hold these members."""
    from core.analytics.tables import analytics_runs, member_scores, segment_names

    community = await world.app.community()
    now = world.app.services.clock.now()
    summary = {
        "clusters": [
            {"number": n, "name": name, "size": len(who)} for n, (name, who) in enumerate(clusters.items(), 1)
        ]
    }
    async with world.app.db.write() as conn:
        await conn.execute(
            analytics_runs.insert().values(
                community_id=community.id, computed_at=now, summary=json.dumps(summary)
            )
        )
        for number, (name, who) in enumerate(clusters.items(), 1):
            if name:
                await conn.execute(
                    segment_names.insert().values(community_id=community.id, cluster=number, name=name)
                )
            for person in who:
                found = await member(world, person)
                await conn.execute(
                    member_scores.insert().values(
                        community_id=community.id,
                        member_id=found.id,
                        engagement_tenths=0,
                        cluster=number,
                        segments="",
                        computed_at=now,
                    )
                )


def names(html: str) -> list[str]:
    """The names in the list's rows, in order."""
    return re.findall(r'<tr id="member-\d+"><td><a href="/dashboard/members/\d+">([^<]*)</a>', html)


async def page(world: WebWorld, path: str) -> str:
    response = await world.client.get(path)
    assert response.status == 200, await response.text()
    return await response.text()


async def balance(world: WebWorld, name: str) -> int:
    community = await world.app.community()
    return (await world.app.services.ledger.balance(community.id, (await member(world, name)).id)).balance


# -- the list ---------------------------------------------------------------------------------


async def test_search_by_name_or_platform_account(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start", ":as Ben", "/start", ":as Dana", "/start")
    await telegram_member(world, "777123", "Tom")
    await world.sign_in("Mei")
    assert names(await page(world, "/dashboard/members")) == ["Tom", "Dana", "Ben", "Ana", "Mei"]
    assert names(await page(world, "/dashboard/members?q=AN")) == ["Dana", "Ana"]  # any case, any part
    assert names(await page(world, "/dashboard/members?q=777123")) == ["Tom"]  # the Telegram id
    assert names(await page(world, "/dashboard/members?q=%40777123")) == ["Tom"]  # @id too
    assert names(await page(world, "/dashboard/members?q=ben&platform=telegram")) == []
    html = await page(world, "/dashboard/members?q=%25")  # LIKE's wildcard is a plain character
    assert names(html) == [] and 'id="no-members"' in html


async def test_filters_role_platform_paying_tier_and_segment(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Sam moderator", ":as Ana", "/start", ":as Ben", "/start")
    await telegram_member(world, "42", "Tom")
    await world.console(":as Mei", "/course add py101 19.99 USD Python", ":as Ana", "/buy py101", ":pay")
    await world.console(":as Mei", "/award @ben 500 great notes")  # lifetime 500: premium
    await world.sign_in("Mei")
    assert names(await page(world, "/dashboard/members?role=moderator")) == ["Sam"]
    assert names(await page(world, "/dashboard/members?role=learner&platform=telegram")) == ["Tom"]
    paying = await page(world, "/dashboard/members?paying=yes")
    assert names(paying) == ["Ana"] and "$19.99" in paying
    assert "Ana" not in names(await page(world, "/dashboard/members?paying=no"))
    assert names(await page(world, "/dashboard/members?tier=premium")) == ["Ben"]
    assert "Ben" not in names(await page(world, "/dashboard/members?tier=regular"))
    await store_segments(world, {"fans": ["Ana", "Ben"], None: ["Tom"]})
    html = await page(world, "/dashboard/members")
    assert '<option value="1">fans</option>' in html and '<option value="2">#2</option>' in html
    assert names(await page(world, "/dashboard/members?segment=1")) == ["Ben", "Ana"]
    assert names(await page(world, "/dashboard/members?segment=2")) == ["Tom"]
    refused = await world.client.get("/dashboard/members?role=owner")
    assert refused.status == 400


async def test_pages_are_keyed_on_the_member_id_with_a_next_link(world: WebWorld) -> None:
    await world.console(":as Mei creator")
    for n in range(60):
        await telegram_member(world, str(1000 + n), f"Learner {n:02d}")
    await world.sign_in("Mei")
    first = await page(world, "/dashboard/members?platform=telegram")
    assert len(names(first)) == 50 and names(first)[0] == "Learner 59"
    found = re.search(r'href="([^"]+)" rel="next"', first)
    assert found
    next_path = found.group(1).replace("&amp;", "&")
    assert "platform=telegram" in next_path and "before=" in next_path
    second = await page(world, next_path)
    assert names(second) == [f"Learner {n:02d}" for n in range(9, -1, -1)]
    assert 'rel="next"' not in second and 'id="first"' in second


async def test_the_csv_is_the_filtered_list(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start", ":as Sam moderator")
    await telegram_member(world, "5", "=cmd|calc")
    await world.sign_in("Mei")
    response = await world.client.get("/dashboard/members.csv?role=learner")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == ["member_id", "name", "role", "platforms", "points", "spend", "joined"]
    assert [r[1] for r in rows[1:]] == ["'=cmd|calc", "Ana"]  # no formula for a spreadsheet to run
    assert rows[2][2:5] == ["learner", "console", "0"]


async def test_a_moderator_sees_members_but_not_creator_actions(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    ana = await member(world, "Ana")
    await world.sign_in("Sam", "moderator")
    html = await page(world, "/dashboard/members")
    assert "Ana" in names(html) and 'id="export"' not in html
    html = await page(world, f"/dashboard/members/{ana.id}")
    assert 'id="points"' in html and "/role" not in html and "/erase" not in html
    assert "Your award budget left today: 200" in html
    assert (await world.client.get("/dashboard/members.csv")).status == 403
    before = await snapshot(world.app.db)
    path = f"/dashboard/members/{ana.id}"
    role = await world.submit(path, path + "/role", role="moderator")
    erase = await world.submit(path, path + "/erase", confirm="Ana")
    assert (role.status, erase.status) == (403, 403)
    assert await snapshot(world.app.db) == before


# -- a member's page ----------------------------------------------------------------------------


async def test_the_member_page_shows_accounts_points_orders_and_activity(world: WebWorld) -> None:
    await world.console(":as Mei creator", "/course add py101 19.99 USD Python")
    await world.console(":as Ana", "/start", "/buy py101", ":pay", ":in lounge", "hello there")
    await world.console(":as Mei", "/award @ana 30 helpful answer")
    ana = await member(world, "Ana")
    await world.sign_in("Mei")
    html = await page(world, f"/dashboard/members/{ana.id}")
    assert '<h1 id="member-name">Ana</h1>' in html
    assert "<strong>console</strong> <code>ana</code>" in html
    assert "helpful answer" in html and "+30" in html
    assert re.search(r'<tr id="order-\d+"><td>\d+</td><td>[^<]+</td><td>Python</td><td>\$19\.99</td>', html)
    assert re.search(r"In the last 30 days</dt><dd>[1-9]", html), html


async def test_order_and_subscription_states_are_words_in_the_readers_language(world: WebWorld) -> None:
    await world.console(":as Mei creator", "/course add py101 19.99 USD Python")
    await world.console("/plan add monthly 9.99 USD month trial=7 Monthly membership")
    await world.console(":as Ana", "/start", "/buy py101", ":pay", "/subscribe monthly")
    ana = await member(world, "Ana")
    await world.sign_in("Mei")
    html = await page(world, f"/dashboard/members/{ana.id}")
    # The words /orders and /subscription use, not the stored codes (fulfilled, trial).
    assert re.search(r'<tr id="order-\d+">.*?<td>delivered</td>', html)
    assert "<td>Monthly membership</td><td>trial</td>" in html and "fulfilled" not in html
    await world.client.get("/dashboard/lang?to=zh_CN")
    html = await page(world, f"/dashboard/members/{ana.id}")
    assert re.search(r'<tr id="order-\d+">.*?<td>已交付</td>', html)
    assert "<td>Monthly membership</td><td>试用</td>" in html


async def test_another_communitys_member_is_not_found(world: WebWorld) -> None:
    await world.console(":as Mei creator")
    services = world.app.services
    other = await services.members.ensure_community("other", default_locale="en", timezone="UTC")
    stranger = await services.members.ensure_member(other, UserRef("console", "zed", "Zed"))
    await world.sign_in("Mei")
    assert (await world.client.get(f"/dashboard/members/{stranger.id}")).status == 404
    assert (await world.client.get("/dashboard/members/99999999")).status == 404
    mei = await member(world, "Mei")
    before = await snapshot(world.app.db)
    own = f"/dashboard/members/{mei.id}"
    for action, data in (("points", {"amount": "5", "reason": "x"}), ("erase", {"confirm": "Zed"})):
        posted = await world.submit(own, f"/dashboard/members/{stranger.id}/{action}", **data)
        assert posted.status == 404
    assert await snapshot(world.app.db) == before


# -- points ---------------------------------------------------------------------------------------


async def test_award_and_deduct_with_a_reason(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    ana = await member(world, "Ana")
    await world.sign_in("Mei")
    path = f"/dashboard/members/{ana.id}"
    awarded = await world.submit(path, path + "/points", amount="40", reason="great notes", direction="award")
    assert awarded.status == 303 and awarded.headers["Location"] == path + "?done=award#points"
    assert await balance(world, "Ana") == 40
    html = await page(world, awarded.headers["Location"])
    assert 'id="done">Points awarded.' in html and 'id="balance">40<' in html
    deducted = await world.submit(path, path + "/points", amount="15", reason="spam", direction="deduct")
    assert deducted.status == 303 and await balance(world, "Ana") == 25
    points = await world.console.text(":as Ana", ":dm", "/points")
    assert "25" in points
    # Ana was told privately, in /award's and /deduct's words, at the next send of notices.
    assert "Mei gave you 40 points in" in points and ": great notes" in points
    assert "Mei took 15 points from you in" in points and ": spam" in points


async def test_an_award_that_reaches_a_tier_tells_the_member(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    ana = await member(world, "Ana")
    await world.sign_in("Mei")
    path = f"/dashboard/members/{ana.id}"
    data = {"amount": "500", "reason": "a year of help", "direction": "award"}
    awarded = await world.submit(path, path + "/points", **data)
    assert awarded.status == 303, await awarded.text()
    told = await world.console.text(":as Ana", ":dm", "/points")
    assert "Mei gave you 500 points in" in told and "You reached the premium tier in" in told, told


async def test_refusals_are_shown_beside_their_fields_and_nothing_changes(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    ana = await member(world, "Ana")
    await world.sign_in("Mei")
    path = f"/dashboard/members/{ana.id}"
    await world.console(":as Mei", "/award @ana 10 start", "/deduct @ana 1 typo")  # both accounts open
    before = await snapshot(world.app.db, exclude=("activity", "web_sessions", "web_form_keys"))
    cases = (
        ({"amount": "10", "reason": "  "}, "error-reason", "Please give a reason."),
        ({"amount": "ten", "reason": "ok"}, "error-amount", "Choose between 1 and 1000 points."),
        ({"amount": "0", "reason": "ok"}, "error-amount", "Choose between 1 and 1000 points."),
        ({"amount": "50", "reason": "ok", "direction": "deduct"}, "error-amount", "Ana has only 9 points."),
    )
    for data, field, message in cases:
        refused = await world.submit(path, path + "/points", **data)
        assert refused.status == 400
        html = await refused.text()
        assert f'id="{field}">{message}</p>' in html, html
        assert f'value="{data["amount"]}"' in html  # what was typed stays
    assert await snapshot(world.app.db, exclude=("activity", "web_sessions", "web_form_keys")) == before


async def test_a_moderator_awards_within_the_budget(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start", ":as Ben", "/start")
    ana, mei = await member(world, "Ana"), await member(world, "Mei")
    await world.sign_in("Sam", "moderator")
    path = f"/dashboard/members/{ana.id}"
    ok = await world.submit(path, path + "/points", amount="150", reason="helpful", direction="award")
    assert ok.status == 303
    assert "Your award budget left today: 50" in await page(world, path)
    refused = await world.submit(path, path + "/points", amount="80", reason="more", direction="award")
    assert refused.status == 400
    assert "That is over your daily award budget: 50 of 200 points left today." in await refused.text()
    assert await balance(world, "Ana") == 150
    staff = f"/dashboard/members/{mei.id}"
    no = await world.submit(staff, staff + "/points", amount="1", reason="x", direction="deduct")
    assert no.status == 400
    assert "Moderators cannot deduct points from moderators or creators." in await no.text()


async def test_a_double_submit_awards_once(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    ana = await member(world, "Ana")
    await world.sign_in("Mei")
    path = f"/dashboard/members/{ana.id}"
    data = {**await world.fields(path), "amount": "7", "reason": "twice", "direction": "award"}
    first = await world.client.post(path + "/points", data=data, allow_redirects=False)
    again = await world.client.post(path + "/points", data=data, allow_redirects=False)
    assert (first.status, again.status) == (303, 303)
    assert await balance(world, "Ana") == 7


async def test_a_post_without_a_csrf_token_is_refused(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    ana = await member(world, "Ana")
    await world.sign_in("Mei")
    path = f"/dashboard/members/{ana.id}"
    fields = await world.fields(path)
    for action, data in (
        ("points", {"amount": "5", "reason": "x"}),
        ("role", {"role": "moderator"}),
        ("erase", {"confirm": "Ana"}),
    ):
        posted = await world.client.post(
            f"{path}/{action}", data={"form_key": fields["form_key"], **data}, allow_redirects=False
        )
        assert posted.status == 403
        forged = await world.client.post(
            f"{path}/{action}", data={**fields, "csrf": "0" * 64, **data}, allow_redirects=False
        )
        assert forged.status == 403
    assert await balance(world, "Ana") == 0 and (await member(world, "Ana")).role.value == "learner"


# -- roles ----------------------------------------------------------------------------------------


async def test_a_role_change_is_the_core_call_and_ends_the_members_sessions(world: WebWorld) -> None:
    await world.console(":as Mei creator")
    other = TestClient(world.client.server)  # Sam's own browser
    await other.start_server()
    try:
        path = "/dashboard/login/" + (await world.link("Sam", "moderator")).rsplit("/", 1)[1]
        assert (await other.get(path)).status == 200
        assert (await other.get("/dashboard/members")).status == 200
        sam = await member(world, "Sam")
        await world.sign_in("Mei")
        page_path = f"/dashboard/members/{sam.id}"
        changed = await world.submit(page_path, page_path + "/role", role="learner", reason="stepped back")
        assert changed.status == 303 and changed.headers["Location"] == page_path + "?done=role#role"
        assert (await member(world, "Sam")).role.value == "learner"
        assert (await other.get("/dashboard/members")).status == 401  # signed out at once
        async with world.app.db.read() as conn:
            from core.audit.log import recent

            [entry, *_] = await recent(conn, sam.community_id, subject_member_id=sam.id)
        assert entry.action == "role.change" and entry.detail["via"] == "dashboard"
        assert entry.detail["reason"] == "stepped back"
    finally:
        await other.close()


async def test_a_refused_role_change_is_shown_beside_the_field(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    ana = await member(world, "Ana")
    await world.sign_in("Mei")
    path = f"/dashboard/members/{ana.id}"
    before = await snapshot(world.app.db, exclude=("activity", "web_sessions", "web_form_keys"))
    refused = await world.submit(path, path + "/role", role="creator")
    assert refused.status == 400
    assert 'id="error-role">Choose learner or moderator.</p>' in await refused.text()
    assert await snapshot(world.app.db, exclude=("activity", "web_sessions", "web_form_keys")) == before


# -- erase ----------------------------------------------------------------------------------------


async def test_erase_needs_the_members_name_typed(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    ana = await member(world, "Ana")
    await world.sign_in("Mei")
    path = f"/dashboard/members/{ana.id}"
    before = await snapshot(world.app.db, exclude=("activity", "web_sessions", "web_form_keys"))
    wrong = await world.submit(path, path + "/erase", confirm="Anna")
    assert wrong.status == 400
    assert 'id="error-confirm">Type Ana exactly to confirm.</p>' in await wrong.text()
    assert await snapshot(world.app.db, exclude=("activity", "web_sessions", "web_form_keys")) == before
    erased = await world.submit(path, path + "/erase", confirm=" ana ")
    assert erased.status == 303 and erased.headers["Location"] == f"/dashboard/members?erased={ana.id}"
    gone = await world.app.services.members.get_member(ana.id, fresh=True)
    assert gone.display_name == "deleted member"
    assert await world.app.services.members.identities_of(ana.id) == []
    html = await page(world, erased.headers["Location"])
    assert 'id="erased"' in html and "Ana" not in names(html)
    async with world.app.db.read() as conn:
        from core.audit.log import recent

        [entry, *_] = await recent(conn, ana.community_id, subject_member_id=ana.id)
    mei = await member(world, "Mei")
    assert (entry.action, entry.actor_member_id, entry.detail["via"]) == (
        "member.forget",
        mei.id,
        "dashboard",
    )


async def test_the_owner_cannot_be_erased(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Kai creator")  # Mei owns the community
    mei = await member(world, "Mei")
    await world.sign_in("Kai")
    path = f"/dashboard/members/{mei.id}"
    html = await page(world, path)
    assert 'id="owner-note"' in html and "/erase" not in html
    before = await snapshot(world.app.db, exclude=("activity", "web_sessions", "web_form_keys"))
    refused = await world.submit(path, path + "/erase", confirm="Mei")
    assert refused.status == 400
    assert "The owner cannot be forgotten" in await refused.text()
    assert await snapshot(world.app.db, exclude=("activity", "web_sessions", "web_form_keys")) == before
    assert (await member(world, "Mei")).display_name == "Mei"
