"""core/ledger/points.py: the participation economy, as worked examples.

Each example drives PointsService on the manual clock and checks exact points and balances:
a day of chat against the caps, tiers, check-in streaks, moderator awards and budgets,
deductions, reversals, expiry and the leaderboard.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.config import Config
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed, StudyhallError
from core.events import UserRef
from core.i18n import render
from core.ledger.models import Kind, MemberAccount, Outcome, Posting, SystemAccount, SystemCode
from core.ledger.points import Earned, PointsService
from core.ledger.service import Balance
from core.ledger.tables import ledger_transfers
from core.ledger.tiers import Tier
from core.members.models import Community, Member, Role
from jobs.points_expiry import expire_points
from tests.conftest import ConsoleDriver, snapshot

REGULAR = Tier("regular", 0, 100)
PREMIUM = Tier("premium", 500, 120)
VIP = Tier("VIP", 2000, 150)


# -- helpers ----------------------------------------------------------------------------------


async def _member(
    app: App, name: str, role: Role = Role.LEARNER, community: Community | None = None
) -> Member:
    community = community or await app.community()
    members = app.services.members
    member = await members.ensure_member(community, UserRef("console", name.lower(), name))
    if role is not Role.LEARNER:
        member = await members.assign_role(community, member, role, via="test")
    return member


async def _rule(app: App, key: str, value: str) -> None:
    """Change a setting the way a creator does (the first creator is the owner)."""
    community = await app.community()
    owner = await _member(app, "Owner", Role.CREATOR)
    await app.services.settings.set(community.id, key, value, actor=owner)


async def _balance(app: App, member: Member) -> int:
    return (await app.services.ledger.balance(member.community_id, member.id)).balance


async def _transfer_count(app: App) -> int:
    async with app.db.read() as conn:
        return (await conn.execute(select(func.count()).select_from(ledger_transfers))).scalar_one()


async def _ledger(app: App) -> dict[str, list[tuple]]:
    """Every table but empty ledger accounts, which a refused posting may leave behind."""
    tables = await snapshot(app.db)
    tables["ledger_accounts"] = [row for row in tables["ledger_accounts"] if row[4:6] != (0, 0)]
    return tables


def _text(error: StudyhallError) -> str:
    return render(error.message, "en")


class Chat:
    """One member's group messages, each with its own idempotency key."""

    def __init__(self, app: App, clock: ManualClock, community: Community, member: Member) -> None:
        self._points = app.services.points
        self._clock = clock
        self._community = community
        self._member = member
        self._sent = 0

    async def say(self, text: str) -> Earned | None:
        self._sent += 1
        return await self._points.earn_for_message(
            self._community, self._member, text, self._clock.now(), f"msg:{self._member.id}:{self._sent}"
        )

    async def points_for(self, text: str) -> int:
        earned = await self.say(text)
        return 0 if earned is None else earned.result.amount


# -- messages ---------------------------------------------------------------------------------


async def test_a_day_of_chat_with_caps(app: App, clock: ManualClock) -> None:
    community = await app.community()
    ana = await _member(app, "Ana")
    chat = Chat(app, clock, community, ana)
    points = app.services.points

    first = await chat.say("Good morning, everyone!")
    assert first is not None
    assert (first.result.outcome, first.result.amount, first.upgraded_to) == (Outcome.POSTED, 1, None)
    assert first.result.transfer is not None and first.result.transfer.kind == Kind.MESSAGE

    # Inside the 60-second cooldown: nothing, however good the message.
    assert await chat.say("Is the homework due on Friday?") is None
    clock.advance(timedelta(seconds=30))
    assert await chat.say("Sorry, I meant next Friday.") is None
    clock.advance(timedelta(seconds=31))  # 61 s after the last earning message
    # Too short (whitespace does not count), or a repeat of own recent text: nothing.
    assert await chat.say("hi all") is None
    assert await chat.say("  ok      ok     ok ") is None  # "ok ok ok": 8 characters
    assert await chat.say("GOOD   morning,  everyone! ") is None
    assert await chat.say("Sorry, I meant next Friday.") is None  # said (unpaid) in the cooldown
    # Refused messages did not restart the cooldown.
    assert await chat.points_for("Chapter two is about sets.") == 1
    assert await _balance(app, ana) == 2

    # Eighteen more qualifying messages, a minute apart: the cap of 20 is reached exactly.
    for n in range(18):
        clock.advance(timedelta(seconds=61))
        assert await chat.points_for(f"Note {n}: sets, maps and functions") == 1
    assert await _balance(app, ana) == 20
    clock.advance(timedelta(seconds=61))
    assert await chat.say("One more thought about functions") is None
    clock.advance(timedelta(hours=3))
    assert await chat.say("An afternoon question about maps") is None
    assert await _balance(app, ana) == 20
    summary = await points.summary(community, ana)
    assert summary.today == {"message": 20}
    assert summary.caps["message"] == 20
    assert await _transfer_count(app) == 20

    # The next local day (UTC here) earning resumes; the morning greeting is no longer "recent".
    clock.set(datetime(2026, 1, 6, 0, 0, 30, tzinfo=UTC))
    assert await chat.points_for("Good morning, everyone!") == 1
    assert await _balance(app, ana) == 21
    assert (await points.summary(community, ana)).today == {"message": 1}
    assert await app.services.ledger.balances_match_transfers(community.id)


