"""core/ledger/service.py: worked examples of the points ledger, in the manner of django-hordak.

Every example ends by checking the books: the balances of a community sum to zero, no member
is below zero, and every balance equals the credits minus the debits of its transfers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from bot.app import App
from core.errors import InvalidInput
from core.events import UserRef
from core.ledger.models import (
    AccountRef,
    Cap,
    CapScope,
    Kind,
    MemberAccount,
    Outcome,
    Posting,
    PostingResult,
    SystemAccount,
    SystemCode,
)
from core.ledger.service import MAX_AMOUNT, Balance, Ledger, Standing
from core.ledger.tables import ledger_accounts
from core.members.models import Community, Member, Role
from tests.conftest import START, snapshot

DAY = timedelta(days=1)
ISSUANCE = SystemAccount(SystemCode.ISSUANCE)
REDEMPTION = SystemAccount(SystemCode.REDEMPTION)
EXPIRY = SystemAccount(SystemCode.EXPIRY)


@dataclass
class World:
    app: App
    ledger: Ledger
    community: Community
    ana: Member
    ben: Member
    cai: Member
    sam: Member  # a moderator

    @property
    def cid(self) -> int:
        return self.community.id

    def posting(
        self,
        debit: AccountRef | Member,
        credit: AccountRef | Member,
        amount: int,
        kind: str,
        key: str,
        *,
        at: datetime = START,
        **extra: object,
    ) -> Posting:
        return Posting(
            community_id=self.cid,
            debit=_ref(debit),
            credit=_ref(credit),
            amount=amount,
            kind=kind,
            key=key,
            at=at,
            **extra,  # type: ignore[arg-type]
        )

    async def post(self, *args: object, **kwargs: object) -> PostingResult:
        return await self.ledger.post(self.posting(*args, **kwargs))  # type: ignore[arg-type]

    async def earn(self, member: Member, amount: int, key: str, *, at: datetime = START) -> PostingResult:
        result = await self.post(ISSUANCE, member, amount, Kind.AWARD, key, at=at)
        assert result.outcome is Outcome.POSTED
        return result

    async def balance(self, member: Member) -> Balance:
        return await self.ledger.balance(self.cid, member.id)

    async def ledger_rows(self) -> dict[str, list[tuple]]:
        """Transfers and the accounts holding anything: a refused posting may open an empty
        account row on the way, which is no change of value."""
        tables = await snapshot(self.app.db)
        accounts = [row for row in tables["ledger_accounts"] if row[4] or row[5]]  # balance, earned
        return {"ledger_accounts": accounts, "ledger_transfers": tables["ledger_transfers"]}

    async def assert_books_balance(self) -> None:
        assert await self.ledger.totals(self.cid) == (0, 0)
        assert await self.ledger.balances_match_transfers(self.cid)


def _ref(party: AccountRef | Member) -> AccountRef:
    return MemberAccount(party.id) if isinstance(party, Member) else party


@pytest.fixture
async def world(app: App) -> World:
    community = await app.community()
    members = app.services.members
    people = {}
    for name in ("Ana", "Ben", "Cai", "Sam"):
        people[name] = await members.ensure_member(community, UserRef("console", name.lower(), name))
    sam = await members.assign_role(community, people["Sam"], Role.MODERATOR, via="test")
    return World(app, app.services.ledger, community, people["Ana"], people["Ben"], people["Cai"], sam)


# -- issuance, spending, transfers -------------------------------------------------------------


async def test_issuance_credits_the_member_from_the_issuance_account(world: World) -> None:
    result = await world.post(ISSUANCE, world.ana, 50, Kind.AWARD, "award:1", memo="great answer")

    assert result.outcome is Outcome.POSTED and result.ok
    transfer = result.transfer
    assert transfer is not None
    assert (transfer.amount, transfer.kind, transfer.key, transfer.memo) == (
        50,
        "award",
        "award:1",
        "great answer",
    )
    assert transfer.at == START and transfer.reverses_id is None
    assert await world.ledger.member_of_account(transfer.credit_account_id) == world.ana.id
    assert await world.ledger.member_of_account(transfer.debit_account_id) is None
    assert (result.earned_before, result.earned_after) == (0, 50)
    assert await world.balance(world.ana) == Balance(50, 50)
    assert await world.ledger.transfer(world.cid, transfer.id) == transfer
    [line] = await world.ledger.history(world.cid, world.ana.id)
    assert (line.signed_amount, line.counterparty_member_id, line.counterparty_code) == (50, None, "issuance")
    await world.assert_books_balance()


async def test_a_spend_moves_points_to_redemption_and_keeps_lifetime_earned(world: World) -> None:
    await world.earn(world.ana, 50, "award:1")

    result = await world.post(world.ana, REDEMPTION, 30, Kind.SPEND, "mall:order:7", at=START + DAY)

    assert result.outcome is Outcome.POSTED and result.amount == 30
    assert result.earned_before is None  # a spend is no earning
    assert await world.balance(world.ana) == Balance(20, 50)
    newest, oldest = await world.ledger.history(world.cid, world.ana.id)
    assert (newest.signed_amount, newest.counterparty_code) == (-30, "redemption")
    assert (oldest.signed_amount, oldest.counterparty_code) == (50, "issuance")
    await world.assert_books_balance()


async def test_history_signs_a_member_transfer_from_each_side(world: World) -> None:
    await world.earn(world.ana, 20, "award:1")
    await world.post(world.ana, world.ben, 5, Kind.TRANSFER, "gift:1", at=START + DAY)

    [gift, _award] = await world.ledger.history(world.cid, world.ana.id)
    [received] = await world.ledger.history(world.cid, world.ben.id)

    assert (gift.signed_amount, gift.counterparty_member_id, gift.counterparty_code) == (
        -5,
        world.ben.id,
        None,
    )
    assert (received.signed_amount, received.counterparty_member_id) == (5, world.ana.id)
    assert received.transfer == gift.transfer
    assert await world.balance(world.ben) == Balance(5, 0)  # a gift is not earned
    assert await world.ledger.history(world.cid, world.cai.id) == []
    await world.assert_books_balance()


async def test_history_is_newest_first_and_limited(world: World) -> None:
    for day in range(5):
        await world.earn(world.ana, day + 1, f"award:{day}", at=START + day * DAY)

    lines = await world.ledger.history(world.cid, world.ana.id, limit=3)

    assert [line.signed_amount for line in lines] == [5, 4, 3]
    await world.assert_books_balance()


# -- refusals --------------------------------------------------------------------------------


async def test_insufficient_points_change_nothing_and_report_what_is_available(world: World) -> None:
    await world.earn(world.ana, 30, "award:1")
    before = await world.ledger_rows()

    result = await world.post(world.ana, REDEMPTION, 31, Kind.SPEND, "mall:order:8")

    assert result.outcome is Outcome.INSUFFICIENT and not result.ok
    assert (result.available, result.transfer, result.amount) == (30, None, 0)
    assert await world.ledger_rows() == before
    # A refused posting does not use up its key: the member may retry it once they can pay.
    retried = await world.post(world.ana, REDEMPTION, 30, Kind.SPEND, "mall:order:8")
    assert retried.outcome is Outcome.POSTED
    assert await world.balance(world.ana) == Balance(0, 30)
    await world.assert_books_balance()


async def test_a_member_with_no_account_yet_has_nothing_to_spend(world: World) -> None:
    result = await world.post(world.cai, world.ben, 1, Kind.TRANSFER, "gift:1")

    assert (result.outcome, result.available) == (Outcome.INSUFFICIENT, 0)
    assert await world.balance(world.cai) == Balance(0, 0)
    await world.assert_books_balance()


async def test_partial_debits_only_what_the_member_has(world: World) -> None:
    await world.earn(world.ana, 30, "award:1")

    result = await world.post(world.ana, REDEMPTION, 50, Kind.SPEND, "mall:order:9", partial=True)

    assert result.outcome is Outcome.POSTED and result.amount == 30
    assert await world.balance(world.ana) == Balance(0, 30)
    again = await world.post(world.ana, REDEMPTION, 50, Kind.SPEND, "mall:order:10", partial=True)
    assert (again.outcome, again.available) == (Outcome.INSUFFICIENT, 0)
    # partial never tops a posting up: asking for less than the balance posts exactly that.
    await world.earn(world.ana, 30, "award:2")
    small = await world.post(world.ana, REDEMPTION, 12, Kind.SPEND, "mall:order:11", partial=True)
    assert small.amount == 12
    assert await world.balance(world.ana) == Balance(18, 60)
    await world.assert_books_balance()


@pytest.mark.parametrize(
    ("amount", "error"),
    [(0, InvalidInput), (-5, InvalidInput), (True, InvalidInput), (MAX_AMOUNT + 1, InvalidInput)],
)
async def test_bad_amounts_are_refused_before_anything_is_written(
    world: World, amount: int, error: type[Exception]
) -> None:
    before = await world.ledger_rows()

    with pytest.raises(error):
        await world.post(ISSUANCE, world.ana, amount, Kind.AWARD, "award:bad")

    assert await world.ledger_rows() == before
    await world.assert_books_balance()


async def test_malformed_postings_are_refused(world: World) -> None:
    with pytest.raises(InvalidInput):
        await world.post(world.ana, world.ana, 1, Kind.TRANSFER, "self")
    with pytest.raises(ValueError, match="idempotency key"):
        await world.post(ISSUANCE, world.ana, 1, Kind.AWARD, "")
    with pytest.raises(ValueError, match="idempotency key"):
        await world.post(ISSUANCE, world.ana, 1, Kind.AWARD, "k" * 201)
    with pytest.raises(ValueError, match="timezone"):
        await world.post(ISSUANCE, world.ana, 1, Kind.AWARD, "naive", at=START.replace(tzinfo=None))
    assert await world.ledger.history(world.cid, world.ana.id) == []
    await world.assert_books_balance()


# -- idempotency -----------------------------------------------------------------------------


async def test_the_same_key_again_is_replayed_and_changes_nothing(world: World) -> None:
    first = await world.post(ISSUANCE, world.ana, 50, Kind.PURCHASE, "stripe:pi_123")
    before = await world.ledger_rows()

    again = await world.post(ISSUANCE, world.ana, 70, Kind.PURCHASE, "stripe:pi_123", at=START + DAY)

    assert again.outcome is Outcome.REPLAYED and again.ok
    assert again.transfer == first.transfer and again.amount == 50
    assert await world.ledger_rows() == before
    assert await world.balance(world.ana) == Balance(50, 50)
    await world.assert_books_balance()


async def test_keys_are_per_community(world: World) -> None:
    other = await world.app.community("otherhall")
    member = await world.app.services.members.ensure_member(other, UserRef("console", "zoe", "Zoe"))
    await world.earn(world.ana, 50, "stripe:pi_123")

    result = await world.ledger.post(
        Posting(other.id, ISSUANCE, MemberAccount(member.id), 5, Kind.PURCHASE, "stripe:pi_123", START)
    )

    assert result.outcome is Outcome.POSTED
    assert await world.ledger.balance(other.id, member.id) == Balance(5, 5)
    assert await world.ledger.totals(other.id) == (0, 0)
    await world.assert_books_balance()


async def test_the_same_key_twice_in_one_batch_posts_once(world: World) -> None:
    writer = world.ledger.writer
    batches = writer.commits.batches

    first, second = await asyncio.gather(
        world.post(ISSUANCE, world.ana, 50, Kind.REFERRAL, "referral:ben"),
        world.post(ISSUANCE, world.ana, 80, Kind.REFERRAL, "referral:ben"),
    )

    assert writer.commits.batches == batches + 1  # really one batch
    assert (first.outcome, second.outcome) == (Outcome.POSTED, Outcome.REPLAYED)
    assert second.transfer == first.transfer
    assert await world.balance(world.ana) == Balance(50, 50)
    assert len(await world.ledger.history(world.cid, world.ana.id)) == 1
    await world.assert_books_balance()


# -- reversals -------------------------------------------------------------------------------


async def test_a_reversal_references_the_original_and_edits_no_history(world: World) -> None:
    original = (await world.earn(world.ana, 40, "award:1")).transfer
    assert original is not None
    assert await world.balance(world.ana) == Balance(40, 40)

    result = await world.ledger.reverse(
        original.id, community_id=world.cid, actor_member_id=world.sam.id, reason="duplicate", at=START + DAY
    )

    assert result.outcome is Outcome.POSTED
    reversal = result.transfer
    assert reversal is not None and reversal.id != original.id
    assert reversal.reverses_id == original.id
    assert (reversal.debit_account_id, reversal.credit_account_id) == (
        original.credit_account_id,
        original.debit_account_id,
    )
    assert (reversal.amount, reversal.kind, reversal.memo) == (40, "reversal", "duplicate")
    assert (reversal.actor_member_id, reversal.key) == (world.sam.id, f"reverse:{original.id}")
    assert await world.ledger.transfer(world.cid, original.id) == original  # never edited
    assert await world.ledger.is_reversed(original.id)
    assert not await world.ledger.is_reversed(reversal.id)
    assert [line.signed_amount for line in await world.ledger.history(world.cid, world.ana.id)] == [-40, 40]
    assert await world.balance(world.ana) == Balance(0, 0)  # lifetime earned falls too
    await world.assert_books_balance()


async def test_a_transfer_is_reversed_at_most_once(world: World) -> None:
    original = (await world.earn(world.ana, 40, "award:1")).transfer
    assert original is not None
    first = await world.ledger.reverse(
        original.id, community_id=world.cid, actor_member_id=None, reason="oops", at=START
    )
    before = await world.ledger_rows()

    second = await world.ledger.reverse(
        original.id, community_id=world.cid, actor_member_id=None, reason="oops again", at=START + DAY
    )
    # Reversing it under another key is refused by the reversal rule itself.
    other_key = await world.post(
        world.ana, ISSUANCE, 40, Kind.REVERSAL, "manual-correction", reverses_id=original.id
    )

    assert first.outcome is Outcome.POSTED
    assert second.outcome is Outcome.REPLAYED and second.transfer == first.transfer
    assert other_key.outcome is Outcome.INVALID and other_key.transfer is None
    assert await world.ledger_rows() == before
    assert await world.balance(world.ana) == Balance(0, 0)
    await world.assert_books_balance()


async def test_reversing_lowers_earned_only_for_earnings(world: World) -> None:
    await world.earn(world.ana, 100, "award:1")
    gift = (await world.post(world.ana, world.ben, 30, Kind.TRANSFER, "gift:1")).transfer
    spend = (await world.post(world.ana, REDEMPTION, 20, Kind.SPEND, "mall:1")).transfer
    assert gift is not None and spend is not None

    undo_gift = await world.ledger.reverse(
        gift.id, community_id=world.cid, actor_member_id=None, reason="r", at=START
    )
    undo_spend = await world.ledger.reverse(
        spend.id, community_id=world.cid, actor_member_id=None, reason="refund", at=START
    )

    assert (undo_gift.outcome, undo_spend.outcome) == (Outcome.POSTED, Outcome.POSTED)
    assert await world.balance(world.ana) == Balance(100, 100)
    assert await world.balance(world.ben) == Balance(0, 0)
    await world.assert_books_balance()


async def test_a_reversal_needs_the_points_to_still_be_there(world: World) -> None:
    original = (await world.earn(world.ana, 40, "award:1")).transfer
    assert original is not None
    await world.post(world.ana, REDEMPTION, 25, Kind.SPEND, "mall:1")
    before = await world.ledger_rows()

    result = await world.ledger.reverse(
        original.id, community_id=world.cid, actor_member_id=None, reason="oops", at=START
    )

    assert (result.outcome, result.available) == (Outcome.INSUFFICIENT, 15)
    assert await world.ledger_rows() == before
    assert not await world.ledger.is_reversed(original.id)
    await world.assert_books_balance()


async def test_reversing_a_missing_or_foreign_transfer_is_invalid(world: World) -> None:
    original = (await world.earn(world.ana, 40, "award:1")).transfer
    assert original is not None
    other = await world.app.community("otherhall")
    before = await world.ledger_rows()

    missing = await world.ledger.reverse(
        original.id + 999, community_id=world.cid, actor_member_id=None, reason="?", at=START
    )
    foreign = await world.ledger.reverse(
        original.id, community_id=other.id, actor_member_id=None, reason="?", at=START
    )
    # A reversal must run exactly against the original's direction.
    wrong_way = await world.post(ISSUANCE, world.ana, 40, Kind.REVERSAL, "bogus", reverses_id=original.id)

    assert missing.outcome is Outcome.INVALID
    assert foreign.outcome is Outcome.INVALID
    assert wrong_way.outcome is Outcome.INVALID
    assert await world.ledger_rows() == before
    await world.assert_books_balance()


# -- caps and tiers --------------------------------------------------------------------------


def _award(world: World, actor: Member, target: Member, amount: int, key: str, *caps: Cap) -> Posting:
    return world.posting(
        ISSUANCE,
        target,
        amount,
        Kind.AWARD,
        key,
        at=START + timedelta(hours=3),
        actor_member_id=actor.id,
        caps=caps,
    )


async def test_a_moderator_budget_refuses_an_award_over_what_is_left(world: World) -> None:
    day = START.replace(hour=0)
    budget = Cap(CapScope.ACTOR, (Kind.AWARD,), day, 100)
    # Yesterday's awards do not count against today's budget.
    yesterday = world.posting(
        ISSUANCE,
        world.cai,
        90,
        Kind.AWARD,
        "award:y",
        at=day - timedelta(hours=1),
        actor_member_id=world.sam.id,
    )
    assert (await world.ledger.post(yesterday)).outcome is Outcome.POSTED
    assert (await world.ledger.post(_award(world, world.sam, world.ana, 60, "a:1", budget))).amount == 60
    before = await world.ledger_rows()

    over = await world.ledger.post(_award(world, world.sam, world.ben, 50, "a:2", budget))

    assert (over.outcome, over.capped_by, over.transfer) == (Outcome.CAPPED, 0, None)
    assert await world.ledger_rows() == before
    exact = await world.ledger.post(_award(world, world.sam, world.ben, 40, "a:3", budget))
    assert exact.outcome is Outcome.POSTED and exact.amount == 40
    spent = await world.ledger.post(_award(world, world.sam, world.cai, 1, "a:4", budget))
    assert (spent.outcome, spent.capped_by) == (Outcome.CAPPED, 0)
    assert await world.ledger.given_since(world.cid, world.sam.id, Kind.AWARD, day) == 100
    # The budget is the moderator's: another actor is not limited by it.
    other = await world.ledger.post(_award(world, world.ana, world.cai, 50, "a:5", budget))
    assert other.outcome is Outcome.POSTED
    await world.assert_books_balance()


async def test_a_clamped_credit_cap_posts_only_what_is_left(world: World) -> None:
    day = START.replace(hour=0)
    daily = Cap(CapScope.CREDIT, (Kind.MESSAGE, Kind.CHECKIN), day, 20, clamp=True)

    def message(member: Member, amount: int, key: str) -> Posting:
        return world.posting(ISSUANCE, member, amount, Kind.MESSAGE, key, caps=(daily,))

    assert (await world.ledger.post(message(world.ana, 15, "m:1"))).amount == 15
    clamped = await world.ledger.post(message(world.ana, 10, "m:2"))
    full = await world.ledger.post(message(world.ana, 1, "m:3"))
    someone_else = await world.ledger.post(message(world.ben, 10, "m:4"))

    assert (clamped.outcome, clamped.amount) == (Outcome.POSTED, 5)
    assert (full.outcome, full.capped_by) == (Outcome.CAPPED, 0)
    assert (someone_else.outcome, someone_else.amount) == (Outcome.POSTED, 10)
    assert await world.balance(world.ana) == Balance(20, 20)
    assert await world.ledger.earned_by_kind_since(world.cid, world.ana.id, day) == {"message": 20}
    await world.assert_books_balance()


async def test_an_unclamped_credit_cap_refuses_the_whole_posting(world: World) -> None:
    day = START.replace(hour=0)
    daily = Cap(CapScope.CREDIT, (Kind.AWARD,), day, 20)
    loose = Cap(CapScope.CREDIT, (Kind.AWARD,), day, 1000)
    await world.ledger.post(_award(world, world.sam, world.ana, 15, "a:1", daily))

    refused = await world.ledger.post(_award(world, world.sam, world.ana, 10, "a:2", loose, daily))

    assert (refused.outcome, refused.capped_by) == (Outcome.CAPPED, 1)  # index of the cap that bit
    assert await world.balance(world.ana) == Balance(15, 15)
    await world.assert_books_balance()


async def test_tiered_points_use_the_credited_members_tier_rounded_down(world: World) -> None:
    await world.earn(world.ana, 499, "award:1")  # one short of premium (500, x1.2)

    def message(amount: int, key: str, *, tiered: bool = True) -> Posting:
        return world.posting(ISSUANCE, world.ana, amount, Kind.MESSAGE, key, tiered=tiered)

    regular = await world.ledger.post(message(7, "m:1"))  # still regular: x1.0
    premium = await world.ledger.post(message(7, "m:2"))  # 8.4 -> 8
    rounded = await world.ledger.post(message(2, "m:3"))  # 2.4 -> 2
    untiered = await world.ledger.post(message(7, "m:4", tiered=False))

    assert [r.amount for r in (regular, premium, rounded, untiered)] == [7, 8, 2, 7]
    assert (regular.earned_before, regular.earned_after) == (499, 506)
    assert (premium.earned_before, premium.earned_after) == (506, 514)
    assert await world.balance(world.ana) == Balance(523, 523)
    # Ben is regular: the same posting gives him the plain amount.
    ben = await world.post(ISSUANCE, world.ben, 7, Kind.MESSAGE, "m:5", tiered=True)
    assert ben.amount == 7
    await world.assert_books_balance()


async def test_an_actor_cap_without_an_actor_is_refused_up_front(world: World) -> None:
    budget = Cap(CapScope.ACTOR, (Kind.AWARD,), START.replace(hour=0), 100)
    posting = world.posting(ISSUANCE, world.ana, 5, Kind.AWARD, "award:1", caps=(budget,))

    outcome: object = None
    try:
        await world.ledger.post(posting)
    except Exception as error:
        outcome = error

    if not isinstance(outcome, ValueError):  # no traceback: see test_ledger_writer.bug_check
        pytest.fail(f"expected ValueError, got {outcome!r}", pytrace=False)
    assert await world.balance(world.ana) == Balance(0, 0)
    await world.assert_books_balance()


# -- expiry (first in, first out) --------------------------------------------------------------


async def test_points_expire_first_in_first_out(world: World) -> None:
    ledger, cid, ana = world.ledger, world.cid, world.ana
    await world.earn(ana, 10, "award:d0", at=START)
    await world.post(ana, REDEMPTION, 4, Kind.SPEND, "mall:d10", at=START + 10 * DAY)
    await world.earn(ana, 5, "award:d20", at=START + 20 * DAY)

    assert await ledger.expire(cid, expiry_days=30, now=START + 29 * DAY) == 0
    assert (
        await ledger.expiring_within(cid, ana.id, expiry_days=30, now=START + 25 * DAY, window=7 * DAY) == 6
    )
    assert await ledger.expiring_within(cid, ana.id, expiry_days=30, now=START + 25 * DAY, window=DAY) == 0

    assert await ledger.expire(cid, expiry_days=30, now=START + 31 * DAY) == 6
    assert await world.balance(ana) == Balance(5, 15)  # expiry does not lower lifetime earned
    [line, *_] = await ledger.history(cid, ana.id)
    assert (line.signed_amount, line.counterparty_code, line.transfer.kind) == (-6, "expiry", "expiry")
    before = await world.ledger_rows()
    assert await ledger.expire(cid, expiry_days=30, now=START + 31 * DAY) == 0
    assert await ledger.expire(cid, expiry_days=30, now=START + 31 * DAY + timedelta(hours=5)) == 0
    assert await world.ledger_rows() == before

    assert (
        await ledger.expiring_within(cid, ana.id, expiry_days=30, now=START + 45 * DAY, window=7 * DAY) == 5
    )
    assert await ledger.expire(cid, expiry_days=30, now=START + 51 * DAY) == 5
    assert await world.balance(ana) == Balance(0, 15)
    assert await ledger.expire(cid, expiry_days=30, now=START + 90 * DAY) == 0
    await world.assert_books_balance()


async def test_expiry_touches_only_old_points_of_each_member(world: World) -> None:
    ledger, cid = world.ledger, world.cid
    await world.earn(world.ana, 10, "award:ana", at=START)
    await world.earn(world.ben, 7, "award:ben", at=START + 5 * DAY)

    due = await ledger.expirable(cid, cutoff=START + DAY)
    assert [(member_id, amount) for member_id, _account, amount in due] == [(world.ana.id, 10)]
    assert await ledger.expire(cid, expiry_days=30, now=START + 31 * DAY) == 10

    assert await world.balance(world.ana) == Balance(0, 10)
    assert await world.balance(world.ben) == Balance(7, 7)
    assert await ledger.expire(cid, expiry_days=0, now=START + 99 * DAY) == 0  # expiry switched off
    assert await ledger.expiring_within(cid, world.ben.id, expiry_days=0, now=START, window=99 * DAY) == 0
    await world.assert_books_balance()


# -- leaderboards ----------------------------------------------------------------------------


async def test_earned_since_counts_unreversed_earnings_by_kind_since_and_member(world: World) -> None:
    ledger, cid = world.ledger, world.cid
    await world.earn(world.ana, 30, "a:1", at=START)
    await world.post(ISSUANCE, world.ana, 10, Kind.MESSAGE, "m:1", at=START + 2 * DAY)
    reversed_award = await world.earn(world.ben, 50, "a:2", at=START + DAY)
    assert reversed_award.transfer is not None
    await ledger.reverse(
        reversed_award.transfer.id, community_id=cid, actor_member_id=None, reason="x", at=START
    )
    await world.post(ISSUANCE, world.ben, 5, Kind.CHECKIN, "c:1", at=START + 3 * DAY)
    await world.post(world.ana, world.cai, 20, Kind.TRANSFER, "gift:1", at=START + 3 * DAY)  # not earned

    assert await ledger.earned_since(cid, None) == [Standing(world.ana.id, 40), Standing(world.ben.id, 5)]
    assert await ledger.earned_since(cid, START + 2 * DAY) == [
        Standing(world.ana.id, 10),
        Standing(world.ben.id, 5),
    ]
    assert await ledger.earned_since(cid, START + 2 * DAY + timedelta(seconds=1)) == [
        Standing(world.ben.id, 5)
    ]
    assert await ledger.earned_since(cid, None, kinds=[Kind.CHECKIN]) == [Standing(world.ben.id, 5)]
    assert await ledger.earned_since(cid, None, kinds=[Kind.TRANSFER]) == [Standing(world.cai.id, 20)]
    assert await ledger.earned_since(cid, None, exclude_member_ids=[world.ana.id]) == [
        Standing(world.ben.id, 5)
    ]
    assert await ledger.earned_since(cid, None, limit=1) == [Standing(world.ana.id, 40)]
    other = await world.app.community("otherhall")
    assert await ledger.earned_since(other.id, None) == []
    await world.assert_books_balance()


# -- the invariant checks themselves -------------------------------------------------------------


async def test_the_invariant_checks_notice_a_balance_edited_behind_the_ledgers_back(world: World) -> None:
    await world.earn(world.ana, 10, "award:1")
    await world.assert_books_balance()

    async with world.app.db.write() as conn:
        await conn.execute(
            update(ledger_accounts).where(ledger_accounts.c.member_id == world.ana.id).values(balance=12)
        )

    assert await world.ledger.totals(world.cid) == (2, 0)
    assert not await world.ledger.balances_match_transfers(world.cid)


# -- submit: postings kept in flight --------------------------------------------------------------


async def test_submitted_postings_are_queued_at_once_and_share_a_batch(world: World) -> None:
    await world.earn(world.ana, 10, "fund:ana")
    batches_before = world.ledger.writer.commits.batches

    # Nothing is awaited until all three are queued: they go to the writer as one batch.
    pending = [
        world.ledger.submit(world.posting(world.ana, world.ben, 4, Kind.TRANSFER, f"in-flight:{n}"))
        for n in range(3)
    ]
    results = [await p for p in pending]

    assert [r.outcome for r in results] == [Outcome.POSTED, Outcome.POSTED, Outcome.INSUFFICIENT]
    assert results[2].available == 2  # decided in order: the first two left 2 points
    assert world.ledger.writer.commits.batches - batches_before == 1
    assert (await world.balance(world.ben)).balance == 8
    await world.assert_books_balance()


async def test_submit_refuses_a_malformed_posting_before_queueing_it(world: World) -> None:
    batches_before = world.ledger.writer.commits.batches
    with pytest.raises(InvalidInput):
        world.ledger.submit(world.posting(ISSUANCE, world.ana, 0, Kind.AWARD, "zero"))
    assert world.ledger.writer.commits.batches == batches_before
    assert await world.ledger.history(world.cid, world.ana.id) == []
