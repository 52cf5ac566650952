"""bot/handlers/pushes.py through the console: /push with its preview and confirm button,
scheduling, A/B status, automations, /mute and /unmute; the pushes job sends on :clock."""

from __future__ import annotations

from bot.app import App
from tests.conftest import ALL_JOBS, ConsoleDriver, snapshot

PREVIEW = [
    "bot> Push #1 to all: a preview",
    "bot> Recipients: 2 (console 2)",
    "bot> Not reached: 1 muted, 0 without an account on any platform.",
    "bot> Sends: as soon as it is confirmed (outside quiet hours).",
    "bot> Text: Live class tonight at 8",
    "bot> Nothing is sent until you confirm.",
    "bot> [1] Confirm",
    "bot> [2] Cancel",
]


async def community(console: ConsoleDriver) -> None:
    """Mei (creator), Ana, Ben and Li (learners); Li muted pushes."""
    await console(":as Mei creator", ":as Ana", ":as Ben", ":as Li", "/mute", ":as Mei")


async def test_a_push_is_previewed_confirmed_with_the_button_and_sent_by_the_job(
    console: ConsoleDriver,
) -> None:
    await community(console)
    assert await console("/push all Live class tonight at 8") == PREVIEW
    assert await console(":clock +1m") == [
        "(sandbox time 2026-01-05 09:01 UTC; jobs run: orders, pushes)"
    ]  # a draft sends nothing
    assert await console("1") == [
        "bot> Push #1 confirmed.",
        "bot> Recipients: 2 (console 2)",
        "bot> Not reached: 1 muted, 0 without an account on any platform.",
        "bot> Sends: as soon as it is confirmed (outside quiet hours).",
        "bot> /push status 1 shows how it goes.",
    ]
    assert await console(":clock +1m") == [  # each push printed as it is sent, then the summary
        "bot→Ana> Live class tonight at 8",
        "bot→Ben> Live class tonight at 8",
        "(sandbox time 2026-01-05 09:02 UTC; jobs run: orders, pushes)",
    ]
    assert await console("/push status") == [
        "bot> Push #1 to all: done",
        "bot> Sent 2 · waiting 0 · skipped 1 · failed 0",
        "bot> Skipped: muted 1",
    ]
    assert await console("/push confirm 1") == ["bot> Push #1 is already confirmed or cancelled."]


async def test_a_scheduled_push_waits_for_its_time_and_quiet_hours(console: ConsoleDriver) -> None:
    await community(console)
    await console("/rules set push.quiet_start 21", "/rules set push.quiet_end 7")
    out = await console("/push all Good morning at 2026-01-05T23:00")
    assert out[3] == "bot> Sends: at 2026-01-05 23:00 (UTC), outside quiet hours."
    await console("1")
    assert (await console(":clock 2026-01-05T23:30"))[1:] == []  # quiet until 07:00
    assert await console(":clock 2026-01-06T07:00") == [
        "bot→Ana> Good morning",
        "bot→Ben> Good morning",
        f"(sandbox time 2026-01-06 07:00 UTC; jobs run: {ALL_JOBS})",
    ]


async def test_an_ab_push_reports_each_text_with_a_plain_note(console: ConsoleDriver) -> None:
    await community(console)
    out = await console("/push ab all Buy the course || Last day of the offer")
    assert out[4:7] == [
        "bot> A/B test: recipients are split at random into two halves.",
        "bot> Text A: Buy the course",
        "bot> Text B: Last day of the offer",
    ]
    await console("1", ":clock +1m")
    assert await console("/push status 1") == [
        "bot> Push #1 to all: done",
        "bot> Sent 2 · waiting 0 · skipped 1 · failed 0",
        "bot> Skipped: muted 1",
        "bot> Purchases within 7 days of delivery:",
        "bot> A: 0 of 1 bought (0.0%)",
        "bot> B: 0 of 1 bought (0.0%)",
        "bot> No difference can be measured yet: too few recipients or no purchases.",
        "bot> Purchases still count until 2026-01-12 09:01; the numbers may change.",
    ]


