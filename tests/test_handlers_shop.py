"""bot/handlers/shop.py: the shop in chat, driven through the console protocol."""

from __future__ import annotations

from bot.app import App
from tests.conftest import ALL_JOBS, ConsoleDriver, snapshot

SETUP = (
    ":as Mei creator",
    "/course add py101 19.99 USD Python for data analysis",
    "/lesson add py101 Setup | Install Python 3.12 and pandas.",
    "/lesson add py101 day=2 Loops | for x in range(3): print(x)",
    "/course edit py101 completion 30",
)


async def test_a_creator_builds_a_course_in_chat(console: ConsoleDriver) -> None:
    assert await console(*SETUP) == [
        "(you are Mei, creator, in dm)",
        "bot> Course py101 added: Python for data analysis, $19.99.",
        "bot> Add lessons with /lesson add CODE [day=N] TITLE | CONTENT…",
        "bot> Lesson 1 added: Setup",
        "bot> Lesson 2 added: Loops",
        "bot> Course py101 updated.",
    ]
    assert await console("/course hide py101", "/courses") == [
        "bot> Course py101 is hidden from learners.",
        "bot> Courses:",
        "bot> py101  Python for data analysis · $19.99 (hidden)",
        "bot> /course CODE for details, /buy CODE to buy.",
    ]
    assert await console(":as Ana", "/courses", "/course py101") == [
        "(you are Ana, learner, in dm)",
        "bot> No courses yet.",
        "bot> There is no course py101. /courses lists them.",
    ]


async def test_a_learner_browses_buys_pays_and_learns(console: ConsoleDriver) -> None:
    await console(*SETUP)
    assert await console(":as Ana", "/course py101") == [
        "(you are Ana, learner, in dm)",
        "bot> Python for data analysis (py101)",
        "bot> Price: $19.99",
        "bot> 2 lessons",
        "bot> 1. Setup",
        "bot> 2. Loops (opens 2 days after purchase)",
        "bot> [1] Buy",
    ]
    assert await console("1") == [
        "bot> Order #1: Python for data analysis, $19.99. It stays open for 60 minutes.",
        "bot> Sandbox payment: nothing is charged. Type :pay to complete it.",
    ]
    assert await console(":pay", ":pay") == [
        "(sandbox payment completed)",
        "bot> Payment received for order #1: Python for data analysis.",
        "bot> It is yours now: /learn py101 opens the first lesson.",
        "bot> +19 points for your purchase.",
        "(no sandbox payment is pending for you)",
    ]
    assert await console("/learn py101", "/learn py101") == [
        "bot> Lesson 1 of 2: Setup",
        "bot> Install Python 3.12 and pandas.",
        "bot> Your next lesson opens on 2026-01-07.",
    ]
    assert await console(":clock +2d", "/learn py101", "/mycourses") == [
        f"(sandbox time 2026-01-07 09:00 UTC; jobs run: {ALL_JOBS})",
        "bot> Lesson 2 of 2: Loops",
        "bot> for x in range(3): print(x)",
        "bot> You have finished Python for data analysis. Well done!",
        "bot> +30 points for finishing it.",
        "bot> Your courses:",
        "bot> py101  Python for data analysis · 2 of 2 lessons done",
        "bot> /learn CODE opens your next lesson.",
    ]
    assert await console("/orders", "/lang zh", "/orders") == [
        "bot> Your orders:",
        "bot> #1 Python for data analysis · $19.99 · delivered",
        "bot> 语言已切换为中文。",
        "bot> 你的订单：",
        "bot> #1 Python for data analysis · US$19.99 · 已交付",
    ]


async def test_a_creator_refunds_and_the_buyer_is_told(console: ConsoleDriver) -> None:
    await console(*SETUP, ":as Ana", "/buy py101", ":pay")
    assert await console(":as Mei", "/refund 1 5", "/refund 1") == [
        "(you are Mei, creator, in dm)",
        "bot> Refunded $5.00 of order #1.",
        "bot> Purchase points taken back: 4.",
        "bot→Ana> You were refunded $5.00 for order #1: Python for data analysis.",
        "bot> Refunded $14.99 of order #1.",
        "bot> The course was taken back.",
        "bot> Purchase points taken back: 15.",
        "bot→Ana> You were refunded $14.99 for order #1: Python for data analysis.",
    ]
    assert await console(":as Ana", "/orders", "/learn py101") == [
        "(you are Ana, learner, in dm)",
        "bot> Your orders:",
        "bot> #1 Python for data analysis · $19.99 · refunded",
        "bot> You do not own Python for data analysis yet: /buy py101",
    ]


