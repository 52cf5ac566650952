"""bot/handlers/rules.py: /rules (everyone reads, creators change) and /tier (creators)."""

from __future__ import annotations

import pytest

from bot.app import App
from core.errors import InvalidInput
from core.ledger.tiers import parse_multiplier
from tests.conftest import ConsoleDriver, snapshot

DEFAULT_RULES = [
    "bot> Rules in testhall:",
    "bot> message.points = 1 — points for a qualifying group message",
    "bot> message.min_length = 10 — characters a message needs to earn points",
    "bot> message.cooldown_seconds = 60 — seconds between two earning messages",
    "bot> message.repeat_window = 5 — recent own messages a new one must differ from",
    "bot> cap.message = 20 — daily cap on points from messages",
    "bot> checkin.points = 5 — points for a daily check-in",
    "bot> checkin.streak_bonus = 1 — extra points per day of an unbroken streak",
    "bot> checkin.streak_bonus_max = 10 — largest streak bonus",
    "bot> cap.checkin = 50 — daily cap on points from check-ins",
    "bot> cap.award = 500 — daily cap on points a member receives from awards",
    "bot> cap.answer = 100 — daily cap on points from accepted answers",
    "bot> cap.referral = 200 — daily cap on points from referrals",
    "bot> cap.purchase = 100000 — daily cap on points from purchases",
    "bot> award.budget = 200 — points each moderator may award per day",
    "bot> award.max = 1000 — largest single award or deduction",
    "bot> points.expiry_days = 0 — days after which earned points expire (0: never)",
    "bot> top.include_staff = off — show moderators and creators on /top",
    "bot> content.review = off — lessons by moderators and creators other than the owner wait for the"
    " owner's approval",
    "bot> order.expiry_minutes = 60 — minutes an unpaid order stays open",
    "bot> points.offset_rate = 0 — points worth one unit of a price's currency, paying part of it"
    " (0: points pay no part)",
    "bot> points.offset_max_percent = 50 — most of a price, in percent, that points may pay",
    "bot> purchase.points_percent = 100 — purchase points per 100 units of currency spent"
    " (100: one point per unit)",
    "bot> referral.window_days = 30 — days after first contact in which a referral link still counts",
    "bot> referral.join_points = 20 — points to the referrer when the referee takes part",
    "bot> referral.purchase_points = 50 — points to the referrer at the referee's first purchase",
    "bot> referral.welcome_points = 10 — points for someone who joins through a link",
    "bot> referral.staff = off — links of moderators and creators attribute referrals too",
    "bot> commission.hold_days = 14 — days a commission is held for refunds",
    "bot> qa.accept_bonus = 10 — points for an accepted answer, besides the bounty",
    "bot> qa.expire_days = 7 — days a question waits for an accepted answer",
    "bot> qa.escalate = off — unanswered questions go to moderators instead of expiring",
    "bot> qa.suggest_percent = 35 — how similar an answered question must be to be suggested (0: off)",
    "bot> push.quiet_start = 22 — hour when quiet hours begin: pushes wait (community time)",
    "bot> push.quiet_end = 8 — hour when quiet hours end (equal to the start: none)",
    "bot> push.welcome = off — welcome sequence: messages on day 0, 1 and 3 after joining",
    "bot> push.winback = off — a win-back message to members at risk of leaving",
    "bot> push.winback_days = 30 — days before a member may get another win-back message",
    "bot> push.renewal_reminders = on — reminders before a trial or subscription ends",
]
DEFAULT_TIERS = [
    "bot> Tiers (by lifetime earned points):",
    "bot> regular: from 0 points, participation ×1",
    "bot> premium: from 500 points, participation ×1.2",
    "bot> VIP: from 2000 points, participation ×1.5",
]
TIER_ARGS_USAGE = "bot> Usage: /tier [action] [name] [THRESHOLD] [multiplier]"