async def test_days_and_caps_follow_the_community_time_zone(app: App, clock: ManualClock) -> None:
    """Shanghai is UTC+8: 15:59 UTC is 23:59 there, 16:01 UTC is the next local day."""
    community = await app.services.members.ensure_community(
        "shanghaihall", default_locale="zh_CN", timezone="Asia/Shanghai"
    )
    owner = await _member(app, "Lin", Role.CREATOR, community=community)
    settings = app.services.settings
    await settings.set(community.id, "cap.message", "2", actor=owner)
    await settings.set(community.id, "message.cooldown_seconds", "0", actor=owner)
    ana = await _member(app, "Ana", community=community)
    chat = Chat(app, clock, community, ana)
    points = app.services.points
    clock.set(datetime(2026, 1, 5, 15, 58, tzinfo=UTC))
    assert (await points.checkin(community, ana, clock.now())).points == 5
    assert [await chat.points_for(f"Late evening question {n}") for n in range(3)] == [1, 1, 0]
    clock.set(datetime(2026, 1, 5, 16, 1, tzinfo=UTC))
    assert await chat.points_for("Past midnight in Shanghai") == 1
    outcome = await points.checkin(community, ana, clock.now())
    assert (outcome.already, outcome.points, outcome.streak) == (False, 6, 2)
    assert (await points.summary(community, ana)).today == {"checkin": 6, "message": 1}


async def test_rules_for_messages_come_from_the_settings(app: App, clock: ManualClock) -> None:
    await _rule(app, "message.points", "3")
    await _rule(app, "message.min_length", "3")
    await _rule(app, "message.cooldown_seconds", "0")
    await _rule(app, "message.repeat_window", "1")
    await _rule(app, "cap.message", "7")
    community = await app.community()
    chat = Chat(app, clock, community, await _member(app, "Ana"))
    assert await chat.points_for("hey") == 3
    assert await chat.points_for("hey") == 0  # repeat of the last text
    assert await chat.points_for("yo!") == 3  # no cooldown
    assert await chat.points_for("hey") == 1  # outside the window of 1; clamped to the cap of 7
    assert await chat.points_for("sup") == 0
    await _rule(app, "message.points", "0")
    clock.advance(timedelta(days=1))
    assert await chat.say("a new day") is None


async def test_each_member_has_their_own_cooldown_and_recent_texts(app: App, clock: ManualClock) -> None:
    community = await app.community()
    ana = Chat(app, clock, community, await _member(app, "Ana"))
    bo = Chat(app, clock, community, await _member(app, "Bo"))
    assert await ana.points_for("Welcome to the course!") == 1
    assert await bo.points_for("Welcome to the course!") == 1
    assert await ana.points_for("Thanks, glad to be here") == 0


async def test_the_same_message_delivered_twice_earns_once(app: App, clock: ManualClock) -> None:
    community = await app.community()
    ana = await _member(app, "Ana")
    points = app.services.points
    sent_at = clock.now()  # a redelivered message carries its own time (and key) again
    first = await points.earn_for_message(community, ana, "A long enough message", sent_at, "msg:x:1")
    assert first is not None
    clock.advance(timedelta(minutes=5))
    again = await points.earn_for_message(community, ana, "A long enough message!", sent_at, "msg:x:1")
    assert again is None
    assert await _balance(app, ana) == 1


async def test_processes_share_the_cooldown(app: App, clock: ManualClock, config: Config) -> None:
    """Behind a load balancer a member's messages land on different processes: each has its own
    memory, and the ledger key (the member's cooldown window) still lets one of them earn."""
    other = await App.open(config, clock=clock)  # a second process: its own Database and caches
    try:
        community = await app.community()
        ana = await _member(app, "Ana")
        here, there = Chat(app, clock, community, ana), Chat(other, clock, community, ana)
        clock.advance(timedelta(seconds=60 - clock.now().timestamp() % 60))  # a window's start
        assert await here.points_for("Good morning, everyone!") == 1
        clock.advance(timedelta(seconds=20))
        assert await there.points_for("Is the homework due on Friday?") == 0
        clock.advance(timedelta(seconds=20))
        assert await here.points_for("Sorry, I meant next Friday.") == 0  # its own memory
        clock.advance(timedelta(seconds=21))  # the next window
        assert await there.points_for("Thanks, that helps a lot") == 1
        assert await _balance(app, ana) == 2
    finally:
        await other.close()


# -- tiers ------------------------------------------------------------------------------------


