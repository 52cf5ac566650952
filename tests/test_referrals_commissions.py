"""core/referrals/commissions.py: rates, accrual with a hold, refunds, payouts, the commission
ledger's invariants, and races between processes (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import App
from bot.config import Config
from core.catalog.money import Money
from core.clock import ManualClock
from core.errors import InvalidInput
from core.referrals.commission_models import Balance, commission_for, parse_percent, percent_text
from core.referrals.tables import commission_transfers, commissions
from tests.shop_fixtures import Shop

USD_1999 = Money("USD", 1999)


@pytest.fixture
async def second_app(config: Config, clock: ManualClock) -> AsyncIterator[App]:
    """Another process on the same database (its own engine and writer)."""
    other = await App.open(config, clock=clock)
    yield other
    await other.close()


async def referred(app: App, shop: Shop) -> None:
    """Ben invited Ana; referrers earn 10% on py101."""
    code = await app.services.referrals.code_of(shop.ben)
    assert await app.services.referrals.attribute(shop.community, shop.ana, code) is not None
    await app.services.commissions.set_rate(shop.community, shop.mei, "py101", 1000)


async def buy(app: App, shop: Shop) -> int:
    order = await app.services.orders.order_course(shop.community, shop.ana, shop.course)
    await app.services.orders.record_payment(
        order.id, provider="sandbox", provider_ref=f"p{order.id}", paid=USD_1999
    )
    return order.id


async def account_sums(app: App) -> dict[str, int]:
    """Every commission account's balance (credits less debits)."""
    sums: dict[str, int] = {}
    async with app.db.read() as conn:
        for debit, credit, amount in await conn.execute(
            select(
                commission_transfers.c.debit_account,
                commission_transfers.c.credit_account,
                commission_transfers.c.amount_minor,
            )
        ):
            sums[credit] = sums.get(credit, 0) + amount
            sums[debit] = sums.get(debit, 0) - amount
    assert sum(sums.values()) == 0  # double entry: the accounts always sum to zero
    return sums


def test_rounding_is_down_to_the_minor_unit() -> None:
    assert commission_for(1999, 1000) == 199  # 10% of $19.99 is $1.999: $1.99
    assert commission_for(1999, 1250) == 249  # 12.5%: $2.49875 → $2.49
    assert commission_for(50, 3333) == 16  # Stars have no minor unit: 16.665 ⭐ → 16
    assert commission_for(1, 9999) == 0


@given(st.integers(min_value=0, max_value=10_000))
def test_a_percentage_reads_back_as_it_prints(bp: int) -> None:
    assert parse_percent(percent_text(bp)) == bp


@pytest.mark.parametrize("text", ["", "ten", "-5", "101", "12.345", "10%%", "1e2"])
def test_bad_percentages_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_percent(text)


async def test_a_paid_order_accrues_pending_then_available_after_the_hold(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    await referred(app, shop)
    await buy(app, shop)
    service = app.services.commissions
    assert await service.balances(shop.ben) == [Balance("USD", 199, 0, 0)]
    clock.advance(timedelta(days=13, hours=23))
    assert await service.release_due(clock.now()) == 0
    clock.advance(timedelta(hours=1))
    assert await service.release_due(clock.now()) == 1
    assert await service.release_due(clock.now()) == 0  # idempotent
    assert await service.balances(shop.ben) == [Balance("USD", 0, 199, 0)]
    assert await account_sums(app) == {
        "expense": -199,
        f"pending:{shop.ben.id}": 0,
        f"available:{shop.ben.id}": 199,
    }


async def test_an_order_before_the_referral_or_a_free_one_earns_nothing(app: App, shop: Shop) -> None:
    await app.services.commissions.set_rate(shop.community, shop.mei, "all", 1000)
    await buy(app, shop)  # before Ana was referred
    code = await app.services.referrals.code_of(shop.ben)
    await app.services.referrals.attribute(shop.community, shop.ana, code)
    async with app.db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(commissions))).scalar() == 0


