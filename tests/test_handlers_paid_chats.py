"""bot/handlers/paid_chats.py: a paid chat's whole life cycle, travelled through in the console."""

from __future__ import annotations

from tests.conftest import ALL_JOBS as JOBS
from tests.conftest import ConsoleDriver

SETUP = (
    ":as Mei creator",
    "/plan add monthly 9.99 USD month trial=7 grace=2 Monthly membership",
    ":in vip",
    "/bind plan monthly",
    ":dm",
)


async def test_trial_pay_renew_fail_grace_removal_pay_again_back_in(console: ConsoleDriver) -> None:
    await console(*SETUP, ":as Ana")
    assert await console(":in vip") == [
        "(you are not let into vip)",
        "bot> vip is for members only. To get in: /subscribe monthly.",
    ]
    await console("/subscribe monthly")  # the trial
    assert await console(":in vip", "Hello from the trial!", ":dm") == [
        "bot→Ana> Welcome to vip!",
        "(in group chat vip)",
        "(in your private chat with the bot)",
    ]
    # Past the trial, unpaid: out of the chat.
    assert await console(":clock +8d") == [
        f"(sandbox time 2026-01-13 09:00 UTC; jobs run: {JOBS})",
        "bot> Your access to Monthly membership has ended. /subscribe monthly to come back.",
        "bot> vip is for members only. To get in: /subscribe monthly.",
    ]
    # Pay: invited back by the next check.
    await console("/subscribe monthly", ":pay")
    assert await console(":clock +30m") == [
        "(sandbox time 2026-01-13 09:30 UTC; jobs run: orders, subscriptions, paid_chats, referrals,"
        " pushes, payments_reconcile)",
        "bot> You have access to vip: join with :in vip (for you only, valid 24 hours).",
    ]
    await console(":in vip", ":dm")
    # Renew in time, then let the next renewal fail: grace keeps her in, the end takes her out.
    await console(":clock 2026-02-10T09:00", "/subscribe monthly", ":pay")
    assert (await console("/subscription"))[-1] == "bot> Monthly membership · active · renews on 2026-03-13"
    out = await console(":clock 2026-03-13T09:30")
    assert (
        "bot> Your renewal of Monthly membership is not paid yet. Your access continues until 2026-03-15:"
        in (out[1])
    )
    assert len(out) == 2  # in grace: still in the chat
    out = await console(":clock 2026-03-15T09:30")
    assert out[1:] == [
        "bot> Your subscription to Monthly membership has ended. /subscribe monthly to come back.",
        "bot> vip is for members only. To get in: /subscribe monthly.",
    ]
    # Pay again: back in.
    await console("/subscribe monthly", ":pay")
    assert await console(":in vip") == ["bot→Ana> Welcome to vip!", "(in group chat vip)"]
    assert await console(":as Mei", "/access check") == [
        "(you are Mei, creator, in vip)",
        "bot> Paid chats are in order: nothing to do.",
    ]


async def test_creators_see_bindings_and_a_dry_run(console: ConsoleDriver) -> None:
    await console(*SETUP, ":as Ana", ":in lounge", ":as Mei", ":in lounge", "/bind plan monthly", ":dm")
    assert await console("/bindings", "/access check") == [
        "bot> Paid chats:",
        "bot> vip (console): plan monthly",
        "bot> lounge (console): plan monthly",
        "bot> 1 change would be made:",
        "bot> remove Ana · lounge · no course, plan or tier that grants it",
        "bot> /access fix to do it now (the scheduled check does it every 30 minutes).",
    ]
    assert await console("/access fix", "/access fix") == [
        "bot> Done: 1 change.",
        "bot> remove Ana · lounge · no course, plan or tier that grants it",
        "bot→Ana> lounge is for members only. To get in: /subscribe monthly.",
        "bot> Paid chats are in order: nothing to do.",
    ]
    # From the private chat: the groups the bot is in, as buttons that bind the one pressed.
    assert await console("/bind tier premium") == [
        "bot> Which chat needs tier premium?",
        "bot> [1] lounge",
        "bot> [2] vip",
    ]
    assert (await console("2"))[0] == "bot> vip is now paid: it needs tier premium."
    assert "bot> vip (console): tier premium" in await console("/bindings")
    refused = await console("/bind tier premium vip")
    assert refused == ["bot> Choose the chat with one of the buttons of /bind tier premium."]
    assert await console(":in lounge", "/unbind", "/unbind") == [
        "(in group chat lounge)",
        "bot> lounge is free again.",
        "bot> lounge was not paid.",
    ]


async def test_a_tier_chat_lets_in_whom_a_plan_gives_the_tier(console: ConsoleDriver) -> None:
    await console(":as Mei creator", "/plan add gold 20 USD month grace=0 tier=VIP Gold", ":in lounge")
    await console("/bind tier VIP", ":dm", ":as Ana")
    assert await console(":in lounge") == [
        "(you are not let into lounge)",
        "bot> lounge is for members only. To get in: tier VIP.",
    ]
    await console("/subscribe gold", ":pay")
    assert await console(":in lounge", ":dm") == [
        "bot→Ana> Welcome to lounge!",
        "(in group chat lounge)",
        "(in your private chat with the bot)",
    ]
    # The plan ends: the tier goes with it, and so does the chat.
    out = await console(":clock +32d")
    assert out[-1] == "bot> lounge is for members only. To get in: tier VIP."
