"""core/privacy/service.py (and merge.py through it): linking and merging two members with
data on both sides, a referral between them, conflicting entitlements; export and forget —
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bot.app import App
from core.audit.tables import audit_log
from core.catalog.models import Course
from core.catalog.money import Money
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed
from core.events import UserRef
from core.ledger.models import Kind, MemberAccount, Posting, SystemAccount, SystemCode
from core.ledger.service import Balance
from core.ledger.tables import ledger_accounts
from core.members.models import Community, Member, Role
from core.referrals.tables import referrals
from core.storage.database import Database
from tests.conftest import PG_URL, START, console_member, sessions_waiting_on_a_lock

ANA_TG = UserRef("telegram", "100", "Ana on Telegram")


@dataclass
class World:
    community: Community
    mei: Member
    ana: Member  # on the console, since the start
    ben: Member  # someone else
    py101: Course
    ml: Course


async def buy(app: App, world: World, member: Member, course: Course) -> int:
    order = await app.services.orders.order_course(world.community, member, course)
    await app.services.orders.record_payment(
        order.id, provider="sandbox", provider_ref=f"p{order.id}", paid=course.price
    )
    return order.id


@pytest.fixture
async def world(app: App) -> World:
    community = await app.community()
    members = app.services.members
    mei = await console_member(app, "Mei", Role.CREATOR)
    ana = await members.ensure_member(community, UserRef("console", "ana", "Ana"))
    ben = await members.ensure_member(community, UserRef("console", "ben", "Ben"))
    catalog = app.services.catalog
    py101 = await catalog.add_course(community, mei, "py101", Money("USD", 1000), "Python")
    ml = await catalog.add_course(community, mei, "ml", Money("USD", 2000), "ML")
    return World(community, mei, ana, ben, py101, ml)


async def second_account(app: App, world: World, clock: ManualClock) -> Member:
    """Ana's Telegram account, a separate member with its own points, purchases and a referral
    from her console account."""
    clock.advance(timedelta(hours=1))
    code = await app.services.referrals.code_of(world.ana)
    tg = await app.services.members.ensure_member(world.community, ANA_TG)
    assert await app.services.referrals.attribute(world.community, tg, code) is not None  # +10 welcome
    await buy(app, world, tg, world.py101)  # +10 purchase points; Ana gets +50 referral points
    await buy(app, world, tg, world.ml)  # +20
    await buy(app, world, world.ana, world.py101)  # +10: both own py101
    return tg


async def test_linking_merges_two_members_with_data_on_both_sides(
    app: App, world: World, clock: ManualClock
) -> None:
    tg = await second_account(app, world, clock)
    ledger, privacy = app.services.ledger, app.services.privacy
    assert (await ledger.balance(world.community.id, world.ana.id)).balance == 60
    assert (await ledger.balance(world.community.id, tg.id)).balance == 40
    code = await privacy.link_code(world.ana)
    done = await privacy.link(world.community, tg, code)
    assert done.merged and done.member.id == world.ana.id  # the older member survives
    assert done.points_moved == 40
    # The referral between the two accounts is gone, and the 50 points it paid are taken back.
    assert (await ledger.balance(world.community.id, world.ana.id)).balance == 60 + 40 - 50
    assert (await ledger.balance(world.community.id, tg.id)).balance == 0
    assert await ledger.totals(world.community.id) == (0, 0)
    async with app.db.read() as conn:
        assert (await conn.execute(select(referrals))).all() == []
        merge_rows = (await conn.execute(select(audit_log).where(audit_log.c.action == "member.merge"))).all()
    assert len(merge_rows) == 1
    # Everything follows the member: the Telegram account, orders, courses (py101 once).
    members = app.services.members
    assert (await members.find_by_identity(world.community.id, "telegram", "100")).id == world.ana.id  # type: ignore[union-attr]
    assert {i.platform for i in await members.identities_of(world.ana.id)} == {"console", "telegram"}
    assert len(await app.services.orders.of_member(world.ana)) == 3
    owned = [course.code for course, *_ in await app.services.catalog.owned(world.ana)]
    assert sorted(owned) == ["ml", "py101"]
    # The merged member's id, wherever it is still held, answers with the survivor.
    assert (await members.get_member(tg.id, fresh=True)).id == world.ana.id


async def test_a_merge_moving_earned_points_locks_the_accounts_in_the_ledgers_order(
    app: App, world: World, db_url: str
) -> None:
    """Another transaction holding the merged member's account row, as a ledger batch would
    on its way to the survivor's (id order), must find the merge waiting for that row first,
    not holding the survivor's: else each waits for the other."""
    if not PG_URL:
        pytest.skip("PostgreSQL only: on SQLite one writer at a time holds the only write lock")
    tg = await app.services.members.ensure_member(world.community, ANA_TG)  # the newer: merged
    ledger, community_id = app.services.ledger, world.community.id
    issuance = SystemAccount(SystemCode.ISSUANCE)
    for member, key in ((tg, "tg"), (world.ana, "ana")):  # the merged member's account first: lower id
        await ledger.post(
            Posting(community_id, issuance, MemberAccount(member.id), 5, Kind.AWARD, key, START)
        )
    # Earned, but no balance left to move: the merge's one ledger step is the earned points.
    await ledger.post(
        Posting(
            community_id, MemberAccount(tg.id), MemberAccount(world.ana.id), 5, Kind.TRANSFER, "give", START
        )
    )
    async with app.db.read() as conn:
        merged_row, survivor_row = (
            await conn.execute(
                select(ledger_accounts.c.id)
                .where(ledger_accounts.c.member_id.in_((tg.id, world.ana.id)))
                .order_by(ledger_accounts.c.id)
            )
        ).scalars()
    code = await app.services.privacy.link_code(world.ana)
    lock = text("SELECT id FROM ledger_accounts WHERE id = :id FOR UPDATE")
    other_db = Database(db_url)
    try:
        async with other_db.engine.connect() as other:
            await other.begin()
            await other.execute(text("SET LOCAL deadlock_timeout = '20s'"))  # the merge checks first
            await other.execute(lock, {"id": merged_row})
            linking = asyncio.ensure_future(app.services.privacy.link(world.community, tg, code))
            await sessions_waiting_on_a_lock(other_db, 1)  # the merge, for the merged member's row
            await asyncio.wait_for(other.execute(lock, {"id": survivor_row}), 10)
            await other.rollback()
        done = await asyncio.wait_for(linking, 10)
    finally:
        await other_db.dispose()

    assert done.merged and done.member.id == world.ana.id
    assert await ledger.balance(community_id, world.ana.id) == Balance(10, 10)


