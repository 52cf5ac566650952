"""core/access/paid_chats.py: who may be in a paid chat, and keeping it so."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.app import App
from core.access.ports import PlatformRefused
from core.catalog.money import Money
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed
from core.events import ChatKind, ChatRef, UserRef
from core.i18n import msg, render
from core.members.models import Chat, Member
from tests.shop_fixtures import Shop


class FakePort:
    """A platform that records what it is asked and refuses when told to."""

    platform = "console"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.refuse: str | None = None
        self.missing: list[str] = []

    async def _do(self, verb: str, account: str) -> None:
        self.calls.append((verb, account))
        if self.refuse:
            raise PlatformRefused(msg("give the bot the Ban users right"))

    async def single_use_invite(self, chat_id: str, *, for_account: str, expires_at: datetime) -> str:
        await self._do("invite", for_account)
        return f"https://t.me/+{for_account}"

    async def approve_join(self, chat_id: str, account: str) -> None:
        await self._do("approve", account)

    async def decline_join(self, chat_id: str, account: str) -> None:
        await self._do("decline", account)

    async def remove(self, chat_id: str, account: str) -> None:
        await self._do("remove", account)

    async def is_member(self, chat_id: str, account: str) -> bool:
        return True

    async def missing_rights(self, chat_id: str) -> list[Any]:
        return [msg("give the bot the {right} right", right=right) for right in self.missing]


@pytest.fixture
def port(app: App) -> FakePort:
    fake = FakePort()
    app.services.paid_chats.ports["console"] = fake
    return fake


async def vip(app: App, shop: Shop, *, already_in: tuple[Member, ...] = ()) -> Chat:
    """The group vip, made paid (py101) after ``already_in`` joined it while it was free."""
    chat = await app.services.members.ensure_chat(
        shop.community, ChatRef("console", "group:vip", ChatKind.GROUP, "vip")
    )
    for member in already_in:
        await app.services.paid_chats.joined(shop.community, member, chat, member.display_name.lower())
    await app.services.paid_chats.bind(shop.community, shop.mei, chat, "course", "py101")
    return chat


async def buy(app: App, shop: Shop, member: Member) -> None:
    orders = app.services.orders
    order = await orders.order_course(shop.community, member, shop.course)
    await orders.record_payment(order.id, provider="sandbox", provider_ref=f"p{order.id}", paid=order.amount)


async def test_join_requests_are_approved_for_owners_and_staff_and_declined_with_the_way_in(
    app: App, shop: Shop, port: FakePort
) -> None:
    paid = app.services.paid_chats
    chat = await vip(app, shop)
    refused = await paid.join_requested(shop.community, shop.ana, chat, "ana")
    assert refused is not None and render(refused.segments[0].content, "en") == (  # type: ignore[union-attr]
        "vip is for members only. To get in: /buy py101."
    )
    await buy(app, shop, shop.ana)
    welcomed = await paid.join_requested(shop.community, shop.ana, chat, "ana")
    assert welcomed is not None and await paid.in_chat(chat, shop.ana)
    assert await paid.entitled(shop.community, shop.mei, chat)  # staff always
    assert port.calls == [("decline", "ana"), ("approve", "ana")]


async def test_someone_who_gets_in_without_access_is_taken_out(app: App, shop: Shop, port: FakePort) -> None:
    paid = app.services.paid_chats
    chat = await vip(app, shop)
    told = await paid.joined(shop.community, shop.ben, chat, "ben")
    assert told is not None and not await paid.in_chat(chat, shop.ben)
    assert port.calls == [("remove", "ben")]


async def test_reconciliation_removes_the_lapsed_invites_the_missing_and_then_rests(
    app: App, shop: Shop, port: FakePort
) -> None:
    paid = app.services.paid_chats
    chat = await vip(app, shop, already_in=(shop.ana,))  # in since before the chat became paid
    assert await paid.in_chat(chat, shop.ana)
    await buy(app, shop, shop.ben)  # paid, but not in the chat

    planned = await paid.plan(shop.community)
    assert [(a.verb, a.member.display_name) for a in planned] == [("remove", "Ana"), ("invite", "Ben")]
    assert port.calls == []  # a plan changes nothing

    done = await paid.reconcile(shop.community)
    assert [(a.verb, a.member.display_name) for a in done] == [("remove", "Ana"), ("invite", "Ben")]
    assert port.calls == [("remove", "ana"), ("invite", "ben")]
    notes = [render(r.segments[0].content, "en") for _, r in app.services.notices.take()]  # type: ignore[union-attr]
    assert notes == [
        "vip is for members only. To get in: /buy py101.",
        "You have access to vip: join with https://t.me/+ben (for you only, valid 24 hours).",
    ]
    assert await paid.reconcile(shop.community) == []  # idempotent


async def test_a_refusal_is_reported_to_creators_once_a_day_without_retry_storms(
    app: App, shop: Shop, port: FakePort, clock: ManualClock
) -> None:
    paid = app.services.paid_chats
    await vip(app, shop, already_in=(shop.ana,))
    port.refuse = "ban"

    for _ in range(3):
        assert await paid.reconcile(shop.community) == []
    notes = app.services.notices.take()
    assert [(r.to_member, render(r.segments[0].content, "en")) for _, r in notes] == [  # type: ignore[union-attr]
        (shop.mei.id, "Paid chat vip: give the bot the Ban users right")
    ]
    assert len(port.calls) == 3  # one attempt per run, not a loop
    clock.advance(timedelta(days=1, minutes=1))
    await paid.reconcile(shop.community)
    assert len(app.services.notices.take()) == 1


async def test_plans_and_tiers_grant_access_too(app: App, shop: Shop) -> None:
    paid = app.services.paid_chats
    members = app.services.members
    club = await members.ensure_chat(shop.community, ChatRef("console", "group:club", ChatKind.GROUP, "club"))
    await paid.bind(shop.community, shop.mei, club, "tier", "premium")
    assert not await paid.entitled(shop.community, shop.ana, club)
    await app.services.points.award(shop.community, shop.mei, shop.ana, 500, "great work", "award:ana")
    assert await paid.entitled(shop.community, shop.ana, club)

    plan = await app.services.plans.add(
        shop.community,
        shop.mei,
        code="monthly",
        title="Monthly",
        price=Money("USD", 999),
        period="month",
        trial_days=3,
    )
    room = await members.ensure_chat(shop.community, ChatRef("console", "group:room", ChatKind.GROUP, "room"))
    await paid.bind(shop.community, shop.mei, room, "plan", "monthly")
    await app.services.subscriptions.subscribe(shop.community, shop.ben, plan)
    assert await paid.entitled(shop.community, shop.ben, room)


async def test_only_creators_bind_group_chats_to_things_that_exist(app: App, shop: Shop) -> None:
    paid = app.services.paid_chats
    members = app.services.members
    group = await members.ensure_chat(shop.community, ChatRef("console", "group:g", ChatKind.GROUP, "g"))
    dm = await members.ensure_chat(shop.community, ChatRef("console", "dm:mei", ChatKind.PRIVATE, "Mei"))
    with pytest.raises(NotAllowed):
        await paid.bind(shop.community, shop.ana, group, "course", "py101")
    for chat, kind, target, expected in [
        (
            dm,
            "course",
            "py101",
            "Bind a group or a channel: send /bind inside the group, or in our private chat to choose one.",
        ),
        (group, "course", "nope", "There is no course nope. /courses lists them."),
        (group, "plan", "nope", "There is no plan nope. /plans lists them."),
        (group, "tier", "gold", "There is no tier gold; /tier list shows them."),
    ]:
        with pytest.raises(InvalidInput) as caught:
            await paid.bind(shop.community, shop.mei, chat, kind, target)
        assert render(caught.value.message, "en") == expected
    assert await paid.bindings(shop.community) == []
    assert await members.ensure_member(
        shop.community, UserRef("console", "x", "X")
    )  # unrelated members are fine


async def test_rights_the_bot_lacks_are_reported_once_and_shown_by_a_check(
    app: App, shop: Shop, port: FakePort
) -> None:
    paid = app.services.paid_chats
    await vip(app, shop)
    port.missing = ["Ban users"]
    assert [(c.title, render(p, "en")) for c, p in await paid.problems(shop.community)] == [
        ("vip", "give the bot the Ban users right")
    ]
    await paid.reconcile(shop.community)
    await paid.reconcile(shop.community)
    notes = [render(r.segments[0].content, "en") for _, r in app.services.notices.take()]  # type: ignore[union-attr]
    assert notes == ["Paid chat vip: give the bot the Ban users right"]


class AdmittingPort(FakePort):
    """A platform where the bot lets members in itself (Discord: the channel's role)."""

    async def admit(self, chat_id: str, account: str) -> None:
        await self._do("admit", account)


async def test_where_the_platform_admits_directly_the_entitled_are_let_in_not_invited(
    app: App, shop: Shop
) -> None:
    port = AdmittingPort()
    app.services.paid_chats.ports["console"] = port
    paid = app.services.paid_chats
    chat = await vip(app, shop)
    await buy(app, shop, shop.ben)
    assert [(a.verb, a.member.display_name) for a in await paid.plan(shop.community)] == [("admit", "Ben")]
    done = await paid.reconcile(shop.community)
    assert [(a.verb, a.member.display_name) for a in done] == [("admit", "Ben")]
    assert port.calls == [("admit", "ben")]  # no invite link
    notes = [render(r.segments[0].content, "en") for _, r in app.services.notices.take()]  # type: ignore[union-attr]
    assert notes == ["You now have access to vip."]
    assert await paid.in_chat(chat, shop.ben)
    assert await paid.reconcile(shop.community) == []  # idempotent


async def test_a_refused_admission_is_reported_and_retried_later_not_marked_done(
    app: App, shop: Shop
) -> None:
    port = AdmittingPort()
    port.refuse = "yes"
    app.services.paid_chats.ports["console"] = port
    paid = app.services.paid_chats
    chat = await vip(app, shop)
    await buy(app, shop, shop.ben)
    assert await paid.reconcile(shop.community) == []
    assert not await paid.in_chat(chat, shop.ben)
    notes = [render(r.segments[0].content, "en") for _, r in app.services.notices.take()]  # type: ignore[union-attr]
    assert notes == ["Paid chat vip: give the bot the Ban users right"]  # to the creator, once