async def test_tier_multiplier_applies_once_earned_crosses_500(app: App, clock: ManualClock) -> None:
    await _rule(app, "message.points", "5")
    community = await app.community()
    points = app.services.points
    mei = await _member(app, "Mei", Role.CREATOR)
    ana = await _member(app, "Ana")
    chat = Chat(app, clock, community, ana)

    award = await points.award(community, mei, ana, 495, "course project", "award:1")
    assert (award.result.amount, award.upgraded_to) == (495, None)

    crossing = await chat.say("My notes on chapter one are up")
    assert crossing is not None
    # The posting that crosses the threshold is paid at the old tier, and reports the new one.
    assert (crossing.result.amount, crossing.upgraded_to) == (5, PREMIUM)
    assert await app.services.ledger.balance(community.id, ana.id) == Balance(500, 500)
    summary = await points.summary(community, ana)
    assert (summary.tier, summary.next_tier) == (PREMIUM, VIP)

    clock.advance(timedelta(seconds=61))
    after = await chat.say("And chapter two as well")
    assert after is not None and (after.result.amount, after.upgraded_to) == (6, None)  # 5 × 1.2

    checkin = await points.checkin(community, ana, clock.now())
    assert (checkin.points, checkin.streak, checkin.upgraded_to) == (6, 1, None)  # 5 × 1.2
    clock.advance(timedelta(days=1))
    checkin = await points.checkin(community, ana, clock.now())
    assert (checkin.points, checkin.streak) == (7, 2)  # 6 × 1.2 = 7.2, rounded down

    # Awards are not participation points: no multiplier.
    more = await points.award(community, mei, ana, 10, "helped a classmate", "award:2")
    assert more.result.amount == 10
    assert await _balance(app, ana) == 495 + 5 + 6 + 6 + 7 + 10


async def test_multiplier_rounds_down_and_the_cap_clamps_the_last_message(
    app: App, clock: ManualClock
) -> None:
    await _rule(app, "message.points", "4")
    community = await app.community()
    points = app.services.points
    ana = await _member(app, "Ana")
    await points.award(
        community, await _member(app, "Mei", Role.CREATOR), ana, 500, "welcome gift", "award:1"
    )
    chat = Chat(app, clock, community, ana)
    got = []
    for n in range(5):
        got.append(await chat.points_for(f"Question number {n} about chapter one"))
        clock.advance(timedelta(seconds=61))
    # 4 × 1.2 = 4.8 → 4 each; the cap of 20 is met on the fifth message.
    assert got == [4, 4, 4, 4, 4]
    assert await chat.say("Question number 5 about chapter one") is None

    await _rule(app, "message.points", "6")  # 6 × 1.2 = 7.2 → 7
    clock.advance(timedelta(days=1))
    got = []
    for n in range(4):
        got.append(await chat.points_for(f"Day two, remark {n}"))
        clock.advance(timedelta(seconds=61))
    assert got == [7, 7, 6, 0]  # 7 + 7 + 6 = 20: the third one is clamped to what is left
    assert await _balance(app, ana) == 500 + 20 + 20


async def test_a_checkin_can_be_the_upgrade(app: App, clock: ManualClock) -> None:
    community = await app.community()
    points = app.services.points
    ana = await _member(app, "Ana")
    await points.award(community, await _member(app, "Mei", Role.CREATOR), ana, 497, "project", "award:1")
    outcome = await points.checkin(community, ana, clock.now())
    assert (outcome.already, outcome.points, outcome.streak, outcome.upgraded_to) == (False, 5, 1, PREMIUM)


async def test_an_award_can_reach_two_tiers_at_once(app: App) -> None:
    community = await app.community()
    points = app.services.points
    mei = await _member(app, "Mei", Role.CREATOR)
    ana = await _member(app, "Ana")
    await _rule(app, "cap.award", "5000")
    await _rule(app, "award.max", "5000")
    earned = await points.award(community, mei, ana, 2500, "course author", "award:1")
    assert earned.upgraded_to == VIP


async def test_tiers_default_and_creators_change_them(app: App, clock: ManualClock) -> None:
    community = await app.community()
    points = app.services.points
    mei = await _member(app, "Mei", Role.CREATOR)
    mo = await _member(app, "Mo", Role.MODERATOR)
    ana = await _member(app, "Ana")
    assert await points.tiers(community) == (REGULAR, PREMIUM, VIP)

    # A change applies to the very next posting (the writer's tier cache is dropped).
    assert await points.set_tier(community, mei, "regular", 0, 200) == Tier("regular", 0, 200)
    assert await points.tiers(community) == (Tier("regular", 0, 200), PREMIUM, VIP)
    assert (await points.checkin(community, ana, clock.now())).points == 10

    await points.set_tier(community, mei, "gold", 5000, 300)
    await points.set_tier(community, mei, "vip", 1500, 150)  # same name, other case: replaces VIP
    assert [t.name for t in await points.tiers(community)] == ["regular", "premium", "vip", "gold"]

    refusals = [
        (mo, "gold", 5000, 300, NotAllowed, "Only creators can change tiers."),
        (ana, "gold", 5000, 300, NotAllowed, "Only creators can change tiers."),
        (mei, "two words", 10, 100, InvalidInput, "A tier name is one word of up to 40 letters or digits."),
        (mei, "x" * 41, 10, 100, InvalidInput, "A tier name is one word of up to 40 letters or digits."),
        (mei, "huge", 10**9 + 1, 100, InvalidInput, "The threshold must be between 0 and 1000000000."),
        (mei, "huge", -1, 100, InvalidInput, "The threshold must be between 0 and 1000000000."),
        (mei, "huge", 10, 1001, InvalidInput, "The multiplier must be between 1 and 10."),
        (mei, "huge", 10, 0, InvalidInput, "The multiplier must be between 1 and 10."),
        (mei, "huge", 10, 99, InvalidInput, "The multiplier must be between 1 and 10."),
        (mei, "regular", 10, 100, InvalidInput, "One tier must start at 0 points."),
    ]
    before = await snapshot(app.db)
    for actor, name, threshold, pct, error, text in refusals:
        with pytest.raises(error) as raised:
            await points.set_tier(community, actor, name, threshold, pct)
        assert _text(raised.value) == text
    assert await snapshot(app.db) == before


