"""bot/handlers/points.py: /points, /history, /top, /checkin and earning by group messages,
driven through the console protocol."""

from __future__ import annotations

from bot.app import App
from core.ledger.service import Balance
from tests.conftest import ConsoleDriver, snapshot


async def _balance(app: App, name: str) -> Balance:
    community = await app.community()
    [member] = await app.services.members.find_by_name(community.id, name)
    return await app.services.ledger.balance(community.id, member.id)


async def test_points_for_a_newcomer_and_after_taking_part(console: ConsoleDriver) -> None:
    await console(":as Ana")
    assert await console("/points") == [
        "bot> Points: 0",
        "bot> Tier: regular (×1) — 500 more to premium",
        "bot> Today: messages 0/20, check-in not yet (/checkin)",
    ]
    await console(":in lounge", "Good morning, study group!", ":clock +2m", "Has anyone read chapter two?")
    await console("/checkin")
    assert await console(":dm", "/points") == [
        "(in your private chat with the bot)",
        "bot> Points: 7",
        "bot> Tier: regular (×1) — 493 more to premium",
        "bot> Today: messages 2/20, check-in done",
    ]
    # Aliases answer in the member's language, not the alias's.
    assert (await console("/积分"))[0] == "bot> Points: 7"
    assert (await console("/balance"))[0] == "bot> Points: 7"


async def test_group_messages_earn_private_ones_and_commands_do_not(app: App, console: ConsoleDriver) -> None:
    await console(":as Ana")
    assert await console("This is a long private message to the bot") == []
    assert await _balance(app, "Ana") == Balance(0, 0)
    assert await console(":in lounge", "This is a long message to the group") == ["(in group chat lounge)"]
    assert await _balance(app, "Ana") == Balance(1, 1)
    await console(":clock +2m", "/nosuchcommand with a long tail of words", "short")
    assert await _balance(app, "Ana") == Balance(1, 1)
    await console(":dm", ":clock +2m", "Another long private message to the bot")
    assert await _balance(app, "Ana") == Balance(1, 1)
    await console(":in lounge", "Another long message, this time to the group")
    assert await _balance(app, "Ana") == Balance(2, 2)


