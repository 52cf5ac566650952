"""bot/handlers/account.py: /link across two accounts, /mydata, /forget with its confirmation,
and /export members, in the console."""

from __future__ import annotations

import re

from bot.app import App
from tests.conftest import ConsoleDriver


async def test_link_two_accounts_into_one_member(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Ana", ":as Mei", "/award @Ana 30 helpful", ":as Ana")
    out = await console("/link")
    code = re.search(r"Your code: ([A-Z0-9]{8})", out[0])
    assert code, out
    assert await console(":as Ana2", "/award @Ana2 1 x", f"/link {code.group(1)}") == [
        "(you are Ana2, learner, in dm)",
        "bot> Only moderators and creators can use /award.",
        "bot> Linked: your accounts are one member now, Ana.",
        "bot> 0 points moved with them; /whoami lists your accounts.",
    ]
    assert (await console("/points"))[0] == "bot> Points: 30"  # Ana2 speaks as Ana now
    assert await console(f"/link {code.group(1)}") == [
        "bot> That code is unknown, used or expired. /link gives a new one."
    ]


async def test_mydata_comes_as_a_file_and_forget_asks_first(app: App, console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Ana")
    assert await console("/mydata") == ["bot> Everything studyhall stores about you.[file mydata.json]"]
    assert await console("/forget") == [
        "bot> This erases your name, your linked accounts and your texts, for good.",
        "bot> Orders, points and commissions stay for the accounts, under an anonymous member. /mydata first"
        " if you want a copy.",
        "bot> [1] Yes, erase my data",
    ]
    assert await console("1") == ["bot> Done: your personal data is erased."]
    community = await app.community()
    assert await app.services.members.find_by_name(community.id, "Ana") == []


async def test_creators_export_members_by_dm(console: ConsoleDriver) -> None:
    await console(":as Ana", ":as Mei creator")
    assert await console("/export members") == ["bot> The members of testhall.[file members.csv]"]
    assert await console("/export orders") == ["bot> Usage: /export members"]
    assert await console(":as Ana", "/export members") == [
        "(you are Ana, learner, in dm)",
        "bot> Only creators can use /export.",
    ]
