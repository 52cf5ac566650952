"""bot/handlers/channels.py in the console: a creator makes a tagged channel, newcomers start
through it (one with a referral code too), buy, and /channels reports both attribution models."""

from __future__ import annotations

import re
from pathlib import Path

from bot.app import App
from tests.conftest import ConsoleDriver, snapshot
from tests.test_cli import studyhall


async def test_a_channel_from_link_to_report(console: ConsoleDriver, app: App) -> None:
    await console(":as Mei creator", "/course add py101 19.99 USD Python")
    assert await console("/channel add XHS Xiaohongshu notes") == [
        "bot> Channel xhs (Xiaohongshu notes) is ready. Its entry links:",
        "bot> Discord and other chats: send /start src_xhs",
        "bot> WeChat QR code scene: src_xhs",
        "bot> Add someone's referral code: /channel links xhs CODE",
        "bot> For its QR code, send this command to the WeChat Official Account.",
    ]
    await console("/channel add wx")
    out = await console(":as Omar", "/ref")
    code = re.search(r"ref_([a-z0-9]{8})", out[1])
    assert code
    out = await console(":as Mei", f"/channel links xhs {code.group(1)}")
    assert out[1:4] == [
        "bot> Entry links of xhs (Xiaohongshu notes):",
        f"bot> Discord and other chats: send /start src_xhs-ref_{code.group(1)}",
        f"bot> WeChat QR code scene: src_xhs-ref_{code.group(1)}",
    ]
    # Ana comes through xhs with Omar's code: a touch and a referral at once.
    out = await console(":as Ana", f"/start src_xhs-ref_{code.group(1)}")
    assert "bot> Omar invited you. +10 welcome points." in out
    await console("/buy py101", ":pay")
    # Ben comes through wx, then xhs, then buys: first touch wx, last touch xhs.
    await console(":as Ben", "/start src_wx", "/start src_nothing", "/start src_xhs", "/buy py101", ":pay")
    await console(":as Mei", "/spend add 10 USD xhs")
    assert await console("/channels") == [
        "bot> Channels, by first touch and by last touch:",
        "bot> Xiaohongshu notes (xhs) · spend $10.00",
        "bot> First touch: members 1 · active 1 · buyers 1 · conversion 100% · revenue $19.99"
        " · CAC $10.00 · ROI +100%",
        "bot> Last touch: members 2 · active 2 · buyers 2 · conversion 100% · revenue $39.98"
        " · CAC $5.00 · ROI +300%",
        "bot> wx (wx)",
        "bot> First touch: members 1 · active 1 · buyers 1 · conversion 100% · revenue $19.99",
        "bot> Last touch: members 1 · active 1 · buyers 0 · conversion 0% · revenue 0",
        "bot> Record spend with /spend add AMOUNT CURRENCY TAG.",
    ]
    assert await console("/渠道统计") == await console("/channels")


async def test_bad_input_is_refused_and_changes_nothing(console: ConsoleDriver, app: App) -> None:
    await console(":as Mei creator", "/channel add xhs")
    before = await snapshot(app.db)
    for line, answer in (
        ("/channel add " + "x" * 33, "A channel tag is 1 to 32 letters, digits, _ or - (no spaces)."),
        ("/channel add bad!tag", "A channel tag is 1 to 32 letters, digits, _ or - (no spaces)."),
        ("/channel add XHS", "There is a channel xhs already."),
        ("/channel links nope", "There is no channel nope. /channels lists them."),
        ("/channel links xhs zzzzzzzz", "zzzzzzzz is nobody's referral code."),
        ("/channel remove xhs", "Usage: /channel add TAG [NAME] · /channel links TAG [REFERRAL_CODE]"),
    ):
        out = await console(line)
        assert out[0] == f"bot> {answer}", (line, out)
    await console(":as Ana", "/start src_unknown", "/start src_" + "y" * 40)  # ignored silently
    assert (await console("/channels"))[0].startswith("bot> Only creators can use /channels.")
    assert (await console("/channel add mine"))[0].startswith("bot> Only creators can use /channel.")
    after = await snapshot(app.db)
    assert {k: v for k, v in after.items() if k.startswith("channel")} == {
        k: v for k, v in before.items() if k.startswith("channel")
    }


CHANNEL_SCRIPT = """\
:as Mei creator
/course add py101 19.99 USD Python for data analysis
/channel add ads Xiaohongshu ads
/channel add Bad!Tag
/spend add 40 USD ads
:as Ana
/start src_ads
/start src_nosuchtag
/buy py101
:pay
:as Mei
/channels
"""


def test_channels_in_a_console_subprocess(db_url: str, tmp_path: Path) -> None:
    result = studyhall(["console", "--db", db_url, "--community", "chanhall"], tmp_path, stdin=CHANNEL_SCRIPT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for expected in (
        "bot> Channel ads (Xiaohongshu ads) is ready. Its entry links:",
        "bot> Discord and other chats: send /start src_ads",
        "bot> A channel tag is 1 to 32 letters, digits, _ or - (no spaces).",
        "bot> Xiaohongshu ads (ads) · spend $40.00",
    ):
        assert expected in lines, (expected, lines)
    first = next(line for line in lines if line.startswith("bot> First touch:"))
    assert (
        "members 1" in first and "buyers 1" in first and "revenue $19.99" in first and "CAC $40.00" in first
    )
    assert "Traceback" not in result.stdout + result.stderr
