"""bot/handlers/qa.py: asking with a bounty, answering, accepting and the rest, in the console."""

from __future__ import annotations

from bot.adapters.render import render_plain
from bot.app import App
from core.clock import ManualClock
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef
from tests.conftest import ConsoleDriver, snapshot

SETUP = (
    ":as Ana",
    ":as Ben",
    ":as Sam moderator",
    ":as Mei creator",
    "/award @Ana 50 welcome",
    ":as Ana",
    ":in lounge",
)


async def test_ask_with_a_bounty_answer_accept_and_the_points_move(console: ConsoleDriver) -> None:
    await console(*SETUP)
    assert await console("/ask How do I merge two DataFrames on a key? bounty 20") == [
        "bot> Question #1 is posted. Its bounty of 20 points is held until you accept an answer.",
        "bot> Answer with /answer 1 TEXT, or reply to the question.",
    ]
    assert await console(":as Ben", "/answer 1 pd.merge(left, right, on='key')") == [
        "(you are Ben, learner, in lounge)",
        "bot> Your answer A1 to question #1 is in.",
        "bot→Ana> Ben answered your question #1: pd.merge(left, right, on='key')",
        "bot→Ana> /accept A1 if it solves it.",
    ]
    assert await console("/q 1") == [
        "bot> Question #1 by Ana · open · bounty 20",
        "bot> How do I merge two DataFrames on a key?",
        "bot> A1 Ben (0 votes): pd.merge(left, right, on='key')",
        "bot> /answer 1 TEXT to answer; /up A… to upvote; the asker can /accept A….",
    ]
    assert await console(":as Ana", "/up A1", "/accept A1") == [
        "(you are Ana, learner, in lounge)",
        "bot> Upvoted A1 (1 vote).",
        "bot> Answer A1 accepted: Ben receives 30 points.",
        "bot→Ben> Your answer to question #1 was accepted: +30 points.",
    ]
    assert (await console(":dm", "/points"))[1] == "bot> Points: 30"  # 50 - 20
    assert (await console(":as Ben", "/points"))[1] == "bot> Points: 30"  # 20 + 10 bonus
    assert await console("/questions top") == [
        "bot> Questions:",
        "bot> #1 How do I merge two DataFrames on a key? (answered, 1 answer · bounty 20)",
        "bot> /q NUMBER shows one with its answers.",
    ]
    assert (await console("/search merge dataframes"))[1].startswith("bot> #1 How do I merge")


async def test_similar_answered_questions_are_suggested_and_the_asker_can_post_anyway(
    console: ConsoleDriver,
) -> None:
    await console(
        *SETUP, "/ask Python 装饰器怎么用？", ":as Ben", "/answer 1 用 @functools.wraps 包一层函数", ":as Ana"
    )
    await console("/accept A1", ":as Cai")
    assert await console("/ask Python 的装饰器怎么使用？") == [
        "bot> These answered questions look like yours:",
        "bot> #1 Python 装饰器怎么用？ (answered, 1 answer) — /q 1",
        "bot> [1] Post mine anyway",
    ]
    assert await console("1") == [
        "bot> Question #2 is posted.",
        "bot> Answer with /answer 2 TEXT, or reply to the question.",
    ]


async def test_a_reply_to_the_question_message_answers_it(app: App, clock: ManualClock) -> None:
    lounge = ChatRef("console", "group:lounge", ChatKind.GROUP, "lounge")
    ana, ben = UserRef("console", "ana", "Ana"), UserRef("console", "ben", "Ben")

    def said(user: UserRef, text: str, message_id: str, reply_to: str | None = None) -> Event:
        kind = EventKind.COMMAND if text.startswith("/") else EventKind.MESSAGE
        return Event(
            "console",
            app.config.community,
            lounge,
            user,
            kind,
            clock.now(),
            text=text,
            message_id=message_id,
            reply_to=reply_to,
        )

    await app.handle(said(ana, "/ask Which plot shows a distribution best?", "m1"))
    out = await app.handle(said(ben, "A histogram, or a KDE plot with seaborn", "m2", reply_to="m1"))
    assert render_plain(out[0].reply, "en").text == "Your answer A1 to question #1 is in."
    # A reply to anything else is just a message.
    assert await app.handle(said(ben, "thanks everyone for the help", "m3", reply_to="m2")) == []