# -- check-in ---------------------------------------------------------------------------------


async def test_checkin_streak_grows_to_its_maximum_and_a_missed_day_resets_it(
    app: App, clock: ManualClock
) -> None:
    community = await app.community()
    points = app.services.points
    ana = await _member(app, "Ana")
    got = []
    for _day in range(12):
        outcome = await points.checkin(community, ana, clock.now())
        again = await points.checkin(community, ana, clock.now() + timedelta(hours=2))
        assert (again.already, again.points, again.streak) == (True, 0, outcome.streak)
        got.append((outcome.points, outcome.streak))
        clock.advance(timedelta(days=1))
    # 5 points, +1 per consecutive day, the bonus at most 10.
    assert got == [(5 + min(day, 10), day + 1) for day in range(12)]
    assert await _balance(app, ana) == sum(points for points, _ in got) == 125

    clock.advance(timedelta(days=1))  # a day without a check-in
    outcome = await points.checkin(community, ana, clock.now())
    assert (outcome.points, outcome.streak) == (5, 1)
    clock.advance(timedelta(days=1))
    assert (await points.checkin(community, ana, clock.now())).points == 6


async def test_checkin_days_are_local_days_and_bonus_settings_apply(app: App, clock: ManualClock) -> None:
    await _rule(app, "checkin.points", "3")
    await _rule(app, "checkin.streak_bonus", "2")
    await _rule(app, "checkin.streak_bonus_max", "5")
    community = await app.community()
    points = app.services.points
    ana = await _member(app, "Ana")
    day1 = await points.checkin(community, ana, clock.now())  # Monday 09:00
    clock.set(datetime(2026, 1, 6, 23, 59, tzinfo=UTC))
    day2 = await points.checkin(community, ana, clock.now())
    clock.advance(timedelta(minutes=2))  # Wednesday 00:01: another day
    day3 = await points.checkin(community, ana, clock.now())
    clock.advance(timedelta(hours=23))
    same_day = await points.checkin(community, ana, clock.now())
    clock.advance(timedelta(hours=1))
    day4 = await points.checkin(community, ana, clock.now())
    assert [(o.points, o.streak) for o in (day1, day2, day3, day4)] == [(3, 1), (5, 2), (7, 3), (8, 4)]
    assert (same_day.already, same_day.points, same_day.streak) == (True, 0, 3)
    assert await _balance(app, ana) == 3 + 5 + 7 + 8
    assert (await points.summary(community, ana)).checked_in_today is True


async def test_checkin_with_nothing_to_earn_is_refused(app: App, clock: ManualClock) -> None:
    await _rule(app, "checkin.points", "0")
    await _rule(app, "checkin.streak_bonus", "0")
    community = await app.community()
    ana = await _member(app, "Ana")
    with pytest.raises(InvalidInput) as raised:
        await app.services.points.checkin(community, ana, clock.now())
    assert _text(raised.value) == "Check-ins earn no points here right now."
    assert await _transfer_count(app) == 0


# -- awards -----------------------------------------------------------------------------------


async def test_moderator_budget_is_200_a_day(app: App, clock: ManualClock) -> None:
    community = await app.community()
    points = app.services.points
    mo = await _member(app, "Mo", Role.MODERATOR)
    ana, bo = await _member(app, "Ana"), await _member(app, "Bo")
    assert await points.budget_left(community, mo) == 200

    await points.award(community, mo, ana, 150, "great summary", "award:1")
    assert await points.budget_left(community, mo) == 50
    before = await _ledger(app)
    with pytest.raises(NotAllowed) as raised:
        await points.award(community, mo, bo, 60, "nice question", "award:2")
    assert _text(raised.value) == "That is over your daily award budget: 50 of 200 points left today."
    assert await _ledger(app) == before

    await points.award(community, mo, bo, 50, "nice question", "award:3")
    assert await points.budget_left(community, mo) == 0
    with pytest.raises(NotAllowed) as raised:
        await points.award(community, mo, bo, 1, "one more", "award:4")
    assert _text(raised.value) == "That is over your daily award budget: 0 of 200 points left today."
    assert (await _balance(app, ana), await _balance(app, bo)) == (150, 50)

    # Replaying an award (same key) changes nothing and spends no budget.
    replay = await points.award(community, mo, ana, 150, "great summary", "award:1")
    assert replay.result.outcome is Outcome.REPLAYED
    assert await _balance(app, ana) == 150

    clock.set(datetime(2026, 1, 6, 0, 1, tzinfo=UTC))  # a new local day, a new budget
    assert await points.budget_left(community, mo) == 200
    await points.award(community, mo, bo, 200, "study group", "award:5")
    assert await _balance(app, bo) == 250