async def test_reaching_a_tier_by_a_group_message_is_told_privately(app: App, console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Ana", ":as Mei", "/award @Ana 499 course project")
    out = await console(":as Ana", ":in lounge", "Thanks! Here are my notes on chapter three")
    assert out == [
        "(you are Ana, learner, in dm)",
        "(in group chat lounge)",
        "bot→Ana> You reached the premium tier in testhall! Participation points now count ×1.2.",
    ]
    assert await _balance(app, "Ana") == Balance(500, 500)


async def test_history_lists_movements_newest_first(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Ana")
    assert await console("/history") == [
        "bot> No point movements yet. Take part in a group chat or /checkin to earn some."
    ]
    await console("/checkin", ":in lounge", "My summary of chapter one is ready")
    await console(":clock +1h", ":as Mei", "/award @Ana 30 great summary", "/deduct @Ana 4 double post")
    assert await console(":as Ana", ":dm", "/history") == [
        "(you are Ana, learner, in lounge)",
        "(in your private chat with the bot)",
        "bot> Your latest point movements:",
        "bot> #4 2026-01-05 10:00 -4 deduction: double post",
        "bot> #3 2026-01-05 10:00 +30 award: great summary",
        "bot> #2 2026-01-05 09:00 +1 messages",
        "bot> #1 2026-01-05 09:00 +5 check-in: streak 1",
    ]
    assert await console("/history 2") == [
        "bot> Your latest point movements:",
        "bot> #4 2026-01-05 10:00 -4 deduction: double post",
        "bot> #3 2026-01-05 10:00 +30 award: great summary",
    ]
    assert await console("/history 0") == [
        "bot> 0 is out of range (1 to 50).",
        "bot> Usage: /history [COUNT]",
    ]
    assert await console("/history lots") == [
        "bot> lots is not a whole number.",
        "bot> Usage: /history [COUNT]",
    ]
    assert (await console("/明细 1"))[1] == "bot> #4 2026-01-05 10:00 -4 deduction: double post"


async def test_top_ranks_learners_and_marks_the_reader(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Mo moderator", ":as Ana", ":as Bo")
    assert await console("/top") == [
        "bot> Top learners (last 7 days):",
        "bot> Nobody has earned points in this window yet.",
    ]
    await console(":as Mei", "/checkin", "/award @Ana 1 first answer", "/award @Bo 12 three answers")
    await console(":as Mo", "/checkin")
    assert await console(":as Ana", "/top") == [
        "(you are Ana, learner, in dm)",
        "bot> Top learners (last 7 days):",
        "bot> 1. Bo — 12 points",
        "bot> 2. Ana — 1 point ◀",
    ]
    assert await console("/top month") == [
        "bot> Top learners (last 30 days):",
        "bot> 1. Bo — 12 points",
        "bot> 2. Ana — 1 point ◀",
    ]
    await console(":clock +8d")
    assert await console("/top") == [
        "bot> Top learners (last 7 days):",
        "bot> Nobody has earned points in this window yet.",
    ]
    assert (await console("/排行 全部"))[0] == "bot> Top learners (all time):"
    assert await console("/top year") == [
        "bot> year is not one of: week, month, all.",
        "bot> Usage: /top [week|month|all]",
    ]
    await console(":as Mei", "/rules set top.include_staff on", ":as Ana")
    assert await console("/top all") == [
        "bot> Top learners (all time):",
        "bot> 1. Bo — 12 points",
        "bot> 2. Mei — 5 points",
        "bot> 3. Mo — 5 points",
        "bot> 4. Ana — 1 point ◀",
    ]


async def test_checkin_once_a_day_with_a_growing_streak(app: App, console: ConsoleDriver) -> None:
    await console(":as Ana")
    assert await console("/checkin") == ["bot> Checked in: +5 points.", "bot> Streak: 1 day."]
    before = await snapshot(app.db)
    assert await console("/checkin") == ["bot> You have already checked in today.", "bot> Streak: 1 day."]
    assert await console("/daily") == ["bot> You have already checked in today.", "bot> Streak: 1 day."]
    assert await snapshot(app.db) == before
    await console(":clock +1d")
    assert await console("/签到") == ["bot> Checked in: +6 points.", "bot> Streak: 2 days."]
    await console(":clock +2d")  # a day missed
    assert await console("/checkin") == ["bot> Checked in: +5 points.", "bot> Streak: 1 day."]
    assert await _balance(app, "Ana") == Balance(16, 16)


async def test_a_member_with_chinese_gets_chinese_replies(console: ConsoleDriver) -> None:
    await console(":as Bo", "/lang zh")
    assert await console("/签到") == ["bot> 签到成功：+5 积分。", "bot> 已连续签到 1 天。"]
    assert await console("/checkin") == ["bot> 你今天已经签到过了。", "bot> 已连续签到 1 天。"]
    assert await console("/points") == [
        "bot> 积分：5",
        "bot> 等级：regular（×1） — 再获得 495 积分升至 premium",
        "bot> 今日：发言 0/20，签到已完成",
    ]
    assert await console("/top") == ["bot> 积分排行（最近 7 天）：", "bot> 1. Bo — 5 积分 ◀"]
    assert (await console("/history"))[0] == "bot> 你最近的积分变动："
    # Someone else in the same session still reads English.
    assert await console(":as Ana", "/checkin") == [
        "(you are Ana, learner, in dm)",
        "bot> Checked in: +5 points.",
        "bot> Streak: 1 day.",
    ]


async def test_a_checkin_that_reaches_a_tier_is_told_privately(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Ana", ":as Mei", "/award @Ana 497 course project")
    await console(":as Ana", ":in lounge")
    assert await console("/checkin") == [
        "bot> Checked in: +5 points.",
        "bot> Streak: 1 day.",
        "bot→Ana> You reached the premium tier in testhall! Participation points now count ×1.2.",
    ]


async def test_checkin_when_the_daily_cap_leaves_nothing(console: ConsoleDriver) -> None:
    await console(":as Mei creator", "/rules set cap.checkin 0", ":as Ana")
    assert await console("/checkin") == ["bot> Checked in. Today's check-in points are used up."]
    assert (await console("/points"))[0] == "bot> Points: 0"
