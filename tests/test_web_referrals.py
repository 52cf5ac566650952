"""web/dashboard/referrals.py over HTTP: commission rates as /commission sets them, who is owed
(keyset pages), a payout recorded with its reference as /payouts pay records it, and the CSV."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from bot.adapters.console.session import ConsoleSession
from core.audit.tables import audit_log
from core.clock import ManualClock
from tests.conftest import ConsoleDriver, console_member, snapshot
from tests.web_fixtures import WebWorld, new_key
from web.dashboard import referrals as referrals_page

VOLATILE = ("activity", "job_runs", "web_sessions", "web_form_keys")


async def code_of(world: WebWorld, name: str) -> str:
    out = await world.console(f":as {name}", "/ref")
    found = re.search(r"/start (ref_[a-z0-9]{8})", out[1])
    assert found, out
    return found.group(1)


async def funnel(world: WebWorld) -> None:
    """Omar invited Ana and Ben; both bought py101 (10%) and the hold is over: Omar is owed $3.98,
    and Ben invited Cy, who bought too (Ben $1.99, Omar's level 2 at 0%)."""
    await world.console(":as Mei creator", "/course add py101 19.99 USD Python", "/commission set py101 10%")
    omar = await code_of(world, "Omar")
    await world.console(":as Ana", f"/start {omar}", "/buy py101", ":pay")
    await world.console(":as Ben", f"/start {omar}", "/buy py101", ":pay")
    ben = await code_of(world, "Ben")
    await world.console(":as Cy", f"/start {ben}", "/buy py101", ":pay", ":clock +15d")


def rate_rows(html: str) -> list[tuple[str, ...]]:
    return re.findall(
        r'<tr id="rate-[^"]+"><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td>', html
    )


def error(html: str, field: str) -> str:
    found = re.search(rf'id="error-{field}">([^<]*)<', html)
    assert found, html
    return found.group(1)


async def audit_via(world: WebWorld, action: str) -> list[str | None]:
    async with world.app.db.read() as conn:
        rows = (await conn.execute(select(audit_log.c.detail).where(audit_log.c.action == action))).scalars()
        return [json.loads(detail).get("via") for detail in rows]


async def test_a_rate_set_on_the_page_is_what_commission_list_shows(world: WebWorld) -> None:
    await world.console(":as Mei creator", "/course add py101 19.99 USD Python")
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard/referrals")).text()
    assert 'id="no-rates"' in html and "Nobody is owed a commission." in html
    posted = await world.submit(
        "/dashboard/referrals", "/dashboard/referrals/rates", product="py101", level1="12.5", level2="2"
    )
    assert posted.status == 303 and posted.headers["Location"] == "/dashboard/referrals?rate=py101#rates"
    html = await (await world.client.get(posted.headers["Location"])).text()
    assert 'id="done">Referrers now earn 12.5% on py101, and their own referrers 2%.<' in html
    assert rate_rows(html) == [("py101 (Python)", "12.5%", "2%")]
    await world.submit(
        "/dashboard/referrals", "/dashboard/referrals/rates", product="all", level1="5", level2=""
    )
    html = await (await world.client.get("/dashboard/referrals")).text()
    assert rate_rows(html) == [("every other product", "5%", ""), ("py101 (Python)", "12.5%", "2%")]
    assert await world.console.text(":as Mei", "/commission list") == "\n".join(
        [
            "(you are Mei, creator, in dm)",
            "bot> Commissions:",
            "bot> every other product: 5%",
            "bot> py101 (Python): 12.5% · level 2 2%",
        ]
    )
    posted = await world.submit(
        "/dashboard/referrals", "/dashboard/referrals/rates", product="py101", level1="off"
    )
    html = await (await world.client.get(posted.headers["Location"])).text()
    assert 'id="done">No commission on py101 any more.<' in html
    assert rate_rows(html) == [("every other product", "5%", "")]
    assert await audit_via(world, "commission.rate") == ["dashboard", "dashboard", "dashboard"]


@pytest.mark.parametrize(
    ("form", "field", "command"),
    [
        ({"product": "py101", "level1": "abc"}, "level1", "/commission set py101 abc"),
        ({"product": "py101", "level1": "150"}, "level1", "/commission set py101 150"),
        ({"product": "py101", "level1": "10", "level2": "1.234"}, "level2", "/commission set py101 10 1.234"),
        ({"product": "py101", "level1": "60", "level2": "50"}, "level2", "/commission set py101 60 50"),
        ({"product": "nope", "level1": "10"}, "product", "/commission set nope 10"),
    ],
)
async def test_a_refused_rate_is_shown_beside_its_field_in_the_commands_words(
    world: WebWorld, form: dict[str, str], field: str, command: str
) -> None:
    await world.console(":as Mei creator", "/course add py101 19.99 USD Python")
    said = (await world.console(command))[0].removeprefix("bot> ")
    await world.sign_in("Mei")
    before = await snapshot(world.app.db, exclude=VOLATILE)
    posted = await world.submit("/dashboard/referrals", "/dashboard/referrals/rates", **form)
    html = await posted.text()
    assert posted.status == 400 and error(html, field) == said.replace("'", "&#39;")
    assert f'value="{form["level1"]}"' in html  # what was typed stays
    assert await snapshot(world.app.db, exclude=VOLATILE) == before


async def test_who_is_owed_and_a_payout_recorded_with_its_reference(world: WebWorld) -> None:
    await funnel(world)
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard/referrals")).text()
    omar, ben = await console_member(world.app, "Omar"), await console_member(world.app, "Ben")
    assert re.findall(r'<li id="earner-(\d+)">', html) == [str(omar.id), str(ben.id)]  # by member id
    omar_part = html.split(f'id="earner-{omar.id}"')[1].split("</li>")[0]
    assert re.findall(r'class="available">([^<]*)<', omar_part) == ["$3.98"]

    before = await snapshot(world.app.db, exclude=VOLATILE)
    path = f"/dashboard/referrals/payouts/{omar.id}"
    refused = await world.submit("/dashboard/referrals", path, reference="   ")
    assert refused.status == 400
    assert (
        error(await refused.text(), str(omar.id))
        == "Give the payment&#39;s reference (up to 100 characters)."
    )
    assert await snapshot(world.app.db, exclude=VOLATILE) == before

    fields = await world.fields("/dashboard/referrals")
    first = await world.client.post(path, data={**fields, "reference": "wise-778"}, allow_redirects=False)
    again = await world.client.post(path, data={**fields, "reference": "wise-778"}, allow_redirects=False)
    assert first.status == again.status == 303 and first.headers["Location"] == again.headers["Location"]
    html = await (await world.client.get(first.headers["Location"])).text()
    assert 'id="done">Recorded: Omar was paid $3.98.<' in html
    assert f'id="earner-{omar.id}"' not in html  # nothing pending or available any more
    assert (await world.console(":as Omar", "/commissions"))[2] == (
        "bot> Commissions: $3.98 earned ($0.00 available, $0.00 pending, $3.98 paid)"
    )
    assert await audit_via(world, "commission.payout") == ["dashboard"]
    # Paying again with a fresh form: the command's words, beside the field.
    posted = await world.submit("/dashboard/referrals", path, reference="wise-779")
    assert (
        posted.status == 400
        and error(await posted.text(), str(omar.id)) == "Omar has nothing available to pay."
    )


async def test_owed_pages_are_keyed_on_the_member(world: WebWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(referrals_page, "PAGE", 1)
    await funnel(world)
    await world.sign_in("Mei")
    omar, ben = await console_member(world.app, "Omar"), await console_member(world.app, "Ben")
    html = await (await world.client.get("/dashboard/referrals")).text()
    assert re.findall(r'<li id="earner-(\d+)">', html) == [str(omar.id)]
    more = re.search(r'href="([^"]+)" rel="next"', html).group(1)  # type: ignore[union-attr]
    assert more == f"/dashboard/referrals?after={omar.id}#owed"
    html = await (await world.client.get(more.split("#")[0])).text()
    assert re.findall(r'<li id="earner-(\d+)">', html) == [str(ben.id)] and 'rel="next"' not in html


async def test_the_csv_is_the_one_payouts_csv_sends(world: WebWorld) -> None:
    await funnel(world)
    await world.sign_in("Mei")
    response = await world.client.get("/dashboard/referrals.csv")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
    community = await world.app.community()
    mei = await console_member(world.app, "Mei")
    assert await response.read() == await world.app.services.commissions.export_csv(community, mei)
    assert (await response.text()).splitlines()[1].endswith(",Omar,USD,0.00,3.98,0.00")


async def test_a_moderator_is_refused_and_another_communitys_member_is_not_found(
    world: WebWorld, clock: ManualClock
) -> None:
    output: list[str] = []
    session = await ConsoleSession.open(
        world.app, clock, community="otherhall", locale="en", write=output.append
    )
    await ConsoleDriver(session, output)(":as Zed creator", ":as Yan", "/ref")
    await funnel(world)
    await world.sign_in("Sam", "moderator")
    for path in ("/dashboard/referrals", "/dashboard/referrals.csv"):
        assert (await world.client.get(path)).status == 403, path
    csrf = await world.csrf("/dashboard")
    for path in ("/dashboard/referrals/rates", "/dashboard/referrals/payouts/1"):
        refused = await world.client.post(
            path, data={"csrf": csrf, "form_key": new_key()}, allow_redirects=False
        )
        assert refused.status == 403, path
    await world.sign_in("Mei")
    fields = await world.fields("/dashboard/referrals")
    # Yan (the other community's first member after Zed) is member 2.
    yan = await world.app.services.members.get_member(2)
    assert yan.display_name == "Yan"
    posted = await world.client.post(
        f"/dashboard/referrals/payouts/{yan.id}", data={**fields, "reference": "x"}, allow_redirects=False
    )
    assert posted.status == 404
