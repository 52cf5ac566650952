"""bot/handlers/moderation.py: /award, /deduct, /audit and /reverse through the console."""

from __future__ import annotations

import pytest

from bot.app import App
from core.ledger.service import Balance
from tests.conftest import ALL_JOBS, ConsoleDriver, snapshot

AWARD_USAGE = "bot> Usage: /award @member POINTS reason…"
DEDUCT_USAGE = "bot> Usage: /deduct @member POINTS reason…"


async def _balance(app: App, name: str) -> Balance:
    community = await app.community()
    [member] = await app.services.members.find_by_name(community.id, name)
    return await app.services.ledger.balance(community.id, member.id)


async def _without_empty_accounts(app: App) -> dict[str, list[tuple]]:
    """Every table, but empty ledger accounts (a refused posting may leave one behind)."""
    tables = await snapshot(app.db)
    tables["ledger_accounts"] = [row for row in tables["ledger_accounts"] if row[4:6] != (0, 0)]
    return tables


async def _staff_and_learners(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Mo moderator", ":as Ana", ":as Bo")


async def test_moderator_awards_and_the_receiver_is_told(app: App, console: ConsoleDriver) -> None:
    await _staff_and_learners(console)
    assert await console(":as Mo", "/award @Ana 50 clear answer on recursion") == [
        "(you are Mo, moderator, in dm)",
        "bot> Ana received 50 points: clear answer on recursion",
        "bot> Your award budget left today: 150",
        "bot→Ana> Mo gave you 50 points in testhall: clear answer on recursion",
    ]
    assert await console("/give ana 20 second answer") == [
        "bot> Ana received 20 points: second answer",
        "bot> Your award budget left today: 130",
        "bot→Ana> Mo gave you 20 points in testhall: second answer",
    ]
    assert await _balance(app, "Ana") == Balance(70, 70)


async def test_the_receiver_is_told_in_their_own_language(console: ConsoleDriver) -> None:
    await _staff_and_learners(console)
    await console(":as Bo", "/lang zh")
    assert await console(":as Mo", "/奖励 @Bo 30 好问题") == [
        "(you are Mo, moderator, in dm)",
        "bot> Bo received 30 points: 好问题",
        "bot> Your award budget left today: 170",
        "bot→Bo> Mo 在 testhall 给了你 30 积分：好问题",
    ]
    assert await console(":as Mei", "/award @Bo 470 course project") == [
        "(you are Mei, creator, in dm)",
        "bot> Bo received 470 points: course project",
        "bot→Bo> Mei 在 testhall 给了你 470 积分：course project",
        "bot→Bo> 你在 testhall 升级到了 premium 等级！参与积分现在按 ×1.2 计算。",
    ]


async def test_a_chinese_speaking_moderator_gets_chinese_replies(console: ConsoleDriver) -> None:
    await _staff_and_learners(console)
    await console(":as Mo", "/lang zh")
    assert await console("/award @Ana 150 答得好") == [
        "bot> Ana 获得 150 积分：答得好",
        "bot> 你今天剩余的奖励额度：50",
        "bot→Ana> Mo gave you 150 points in testhall: 答得好",
    ]
    assert await console("/award @Ana 51 再来") == ["bot> 超出了你的每日奖励额度：今天 200 积分中还剩 50。"]
    assert await console("/award @Ana 0 再来") == [
        "bot> 0 超出范围（1 到 1000000）。",
        "bot> 用法：/award @member POINTS reason…",
    ]
    assert await console("/deduct @Ana 151 刷屏") == ["bot> Ana 只有 150 积分。"]


async def test_creators_award_without_a_budget_line(app: App, console: ConsoleDriver) -> None:
    await _staff_and_learners(console)
    await console(":as Mei")
    for _ in range(3):
        assert (await console("/award @Ana 150 weekly project"))[1:] == [
            "bot→Ana> Mei gave you 150 points in testhall: weekly project"
        ]
    assert await _balance(app, "Ana") == Balance(450, 450)


async def test_the_moderator_budget_and_the_receiver_cap(app: App, console: ConsoleDriver) -> None:
    await _staff_and_learners(console)
    await console(":as Mo", "/award @Ana 150 great notes")
    before = await _without_empty_accounts(app)
    assert await console("/award @Bo 51 good question") == [
        "bot> That is over your daily award budget: 50 of 200 points left today."
    ]
    assert await _without_empty_accounts(app) == before
    assert (await console("/award @Bo 50 good question"))[1] == "bot> Your award budget left today: 0"
    await console(":as Mei", "/award @Ana 350 project")
    assert await console("/award @Ana 1 one more") == [
        "bot> Ana has reached today's cap of 500 points from awards."
    ]
    assert await console("/award @Ana 1001 a lot") == ["bot> Choose between 1 and 1000 points."]
    assert await console(":clock +1d", ":as Mo", "/award @Bo 200 new day") == [
        f"(sandbox time 2026-01-06 09:00 UTC; jobs run: {ALL_JOBS})",
        "(you are Mo, moderator, in dm)",
        "bot> Bo received 200 points: new day",
        "bot> Your award budget left today: 0",
        "bot→Bo> Mo gave you 200 points in testhall: new day",
    ]
    assert (await _balance(app, "Ana"), await _balance(app, "Bo")) == (Balance(500, 500), Balance(250, 250))


BAD_INPUT = [
    ("@Ana -5 thanks", "-5 is out of range (1 to 1000000)."),
    ("@Ana 0 thanks", "0 is out of range (1 to 1000000)."),
    ("@Ana ten thanks", "ten is not a whole number."),
    ("@Ana 2.5 thanks", "2.5 is not a whole number."),
    ("@Ana 1000001 thanks", "1000001 is out of range (1 to 1000000)."),
    ("@Ana 99999999999999999999999999 thanks", "99999999999999999999999999 is out of range (1 to 1000000)."),
    ("@Nobody 5 thanks", "No member called @Nobody here."),
    ("@ 5 thanks", "Name a member like @name."),
    ("@Ana 5", "Missing reason."),
    ("@Ana 5    ", "Missing reason."),
    ("@Ana", "Missing points."),
    ("", "Missing member."),
    ("@Mo 5 for myself", "You cannot name yourself here."),
]


@pytest.mark.parametrize(("args", "error"), BAD_INPUT)
async def test_bad_input_is_explained_with_usage_and_changes_nothing(
    app: App, console: ConsoleDriver, args: str, error: str
) -> None:
    await _staff_and_learners(console)
    await console(":as Mei", "/award @Ana 20 welcome", ":as Mo", "/points")  # Mo's chat exists
    before = await snapshot(app.db)
    assert await console(f"/award {args}".rstrip()) == [f"bot> {error}", AWARD_USAGE]
    assert await console(f"/deduct {args}".rstrip()) == [f"bot> {error}", DEDUCT_USAGE]
    assert await snapshot(app.db) == before


async def test_learners_cannot_award_or_deduct(app: App, console: ConsoleDriver) -> None:
    await _staff_and_learners(console)
    await console(":as Ana", "/points")
    before = await snapshot(app.db)
    assert await console("/award @Bo 5 nice") == ["bot> Only moderators and creators can use /award."]
    assert await console("/deduct @Bo 5 rude") == ["bot> Only moderators and creators can use /deduct."]
    assert await console("/give @Bo 5 nice") == ["bot> Only moderators and creators can use /award."]
    assert await snapshot(app.db) == before


async def test_a_demoted_moderator_can_no_longer_award(app: App, console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Ana", ":as Bo", ":as Mei", "/role @Bo moderator trusted")
    assert (await console(":as Bo", "/award @Ana 10 good answer"))[
        1
    ] == "bot> Ana received 10 points: good answer"
    await console(":as Mei", "/role @Bo learner stepping back", ":as Bo")
    assert await console("/award @Ana 10 good answer") == [
        "bot> Only moderators and creators can use /award."
    ]
    assert await _balance(app, "Ana") == Balance(10, 10)


async def test_deduct_tells_both_sides_and_refuses_more_than_the_balance(
    app: App, console: ConsoleDriver
) -> None:
    await _staff_and_learners(console)
    await console(
        ":as Bo", "/lang zh", ":as Mei", "/award @Ana 30 answers", "/award @Bo 10 answers", ":as Mo"
    )
    assert await console("/deduct @Ana 31 spam") == ["bot> Ana has only 30 points."]
    assert await console("/deduct @Ana 12 spam in the lounge") == [
        "bot> 12 points taken from Ana: spam in the lounge",
        "bot→Ana> Mo took 12 points from you in testhall: spam in the lounge",
    ]
    assert await console("/扣分 @Bo 10 刷屏") == [
        "bot> 10 points taken from Bo: 刷屏",
        "bot→Bo> Mo 在 testhall 扣除了你 10 积分：刷屏",
    ]
    assert await console("/deduct @Bo 1 again") == ["bot> Bo has only 0 points."]
    assert (await _balance(app, "Ana"), await _balance(app, "Bo")) == (Balance(18, 30), Balance(0, 10))
    # Deductions do not use the moderator's award budget.
    assert (await console("/award @Ana 200 fine"))[1] == "bot> Your award budget left today: 0"


async def test_audit_shows_who_gave_or_took_what_and_why(console: ConsoleDriver) -> None:
    await _staff_and_learners(console)
    await console(":as Mei")
    assert await console("/audit") == ["bot> No awards, deductions or corrections yet."]
    await console("/award @Ana 40 answers", ":clock +1h", "/award @Bo 15 project")
    await console(":as Mo", "/deduct @Ana 5 spam", "/checkin")
    await console(":as Mei", "/reverse 3 it was not spam")
    assert await console("/audit") == [
        "bot> Recent awards, deductions and corrections:",
        "bot> #5 2026-01-05 10:00 Mei → Ana +5 reversal: it was not spam",
        "bot> #3 2026-01-05 10:00 Mo → Ana -5 deduct: spam",
        "bot> #2 2026-01-05 10:00 Mei → Bo +15 award: project",
        "bot> #1 2026-01-05 09:00 Mei → Ana +40 award: answers",
    ]
    assert await console("/审计 @Bo") == [
        "bot> Recent awards, deductions and corrections:",
        "bot> #2 2026-01-05 10:00 Mei → Bo +15 award: project",
    ]
    assert await console("/audit @Mo") == ["bot> No awards, deductions or corrections yet."]
    assert await console("/audit @Nobody") == [
        "bot> No member called @Nobody here.",
        "bot> Usage: /audit [@member]",
    ]
    assert await console(":as Mo", "/audit") == [
        "(you are Mo, moderator, in dm)",
        "bot> Only creators can use /audit.",
    ]


async def test_reverse(app: App, console: ConsoleDriver) -> None:
    await _staff_and_learners(console)
    await console(":as Mei", "/award @Ana 40 answers", ":as Mo", "/award @Bo 25 wrong person")
    assert await console("/reverse 2 mistake") == ["bot> Only creators can use /reverse."]
    await console(":as Mei")
    before = await snapshot(app.db)
    assert await console("/reverse 2") == ["bot> Missing reason.", "bot> Usage: /reverse TRANSFER reason…"]
    assert await console("/reverse two mistake") == [
        "bot> two is not a whole number.",
        "bot> Usage: /reverse TRANSFER reason…",
    ]
    assert await console("/reverse 99 mistake") == ["bot> There is no transfer #99."]
    assert await snapshot(app.db) == before

    assert await console("/reverse 2 meant for Ana") == ["bot> Transfer #2 reversed by #3 (25 points)."]
    assert await _balance(app, "Bo") == Balance(0, 0)
    before = await snapshot(app.db)
    assert await console("/冲正 2 again") == ["bot> Transfer #2 has already been reversed."]
    assert await snapshot(app.db) == before


async def test_reversing_an_award_already_spent_is_refused(app: App, console: ConsoleDriver) -> None:
    await _staff_and_learners(console)
    await console(":as Mei", "/award @Ana 40 answers", "/deduct @Ana 35 bought a study guide")
    before = await snapshot(app.db)
    assert await console("/reverse 1 undeserved") == [
        "bot> Transfer #1 cannot be reversed: only 5 of its points are left."
    ]
    assert await snapshot(app.db) == before
    assert await _balance(app, "Ana") == Balance(5, 40)