async def test_everyone_reads_the_rules(console: ConsoleDriver) -> None:
    assert await console(":as Ana", "/rules") == ["(you are Ana, learner, in dm)", *DEFAULT_RULES]
    out = await console("/lang zh", "/规则")
    assert out[1:4] == [
        "bot> testhall 的规则：",
        "bot> message.points = 1 — 每条合格群消息的积分",
        "bot> message.min_length = 10 — 消息获得积分所需的最少字符数",
    ]
    assert out[-1] == "bot> push.renewal_reminders = on — 试用或订阅结束前的提醒"


async def test_creators_change_the_rules(app: App, console: ConsoleDriver) -> None:
    await console(":as Mei creator")
    assert await console("/rules set cap.message 30") == ["bot> cap.message is now 30."]
    assert await console("/rules SET Cap.Message 25") == ["bot> cap.message is now 25."]
    assert await console("/rules set top.include_staff yes") == ["bot> top.include_staff is now on."]
    assert await console("/规则 set points.expiry_days 1,000") == ["bot> points.expiry_days is now 1000."]
    out = await console(":as Ana", "/rules")
    assert "bot> cap.message = 25 — daily cap on points from messages" in out
    assert "bot> top.include_staff = on — show moderators and creators on /top" in out
    assert "bot> points.expiry_days = 1000 — days after which earned points expire (0: never)" in out
    # The new cap is what /points shows.
    assert (await console("/points"))[-1] == "bot> Today: messages 0/25, check-in not yet (/checkin)"
    community = await app.community()
    assert await app.services.settings.get(community.id, "cap.message") == 25


BAD_RULE_CHANGES = [
    ("/rules set no.such.rule 5", ["bot> Unknown rule no.such.rule. Send /rules to see them all."]),
    ("/rules set cap.message abc", ["bot> cap.message takes a whole number, not abc."]),
    ("/rules set cap.message 5 6", ["bot> cap.message takes a whole number, not 5 6."]),
    ("/rules set cap.message -1", ["bot> cap.message must be between 0 and 100000."]),
    ("/rules set award.max 0", ["bot> award.max must be between 1 and 1000000."]),
    ("/rules set top.include_staff maybe", ["bot> top.include_staff takes on or off, not maybe."]),
    ("/rules set cap.message", ["bot> Usage: /rules set KEY VALUE"]),
    ("/rules set", ["bot> Usage: /rules set KEY VALUE"]),
    ("/rules change cap.message 5", ["bot> Usage: /rules set KEY VALUE"]),
    (
        "/rules set cap.message " + "9" * 41,
        ["bot> value is too long (at most 40 characters).", "bot> Usage: /rules [action] [key] [value…]"],
    ),
]


async def test_bad_rule_changes_are_explained_and_change_nothing(app: App, console: ConsoleDriver) -> None:
    await console(":as Mei creator", "/points")
    before = await snapshot(app.db)
    for line, reply in BAD_RULE_CHANGES:
        assert await console(line) == reply, line
    assert await snapshot(app.db) == before
    assert await console("/rules") == DEFAULT_RULES


async def test_a_doubled_minus_sign_gets_the_whole_number_message(console: ConsoleDriver) -> None:
    await console(":as Mei creator")
    assert await console("/rules set cap.message --5") == ["bot> cap.message takes a whole number, not --5."]


@pytest.mark.parametrize("role", ["learner", "moderator"])
async def test_only_creators_change_rules(app: App, console: ConsoleDriver, role: str) -> None:
    await console(":as Mei creator", f":as Ana {role}", "/points")
    before = await snapshot(app.db)
    assert await console("/rules set cap.message 5") == ["bot> Only creators can change the rules."]
    assert await console("/rules set no.such.rule 5") == ["bot> Only creators can change the rules."]
    assert await snapshot(app.db) == before


async def test_tier_list(console: ConsoleDriver) -> None:
    await console(":as Mei creator")
    assert await console("/tier") == DEFAULT_TIERS
    assert await console("/tier list") == DEFAULT_TIERS
    assert await console("/等级 LIST") == DEFAULT_TIERS
    assert await console(":as Mo moderator", "/tier") == [
        "(you are Mo, moderator, in dm)",
        "bot> Only creators can use /tier.",
    ]
    assert await console(":as Ana", "/tier list") == [
        "(you are Ana, learner, in dm)",
        "bot> Only creators can use /tier.",
    ]


