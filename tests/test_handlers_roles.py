"""bot/handlers/roles.py: /role, with its rules enforced by the member service."""

from __future__ import annotations

from bot.app import App
from core.audit.log import recent
from tests.conftest import ConsoleDriver


async def test_creator_promotes_and_demotes_with_audit(app: App, console: ConsoleDriver) -> None:
    await console(":as Ana", ":as Mei creator")
    assert (await console("/role @Ana moderator helps a lot"))[0] == "bot> Ana is now a moderator."
    assert await console("/role @ana moderator") == ["bot> Ana is already a moderator."]
    assert (await console("/role @Ana learner"))[0] == "bot> Ana is now a learner."
    community = await app.community()
    async with app.db.read() as conn:
        entries = await recent(conn, community.id)
    changes = [(e.action, e.detail.get("before"), e.detail.get("after")) for e in entries[:2]]
    assert changes == [("role.change", "moderator", "learner"), ("role.change", "learner", "moderator")]
    assert entries[1].detail["reason"] == "helps a lot"


async def test_refusals(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Co creator", ":as Ana")
    assert await console("/role @Mei learner") == ["bot> Only creators can use /role."]
    await console(":as Co")
    assert await console("/role @Mei learner") == ["bot> Mei owns this community; their role cannot change."]
    assert await console("/role @Co learner") == [
        "bot> You cannot name yourself here.",
        "bot> Usage: /role @member learner|moderator [reason…]",
    ]
    assert await console("/role @Nobody moderator") == [
        "bot> No member called @Nobody here.",
        "bot> Usage: /role @member learner|moderator [reason…]",
    ]
    assert (await console("/role @Ana creator"))[0] == "bot> creator is not one of: learner, moderator."
    await console(":as Mei")
    assert await console("/role @Co moderator") == [
        "bot> Co is now a moderator.",
        "bot→Co> Mei made you a moderator in testhall.",
    ]