async def test_bad_shop_input_is_explained_and_changes_nothing(app: App, console: ConsoleDriver) -> None:
    await console(*SETUP, ":as Ana", "/buy py101", ":pay", ":as Mei")
    before = await snapshot(app.db)
    replies = [
        ("/course add js101 0 USD Free stuff", "bot> A price must be more than zero."),
        ("/course add js101 -3 USD Negative", "bot> A price must be more than zero."),
        ("/course add js101 9.999 USD Too precise", "bot> USD has 2 decimals; 9.999 has more."),
        ("/course add js101 9 ZZZ Odd money", "bot> ZZZ is not a currency code (like USD, CNY, EUR or XTR)."),
        ("/course add py101 9 USD Twice", "bot> The code py101 is taken already."),
        (
            "/course edit py101 colour red",
            "bot> You can edit: title, description, price, points, completion.",
        ),
        ("/course edit nope title X", "bot> There is no course nope. /courses lists them."),
        ("/lesson add py101 No bar in it", "bot> Usage: /lesson add CODE [day=N] TITLE | CONTENT…"),
        ("/lesson add py101 Title |   ", "bot> A lesson needs some content."),
        ("/buy nope", "bot> There is no course nope. /courses lists them."),
        ("/refund 1 50", "bot> Order 1 can be refunded at most $19.99."),
        ("/refund 99", "bot> There is no order 99."),
    ]
    for line, reply in replies:
        assert (await console(line))[0] == reply, line
    assert (await console(":as Ana", "/refund 1"))[1].startswith("bot> Only creators")
    assert (await console("/course add js101 5 USD Mine")) == ["bot> Only creators can change the catalog."]
    assert await console("/buy py101") == ["bot> You already own Python for data analysis: /learn py101"]
    assert await snapshot(app.db, exclude=("activity", "job_runs")) == {
        k: v for k, v in before.items() if k != "job_runs"
    }


async def test_a_bundle_is_shown_bought_with_a_notice_and_delivered(console: ConsoleDriver) -> None:
    await console(
        *SETUP,
        "/course add ml201 29.99 USD Machine learning",
        "/bundle add datapath 39.99 USD py101,ml201 Data path",
        ":as Ana",
        "/buy py101",
        ":pay",
    )
    assert await console("/course datapath", "1", ":pay") == [
        "bot> Data path (datapath)",
        "bot> Price: $39.99",
        "bot> Includes:",
        "bot> · Python for data analysis (py101) — $19.99",
        "bot> · Machine learning (ml201) — $29.99",
        "bot> You save $9.99 against buying them one by one.",
        "bot> [1] Buy",
        "bot> You own already: Python for data analysis. The bundle price stays the same.",
        "bot> Order #2: Data path, $39.99. It stays open for 60 minutes.",
        "bot> Sandbox payment: nothing is charged. Type :pay to complete it.",
        "(sandbox payment completed)",
        "bot> Payment received for order #2: Data path.",
        "bot> They are yours now: /learn py101, /learn ml201",
        "bot> +39 points for your purchase.",
    ]
    assert (await console(":as Mei", "/refund 2"))[1:4] == [
        "bot> Refunded $39.99 of order #2.",
        "bot> The courses this order gave were taken back (those owned through other orders stay).",
        "bot> Purchase points taken back: 39.",
    ]