async def test_earned_points_move_to_a_survivor_who_never_had_points(app: App, world: World) -> None:
    """Tier progress is not lost when the survivor has no ledger account yet: the merge opens
    one holding what the merged member earned (there is no balance left to move here)."""
    members, ledger, community_id = app.services.members, app.services.ledger, world.community.id
    zed = await members.ensure_member(world.community, UserRef("console", "zed", "Zed"))  # older: survivor
    zed_tg = await members.ensure_member(world.community, UserRef("telegram", "700", "Zed on Telegram"))
    issuance = SystemAccount(SystemCode.ISSUANCE)
    await ledger.post(Posting(community_id, issuance, MemberAccount(zed_tg.id), 7, Kind.AWARD, "z1", START))
    await ledger.post(
        Posting(
            community_id, MemberAccount(zed_tg.id), MemberAccount(world.ana.id), 7, Kind.TRANSFER, "z2", START
        )
    )
    assert await ledger.balance(community_id, zed_tg.id) == Balance(0, 7)
    code = await app.services.privacy.link_code(zed)
    done = await app.services.privacy.link(world.community, zed_tg, code)
    assert done.merged and done.member.id == zed.id
    assert await ledger.balance(community_id, zed.id) == Balance(0, 7)


async def test_a_code_is_single_use_expires_and_is_rate_limited(
    app: App, world: World, clock: ManualClock
) -> None:
    privacy = app.services.privacy
    tg = await app.services.members.ensure_member(world.community, ANA_TG)
    code = await privacy.link_code(world.ana)
    with pytest.raises(InvalidInput):
        await privacy.link(world.community, world.ana, code)  # from the same account
    clock.advance(timedelta(minutes=11))
    with pytest.raises(InvalidInput):
        await privacy.link(world.community, tg, code)  # expired
    code = await privacy.link_code(world.ana)
    await privacy.link(world.community, tg, code)
    other = await app.services.members.ensure_member(
        world.community, UserRef("discord", "7", "Ana on Discord")
    )
    with pytest.raises(InvalidInput):
        await privacy.link(world.community, other, code)  # used
    for _ in range(3):
        await privacy.link_code(world.ana)
    with pytest.raises(InvalidInput):
        await privacy.link_code(world.ana)  # five an hour