async def test_moderators_hide_and_the_bounty_goes_back(console: ConsoleDriver) -> None:
    await console(*SETUP, "/ask Buy followers cheap here!!! bounty 10")
    assert await console(":as Sam", "/hide Q1 spam", "/hide A9 spam", ":as Ana", "/q 1") == [
        "(you are Sam, moderator, in lounge)",
        "bot> #1 is hidden.",
        "bot> There is no answer #9.",
        "(you are Ana, learner, in lounge)",
        "bot> There is no question #1.",
    ]
    assert (await console(":dm", "/points"))[1] == "bot> Points: 50"


async def test_bad_qa_input_gets_a_clear_message_and_changes_nothing(
    app: App, console: ConsoleDriver
) -> None:
    await console(
        *SETUP,
        "/ask What is a generator in Python?",
        ":as Ben",
        "/answer 1 A function that yields",
        ":as Ana",
    )
    before = await snapshot(app.db)
    for who, line, reply in [
        ("Ana", "/ask hi", "bot> Write 5 to 2000 characters."),
        (
            "Ana",
            "/ask How do I do it? bounty 999",
            "bot> You have 50 points: not enough for a bounty of 999.",
        ),
        *[
            (
                "Ana",
                f"/ask How do I do it? {bounty}",
                f"bot> {bounty}: bounty takes a whole number from 1 to 100000.",
            )
            for bounty in ("bounty 99999999", "bounty " + "9" * 20, "bounty 0", "bounty -5", "悬赏 0")
        ],
        ("Ana", "/answer 1 I answer myself", "bot> You cannot answer your own question."),
        ("Ana", "/answer 77 hello there", "bot> There is no question #77."),
        ("Ana", "/answer x1 hello there", "bot> x1 is not a question number."),
        ("Ana", "/accept Q1", "bot> Q1 is not an answer number."),
        ("Ana", "/accept A5", "bot> There is no answer #5."),
        ("Cai", "/accept A1", "bot> Only the asker or a moderator can accept an answer."),
        ("Ben", "/up A1", "bot> You cannot vote for your own answer."),
        ("Ben", "/hide Q1 no", "bot> Only moderators and creators can use /hide."),
        ("Ana", "/questions later", "bot> "),
        ("Ana", "/askanyway", "bot> You have no question waiting. /ask TEXT to ask one."),
    ]:
        out = await console(f":as {who}", line)
        assert out[1].startswith(reply), (line, out)
    assert await snapshot(app.db, exclude=("activity", "members", "identities", "ledger_accounts")) == {
        k: v for k, v in before.items() if k not in ("members", "identities", "ledger_accounts")
    }


async def test_members_report_and_moderators_hide_then_show_again(console: ConsoleDriver) -> None:
    await console(*SETUP, "/ask Buy followers cheap here at my shop")
    assert await console(":as Ben", "/report Q1 spam", "/report Q1 spam again", "/report A9 rude") == [
        "(you are Ben, learner, in lounge)",
        "bot> Thank you: the moderators will look at #1.",
        "bot→Sam> #1 was reported: spam",
        "bot→Mei> #1 was reported: spam",
        "bot> You have reported #1 already.",
        "bot> There is no answer #9.",
    ]
    assert await console(":as Sam", "/unhide Q1 wrongly hidden") == [
        "(you are Sam, moderator, in lounge)",
        "bot> It is not hidden.",
    ]
    assert await console(
        "/hide Q1 spam", "/unhide Q1 it was fine after all", ":as Ana", "/questions mine"
    ) == [
        "bot> #1 is hidden.",
        "bot> #1 is shown again.",
        "(you are Ana, learner, in lounge)",
        "bot> Questions:",
        "bot> #1 Buy followers cheap here at my shop (closed, 0 answers)",
        "bot> /q NUMBER shows one with its answers.",
    ]