async def test_creators_have_no_budget(app: App) -> None:
    community = await app.community()
    points = app.services.points
    mei = await _member(app, "Mei", Role.CREATOR)
    learners = [await _member(app, name) for name in ("Ana", "Bo", "Cy")]
    for n, learner in enumerate(learners):
        await points.award(community, mei, learner, 400, "course review", f"award:{n}")
    assert await points.budget_left(community, mei) is None
    assert [await _balance(app, learner) for learner in learners] == [400, 400, 400]


async def test_receiver_cap_counts_awards_from_everyone(app: App, clock: ManualClock) -> None:
    community = await app.community()
    points = app.services.points
    mei = await _member(app, "Mei", Role.CREATOR)
    mo = await _member(app, "Mo", Role.MODERATOR)
    ana = await _member(app, "Ana")
    await points.award(community, mo, ana, 150, "answers", "award:1")
    await points.award(community, mei, ana, 300, "project", "award:2")
    before = await snapshot(app.db)
    for actor, key in ((mei, "award:3"), (mo, "award:4")):
        with pytest.raises(NotAllowed) as raised:
            await points.award(community, actor, ana, 51, "more", key)
        assert _text(raised.value) == "Ana has reached today's cap of 500 points from awards."
    assert await snapshot(app.db) == before
    assert await points.budget_left(community, mo) == 50  # the refused award spent nothing
    await points.award(community, mei, ana, 50, "exactly up to the cap", "award:5")
    assert await _balance(app, ana) == 500
    clock.advance(timedelta(days=1))
    await points.award(community, mei, ana, 500, "another day", "award:6")
    assert await _balance(app, ana) == 1000


async def test_award_refusals_come_from_the_service_and_change_nothing(app: App) -> None:
    community = await app.community()
    other = await app.services.members.ensure_community("otherhall", default_locale="en", timezone="UTC")
    points = app.services.points
    mei = await _member(app, "Mei", Role.CREATOR)
    mo = await _member(app, "Mo", Role.MODERATOR)
    ana = await _member(app, "Ana")
    bo = await _member(app, "Bo")
    stranger = await _member(app, "Stranger", community=other)
    cases = [
        (ana, bo, 10, "helpful", NotAllowed, "Only moderators and creators can award or deduct points."),
        (mo, mo, 10, "me", NotAllowed, "You cannot award or deduct points for yourself."),
        (mei, mei, 10, "me", NotAllowed, "You cannot award or deduct points for yourself."),
        (mei, stranger, 10, "hello", NotAllowed, "No such member."),
        (mo, ana, 10, "   ", InvalidInput, "Please give a reason."),
        (mo, ana, 0, "zero", InvalidInput, "Choose between 1 and 1000 points."),
        (mo, ana, -5, "negative", InvalidInput, "Choose between 1 and 1000 points."),
        (mei, ana, 1001, "too many", InvalidInput, "Choose between 1 and 1000 points."),
    ]
    before = await snapshot(app.db)
    for n, (actor, target, amount, reason, error, text) in enumerate(cases):
        for action in (points.award, points.deduct):
            with pytest.raises(error) as raised:
                await action(community, actor, target, amount, reason, f"staff:{n}")
            assert _text(raised.value) == text, (action.__name__, n)
    assert await snapshot(app.db) == before


@pytest.mark.parametrize("operation", ["award", "deduct", "reverse", "set_tier"])
async def test_staff_of_another_community_are_refused_by_the_service(app: App, operation: str) -> None:
    community = await app.community()
    other = await app.services.members.ensure_community("otherhall", default_locale="en", timezone="UTC")
    points = app.services.points
    mei = await _member(app, "Mei", Role.CREATOR)
    ana = await _member(app, "Ana")
    award = await points.award(community, mei, ana, 50, "welcome", "award:home")
    assert award.result.transfer is not None
    olga = await _member(app, "Olga", Role.CREATOR, community=other)
    before = await _ledger(app)
    with pytest.raises(NotAllowed):
        if operation == "award":
            await points.award(community, olga, ana, 10, "hello from next door", "award:other")
        elif operation == "deduct":
            await points.deduct(community, olga, ana, 10, "hello from next door", "deduct:other")
        elif operation == "reverse":
            await points.reverse(community, olga, award.result.transfer.id, "not yours")
        else:
            await points.set_tier(community, olga, "regular", 0, 1000)
    assert await _ledger(app) == before


