"""bot/handlers/subscriptions.py: a membership's life, travelled through in the console."""

from __future__ import annotations

from bot.app import App
from tests.conftest import ALL_JOBS, ConsoleDriver, snapshot

SETUP = (":as Mei creator", "/plan add monthly 9.99 USD month trial=7 grace=3 Monthly membership")


async def test_a_creator_sets_up_plans(console: ConsoleDriver) -> None:
    assert await console(
        *SETUP, "/plan add yearly 99 USD year Yearly", "/plan edit yearly price 89 USD", "/plans"
    ) == [
        "(you are Mei, creator, in dm)",
        "bot> Plan monthly added: Monthly membership · $9.99 a month, 7-day trial.",
        "bot> Plan yearly added: Yearly · $99.00 a year.",
        "bot> Plan yearly updated: Yearly · $89.00 a year.",
        "bot> Membership plans:",
        "bot> monthly  Monthly membership · $9.99 a month, 7-day trial",
        "bot> yearly  Yearly · $89.00 a year",
        "bot> /subscribe CODE to join.",
    ]


async def test_trial_payment_renewal_grace_ending_and_coming_back(console: ConsoleDriver) -> None:
    await console(*SETUP, ":as Ana")
    assert await console("/subscribe monthly", ":clock +4d") == [
        "bot> Your 7-day trial of Monthly membership has started; it runs until 2026-01-12.",
        "bot> /subscribe monthly again any time to pay for the first month.",
        f"(sandbox time 2026-01-09 09:00 UTC; jobs run: {ALL_JOBS})",
        "bot> Your trial of Monthly membership ends on 2026-01-12. /subscribe monthly to keep your access.",
    ]
    assert await console("/subscribe monthly", ":pay", "/subscription") == [
        "bot> Order #1: Monthly membership, $9.99. It stays open for 60 minutes.",
        "bot> Sandbox payment: nothing is charged. Type :pay to complete it.",
        "(sandbox payment completed)",
        "bot> Payment received for order #1: Monthly membership.",
        "bot> You are a member now: /subscription shows until when.",
        "bot> +9 points for your purchase.",
        "bot> Your memberships:",
        "bot> Monthly membership · active · renews on 2026-02-12",
    ]
    # The renewal is not paid: a reminder, then grace, then the end.
    assert await console(":clock 2026-02-09T09:00", ":clock 2026-02-12T09:00", ":clock 2026-02-15T09:00") == [
        f"(sandbox time 2026-02-09 09:00 UTC; jobs run: {ALL_JOBS})",
        "bot> Your subscription to Monthly membership renews on 2026-02-12:"
        " /subscribe monthly to pay for the next month.",
        f"(sandbox time 2026-02-12 09:00 UTC; jobs run: {ALL_JOBS})",
        "bot> Your renewal of Monthly membership is not paid yet. Your access continues until 2026-02-15:"
        " /subscribe monthly to pay.",
        f"(sandbox time 2026-02-15 09:00 UTC; jobs run: {ALL_JOBS})",
        "bot> Your subscription to Monthly membership has ended. /subscribe monthly to come back.",
    ]
    assert (await console("/subscribe monthly", ":pay", "/subscription"))[-1] == (
        "bot> Monthly membership · active · renews on 2026-03-15"
    )
    assert await console("/cancel", "/subscription") == [
        "bot> Monthly membership will not renew. Your access lasts until 2026-03-15;"
        " /subscribe monthly to change your mind.",
        "bot> Your memberships:",
        "bot> Monthly membership · active · access until 2026-03-15",
    ]


