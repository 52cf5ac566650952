"""bot/handlers/coupons.py: coupons managed and used in chat, through the console protocol."""

from __future__ import annotations

from bot.app import App
from tests.conftest import ConsoleDriver, snapshot

SETUP = (":as Mei creator", "/course add py101 19.99 USD Python for data analysis")


async def test_a_creator_adds_lists_and_disables_coupons(console: ConsoleDriver) -> None:
    await console(*SETUP)
    assert await console(
        "/coupon add spring15 15% uses=100 until=2026-03-31",
        "/coupon add five 5 USD min=10USD per=2 for=py101",
        "/coupon list",
        "/coupon disable five",
    ) == [
        "bot> Coupon SPRING15 added: 15% off, used 0 of 100, 1 per member, until 2026-03-31 (active).",
        "bot> Coupon FIVE added: $5.00 off, used 0, 2 per member, py101 (active).",
        "bot> Coupons:",
        "bot> SPRING15  15% off, used 0 of 100, 1 per member, until 2026-03-31 (active)",
        "bot> FIVE  $5.00 off, used 0, 2 per member, py101 (active)",
        "bot> Coupon FIVE is disabled.",
    ]


async def test_a_learner_buys_with_a_coupon(console: ConsoleDriver) -> None:
    await console(*SETUP, "/coupon add spring15 15%", "/coupon add gift 100%")
    assert await console(":as Ana", "/buy py101 spring15", ":pay") == [
        "(you are Ana, learner, in dm)",
        "bot> Coupon applied: $2.99 off $19.99.",
        "bot> Order #1: Python for data analysis, $17.00. It stays open for 60 minutes.",
        "bot> Sandbox payment: nothing is charged. Type :pay to complete it.",
        "(sandbox payment completed)",
        "bot> Payment received for order #1: Python for data analysis.",
        "bot> It is yours now: /learn py101 opens the first lesson.",
        "bot> +17 points for your purchase.",
    ]
    assert await console(":as Ben", "/buy py101 GIFT") == [
        "(you are Ben, learner, in dm)",
        "bot> Coupon applied: Python for data analysis is free for you.",
        "bot> Payment received for order #2: Python for data analysis.",
        "bot> It is yours now: /learn py101 opens the first lesson.",
    ]


async def test_bad_coupon_input_is_explained_and_changes_nothing(app: App, console: ConsoleDriver) -> None:
    await console(*SETUP, "/coupon add spring15 15% until=2026-01-04", ":as Ana", "/help", ":as Mei")
    before = await snapshot(app.db)
    replies = [
        ("/coupon add x1", "bot> Usage: /coupon add CODE 15% | 5 USD [min=50USD] [uses=N] [per=N]"),
        ("/coupon add x1 150%", "bot> A percent coupon takes 1% to 100%, like 15%."),
        ("/coupon add c2 -10% uses=1", "bot> A percent coupon takes 1% to 100%, like 15%."),
        ("/coupon add c2 x% uses=1", "bot> A percent coupon takes 1% to 100%, like 15%."),
        ("/coupon add x1 5 USD colour=red", "bot> colour=red is not an option of /coupon add; it takes min="),
        ("/coupon add x1 5 USD red", "bot> red is not a coupon option"),
        ("/coupon add x1 5 USD min=10EUR", "bot> The minimum spend must be in the coupon's currency, USD."),
        ("/coupon add x1 10% uses=0", "bot> uses=0: uses takes a whole number from 1 to 1000000."),
        ("/coupon add x1 10% until=soon", "bot> until=soon: until takes a date like 2026-12-31."),
        ("/coupon add x1 0 USD", "bot> A price must be more than zero."),
        ("/coupon disable nope", "bot> There is no coupon nope."),
        ("/coupon frobnicate", "bot> Usage: /coupon add CODE"),
    ]
    for line, start in replies:
        assert (await console(line))[0].startswith(start), line
    assert await console(":as Ana", "/buy py101 spring15", "/buy py101 nope", "/coupon list") == [
        "(you are Ana, learner, in dm)",
        "bot> Coupon SPRING15 has expired.",
        "bot> There is no coupon nope.",
        "bot> Only creators can use /coupon.",
    ]
    assert await snapshot(app.db) == before
