"""Every dashboard action shows on the Audit log page marked "via dashboard": pushes (draft,
test, confirm, discard), automation texts, tiers, recomputing and signing out everywhere."""

from __future__ import annotations

import re

from tests.test_web_audit import rows
from tests.web_fixtures import WebWorld

PUSHES = "/dashboard/pushes"


async def post(world: WebWorld, page: str, action: str, **data: str) -> str:
    response = await world.submit(page, action, **data)
    assert response.status == 303, await response.text()
    return response.headers["Location"]


async def test_actions_on_the_pages_show_in_the_audit_log_via_dashboard(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Ana", "/start")
    await world.sign_in("Mei")
    compose = {"segment": "all", "text_a": "Live class tonight", "text_b": "", "send_at": ""}
    push = await post(world, PUSHES, PUSHES, **compose)
    await post(world, push, f"{push}/test")
    await post(world, push, f"{push}/confirm")
    draft = await post(world, PUSHES, PUSHES, **{**compose, "text_a": "Never mind"})
    await post(world, draft, f"{draft}/cancel")
    automations = f"{PUSHES}/automations"
    await post(world, automations, f"{automations}/text", kind="winback", text="Come back!")
    tier = {"name": "Gold", "threshold": "1000", "multiplier": "2"}
    await post(world, "/dashboard/settings", "/dashboard/settings/tiers", **tier)
    recomputed = await world.client.post(
        "/dashboard/recompute", data={"csrf": await world.csrf()}, allow_redirects=False
    )
    assert recomputed.status == 303
    everywhere = await world.client.post("/dashboard/sessions/revoke-all", data={"csrf": await world.csrf()})
    assert everywhere.status == 200
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard/audit?action=")).text()
    listed = [(action, where) for _, action, where in rows(html)]
    done = [
        "push.draft",
        "push.test",
        "push.confirm",
        "push.draft",
        "push.discard",
        "push.auto_text",
        "tier.set",
        "analytics.recompute",
        "session.revoke_all",
    ]
    assert [(a, w) for a, w in listed if a.split(".")[0] in ("push", "tier", "analytics", "session")] == [
        (action, "via dashboard") for action in reversed(done)
    ]
    for label in ("push drafted", "push test sent", "push confirmed", "push discarded", "tier set"):
        assert f"<td>{label}</td>" in html
    assert re.search(r"automation: winback; text: own", html)  # the kind, never the text itself
    assert "Come back!" not in html
    assert "multiplier: ×2; threshold: 1000; tier: Gold" in html