async def test_award_max_is_a_setting(app: App) -> None:
    await _rule(app, "award.max", "300")
    community = await app.community()
    points = app.services.points
    mei = await _member(app, "Mei", Role.CREATOR)
    ana = await _member(app, "Ana")
    with pytest.raises(InvalidInput) as raised:
        await points.award(community, mei, ana, 301, "big", "award:1")
    assert _text(raised.value) == "Choose between 1 and 300 points."
    await points.award(community, mei, ana, 300, "big", "award:2")
    assert await _balance(app, ana) == 300


# -- deductions -------------------------------------------------------------------------------


async def test_deduct_refuses_more_than_the_balance_and_keeps_earned(app: App) -> None:
    community = await app.community()
    points = app.services.points
    ledger = app.services.ledger
    mei = await _member(app, "Mei", Role.CREATOR)
    mo = await _member(app, "Mo", Role.MODERATOR)
    ana = await _member(app, "Ana")
    bo = await _member(app, "Bo")
    await points.award(community, mei, ana, 30, "answers", "award:1")

    with pytest.raises(InvalidInput) as raised:
        await points.deduct(community, mo, ana, 31, "spam", "deduct:1")
    assert _text(raised.value) == "Ana has only 30 points."
    with pytest.raises(InvalidInput) as raised:
        await points.deduct(community, mo, bo, 1, "spam", "deduct:2")
    assert _text(raised.value) == "Bo has only 0 points."
    assert await ledger.balance(community.id, ana.id) == Balance(30, 30)

    result = await points.deduct(community, mo, ana, 30, "spam", "deduct:3")
    assert (result.outcome, result.amount) == (Outcome.POSTED, 30)
    assert result.transfer is not None and result.transfer.kind == Kind.DEDUCT
    assert result.transfer.memo == "spam" and result.transfer.actor_member_id == mo.id
    # Deductions take the balance, not the lifetime earned points, nor the moderator's budget.
    assert await ledger.balance(community.id, ana.id) == Balance(0, 30)
    assert await points.budget_left(community, mo) == 200
    assert await ledger.totals(community.id) == (0, 0)


# -- reversals --------------------------------------------------------------------------------


async def test_reverse_an_award_once(app: App) -> None:
    community = await app.community()
    points = app.services.points
    ledger = app.services.ledger
    mei = await _member(app, "Mei", Role.CREATOR)
    mo = await _member(app, "Mo", Role.MODERATOR)
    ana = await _member(app, "Ana")
    award = await points.award(community, mo, ana, 80, "wrong person", "award:1")
    assert award.result.transfer is not None
    award_id = award.result.transfer.id

    for actor in (mo, ana):
        with pytest.raises(NotAllowed) as raised:
            await points.reverse(community, actor, award_id, "mistake")
        assert _text(raised.value) == "Only creators can reverse transfers."
    with pytest.raises(InvalidInput) as raised:
        await points.reverse(community, mei, award_id, " ")
    assert _text(raised.value) == "Please give a reason."
    with pytest.raises(InvalidInput) as raised:
        await points.reverse(community, mei, award_id + 100, "mistake")
    assert _text(raised.value) == f"There is no transfer #{award_id + 100}."

    reversal = await points.reverse(community, mei, award_id, "meant for Bo")
    assert reversal.outcome is Outcome.POSTED and reversal.transfer is not None
    assert (reversal.transfer.kind, reversal.transfer.reverses_id) == (Kind.REVERSAL, award_id)
    assert (reversal.transfer.amount, reversal.transfer.actor_member_id) == (80, mei.id)
    assert await ledger.balance(community.id, ana.id) == Balance(0, 0)

    before = await snapshot(app.db)
    with pytest.raises(InvalidInput) as raised:
        await points.reverse(community, mei, award_id, "again")
    assert _text(raised.value) == f"Transfer #{award_id} has already been reversed."
    assert await snapshot(app.db) == before


async def test_reversing_an_award_already_spent_is_refused(app: App) -> None:
    community = await app.community()
    points = app.services.points
    ledger = app.services.ledger
    mei = await _member(app, "Mei", Role.CREATOR)
    ana = await _member(app, "Ana")
    award = await points.award(community, mei, ana, 50, "good work", "award:1")
    assert award.result.transfer is not None
    spent = await ledger.post(
        Posting(
            community_id=community.id,
            debit=MemberAccount(ana.id),
            credit=SystemAccount(SystemCode.REDEMPTION),
            amount=45,
            kind=Kind.SPEND,
            key="spend:1",
            at=app.clock.now(),
            memo="study guide",
        )
    )
    assert spent.outcome is Outcome.POSTED
    before = await snapshot(app.db)
    with pytest.raises(InvalidInput) as raised:
        await points.reverse(community, mei, award.result.transfer.id, "undeserved")
    assert _text(raised.value) == (
        f"Transfer #{award.result.transfer.id} cannot be reversed: only 5 of its points are left."
    )
    assert await snapshot(app.db) == before
    assert await ledger.balance(community.id, ana.id) == Balance(5, 50)


