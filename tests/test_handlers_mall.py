"""bot/handlers/mall.py: the mall in chat, through the console protocol."""

from __future__ import annotations

from bot.app import App
from tests.conftest import ConsoleDriver, snapshot

SETUP = (
    ":as Mei creator",
    "/course add py101 19.99 USD Python for data analysis",
    "/coupon add half 50%",
    "/mall add py 100 course py101 stock=5",
    "/mall add mug 30 reward Studyhall mug stock=1 | We post it; DM us your address",
    "/mall add halfoff 20 coupon half Half price coupon per=1",
    ":as Ana",
    "/help",
    ":as Mei",
    "/award @Ana 150 great notes",
)


async def test_a_creator_stocks_the_mall(console: ConsoleDriver) -> None:
    out = await console(*SETUP[:6])
    assert out[-3:] == [
        "bot> Mall item py added: Python for data analysis, 100 points, stock 5 left.",
        "bot> Mall item mug added: Studyhall mug, 30 points, stock 1 left.",
        "bot> Mall item halfoff added: Half price coupon, 20 points, stock unlimited.",
    ]
    assert await console("/mall stock mug 0", "/mall hide py", "/mall") == [
        "bot> Studyhall mug: sold out.",
        "bot> Python for data analysis is hidden.",
        "bot> Mall (points):",
        "bot> halfoff  Half price coupon · 20 · unlimited",
        "bot> mug  Studyhall mug · 30 · sold out",
        "bot> py  Python for data analysis · 100 · 5 left (hidden)",
        "bot> /redeem CODE to get one.",
        "bot> [1] Half price coupon",
        "bot> [2] Python for data analysis",
    ]


async def test_a_learner_redeems_points_for_items(console: ConsoleDriver) -> None:
    await console(*SETUP)
    out = await console(":as Ana", "/mall", "2", "2", "/redeem py", "/points")
    assert out == [
        "(you are Ana, learner, in dm)",
        "bot> Mall (points):",
        "bot> halfoff  Half price coupon · 20 · unlimited",
        "bot> mug  Studyhall mug · 30 · 1 left",
        "bot> py  Python for data analysis · 100 · 5 left",
        "bot> /redeem CODE to get one.",
        "bot> [1] Half price coupon",
        "bot> [2] Studyhall mug",
        "bot> [3] Python for data analysis",
        "bot> You redeemed Studyhall mug for 30 points.",
        "bot> How you get it: We post it; DM us your address",
        "bot> Studyhall mug is sold out.",
        "bot> You redeemed Python for data analysis for 100 points.",
        "bot> It is yours now: /learn py101 opens the first lesson.",
        "bot> Points: 20",
        "bot> Tier: regular (×1) — 350 more to premium",
        "bot> Today: messages 0/20, check-in not yet (/checkin)",
    ]
    coupon = await console("/redeem halfoff")
    assert coupon[0] == "bot> You redeemed Half price coupon for 20 points."
    assert coupon[1].startswith("bot> Your personal coupon: HALFOFF-") and coupon[1].endswith(
        "(use it with /buy)."
    )
    assert await console(":as Mei", "/mall redemptions") == [
        "(you are Mei, creator, in dm)",
        "bot> Latest redemptions:",
        f"bot> 2026-01-05 09:00 Ana: Half price coupon (-20) {coupon[1].split()[4]}",
        "bot> 2026-01-05 09:00 Ana: Python for data analysis (-100)",
        "bot> 2026-01-05 09:00 Ana: Studyhall mug (-30)",
    ]


async def test_bad_mall_input_is_explained_and_changes_nothing(app: App, console: ConsoleDriver) -> None:
    await console(*SETUP)
    before = await snapshot(app.db)
    replies = [
        (
            "/mall add x 5 reward Mug",
            "bot> An item code is 2 to 30 lowercase letters, digits, - or _, like mug.",
        ),
        ("/mall add cup -5 reward Cup", "bot> Usage: /mall add CODE POINTS"),
        ("/mall add cup 0 reward Cup", "bot> An item costs 1 to 1000000000 points."),
        (
            "/mall add m3 5 reward thing stock=-1",
            "bot> stock=-1: stock takes a whole number from 0 to 1000000.",
        ),
        ("/mall add m3 5 reward thing stock=99999999999999999999", "bot> stock=99999999999999999999: stock"),
        ("/mall add m3 5 reward thing per=0", "bot> per=0: per takes a whole number from 1 to 1000."),
        (
            "/mall add m3 5 reward thing size=L",
            "bot> size=L is not an option of /mall add; it takes stock=, per=.",
        ),
        ("/mall stock mug -1", "bot> Usage: /mall stock CODE N|unlimited"),
        ("/mall stock mug 1000001", "bot> Stock is 0 to 1000000, or unlimited."),
        ("/mall add cup 5 boat Cup", "bot> An item is one of: course, coupon, reward."),
        ("/mall add cup 5 course nope", "bot> There is no course nope."),
        ("/mall add cup 5 coupon nope", "bot> There is no coupon nope."),
        ("/mall add mug 5 reward Again", "bot> There is already a mall item mug."),
        ("/mall stock mug lots", "bot> Usage: /mall stock CODE N|unlimited"),
        ("/mall frobnicate", "bot> Usage: /mall |"),
    ]
    for line, start in replies:
        assert (await console(line))[0].startswith(start), line
    assert await console(":as Ana", "/redeem nope", "/mall add cup 5 reward Cup") == [
        "(you are Ana, learner, in dm)",
        "bot> There is no mall item nope. /mall lists them.",
        "bot> Only creators can manage the mall.",
    ]
    assert await snapshot(app.db) == before