async def test_bad_plan_and_subscription_input_changes_nothing(app: App, console: ConsoleDriver) -> None:
    await console(*SETUP, ":as Ana", "/help", ":as Mei")
    before = await snapshot(app.db)
    for line, reply in [
        ("/plan add weekly 1 USD week Weekly", "bot> A plan renews every month, quarter or year."),
        ("/plan add monthly 1 USD month Again", "bot> There is already a plan monthly."),
        ("/plan add p2 0 USD month Free", "bot> A price must be more than zero."),
        (
            "/plan add p2 5 USD month trial=999 Long",
            "bot> trial=999: trial takes a whole number from 0 to 365.",
        ),
        (
            "/plan add p2 9.99 USD month trial=-7 x",
            "bot> trial=-7: trial takes a whole number from 0 to 365.",
        ),
        ("/plan add p2 9.99 USD month trial=99999999 x", "bot> trial=99999999: trial takes a whole"),
        ("/plan add p2 9.99 USD month grace=99999999999 x", "bot> grace=99999999999: grace takes a whole"),
        ("/plan add p2 9.99 USD month tier=a.b x", "bot> tier=a.b: tier takes a name"),
        (
            "/plan add p2 9.99 USD month colour=red x",
            "bot> colour=red is not an option of /plan add; it takes trial=, grace=, tier=.",
        ),
        ("/plan edit monthly colour red", "bot> You can edit: title, price, trial, grace, tier."),
        ("/plan edit monthly tier gold", "bot> There is no tier gold. Tiers: regular, premium, VIP."),
        ("/plan add p2 5 USD month tier=gold Gold", "bot> There is no tier gold."),
        ("/plan edit nope title X", "bot> There is no plan nope. /plans lists them."),
        ("/plan add p2", "bot> Usage: /plan add CODE PRICE CURRENCY"),
    ]:
        assert (await console(line))[0].startswith(reply), line
    assert await console(":as Ana", "/subscribe nope", "/cancel", "/subscription", "/plan list") == [
        "(you are Ana, learner, in dm)",
        "bot> There is no plan nope. /plans lists them.",
        "bot> You have no membership. /plans lists them.",
        "bot> You have no membership. /plans lists them.",
        "bot> Only creators can use /plan.",
    ]
    assert await snapshot(app.db) == before


async def test_a_plan_grants_its_tier_while_it_lasts(console: ConsoleDriver) -> None:
    await console(":as Mei creator", "/plan add gold 20 USD month grace=0 tier=vip Gold circle")
    assert (await console("/plans"))[1] == "bot> gold  Gold circle · $20.00 a month, VIP tier"
    await console(":as Ana", "/subscribe gold", ":pay")
    # The top tier, though her points reach none: nothing "more to" show.
    assert (await console("/points"))[1] == "bot> Tier: VIP (×1.5) through your membership Gold circle"
    # Participation points count x1.5 (5 for a check-in become 7), and no upgrade is announced.
    assert await console("/checkin") == ["bot> Checked in: +7 points.", "bot> Streak: 1 day."]
    # The plan ends: back to the tier her points reach.
    await console(":clock +32d")
    assert (await console("/points"))[1].startswith("bot> Tier: regular (×1)")
    assert await console("/checkin") == ["bot> Checked in: +5 points.", "bot> Streak: 1 day."]


async def test_a_creator_changes_the_tier_a_plan_grants(console: ConsoleDriver) -> None:
    await console(
        ":as Mei creator", "/plan add gold 20 USD month Gold circle", ":as Ana", "/subscribe gold", ":pay"
    )
    assert (await console("/points"))[1].startswith("bot> Tier: regular (×1)")
    assert await console(":as Mei", "/plan edit gold tier premium", ":as Ana") == [
        "(you are Mei, creator, in dm)",
        "bot> Plan gold updated: Gold circle · $20.00 a month, premium tier.",
        "(you are Ana, learner, in dm)",
    ]
    assert (await console("/points"))[1].startswith(
        "bot> Tier: premium (×1.2) through your membership Gold circle"
    )
    await console(":as Mei", "/plan edit gold tier none", ":as Ana")
    assert (await console("/points"))[1].startswith("bot> Tier: regular (×1)")


async def test_pay_alone_renews_a_membership_that_is_due(console: ConsoleDriver) -> None:
    await console(*SETUP, ":as Ana", "/subscribe monthly")  # the trial, until 2026-01-12
    assert await console(":pay") == [
        "(sandbox payment completed)",
        "bot> Payment received for order #1: Monthly membership.",
        "bot> You are a member now: /subscription shows until when.",
        "bot> +9 points for your purchase.",
    ]
    assert (await console("/subscription"))[-1] == "bot> Monthly membership · active · renews on 2026-02-12"
    # Nothing is due weeks before the renewal; in grace, :pay pays the next period.
    assert await console(":pay") == ["(no sandbox payment is pending for you)"]
    await console(":clock 2026-02-13T09:00")
    assert (await console("/subscription"))[-1].startswith("bot> Monthly membership · in grace")
    assert (await console(":pay"))[:2] == [
        "(sandbox payment completed)",
        "bot> Payment received for order #2: Monthly membership.",
    ]
    assert (await console("/subscription"))[-1] == "bot> Monthly membership · active · renews on 2026-03-13"
    # A cancelled membership is not renewed by :pay.
    await console("/cancel", ":clock 2026-03-10T09:00")
    assert await console(":pay") == ["(no sandbox payment is pending for you)"]