async def test_reversing_a_deduction_gives_the_points_back(app: App) -> None:
    community = await app.community()
    points = app.services.points
    mei = await _member(app, "Mei", Role.CREATOR)
    ana = await _member(app, "Ana")
    await points.award(community, mei, ana, 40, "answers", "award:1")
    deduction = await points.deduct(community, mei, ana, 25, "thought it was spam", "deduct:1")
    assert deduction.transfer is not None
    reversal = await points.reverse(community, mei, deduction.transfer.id, "it was not spam")
    assert reversal.amount == 25
    assert await app.services.ledger.balance(community.id, ana.id) == Balance(40, 40)


async def test_a_transfer_of_another_community_cannot_be_reversed_here(app: App) -> None:
    community = await app.community()
    other = await app.services.members.ensure_community("otherhall", default_locale="en", timezone="UTC")
    points = app.services.points
    olga = await _member(app, "Olga", Role.CREATOR, community=other)
    stranger = await _member(app, "Stranger", community=other)
    mei = await _member(app, "Mei", Role.CREATOR)
    award = await points.award(other, olga, stranger, 20, "welcome", "award:1")
    assert award.result.transfer is not None
    with pytest.raises(InvalidInput) as raised:
        await points.reverse(community, mei, award.result.transfer.id, "not mine")
    assert _text(raised.value) == f"There is no transfer #{award.result.transfer.id}."
    assert await _balance(app, stranger) == 20


# -- summary and expiry -----------------------------------------------------------------------


async def test_summary(app: App, clock: ManualClock) -> None:
    community = await app.community()
    points = app.services.points
    ana = await _member(app, "Ana")
    empty = await points.summary(community, ana)
    assert (empty.balance, empty.tier, empty.next_tier) == (Balance(0, 0), REGULAR, PREMIUM)
    assert (empty.expiring_soon, empty.today, empty.checked_in_today) == (0, {}, False)
    assert empty.caps == {"message": 20, "checkin": 50, "award": 500, "answer": 100, "referral": 200}

    await points.checkin(community, ana, clock.now())
    await Chat(app, clock, community, ana).say("A question about chapter one")
    summary = await points.summary(community, ana)
    assert summary.balance == Balance(6, 6)
    assert summary.today == {"checkin": 5, "message": 1}
    assert summary.checked_in_today is True
    assert summary.expiring_soon == 0  # points.expiry_days is 0: nothing expires

    clock.advance(timedelta(days=1))
    summary = await points.summary(community, ana)
    assert (summary.today, summary.checked_in_today) == ({}, False)


async def test_expiry_with_the_setting_and_the_job(
    app: App, clock: ManualClock, console: ConsoleDriver
) -> None:
    community = await app.community()
    points = app.services.points
    settings = app.services.settings
    mei = await _member(app, "Mei", Role.CREATOR)
    ana = await _member(app, "Ana")
    bo = await _member(app, "Bo")
    assert await settings.set(community.id, "points.expiry_days", "30", actor=mei) == 30

    await points.award(community, mei, ana, 100, "early work", "award:1")  # day 0
    await points.checkin(community, ana, clock.now())  # day 0: 5
    assert (await points.summary(community, ana)).expiring_soon == 105
    clock.advance(timedelta(days=20))
    await points.award(community, mei, ana, 40, "later work", "award:2")  # day 20
    await points.award(community, mei, bo, 70, "later work", "award:3")  # day 20
    spent = await app.services.ledger.post(
        Posting(
            community_id=community.id,
            debit=MemberAccount(ana.id),
            credit=SystemAccount(SystemCode.REDEMPTION),
            amount=25,
            kind=Kind.SPEND,
            key="spend:1",
            at=clock.now(),
        )
    )
    assert spent.ok  # spending takes the oldest points first

    clock.advance(timedelta(days=11))  # day 31: the day-0 points are past 30 days
    await expire_points(app.services, clock.now())
    assert await app.services.ledger.balance(community.id, ana.id) == Balance(40, 145)
    assert await _balance(app, bo) == 70
    out = await console(":as Ana", "/points")
    assert out == [
        "(you are Ana, learner, in dm)",
        "bot> Points: 40",
        "bot> Tier: regular (×1) — 355 more to premium",
        "bot> Expiring in the next 30 days: 40",
        "bot> Today: messages 0/20, check-in not yet (/checkin)",
    ]

    await settings.set(community.id, "points.expiry_days", "60", actor=mei)
    assert "Expiring" not in await console.text("/points")  # day-20 points go on day 80
    clock.advance(timedelta(days=30))  # day 61
    await expire_points(app.services, clock.now())
    assert (await _balance(app, ana), await _balance(app, bo)) == (40, 70)
    assert "bot> Expiring in the next 30 days: 40" in await console("/points")
    clock.advance(timedelta(days=20))  # day 81
    await expire_points(app.services, clock.now())
    assert (await _balance(app, ana), await _balance(app, bo)) == (0, 0)
    assert await app.services.ledger.balances_match_transfers(community.id)


