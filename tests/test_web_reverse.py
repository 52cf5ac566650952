"""web/dashboard/audit.py's correction of a point movement (as /reverse): a "Correct" link beside
awards and deductions for creators, a confirmation showing what will be reversed, the reversal by
the same core call the command makes — once — and refusals in the command's words."""

from __future__ import annotations

import re

from core.events import UserRef
from core.members.models import Role
from tests.conftest import snapshot
from tests.web_fixtures import WebWorld


async def transfer_id(world: WebWorld, action: str = "points.award") -> int:
    html = await (await world.client.get("/dashboard/audit")).text()
    found = re.search(rf'<tr id="transfer-(\d+)" data-action="{re.escape(action)}">', html)
    assert found, html
    return int(found.group(1))


def reverse_path(number: int) -> str:
    return f"/dashboard/audit/transfers/{number}/reverse"


async def test_a_creator_corrects_an_award_once(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start", ":as Mei", "/award @Ana 30 nice")
    await world.sign_in("Mei")
    number = await transfer_id(world)
    audit = await (await world.client.get("/dashboard/audit")).text()
    assert f'href="{reverse_path(number)}">Correct</a>' in audit
    confirm = await world.client.get(reverse_path(number))
    shown = await confirm.text()
    assert confirm.status == 200 and f"#{number}" in shown and "nice" in shown
    assert '<dd id="transfer-amount">+30</dd>' in shown and "<dd>Ana</dd>" in shown
    fields = await world.fields(reverse_path(number))
    first = await world.client.post(
        reverse_path(number), data={**fields, "reason": "typo"}, allow_redirects=False
    )
    assert first.status == 303 and first.headers["Location"] == f"/dashboard/audit?reversed={number}"
    done = await (await world.client.get(first.headers["Location"])).text()
    assert re.search(rf'id="done">Transfer #{number} reversed by #\d+ \(30 points\)\.<', done), done
    assert re.search(r'data-action="points.reversal">.*?via dashboard</td>', done)
    assert "Points: 0" in await world.console.text(":as Ana", ":dm", "/points")

    # The same form again goes where the first went; a fresh one is refused: nothing changes.
    before = await snapshot(world.app.db)
    again = await world.client.post(
        reverse_path(number), data={**fields, "reason": "typo"}, allow_redirects=False
    )
    assert again.status == 303 and again.headers["Location"] == first.headers["Location"]
    refused = await world.submit(reverse_path(number), reverse_path(number), reason="typo")
    assert refused.status == 400
    assert f"Transfer #{number} has already been reversed." in await refused.text()
    assert await snapshot(world.app.db) == before


async def test_refusals_are_shown_and_nothing_changes(world: WebWorld) -> None:
    await world.console(
        ":as Mei creator", ":as Ana", "/start", ":as Mei", "/award @Ana 30 nice", "/deduct @Ana 20 oops"
    )
    await world.sign_in("Mei")
    award = await transfer_id(world)
    before = await snapshot(world.app.db)
    no_reason = await world.submit(reverse_path(award), reverse_path(award), reason=" ")
    assert no_reason.status == 400 and 'id="error-reverse">Please give a reason.<' in await no_reason.text()
    spent = await world.submit(reverse_path(award), reverse_path(award), reason="wrong member")
    assert spent.status == 400
    assert f"Transfer #{award} cannot be reversed: only 10 of its points are left." in await spent.text()
    assert await snapshot(world.app.db) == before
    # A deduction can be corrected too: the link is beside it.
    deduction = await transfer_id(world, "points.deduct")
    audit = await (await world.client.get("/dashboard/audit")).text()
    assert f'href="{reverse_path(deduction)}"' in audit


async def test_a_moderator_may_not_correct(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start", ":as Mei", "/award @Ana 30 nice")
    await world.sign_in("Mei")
    number = await transfer_id(world)
    await world.sign_in("Sam", "moderator")
    audit = await (await world.client.get("/dashboard/audit")).text()
    assert f'id="transfer-{number}"' in audit and "/reverse" not in audit
    assert (await world.client.get(reverse_path(number))).status == 403
    fields = await world.fields()  # the overview's form (it may compute analytics: before the snapshot)
    before = await snapshot(world.app.db)
    posted = await world.client.post(reverse_path(number), data={**fields, "reason": "mine now"})
    assert posted.status == 403
    assert await snapshot(world.app.db) == before


async def test_another_communitys_transfer_is_not_found(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    services = world.app.services
    other = await services.members.ensure_community("other", default_locale="en", timezone="UTC")
    boss = await services.members.ensure_member(other, UserRef("console", "zed", "Zed"))
    boss = await services.members.assign_role(other, boss, Role.CREATOR, via="command")
    learner = await services.members.ensure_member(other, UserRef("console", "lu", "Lu"))
    earned = await services.points.award(other, boss, learner, 5, "x", "other-award")
    assert earned.result.transfer is not None
    theirs = earned.result.transfer.id
    await world.sign_in("Mei")
    assert (await world.client.get(reverse_path(theirs))).status == 404
    assert (await world.client.get(reverse_path(99_999_999))).status == 404
    fields = await world.fields()
    before = await snapshot(world.app.db)
    posted = await world.client.post(reverse_path(theirs), data={**fields, "reason": "not mine"})
    assert posted.status == 404
    assert await snapshot(world.app.db) == before