async def test_unlink_detaches_an_account_but_never_the_last(app: App, world: World) -> None:
    privacy = app.services.privacy
    tg = await app.services.members.ensure_member(world.community, ANA_TG)
    await privacy.link(world.community, tg, await privacy.link_code(world.ana))
    with pytest.raises(InvalidInput):
        await privacy.unlink(world.community, world.ana, "discord")
    await privacy.unlink(world.community, world.ana, "telegram")
    again = await app.services.members.find_by_identity(world.community.id, "telegram", "100")
    assert again is not None and again.id != world.ana.id
    with pytest.raises(InvalidInput):
        await privacy.unlink(world.community, world.ana, "console")  # her only account now


async def test_mydata_holds_the_member_and_nobody_else(app: App, world: World, clock: ManualClock) -> None:
    await buy(app, world, world.ana, world.py101)
    await buy(app, world, world.ben, world.ml)
    code = await app.services.referrals.code_of(world.ben)
    exported = await app.services.privacy.export(world.ana)
    text = json.dumps(exported)
    assert exported["member"]["display_name"] == "Ana"
    assert [o["title"] for o in exported["data"]["orders"]] == ["Python"]
    assert {i["external_id"] for i in exported["data"]["identities"]} == {"ana"}
    assert "ML" not in text and code not in text and '"ben"' not in text
    # Columns naming other members (who awarded her, say) are left out of her rows.
    for row in exported["data"].get("audit_log", []):
        assert row.get("actor_member_id") in (None, world.ana.id)


async def test_forget_leaves_the_ledger_balanced_and_the_member_unidentifiable(
    app: App, world: World, clock: ManualClock
) -> None:
    await buy(app, world, world.ana, world.py101)
    await app.services.reviews.review(world.ana, world.py101, 5, "Great course, thanks Mei!")
    privacy = app.services.privacy
    await privacy.forget(world.community, world.ana)
    members = app.services.members
    gone = await members.get_member(world.ana.id, fresh=True)
    assert gone.display_name == "deleted member"
    assert await members.identities_of(world.ana.id) == []
    assert await members.find_by_identity(world.community.id, "console", "ana") is None
    assert len(await app.services.orders.of_member(gone)) == 1  # accounting keeps the order
    assert (await app.services.ledger.balance(world.community.id, world.ana.id)).balance == 10
    assert await app.services.ledger.totals(world.community.id) == (0, 0)
    text = json.dumps(await privacy.export(gone))
    assert "Ana" not in text and "Great course" not in text
    with pytest.raises(NotAllowed):
        await privacy.forget(world.community, world.mei)  # the owner


async def test_creators_export_the_members(app: App, world: World) -> None:
    await buy(app, world, world.ana, world.py101)
    rows = (await app.services.privacy.export_members(world.community, world.mei)).decode().splitlines()
    assert rows[0] == "member_id,name,role,joined,accounts,points,paid_orders"
    assert any(r.startswith(f"{world.ana.id},Ana,learner,") and r.endswith(",console,10,1") for r in rows)
    with pytest.raises(NotAllowed):
        await app.services.privacy.export_members(world.community, world.ana)