# -- leaderboard ------------------------------------------------------------------------------


async def _standings(points: PointsService, community: Community, window: str) -> list[tuple[str, int]]:
    return [(member.display_name, earned) for member, earned in await points.leaderboard(community, window)]


async def test_leaderboard_excludes_staff_unless_the_setting_says_so(app: App, clock: ManualClock) -> None:
    community = await app.community()
    points = app.services.points
    mei = await _member(app, "Mei", Role.CREATOR)
    mo = await _member(app, "Mo", Role.MODERATOR)
    ana = await _member(app, "Ana")
    bo = await _member(app, "Bo")
    for member in (mei, mo, ana, bo):
        await points.checkin(community, member, clock.now())
    await points.award(community, mei, ana, 20, "answers", "award:1")
    await points.award(community, mei, mo, 30, "moderation", "award:2")
    assert await _standings(points, community, "week") == [("Ana", 25), ("Bo", 5)]
    await _rule(app, "top.include_staff", "on")
    # The rule's "Owner" has earned nothing; ties are ordered by who joined first.
    assert await _standings(points, community, "week") == [("Mo", 35), ("Ana", 25), ("Mei", 5), ("Bo", 5)]


async def test_leaderboard_windows(app: App, clock: ManualClock) -> None:
    community = await app.community()
    points = app.services.points
    mei = await _member(app, "Mei", Role.CREATOR)
    ana, bo, cy = [await _member(app, name) for name in ("Ana", "Bo", "Cy")]
    await points.award(community, mei, ana, 30, "early", "award:1")  # day 0
    clock.advance(timedelta(days=10))
    await points.award(community, mei, bo, 20, "middle", "award:2")  # day 10
    clock.advance(timedelta(days=15))
    await points.checkin(community, cy, clock.now())  # day 25
    # Deductions do not lower a standing; spending is not earning.
    await points.deduct(community, mei, ana, 30, "spent elsewhere", "deduct:1")

    assert await _standings(points, community, "week") == [("Cy", 5)]
    assert await _standings(points, community, "month") == [("Ana", 30), ("Bo", 20), ("Cy", 5)]
    assert await _standings(points, community, "all") == [("Ana", 30), ("Bo", 20), ("Cy", 5)]

    clock.advance(timedelta(days=10))  # day 35
    assert await _standings(points, community, "week") == []
    assert await _standings(points, community, "month") == [("Bo", 20), ("Cy", 5)]
    assert await _standings(points, community, "all") == [("Ana", 30), ("Bo", 20), ("Cy", 5)]


async def test_leaderboard_leaves_out_reversed_points_and_keeps_ten(app: App, clock: ManualClock) -> None:
    community = await app.community()
    points = app.services.points
    mei = await _member(app, "Mei", Role.CREATOR)
    learners = [await _member(app, f"L{n:02d}") for n in range(12)]
    for n, learner in enumerate(learners):
        await points.award(community, mei, learner, 10 + n, "weekly quiz", f"award:{n}")
    top = await _standings(points, community, "all")
    assert top == [(f"L{n:02d}", 10 + n) for n in range(11, 1, -1)]
    last = await points.award(community, mei, learners[11], 1, "bonus", "award:extra")
    assert last.result.transfer is not None
    first_award = (await app.services.ledger.history(community.id, learners[11].id, limit=5))[-1].transfer
    await points.reverse(community, mei, first_award.id, "quiz was void")
    top = await _standings(points, community, "all")
    assert top[0] == ("L10", 20) and ("L11", 1) not in top and len(top) == 10
    assert top[-1] == ("L01", 11)


def test_day_start_is_local_midnight_across_midnight_zones_and_daylight_saving() -> None:
    def community(zone: str) -> Community:
        return Community(1, "c", "en", zone, None, datetime(2026, 1, 1, tzinfo=UTC))

    new_york, shanghai = community("America/New_York"), community("Asia/Shanghai")
    local = ZoneInfo("America/New_York")
    # 2026-03-08: clocks go forward at 02:00 in New York; that day has 23 hours.
    for at, day in [
        (datetime(2026, 3, 8, 4, 59, tzinfo=UTC), date(2026, 3, 7)),  # 23:59 on the 7th
        (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), date(2026, 3, 8)),  # midnight, EST
        (datetime(2026, 3, 9, 3, 59, tzinfo=UTC), date(2026, 3, 8)),  # 23:59 EDT
        (datetime(2026, 3, 9, 4, 0, tzinfo=UTC), date(2026, 3, 9)),
        (datetime(2026, 3, 8, 12, 0, tzinfo=UTC), date(2026, 3, 8)),  # back to a day seen before
    ]:
        start = PointsService.day_start(new_york, at)
        assert start == datetime.combine(day, time(0), tzinfo=local) and start.tzinfo == local
        # The day remembered for one zone is never another zone's answer.
        assert PointsService.day_start(shanghai, at) == datetime.combine(
            at.astimezone(ZoneInfo("Asia/Shanghai")).date(), time(0), tzinfo=ZoneInfo("Asia/Shanghai")
        )