async def test_owners_review_once_editably_and_staff_can_hide_a_review(
    app: App, console: ConsoleDriver
) -> None:
    await console(*SETUP, ":as Ana", "/buy py101", ":pay", ":as Ben", "/buy py101", ":pay", ":as Sam")
    assert await console(":as Cy", "/review py101 5 great") == [
        "(you are Cy, learner, in dm)",
        "bot> Only owners of Python for data analysis can review it.",
    ]
    assert await console(
        ":as Ana", "/review py101 4 Clear and practical", "/review py101 5 Even better on the second read"
    ) == [
        "(you are Ana, learner, in dm)",
        "bot> Thanks for reviewing Python for data analysis!",
        "bot> Your review of Python for data analysis is updated.",
    ]
    await console(":as Ben", "/review py101 2 spam spam spam")
    assert (await console("/course py101"))[5] == "bot> Rated 3.5 of 5 (2 reviews, /reviews py101)"
    for line in ("/review py101 0", "/review py101 6", "/review py101 five"):
        assert await console(line) == ["bot> Give 1 to 5 stars."], line
    assert await console(":as Ben", "/review hide py101 @Ana") == [
        "(you are Ben, learner, in dm)",
        "bot> Only moderators and creators can hide reviews.",
    ]
    assert await console(":as Mei", "/review hide py101 @Ben", "/reviews py101") == [
        "(you are Mei, creator, in dm)",
        "bot> Ben's review of Python for data analysis is hidden.",
        "bot> Reviews of Python for data analysis:",
        "bot> ★★★★★ Ana: Even better on the second read",
    ]
    assert (await console("/course py101"))[5] == "bot> Rated 5.0 of 5 (1 review, /reviews py101)"


async def test_a_course_with_a_points_price_can_be_bought_with_points(console: ConsoleDriver) -> None:
    await console(*SETUP, "/course edit py101 points 100", ":as Ana", "/help")
    await console(":as Mei", "/award @Ana 120 great notes", ":as Ana")
    assert (await console("/course py101"))[-2] == "bot> Or with points: /buy py101 points (100 points)"
    assert await console("/buy py101 points", "/buy py101 points") == [
        "bot> You bought Python for data analysis for 100 points.",
        "bot> It is yours now: /learn py101 opens the first lesson.",
        "bot> You already own Python for data analysis: /learn py101",
    ]
    assert (await console("/points"))[0] == "bot> Points: 20"


async def test_a_lesson_can_come_with_a_file(console: ConsoleDriver, tmp_path: object) -> None:
    from pathlib import Path

    notes = Path(str(tmp_path)) / "week1-notes.txt"
    notes.write_text("pandas cheat sheet\n", encoding="utf-8")
    await console(*SETUP[:2])
    assert await console(f":attach {notes}", "/lesson add py101 Cheat sheet | Keep it at hand.") == [
        "(week1-notes.txt goes with your next message)",
        "bot> Lesson 1 added: Cheat sheet, with the file week1-notes.txt",
    ]
    assert (await console(":attach /no/such/file"))[0].startswith("error: usage: :attach PATH")
    await console(":as Ana", "/buy py101", ":pay")
    assert await console("/learn py101") == [
        "bot> Lesson 1 of 1: Cheat sheet",
        "bot> Keep it at hand.[file week1-notes.txt]",
        "bot> You have finished Python for data analysis. Well done!",
    ]


async def test_a_creator_rewrites_a_lesson_in_chat_and_its_drip_day_stays(
    app: App, console: ConsoleDriver
) -> None:
    await console(*SETUP)
    assert (await console(":as Ana", "/lesson edit py101 2 Mine | x"))[1:] == [
        "bot> Only creators can change the catalog."
    ]
    before = await snapshot(app.db)
    assert (await console(":as Mei", "/lesson edit py101 9 Nope | text"))[1:] == [
        "bot> py101 has no lesson 9."
    ]
    for line in ("/lesson edit py101 2 no bar", "/lesson edit py101 ¹ Odd | x"):
        assert await console(line) == ["bot> Usage: /lesson edit CODE N TITLE | CONTENT…"]
    assert await snapshot(app.db, exclude=("activity", "job_runs")) == {
        k: v for k, v in before.items() if k != "job_runs"
    }
    assert await console("/lesson edit py101 2 Loops again | for x in range(5): print(x)") == [
        "bot> Lesson 2 updated: Loops again"
    ]
    assert "2. Loops again (opens 2 days after purchase)" in "\n".join(await console("/course py101"))