async def test_tier_set_accepts_every_multiplier_form(console: ConsoleDriver) -> None:
    await console(":as Mei creator")
    assert await console("/tier set premium 400 1.5") == [
        "bot> Tier premium now starts at 400 points with participation ×1.5."
    ]
    assert await console("/tier set VIP 1500 x2") == [
        "bot> Tier VIP now starts at 1500 points with participation ×2."
    ]
    assert await console("/tier set gold 3000 150%") == [
        "bot> Tier gold now starts at 3000 points with participation ×1.5."
    ]
    assert await console("/tier set gold 3500 ×1.05") == [
        "bot> Tier gold now starts at 3500 points with participation ×1.05."
    ]
    assert await console("/tier") == [
        "bot> Tiers (by lifetime earned points):",
        "bot> regular: from 0 points, participation ×1",
        "bot> premium: from 400 points, participation ×1.5",
        "bot> VIP: from 1500 points, participation ×2",
        "bot> gold: from 3500 points, participation ×1.05",
    ]


async def test_a_changed_tier_applies_to_the_next_points(app: App, console: ConsoleDriver) -> None:
    await console(":as Mei creator", "/tier set regular 0 200%", ":as Ana")
    assert await console("/checkin") == ["bot> Checked in: +10 points.", "bot> Streak: 1 day."]
    assert (await console("/points"))[1] == "bot> Tier: regular (×2) — 490 more to premium"


BAD_TIER_CHANGES = [
    ("/tier set gold 3000 abc", ["bot> abc is not a multiplier like 1.5 or 150%."]),
    ("/tier set gold 3000 1.555", ["bot> 1.555 is not a multiplier like 1.5 or 150%."]),
    ("/tier set gold 3000 150", ["bot> 150 is not a multiplier like 1.5 or 150%."]),
    ("/tier set gold 3000 11", ["bot> The multiplier must be between 1 and 10."]),
    ("/tier set gold 3000 1001%", ["bot> The multiplier must be between 1 and 10."]),
    ("/tier set Gold 10 x0", ["bot> The multiplier must be between 1 and 10."]),
    ("/tier set Gold 10 0.99", ["bot> The multiplier must be between 1 and 10."]),
    ("/tier set Gold 10 50%", ["bot> The multiplier must be between 1 and 10."]),
    ("/tier set regular 10 1", ["bot> One tier must start at 0 points."]),
    ("/tier set gold", ["bot> Usage: /tier set NAME THRESHOLD MULTIPLIER"]),
    ("/tier remove gold", ["bot> Usage: /tier set NAME THRESHOLD MULTIPLIER"]),
    ("/tier set gold abc 2", ["bot> abc is not a whole number.", TIER_ARGS_USAGE]),
    ("/tier set gold -5 2", ["bot> -5 is out of range (0 to 1000000000).", TIER_ARGS_USAGE]),
    ("/tier set gold 3000 2 extra", ["bot> Too many words after /tier.", TIER_ARGS_USAGE]),
]


async def test_bad_tier_changes_are_explained_and_change_nothing(app: App, console: ConsoleDriver) -> None:
    await console(":as Mei creator", "/points")
    before = await snapshot(app.db)
    for line, reply in BAD_TIER_CHANGES:
        assert await console(line) == reply, line
    assert await snapshot(app.db) == before
    assert await console("/tier") == DEFAULT_TIERS


@pytest.mark.parametrize(
    ("text", "percent"),
    [
        ("1", 100),
        ("1.5", 150),
        ("1.05", 105),
        ("x2", 200),
        ("X1.2", 120),
        ("×3", 300),
        ("150%", 150),
        ("0", 0),
    ],
)
def test_parse_multiplier(text: str, percent: int) -> None:
    assert parse_multiplier(text) == percent


@pytest.mark.parametrize("text", ["", "x", "1.", ".5", "1,5", "150", "1.5%", "-1", "2x"])
def test_parse_multiplier_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_multiplier(text)
