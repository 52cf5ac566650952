"""core/access/subscriptions.py and plans.py: trials, paid periods, grace, cancelling, reminders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App
from bot.config import Config
from core.access.plans import Plan, add_period
from core.catalog.money import Money
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed
from core.i18n import render
from core.members.models import Member
from tests.shop_fixtures import Shop

DAY = timedelta(days=1)


def reason(error: pytest.ExceptionInfo[Exception]) -> str:
    return render(error.value.message, "en")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("start", "period", "end"),
    [
        (datetime(2026, 1, 31, 9, tzinfo=UTC), "month", datetime(2026, 2, 28, 9, tzinfo=UTC)),
        (datetime(2028, 1, 31, 9, tzinfo=UTC), "month", datetime(2028, 2, 29, 9, tzinfo=UTC)),
        (datetime(2026, 11, 15, 9, tzinfo=UTC), "quarter", datetime(2027, 2, 15, 9, tzinfo=UTC)),
        (datetime(2026, 2, 28, 9, tzinfo=UTC), "year", datetime(2027, 2, 28, 9, tzinfo=UTC)),
    ],
)
def test_periods_are_calendar_months(start: datetime, period: str, end: datetime) -> None:
    assert add_period(start, period) == end


async def monthly(app: App, shop: Shop, **extra: int) -> Plan:
    return await app.services.plans.add(
        shop.community,
        shop.mei,
        code="monthly",
        title="Monthly",
        price=Money("USD", 999),
        period="month",
        **extra,
    )


async def pay(app: App, shop: Shop, member: Member, plan: Plan) -> None:
    done = await app.services.subscriptions.subscribe(shop.community, member, plan)
    assert done.order is not None
    orders = app.services.orders
    await orders.record_payment(
        done.order.id, provider="sandbox", provider_ref=f"p{done.order.id}", paid=done.order.amount
    )


async def test_a_trial_once_then_paid_periods_that_follow_each_other(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    subs = app.services.subscriptions
    plan = await monthly(app, shop, trial_days=7)
    trial = await subs.subscribe(shop.community, shop.ana, plan)
    assert trial.trial is not None and trial.trial.period_end == clock.now() + 7 * DAY

    clock.advance(2 * DAY)
    await pay(app, shop, shop.ana, plan)  # paid during the trial: the month starts when the trial ends
    paid = await subs.get(shop.ana, plan)
    assert paid is not None and (paid.status, paid.period_end) == (
        "active",
        add_period(trial.trial.period_end, "month"),
    )

    with pytest.raises(InvalidInput) as caught:
        await subs.subscribe(shop.community, shop.ana, plan)
    assert reason(caught).startswith("You are subscribed to Monthly until")

    clock.set(paid.period_end - 3 * DAY)  # inside the renewal window
    await pay(app, shop, shop.ana, plan)
    renewed = await subs.get(shop.ana, plan)
    assert renewed is not None and renewed.period_end == add_period(paid.period_end, "month")
    assert (await subs.subscribe(shop.community, shop.ben, plan)).trial is not None  # Ben's own trial


async def test_an_unpaid_renewal_goes_to_grace_then_ends_and_paying_again_restarts(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    subs = app.services.subscriptions
    plan = await monthly(app, shop, grace_days=3)
    await pay(app, shop, shop.ana, plan)
    period_end = (await subs.get(shop.ana, plan)).period_end  # type: ignore[union-attr]

    clock.set(period_end)
    assert (await subs.tend(clock.now()))["grace"] == 1
    grace = await subs.get(shop.ana, plan)
    assert grace is not None and (grace.status, grace.access_until) == ("grace", period_end + 3 * DAY)
    assert await subs.entitled(shop.ana.id, plan.id)

    clock.advance(3 * DAY)
    assert (await subs.tend(clock.now()))["ended"] == 1
    assert (await subs.tend(clock.now())) == {"reminded": 0, "grace": 0, "ended": 0}  # idempotent
    assert not await subs.entitled(shop.ana.id, plan.id)

    await pay(app, shop, shop.ana, plan)  # back: a new month from now
    back = await subs.get(shop.ana, plan)
    assert back is not None and (back.status, back.period_end) == ("active", add_period(clock.now(), "month"))


async def test_a_cancelled_subscription_keeps_its_period_and_ends_without_grace(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    subs = app.services.subscriptions
    plan = await monthly(app, shop, grace_days=3)
    await pay(app, shop, shop.ana, plan)
    cancelled = await subs.cancel(shop.ana, plan)
    assert cancelled.cancel_at_period_end and await subs.entitled(shop.ana.id, plan.id)
    resumed = await subs.subscribe(shop.community, shop.ana, plan)
    assert resumed.resumed is not None and not resumed.resumed.cancel_at_period_end
    await subs.cancel(shop.ana, plan)

    clock.set(cancelled.period_end)
    assert (await subs.tend(clock.now()))["ended"] == 1
    with pytest.raises(InvalidInput):
        await subs.cancel(shop.ana, plan)


async def test_reminders_go_three_days_before_and_on_the_day_once_each(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    subs = app.services.subscriptions
    plan = await monthly(app, shop, trial_days=7)
    await subs.subscribe(shop.community, shop.ana, plan)
    texts = []
    for _day in range(8):
        await subs.tend(clock.now())
        texts += [render(r.segments[0].content, "en") for _, r in app.services.notices.take()]  # type: ignore[union-attr]
        clock.advance(DAY)
    assert texts == [
        "Your trial of Monthly ends on 2026-01-12. /subscribe monthly to keep your access.",
        "Your trial of Monthly ends on 2026-01-12. /subscribe monthly to keep your access.",
        "Your access to Monthly has ended. /subscribe monthly to come back.",
    ]


async def test_reminders_switched_off_are_not_sent_but_the_period_still_ends(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    subs = app.services.subscriptions
    await app.services.settings.set(shop.community.id, "push.renewal_reminders", "off", actor=shop.mei)
    plan = await monthly(app, shop, trial_days=7)
    await subs.subscribe(shop.community, shop.ana, plan)
    texts = []
    for _day in range(8):
        assert (await subs.tend(clock.now()))["reminded"] == 0
        texts += [render(r.segments[0].content, "en") for _, r in app.services.notices.take()]  # type: ignore[union-attr]
        clock.advance(DAY)
    assert texts == ["Your access to Monthly has ended. /subscribe monthly to come back."]


async def test_a_full_refund_of_a_period_ends_the_access(app: App, shop: Shop) -> None:
    subs, orders = app.services.subscriptions, app.services.orders
    plan = await monthly(app, shop)
    await pay(app, shop, shop.ana, plan)
    [order] = await orders.of_member(shop.ana)
    await orders.refund(shop.community, shop.mei, order.id, None)
    assert not await subs.entitled(shop.ana.id, plan.id)


async def test_plans_are_for_creators_and_bad_terms_are_refused(app: App, shop: Shop) -> None:
    plans = app.services.plans
    with pytest.raises(NotAllowed):
        await plans.add(shop.community, shop.ana, code="p1", title="P", price=Money("USD", 1), period="month")
    for values, expected in [
        (
            {"code": "p", "period": "month"},
            "A plan code is 2 to 30 lowercase letters, digits, - or _, like monthly.",
        ),
        ({"code": "p1", "period": "week"}, "A plan renews every month, quarter or year."),
        ({"code": "p1", "period": "month", "trial_days": 400}, "A trial lasts 0 to 365 days."),
        ({"code": "p1", "period": "month", "grace_days": 91}, "Grace lasts 0 to 90 days."),
    ]:
        with pytest.raises(InvalidInput) as caught:
            await plans.add(shop.community, shop.mei, title="P", price=Money("USD", 1), **values)  # type: ignore[arg-type]
        assert reason(caught) == expected


@pytest.fixture
async def second_app(config: Config, clock: ManualClock) -> AsyncIterator[App]:
    other = await App.open(config, clock=clock)
    yield other
    await other.close()


async def test_trials_started_at_once_from_two_processes_give_one_trial(
    app: App, second_app: App, shop: Shop
) -> None:
    plan = await monthly(app, shop, trial_days=7)
    results = await asyncio.gather(
        *(
            (app, second_app)[i % 2].services.subscriptions.subscribe(shop.community, shop.ana, plan)
            for i in range(4)
        )
    )
    assert sum(r.trial is not None for r in results) == 1
    assert all(r.order is not None for r in results if r.trial is None)


async def test_a_subscription_its_provider_renews_waits_a_day_for_the_renewal_before_grace(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    from sqlalchemy import update

    from core.access.tables import subscriptions

    subs = app.services.subscriptions
    plan = await monthly(app, shop, grace_days=3)
    await pay(app, shop, shop.ana, plan)
    async with app.db.write() as conn:  # as if bought as a Stripe subscription
        await conn.execute(update(subscriptions).values(provider="stripe", provider_ref="sub_1"))
    sub = await subs.get(shop.ana, plan)
    assert sub is not None and sub.renews_by_itself

    clock.set(sub.period_end - 2 * DAY)
    await subs.tend(clock.now())
    [(_, note)] = app.services.notices.take()
    assert render(note.segments[0].content, "en").startswith(
        "Your subscription to Monthly renews by itself on"
    )  # type: ignore[union-attr]
    clock.set(sub.period_end + timedelta(hours=12))
    assert (await subs.tend(clock.now()))["grace"] == 0  # the provider's invoice normally comes first
    assert await subs.renewed_by_provider("stripe", "sub_1", add_period(sub.period_end, "month"))
    renewed = await subs.get(shop.ana, plan)
    assert renewed is not None and renewed.period_end == add_period(sub.period_end, "month")
    clock.set(renewed.period_end + 2 * DAY)
    assert (await subs.tend(clock.now()))["grace"] == 1  # no renewal came: grace after all


async def test_a_plan_edited_in_several_fields_at_once_or_not_at_all(app: App, shop: Shop) -> None:
    from tests.conftest import snapshot

    plans = app.services.plans
    await monthly(app, shop, trial_days=7)
    before = await snapshot(app.db)
    for values, field in (
        ({"title": "New", "trial": 400}, "trial"),
        ({"price": Money("USD", 1), "grace": 91}, "grace"),
        ({"trial": 3, "tier": "Platinum"}, "tier"),
        ({"colour": "red"}, None),
    ):
        with pytest.raises(InvalidInput) as caught:
            await plans.edit_fields(shop.community, shop.mei, "monthly", values, via="dashboard")
        assert caught.value.field == field  # type: ignore[attr-defined]
    assert await snapshot(app.db) == before
    edited = await plans.edit_fields(
        shop.community, shop.mei, "monthly", {"title": "Monthly+", "trial": 14, "grace": 5}, via="dashboard"
    )
    assert (edited.title, edited.trial_days, edited.grace_days) == ("Monthly+", 14, 5)