async def test_forget_deletes_what_delivery_kept_about_the_members_accounts(app: App, world: World) -> None:
    from core.delivery.service import Option, SkipReason

    delivery = app.services.delivery
    await delivery.contact("console", "ana")
    await delivery.set_options("console", "ana", [Option("cmd:/help")])
    await delivery.skipped("console", "ana", world.ana.id, SkipReason.QUOTA_USED, "a note for Ana")
    await delivery.contact("console", "ben")
    exported = json.dumps(await app.services.privacy.export(world.ana))
    assert "a note for Ana" in exported
    await app.services.privacy.forget(world.community, world.ana)
    assert await delivery.claim_send("console", "ana") is SkipReason.NO_CONTACT
    assert await delivery.options("console", "ana") == []
    assert await delivery.latest_skipped("console") == []
    assert await delivery.claim_send("console", "ben") is None  # others' windows stay


async def test_of_two_subscriptions_to_one_plan_the_longer_stays(
    app: App, world: World, clock: ManualClock
) -> None:
    plans, subs = app.services.plans, app.services.subscriptions
    plan = await plans.add(
        world.community,
        world.mei,
        code="monthly",
        title="Monthly",
        price=Money("USD", 500),
        period="month",
        trial_days=7,
    )
    await subs.subscribe(world.community, world.ana, plan)  # a 7-day trial
    tg = await app.services.members.ensure_member(world.community, ANA_TG)
    paid = await subs.subscribe(world.community, tg, plan)  # a trial too, then a paid month
    assert paid.trial is not None
    order = (await subs.subscribe(world.community, tg, plan)).order
    assert order is not None
    await app.services.orders.record_payment(
        order.id, provider="sandbox", provider_ref="s1", paid=order.amount
    )
    longer = await subs.get(tg, plan)
    privacy = app.services.privacy
    await privacy.link(world.community, tg, await privacy.link_code(world.ana))
    kept = await subs.get(world.ana, plan)
    assert kept is not None and kept.id == longer.id and kept.status == "active"  # type: ignore[union-attr]
    assert await subs.of_member(world.ana) == [kept]


async def test_commissions_between_two_accounts_of_one_member_are_cancelled(
    app: App, world: World, clock: ManualClock
) -> None:
    from core.referrals.commission_models import Balance

    await app.services.commissions.set_rate(world.community, world.mei, "all", 1000)
    tg = await second_account(app, world, clock)  # Ana earned 10% on her Telegram account's orders
    assert await app.services.commissions.balances(world.ana) == [Balance("USD", 300, 0, 0)]
    privacy = app.services.privacy
    await privacy.link(world.community, tg, await privacy.link_code(world.ana))
    assert await app.services.commissions.balances(world.ana) == [Balance("USD", 0, 0, 0)]


async def test_points_credited_to_a_merged_member_move_on_to_the_survivor(
    app: App, world: World, clock: ManualClock
) -> None:
    """Another process whose member cache still knows the merged member credits it after the
    merge: the daily cleanup moves those points (and earned points) to the survivor, once."""
    tg = await second_account(app, world, clock)
    privacy, ledger, community_id = app.services.privacy, app.services.ledger, world.community.id
    await privacy.link(world.community, tg, await privacy.link_code(world.ana))
    before = (await ledger.balance(community_id, world.ana.id)).balance
    issuance = SystemAccount(SystemCode.ISSUANCE)
    late = Posting(community_id, issuance, MemberAccount(tg.id), 7, Kind.AWARD, "stale-cache", START)
    await ledger.post(late)
    assert (await ledger.balance(community_id, tg.id)).balance == 7
    assert await privacy.settle_merged(clock.now()) == 1
    assert (await ledger.balance(community_id, tg.id)).balance == 0
    assert (await ledger.balance(community_id, world.ana.id)).balance == before + 7
    async with app.db.read() as conn:
        accounts = await conn.execute(select(ledger_accounts.c.member_id, ledger_accounts.c.earned))
        earned = dict(accounts.all())
    assert earned[tg.id] == 0
    assert await privacy.settle_merged(clock.now()) == 0  # nothing left: nothing moves
    assert (await ledger.balance(community_id, world.ana.id)).balance == before + 7
    assert await ledger.totals(community_id) == (0, 0)