async def test_a_clawback_after_a_payout_is_offset_against_later_commissions(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    await referred(app, shop)
    first = await buy(app, shop)
    clock.advance(timedelta(days=15))
    service = app.services.commissions
    await service.release_due(clock.now())
    assert await service.pay(shop.community, shop.mei, shop.ben, "bank 1") == [Money("USD", 199)]
    await app.services.orders.record_refund(first, refunded_total=1999, provider_ref="r1")
    assert await service.balances(shop.ben) == [Balance("USD", 0, -199, 199)]
    assert await service.pay(shop.community, shop.mei, shop.ben, "bank 2") == []  # nothing to pay


async def test_the_job_catches_up_what_a_failed_hook_left(app: App, shop: Shop, clock: ManualClock) -> None:
    await referred(app, shop)
    hooks = app.services.orders._on_fulfilled
    saved, hooks[:] = list(hooks), []  # as if the process died right after delivering
    await buy(app, shop)
    hooks[:] = saved
    assert await app.services.commissions.balances(shop.ben) == []
    await app.services.commissions.catch_up(clock.now())
    await app.services.commissions.catch_up(clock.now())  # and again: nothing twice
    assert await app.services.commissions.balances(shop.ben) == [Balance("USD", 199, 0, 0)]


async def test_a_release_and_a_refund_racing_take_the_money_once(
    app: App, second_app: App, shop: Shop, clock: ManualClock
) -> None:
    await referred(app, shop)
    order_id = await buy(app, shop)
    clock.advance(timedelta(days=15))
    await asyncio.gather(
        app.services.commissions.release_due(clock.now()),
        second_app.services.orders.record_refund(order_id, refunded_total=1999, provider_ref="r1"),
    )
    await app.services.commissions.release_due(clock.now())
    assert await app.services.commissions.balances(shop.ben) == [Balance("USD", 0, 0, 0)]
    assert (await account_sums(app))["expense"] == 0


async def test_two_payouts_at_once_pay_once(
    app: App, second_app: App, shop: Shop, clock: ManualClock
) -> None:
    await referred(app, shop)
    await buy(app, shop)
    clock.advance(timedelta(days=15))
    await app.services.commissions.release_due(clock.now())
    paid = await asyncio.gather(
        app.services.commissions.pay(shop.community, shop.mei, shop.ben, "wire A"),
        second_app.services.commissions.pay(shop.community, shop.mei, shop.ben, "wire B"),
    )
    assert sorted(len(p) for p in paid) == [0, 1]
    assert await app.services.commissions.balances(shop.ben) == [Balance("USD", 0, 0, 199)]


async def test_one_order_accrued_by_two_processes_at_once_accrues_once(
    app: App, second_app: App, shop: Shop
) -> None:
    await referred(app, shop)
    hooks = app.services.orders._on_fulfilled
    saved, hooks[:] = list(hooks), []
    order_id = await buy(app, shop)
    hooks[:] = saved
    order = await app.services.orders.get(order_id)
    added = await asyncio.gather(
        app.services.commissions.accrue(order), second_app.services.commissions.accrue(order)
    )
    assert sorted(added) == [0, 1]
    assert await app.services.commissions.balances(shop.ben) == [Balance("USD", 199, 0, 0)]


async def test_only_creators_manage_rates_and_payouts(app: App, shop: Shop) -> None:
    from core.errors import NotAllowed

    service = app.services.commissions
    with pytest.raises(NotAllowed):
        await service.set_rate(shop.community, shop.ana, "py101", 1000)
    with pytest.raises(NotAllowed):
        await service.pay(shop.community, shop.ana, shop.ben, "x")
    with pytest.raises(NotAllowed):
        await service.export_csv(shop.community, shop.ana)


async def test_the_csv_export_lists_every_earner(app: App, shop: Shop) -> None:
    await referred(app, shop)
    await buy(app, shop)
    data = (await app.services.commissions.export_csv(shop.community, shop.mei)).decode()
    assert data.splitlines() == [
        "member_id,member,currency,pending,available,paid",
        f"{shop.ben.id},Ben,USD,1.99,0.00,0.00",
    ]
