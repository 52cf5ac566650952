"""bot/handlers/analytics.py: the creators' reports in the console."""

from __future__ import annotations

from bot.app import App
from tests.conftest import ConsoleDriver, snapshot

SETUP = (
    ":as Ana",
    ":as Ben",
    ":as Mei creator",
    "/course add py101 19.99 USD Python",
    ":as Ana",
    "/buy py101",
    ":pay",
    ":in lounge",
    "hello everyone, glad to be here",
    ":dm",
    ":as Mei",
)


async def test_stats_in_text(console: ConsoleDriver) -> None:
    out = await console(*SETUP, "/stats")
    text = "\n".join(out)
    assert "bot> Members 2 · engagement" in text
    assert "bot> Funnel: joined 2 → active 1 → first purchase 1 → repeat purchase 0" in text
    assert "bot> Revenue (USD): $19.99 in all · MRR $0.00" in text
    assert "bot> Channels (members → buyers): referral: 0 → 0 (0%) · direct: 2 → 1 (50%)" in text
    assert "bot> Coupons: too few buyers yet to compare (0 with a coupon, 1 without)." in text


async def test_charts_come_as_images(console: ConsoleDriver) -> None:
    await console(*SETUP)
    assert await console("/retention") == [
        "bot> [image: Share of each week's newcomers active in the weeks after joining.]"
    ]
    assert await console("/retention paying") == [
        "bot> [image: Share of each week's newcomers who paid in the weeks after joining.]"
    ]
    assert await console("/revenue") == ["bot> [image: By product: Python: $19.99]"]
    out = await console("/segments")
    assert out[1] == "bot> new 2 · active 1 · at-risk 0 · churned 1 · paying 1 · vip 1"  # Ben never took part
    assert out[2] == "bot> Too few members for clusters yet (K-means needs 10)."
    assert out[-1].endswith("[image: chart]")


async def test_spend_and_naming(app: App, console: ConsoleDriver) -> None:
    await console(*SETUP)
    assert await console("/spend add 50 USD Xiaohongshu") == ["bot> Recorded $50.00 on xiaohongshu."]
    # Two members are too few for K-means: there is no cluster 1 to name yet.
    assert await console("/segments name 1 Superfans") == [
        "bot> There are no clusters yet to name: /segments shows when there are."
    ]


async def test_learners_get_no_reports_and_bad_input_changes_nothing(
    app: App, console: ConsoleDriver
) -> None:
    await console(*SETUP)
    before = await snapshot(app.db)
    for who, line, reply in [
        ("Ana", "/stats", "bot> Only creators can use /stats."),
        ("Ana", "/segments", "bot> Only creators can use /segments."),
        ("Mei", "/spend add -5 USD ads", "bot> "),
        ("Mei", "/spend take 5 USD ads", "bot> Usage: /spend add AMOUNT CURRENCY CHANNEL"),
        ("Mei", "/segments name x Fans", "bot> Usage: /segments name NUMBER NAME"),
        ("Mei", "/segments name 1 active", "bot> A segment name is 1 to 40 characters and not a rule's name"),
        ("Mei", "/retention weekly", "bot> "),
    ]:
        out = await console(f":as {who}", line)
        assert out[1].startswith(reply), (line, out)
    assert await snapshot(app.db) == before
