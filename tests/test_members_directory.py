"""core/members/directory.py: the member list staff browse (search, filters, keyset pages, the
CSV's batches) and a member's profile; and the core refusals the dashboard's actions rely on
(/forget asked by a creator for someone else; a role change audited with where it was asked)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import insert

from bot.app import App
from core.access.tables import plans, subscriptions
from core.audit.log import recent
from core.errors import InvalidInput, NotAllowed, NotFound
from core.events import UserRef
from core.ledger.models import Kind, MemberAccount, Posting, SystemAccount, SystemCode
from core.ledger.points import TierGrant
from core.members.directory import Filters, MemberDirectory
from core.members.models import Community, Member, Role
from core.orders.tables import orders
from tests.conftest import console_member


@dataclass
class World:
    app: App
    directory: MemberDirectory
    community: Community
    mei: Member  # the owner
    sam: Member  # a moderator
    ana: Member
    ben: Member
    tom: Member  # on Telegram


@pytest.fixture
async def world(app: App) -> World:
    services = app.services
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    sam = await console_member(app, "Sam", Role.MODERATOR)
    ana = await console_member(app, "Ana")
    ben = await console_member(app, "Ben")
    tom = await services.members.ensure_member(community, UserRef("telegram", "777123", "Tom"))
    directory = MemberDirectory(services.db, services.clock, services.members, services.points)
    return World(app, directory, await app.community(), mei, sam, ana, ben, tom)


async def names(world: World, filters: Filters | None = None) -> list[str]:
    found = await world.directory.page(world.community, world.mei, filters or Filters(), limit=100)
    return [row.member.display_name for row in found.rows]


async def give(world: World, member: Member, points: int, kind: str = Kind.AWARD) -> None:
    now = world.app.services.clock.now()
    await world.app.services.ledger.post(
        Posting(
            community_id=world.community.id,
            debit=SystemAccount(SystemCode.ISSUANCE),
            credit=MemberAccount(member.id),
            amount=points,
            kind=kind,
            key=f"test:{member.id}:{points}",
            at=now,
        )
    )


async def paid_order(world: World, member: Member, amount: int, status: str = "paid") -> None:
    now = world.app.services.clock.now()
    async with world.app.db.write() as conn:
        await conn.execute(
            insert(orders).values(
                community_id=world.community.id,
                member_id=member.id,
                product_kind="course",
                product_id=1,
                title="Python",
                list_minor=amount,
                amount_minor=amount,
                currency="USD",
                status=status,
                provider="sandbox",
                created_at=now,
                expires_at=now,
                paid_at=now,
            )
        )


async def test_newest_first_in_keyset_pages(world: World) -> None:
    first = await world.directory.page(world.community, world.mei, Filters(), limit=2)
    assert [r.member.display_name for r in first.rows] == ["Tom", "Ben"]
    assert first.before == world.ben.id
    second = await world.directory.page(world.community, world.mei, Filters(), before=first.before, limit=2)
    assert [r.member.display_name for r in second.rows] == ["Ana", "Sam"]
    last = await world.directory.page(world.community, world.mei, Filters(), before=second.before, limit=2)
    assert [r.member.display_name for r in last.rows] == ["Mei"] and last.before is None


async def test_rows_carry_platforms_balance_and_spend(world: World) -> None:
    await world.app.services.privacy.link(
        world.community, world.tom, await world.app.services.privacy.link_code(world.ana)
    )  # Ana (older) and Tom become one member: Ana, on two platforms
    await give(world, world.ana, 30)
    await paid_order(world, world.ana, 1999)
    await paid_order(world, world.ana, 500, status="pending")  # not spent
    [row] = (await world.directory.page(world.community, world.mei, Filters(query="ana"))).rows
    assert row.platforms == ("console", "telegram") and row.balance == 30
    assert [(m.currency, m.minor) for m in row.spend] == [("USD", 1999)]
    assert "Tom" not in await names(world)  # merged: only the survivor is listed


async def test_search_by_a_part_of_the_name_or_an_account_id(world: World) -> None:
    services = world.app.services
    await services.members.ensure_member(world.community, UserRef("discord", "5550001", "ÉMILE 100%"))
    assert await names(world, Filters(query="émi")) == ["ÉMILE 100%"]  # Unicode case folding
    assert await names(world, Filters(query="0%")) == ["ÉMILE 100%"]
    assert await names(world, Filters(query="_")) == []  # LIKE's wildcards are plain characters
    assert await names(world, Filters(query="777123")) == ["Tom"]
    assert await names(world, Filters(query="@5550001")) == ["ÉMILE 100%"]
    assert await names(world, Filters(query="777123", platform="discord")) == []


async def test_filters_by_role_platform_and_paying(world: World) -> None:
    assert await names(world, Filters(role=Role.MODERATOR)) == ["Sam"]
    assert await names(world, Filters(platform="telegram")) == ["Tom"]
    await paid_order(world, world.ana, 1999)
    await paid_order(world, world.ben, 1999, status="refunded")  # refunded in full: not paying
    now = world.app.services.clock.now()
    async with world.app.db.write() as conn:
        plan_id = (
            await conn.execute(
                insert(plans)
                .values(
                    community_id=world.community.id,
                    code="pro",
                    title="Pro",
                    price_minor=900,
                    currency="USD",
                    period="month",
                    created_at=now,
                )
                .returning(plans.c.id)
            )
        ).scalar_one()
        await conn.execute(
            insert(subscriptions).values(
                community_id=world.community.id,
                member_id=world.tom.id,
                plan_id=plan_id,
                status="active",
                period_end=now,
                started_at=now,
                updated_at=now,
            )
        )
    assert await names(world, Filters(paying=True)) == ["Tom", "Ana"]
    assert await names(world, Filters(paying=False)) == ["Ben", "Sam", "Mei"]
    assert await names(world, Filters(paying=True, role=Role.LEARNER, query="to")) == ["Tom"]


async def test_the_tier_filter_follows_the_tier_members_have(world: World) -> None:
    await give(world, world.ana, 600)  # premium (500) by points
    await give(world, world.ben, 2500)  # VIP (2000) by points
    assert await names(world, Filters(tier="premium")) == ["Ana"]
    assert await names(world, Filters(tier="VIP")) == ["Ben"]
    assert await names(world, Filters(tier="REGULAR")) == ["Tom", "Sam", "Mei"]
    points = world.app.services.points

    async def grants(community_id: int) -> dict[int, list[TierGrant]]:
        return {world.ana.id: [TierGrant("VIP", "Gold")], world.tom.id: [TierGrant("premium", "Silver")]}

    points.add_tier_grants(grants)
    points.forget_tier_grants(world.community.id)
    assert await names(world, Filters(tier="VIP")) == ["Ben", "Ana"]  # a plan lifts Ana
    assert await names(world, Filters(tier="premium")) == ["Tom"]
    assert await names(world, Filters(tier="regular")) == ["Sam", "Mei"]
    with pytest.raises(InvalidInput):
        await names(world, Filters(tier="gold"))


async def test_the_segment_filter_is_a_cluster_of_the_latest_run(world: World) -> None:
    from core.analytics.tables import analytics_runs, member_scores

    now = world.app.services.clock.now()
    async with world.app.db.write() as conn:
        await conn.execute(
            insert(analytics_runs).values(
                community_id=world.community.id,
                computed_at=now,
                summary='{"clusters": [{"number": 1, "name": "fans", "size": 2}, {"number": 2, "size": 1}]}',
            )
        )
        for member, cluster in ((world.ana, 1), (world.ben, 1), (world.tom, 2)):
            await conn.execute(
                insert(member_scores).values(
                    community_id=world.community.id,
                    member_id=member.id,
                    engagement_tenths=0,
                    cluster=cluster,
                    segments="",
                    computed_at=now,
                )
            )
    choices = await world.directory.choices(world.community, world.sam)
    assert [(s.number, s.name) for s in choices.segments] == [(1, "fans"), (2, None)]
    assert choices.platforms == ("console", "telegram")
    assert await names(world, Filters(segment=1)) == ["Ben", "Ana"]
    assert await names(world, Filters(segment=2, role=Role.LEARNER)) == ["Tom"]


async def test_the_export_is_for_creators_in_batches(world: World) -> None:
    batches = [
        [r.member.display_name for r in batch]
        async for batch in world.directory.export(world.community, world.mei, Filters(), batch=2)
    ]
    assert batches == [["Tom", "Ben"], ["Ana", "Sam"], ["Mei"]]
    learners = world.directory.export(world.community, world.mei, Filters(role=Role.LEARNER), batch=3)
    assert [len(b) async for b in learners] == [3]
    with pytest.raises(NotAllowed):
        await anext(world.directory.export(world.community, world.sam, Filters()))


async def test_learners_see_no_one_and_other_communities_are_not_found(world: World) -> None:
    with pytest.raises(NotAllowed):
        await world.directory.page(world.community, world.ana, Filters())
    with pytest.raises(NotAllowed):
        await world.directory.profile(world.community, world.ana, world.ben.id)
    members = world.app.services.members
    other = await members.ensure_community("other", default_locale="en", timezone="UTC")
    stranger = await members.ensure_member(other, UserRef("console", "zed", "Zed"))
    with pytest.raises(NotFound):
        await world.directory.profile(world.community, world.mei, stranger.id)
    with pytest.raises(NotFound):
        await world.directory.member(world.community, world.sam, 10**12)
    assert "Zed" not in await names(world)


async def test_the_profile_gathers_points_orders_and_referrals(world: World) -> None:
    await give(world, world.ana, 40)
    await paid_order(world, world.ana, 1999)
    from core.referrals.tables import referrals

    now = world.app.services.clock.now()
    async with world.app.db.write() as conn:
        await conn.execute(
            insert(referrals).values(
                referee_member_id=world.ben.id,
                community_id=world.community.id,
                referrer_member_id=world.ana.id,
                attributed_at=now,
            )
        )
    profile = await world.directory.profile(world.community, world.sam, world.ana.id)
    assert (profile.balance, profile.earned, profile.tier.name) == (40, 40, "regular")
    assert [h.signed_amount for h in profile.history] == [40]
    assert [(o.title, o.price.minor, o.status) for o in profile.orders] == [("Python", 1999, "paid")]
    assert [m.display_name for m in profile.referred] == ["Ben"] and profile.referred_count == 1
    assert [(i.platform, i.external_id) for i in profile.accounts] == [("console", "ana")]
    assert not profile.owner and not profile.forgotten
    ben = await world.directory.profile(world.community, world.mei, world.ben.id)
    assert ben.referred_by is not None and ben.referred_by.id == world.ana.id
    assert (await world.directory.profile(world.community, world.mei, world.mei.id)).owner


async def test_forget_asked_by_a_creator_for_someone_else(world: World) -> None:
    privacy = world.app.services.privacy
    kai = await console_member(world.app, "Kai", Role.CREATOR)  # a creator, not the owner
    with pytest.raises(NotAllowed):
        await privacy.forget(world.community, world.ana, actor=world.sam)  # a moderator
    with pytest.raises(NotAllowed, match="Only the owner can erase a creator"):
        await privacy.forget(world.community, kai, actor=await console_member(world.app, "Lin", Role.CREATOR))
    with pytest.raises(NotAllowed, match="The owner cannot be forgotten"):
        await privacy.forget(world.community, world.mei, actor=kai)
    await privacy.forget(world.community, world.ana, actor=kai, via="dashboard")
    gone = await world.app.services.members.get_member(world.ana.id, fresh=True)
    assert gone.display_name == "deleted member"
    async with world.app.db.read() as conn:
        [entry, *_] = await recent(conn, world.community.id, subject_member_id=world.ana.id)
    assert (entry.action, entry.actor_member_id, entry.detail) == (
        "member.forget",
        kai.id,
        {"via": "dashboard"},
    )
    await privacy.forget(world.community, kai, actor=world.mei)  # the owner may
    assert (await world.app.services.members.get_member(kai.id, fresh=True)).display_name == "deleted member"


async def test_a_role_change_is_audited_with_where_it_was_asked(world: World) -> None:
    await world.app.services.members.change_role(
        world.community, world.mei, world.ana, Role.MODERATOR, reason="helpful", via="dashboard"
    )
    async with world.app.db.read() as conn:
        [entry, *_] = await recent(conn, world.community.id, subject_member_id=world.ana.id)
    assert entry.detail == {
        "before": "learner",
        "after": "moderator",
        "reason": "helpful",
        "via": "dashboard",
    }