async def test_cancel_and_list(console: ConsoleDriver) -> None:
    await community(console)
    await console("/push all one", "/push all two at 18:00")
    assert await console("2") == ["bot> Push #2 cancelled; 0 messages will not be sent."]
    assert await console("/push list") == [
        "bot> Latest pushes:",
        "bot> #2 all · cancelled · 2026-01-05 18:00",
        "bot> #1 all · draft, not confirmed · 2026-01-05 09:00",
        "bot> /push status ID for the numbers.",
    ]


async def test_bad_pushes_are_explained_and_change_nothing(app: App, console: ConsoleDriver) -> None:
    await community(console)
    await console(":as Ana", "/whoami", ":as Mei", "/whoami")  # both have their chats already
    before = await snapshot(app.db)
    for line, reply in [
        ("/push nosuch Hello", ["bot> There is no segment nosuch. /segments lists them."]),
        ("/push all Hello at 25:00", ["bot> Give the time as HH:MM or YYYY-MM-DDTHH:MM, not 25:00."]),
        ("/push all Hello at 2025-01-01T09:00", ["bot> 2025-01-01T09:00 is in the past."]),
        ("/push all Hello at 2026-02-30T09:00", ["bot> 2026-02-30T09:00 is not a date."]),
        ("/push ab all only one text", ["bot> Usage: /push ab SEGMENT TEXT_A || TEXT_B [at TIME]"]),
        ("/push confirm x", ["bot> Name a push by its number, like 3 or #3."]),
        ("/push confirm 7", ["bot> There is no push #7."]),
        ("/push status", ["bot> No pushes yet. Send one with /push SEGMENT TEXT."]),
        ("/push all " + "x" * 2001, ["bot> A push text is at most 2000 characters."]),
        (
            "/push auto birthday Hi",
            ["bot> Usage: /push auto welcome0|welcome1|welcome3|winback TEXT…|default"],
        ),
        (":as Ana", ["(you are Ana, learner, in dm)"]),
        ("/push all Hello", ["bot> Only creators can use /push."]),
    ]:
        assert await console(line) == reply, line
    assert await snapshot(app.db) == before


async def test_mute_and_unmute(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Ana")
    assert await console("/mute", "/mute", "/unmute", "/unmute") == [
        "bot> Done: no more announcements or automated messages to you. Reminders about your own"
        " orders and memberships still come. /unmute brings announcements back.",
        "bot> You have muted announcements already. /unmute brings them back.",
        "bot> Announcements will reach you again. /mute stops them.",
        "bot> You were not muted: announcements reach you.",
    ]
    assert await console("/lang zh", "/静音") == [
        "bot> 语言已切换为中文。",
        "bot> 好的：不再向你发送公告和自动消息。关于你自己的订单和会员的提醒仍会发送。/unmute 可以恢复公告。",
    ]


async def test_the_welcome_sequence_through_the_console(console: ConsoleDriver) -> None:
    await console(
        ":as Mei creator", "/rules set push.welcome on", "/push auto welcome1 Day one: try /checkin"
    )
    assert (await console("/push auto"))[
        1
    ] == "bot> Welcome sequence (day 0, 1, 3): on — /rules set push.welcome on|off"
    await console(":as Ana", "/lang zh", ":as Mei")
    assert await console(":clock +1m") == [
        "bot→Ana> 欢迎来到 testhall！/help 查看你在这里可以做什么，/courses 查看可以学什么。",
        "(sandbox time 2026-01-05 09:01 UTC; jobs run: orders, pushes)",
    ]
    assert (await console(":clock +1d"))[:-1] == ["bot→Ana> Day one: try /checkin"]
    assert (await console(":clock +1d"))[1:] == []
    assert (await console(":as Ana", "/mute", ":as Mei", ":clock +1d"))[4:] == []  # Ana muted
    assert await console("/push auto welcome1 default") == ["bot> welcome1 uses its default text again."]


async def test_a_push_is_prepared_in_private_not_in_a_group(app: App, console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":in lounge")
    before = await snapshot(app.db)
    assert await console("/push all Hello everyone") == ["bot> Use /push in a private chat with the bot."]
    assert await snapshot(app.db) == before
