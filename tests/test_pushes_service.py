"""core/pushes/service.py: drafts and previews, the outbox (one row per recipient), claiming by
several workers, leases after a crash, pacing with 429s, skips with reasons, A/B conversion,
quiet hours, mutes and the automations."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, text, update

from bench.push_platform import FakePlatform
from bot.app import App
from bot.config import Config
from core.analytics.tables import member_scores
from core.catalog.money import Money
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed, NotFound
from core.events import ChatKind, ChatRef, UserRef
from core.i18n import render
from core.members.models import Community, Member, Role
from core.pushes.campaigns import two_proportion_z
from core.pushes.delivery import Pace, RateLimited, Unreachable
from core.pushes.outbox import MAX_ATTEMPTS, WORKER_LOCKS, worker_lock_key
from core.pushes.tables import push_campaigns, push_outbox
from core.replies import Reply, Text
from tests.conftest import START, snapshot

FAST = Pace(100_000, burst=1000)


class FakeChannel:
    """Records what it was asked to send; ``script`` answers per account (an exception to
    raise, in order, before sending)."""

    def __init__(self, pace: Pace = FAST) -> None:
        self.pace = pace
        self.sent: list[tuple[str, str, str]] = []  # account, text, key
        self.script: dict[str, list[Exception]] = {}
        self.calls: list[tuple[str, float]] = []
        self.delay = 0.0

    async def push(self, account: str, reply: Reply, locale: str, key: str) -> str:
        self.calls.append((account, time.monotonic()))
        queued = self.script.get(account)
        if queued:
            raise queued.pop(0)
        if self.delay:
            await asyncio.sleep(self.delay)
        text = "".join(render(s.content, locale) for s in reply.segments if isinstance(s, Text))
        self.sent.append((account, text, key))
        return f"m{len(self.sent)}"


async def people(app: App, n: int, platform: str = "fake") -> tuple[Community, Member, list[Member]]:
    """Mei (creator, console account only) and ``n`` learners with an account on ``platform``,
    which has a FakeChannel (tests replace it with their own)."""
    community = await app.community()
    members = app.services.members
    mei = await members.ensure_member(community, UserRef("console", "mei", "Mei"))
    mei = await members.assign_role(community, mei, Role.CREATOR, via="test")
    learners = [await members.ensure_member(community, UserRef(platform, f"u{i}", f"L{i}")) for i in range(n)]
    await app.services.settings.set(community.id, "push.quiet_start", "0", actor=mei)
    await app.services.settings.set(community.id, "push.quiet_end", "0", actor=mei)
    app.services.pushes.channels[platform] = FakeChannel()
    return community, mei, learners


async def outbox(app: App) -> list[tuple[int, str, str | None, str]]:
    async with app.db.read() as conn:
        rows = await conn.execute(
            select(
                push_outbox.c.member_id, push_outbox.c.status, push_outbox.c.reason, push_outbox.c.variant
            ).order_by(push_outbox.c.member_id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def reason(error: pytest.ExceptionInfo[Exception]) -> str:
    return render(error.value.message, "en")  # type: ignore[attr-defined]


@pytest.fixture
async def second_app(config: Config, clock: ManualClock) -> AsyncIterator[App]:
    """Another process on the same database (its own engine and writer)."""
    other = await App.open(config, clock=clock)
    yield other
    await other.close()


# -- drafts and confirmation -----------------------------------------------------------------


async def test_a_draft_previews_recipients_per_platform_and_sends_nothing(app: App) -> None:
    community, mei, learners = await people(app, 3)
    members = app.services.members
    await members.ensure_member(community, UserRef("telegram", "t1", "Tia"))
    await members.ensure_member(community, UserRef("console", "c1", "Cal"))  # no channel here
    await app.services.pushes.mute(learners[0])
    app.services.pushes.channels["fake"] = FakeChannel()
    preview = await app.services.pushes.draft(community, mei, "ALL", "Live class tonight")
    assert preview.per_platform == {"fake": 2, "telegram": 1}
    assert (preview.muted, preview.unreachable, preview.recipients) == (1, 1, 3)
    assert preview.campaign.status == "draft" and preview.campaign.segment == "all"
    assert await outbox(app) == []


async def test_only_creators_push_and_bad_drafts_change_nothing(app: App) -> None:
    community, mei, learners = await people(app, 2)
    pushes = app.services.pushes
    before = await snapshot(app.db)
    with pytest.raises(NotAllowed) as refused:
        await pushes.draft(community, learners[0], "all", "hi")
    assert reason(refused) == "Only creators can send pushes."
    with pytest.raises(InvalidInput) as unknown:
        await pushes.draft(community, mei, "nosuch", "hi")
    assert reason(unknown) == "There is no segment nosuch. /segments lists them."
    with pytest.raises(InvalidInput):
        await pushes.draft(community, mei, "all", "   ")
    with pytest.raises(InvalidInput):
        await pushes.draft(community, mei, "all", "A", "")
    with pytest.raises(NotFound):
        await pushes.confirm(community, mei, 999)
    assert await snapshot(app.db) == before


async def test_reach_counts_as_the_preview_does_and_stores_nothing(app: App) -> None:
    community, mei, learners = await people(app, 3)
    await app.services.pushes.mute(learners[0])
    before = await snapshot(app.db)
    reach = await app.services.pushes.reach(community, mei, " All ")
    assert (reach.per_platform, reach.muted, reach.unreachable, reach.recipients) == ({"fake": 2}, 1, 0, 2)
    assert await snapshot(app.db) == before
    with pytest.raises(NotAllowed):
        await app.services.pushes.reach(community, learners[1], "all")
    with pytest.raises(InvalidInput) as unknown:
        await app.services.pushes.reach(community, mei, "nosuch")
    assert reason(unknown) == "There is no segment nosuch. /segments lists them."
    draft = await app.services.pushes.draft(community, mei, "all", "Hi")
    assert (await app.services.pushes.preview(community, mei, draft.campaign.id)).reach == reach


async def test_texts_too_long_or_in_the_past_are_refused_by_the_core(app: App, clock: ManualClock) -> None:
    community, mei, _ = await people(app, 1)
    pushes = app.services.pushes
    before = await snapshot(app.db)
    with pytest.raises(InvalidInput) as long:
        await pushes.draft(community, mei, "all", "x" * 2001)
    assert reason(long) == "A push text is at most 2000 characters."
    with pytest.raises(InvalidInput):
        await pushes.draft(community, mei, "all", "A", "y" * 2001)
    with pytest.raises(InvalidInput):
        await pushes.draft(community, mei, "all", "A", None, clock.now() - timedelta(minutes=1))
    with pytest.raises(InvalidInput):
        await pushes.set_automation_text(community, mei, "winback", "z" * 2001)
    assert await snapshot(app.db) == before


async def test_a_test_send_goes_to_the_creator_alone_through_her_channel(app: App) -> None:
    community, mei, _ = await people(app, 2)
    pushes = app.services.pushes
    draft = await pushes.draft(community, mei, "all", "Text A", "Text B")
    with pytest.raises(InvalidInput) as nowhere:  # Mei's only account is on the console: no channel
        await pushes.send_test(community, mei, draft.campaign.id, "k1")
    assert reason(nowhere).startswith("The bot cannot send to you")
    channel = pushes.channels["console"] = FakeChannel()
    await pushes.mute(mei)  # she asked for it: muting does not stop a test
    assert await pushes.send_test(community, mei, draft.campaign.id, "k2") == "console"
    assert channel.sent == [("mei", "Text A", "k2:0"), ("mei", "Text B", "k2:1")]
    assert pushes.channels["fake"].sent == [] and await outbox(app) == []  # type: ignore[attr-defined]


async def test_the_list_pages_by_id_and_tallies_count_each_push(app: App) -> None:
    community, mei, learners = await people(app, 2)
    pushes = app.services.pushes
    ids = [(await pushes.draft(community, mei, "all", f"n{i}")).campaign.id for i in range(5)]
    await pushes.mute(learners[0])
    await pushes.confirm(community, mei, ids[0])
    assert [c.id for c in await pushes.campaigns(community, mei, limit=2)] == [ids[4], ids[3]]
    assert [c.id for c in await pushes.campaigns(community, mei, limit=2, before=ids[3])] == [ids[2], ids[1]]
    tallies = await pushes.tallies(community, mei, [ids[0], ids[1]])
    assert tallies[ids[0]]["pending"] == 1 and tallies[ids[0]]["skipped"] == 1
    assert sum(tallies[ids[1]].values()) == 0


async def test_confirming_makes_one_row_per_recipient_with_skip_reasons_once(
    app: App, second_app: App
) -> None:
    community, mei, learners = await people(app, 4)
    await app.services.members.ensure_member(community, UserRef("console", "c1", "Cal"))
    await app.services.pushes.mute(learners[1])
    for process in (app, second_app):
        process.services.pushes.channels["fake"] = FakeChannel()
    draft = await app.services.pushes.draft(community, mei, "all", "hi")
    results = await asyncio.gather(
        *(p.services.pushes.confirm(community, mei, draft.campaign.id) for p in (app, second_app, app)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, InvalidInput) for r in results if isinstance(r, Exception))
    rows = await outbox(app)
    assert len(rows) == 5
    assert Counter((status, why) for _, status, why, _ in rows) == {
        ("pending", None): 3,
        ("skipped", "muted"): 1,
        ("skipped", "no_account"): 1,
    }


# -- sending ---------------------------------------------------------------------------------


async def test_due_rows_are_sent_once_and_the_status_counts_them(app: App) -> None:
    community, mei, _learners = await people(app, 5)
    channel = FakeChannel()
    channel.script["u1"] = [Unreachable("dms_closed")]
    pushes = app.services.pushes
    pushes.channels["fake"] = channel
    draft = await pushes.draft(community, mei, "all", "Live class at 8")
    await pushes.confirm(community, mei, draft.campaign.id)
    report = await pushes.send_due()
    assert (report.sent, report.skipped, report.failed) == (4, 1, 0)
    assert sorted(a for a, _, _ in channel.sent) == ["u0", "u2", "u3", "u4"]
    assert {t for _, t, _ in channel.sent} == {"Live class at 8"}
    assert len({k for _, _, k in channel.sent}) == 4
    assert (await pushes.send_due()).sent == 0  # nothing twice
    status = await pushes.status(community, mei)
    assert status.campaign.status == "done"
    assert status.counts == {"pending": 0, "sending": 0, "sent": 4, "skipped": 1, "failed": 0}
    assert status.skipped == {"dms_closed": 1} and status.comparison is None
    async with app.db.read() as conn:
        ids = (
            await conn.execute(select(push_outbox.c.message_id).where(push_outbox.c.status == "sent"))
        ).scalars()
        assert sorted(ids) == ["m1", "m2", "m3", "m4"]


async def test_a_429_pauses_the_platform_for_retry_after_and_the_message_still_goes(app: App) -> None:
    community, mei, _ = await people(app, 3)
    channel = FakeChannel()
    channel.script["u0"] = [RateLimited(0.3)]
    pushes = app.services.pushes
    pushes.channels["fake"] = channel
    pushes.concurrency = 1
    await pushes.confirm(community, mei, (await pushes.draft(community, mei, "all", "x")).campaign.id)
    report = await pushes.send_due()
    assert (report.sent, report.throttled) == (3, 1)
    first_refusal = channel.calls[0][1]
    assert all(at - first_refusal >= 0.29 for _, at in channel.calls[1:])
    assert sorted(a for a, _, _ in channel.sent) == ["u0", "u1", "u2"]


async def test_errors_are_retried_later_then_recorded_as_failed(app: App, clock: ManualClock) -> None:
    community, mei, _ = await people(app, 2)
    channel = FakeChannel()
    channel.script["u0"] = [RuntimeError("boom")] * MAX_ATTEMPTS
    pushes = app.services.pushes
    pushes.channels["fake"] = channel
    await pushes.confirm(community, mei, (await pushes.draft(community, mei, "all", "x")).campaign.id)
    assert (await pushes.send_due()).retried == 1
    assert (await pushes.send_due()).retried == 0  # waits a minute before the next try
    for _ in range(MAX_ATTEMPTS - 1):
        clock.advance(timedelta(minutes=2))
        await pushes.send_due()
    status = await pushes.status(community, mei)
    assert status.counts["failed"] == 1 and status.failed == {"error": 1} and status.counts["sent"] == 1
    assert status.campaign.status == "done"


async def test_quiet_hours_and_the_scheduled_time_defer_sending(app: App, clock: ManualClock) -> None:
    community, mei, _ = await people(app, 2)
    settings, pushes = app.services.settings, app.services.pushes
    channel = FakeChannel()
    pushes.channels["fake"] = channel
    # Quiet from 08:00 to 12:00 UTC; the clock says 09:00.
    await settings.set(community.id, "push.quiet_start", "8", actor=mei)
    await settings.set(community.id, "push.quiet_end", "12", actor=mei)
    await pushes.confirm(community, mei, (await pushes.draft(community, mei, "all", "now")).campaign.id)
    later = await pushes.draft(community, mei, "all", "later", send_at=START + timedelta(hours=6))
    await pushes.confirm(community, mei, later.campaign.id)
    assert (await pushes.send_due()).sent == 0
    clock.set(START + timedelta(hours=3))  # 12:00: quiet hours are over
    assert (await pushes.send_due()).sent == 2
    assert {t for _, t, _ in channel.sent} == {"now"}
    clock.set(START + timedelta(hours=6))
    assert (await pushes.send_due()).sent == 2


async def test_a_member_who_mutes_after_confirmation_is_skipped(app: App) -> None:
    community, mei, learners = await people(app, 2)
    pushes = app.services.pushes
    pushes.channels["fake"] = FakeChannel()
    await pushes.confirm(community, mei, (await pushes.draft(community, mei, "all", "x")).campaign.id)
    assert await pushes.mute(learners[0]) and not await pushes.mute(learners[0])
    await pushes.send_due()
    assert (await pushes.status(community, mei)).skipped == {"muted": 1}
    assert await pushes.unmute(learners[0]) and not await pushes.unmute(learners[0])


async def test_cancelling_skips_what_was_not_sent(app: App) -> None:
    community, mei, _ = await people(app, 3)
    pushes = app.services.pushes
    draft = await pushes.draft(community, mei, "all", "x")
    await pushes.confirm(community, mei, draft.campaign.id)
    assert await pushes.cancel(community, mei, draft.campaign.id) == 3
    pushes.channels["fake"] = FakeChannel()
    assert (await pushes.send_due()).sent == 0
    status = await pushes.status(community, mei, draft.campaign.id)
    assert status.campaign.status == "cancelled" and status.skipped == {"cancelled": 3}
    with pytest.raises(InvalidInput):
        await pushes.cancel(community, mei, draft.campaign.id)


async def test_wechat_pushes_keep_to_the_48_hour_window_and_five_messages(
    app: App, clock: ManualClock
) -> None:
    community, mei, learners = await people(app, 2, platform="wechat")
    members = app.services.members
    chat = await members.ensure_chat(community, ChatRef("wechat", "oa", ChatKind.PRIVATE, "OA"))
    from core.activity.tables import activity

    async with app.db.write() as conn:  # u0 wrote an hour ago; u1 three days ago
        for member, ago in ((learners[0], timedelta(hours=1)), (learners[1], timedelta(days=3))):
            await conn.execute(
                insert(activity).values(
                    community_id=community.id,
                    member_id=member.id,
                    chat_id=chat.id,
                    at=clock.now() - ago,
                    kind="message",
                    text_length=5,
                )
            )
    pushes = app.services.pushes
    channel = FakeChannel()
    pushes.channels["wechat"] = channel
    for n in range(6):
        draft = await pushes.draft(community, mei, "all", f"news {n}")
        await pushes.confirm(community, mei, draft.campaign.id)
        await pushes.send_due()
        clock.advance(timedelta(minutes=1))
    assert [t for a, t, _ in channel.sent] == [f"news {n}" for n in range(5)]
    assert {a for a, _, _ in channel.sent} == {"u0"}
    assert (await pushes.status(community, mei)).skipped == {"wechat_window": 2}


# -- several workers, and crashes -----------------------------------------------------------


async def test_two_workers_on_their_own_connections_send_each_recipient_once(
    app: App, second_app: App
) -> None:
    community, mei, _ = await people(app, 300)
    channels = []
    for process in (app, second_app):
        channel = FakeChannel()
        channel.delay = 0.002
        process.services.pushes.channels["fake"] = channel
        process.services.pushes.batch = 20
        channels.append(channel)
    # The first worker holds its first batch until the second has sent one of its own, so
    # how the scheduler orders the two cannot decide the test: a worker that claimed more
    # than its batch would leave the second nothing, and the wait would end in its timeout.
    second_sent = asyncio.Event()
    first_push, second_push = channels[0].push, channels[1].push

    async def first_waits(account: str, reply: Reply, locale: str, key: str) -> str:
        with suppress(TimeoutError):
            await asyncio.wait_for(second_sent.wait(), 30)  # generous: a loaded machine
        return await first_push(account, reply, locale, key)

    async def second_tells(account: str, reply: Reply, locale: str, key: str) -> str:
        sent = await second_push(account, reply, locale, key)
        second_sent.set()
        return sent

    channels[0].push, channels[1].push = first_waits, second_tells  # type: ignore[method-assign]
    pushes = app.services.pushes
    await pushes.confirm(community, mei, (await pushes.draft(community, mei, "all", "x")).campaign.id)
    reports = await asyncio.gather(app.services.pushes.send_due(), second_app.services.pushes.send_due())
    keys = [k for channel in channels for _, _, k in channel.sent]
    assert len(keys) == len(set(keys)) == 300
    assert all(r.sent > 0 for r in reports)  # both took a share
    assert sum(r.lost_leases for r in reports) == 0


@asynccontextmanager
async def worker_alive(app: App, token: str) -> AsyncIterator[None]:
    """A worker holding ``token`` still runs: on PostgreSQL its process holds its lock."""
    if app.db.dialect != "postgresql":
        yield
        return
    keys = {"space": WORKER_LOCKS, "key": worker_lock_key(token)}
    async with app.db.engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:space, :key)"), keys)
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:space, :key)"), keys)


async def test_rows_of_a_stalled_worker_are_sent_after_its_lease_and_its_late_results_do_not_count(
    app: App, clock: ManualClock
) -> None:
    community, mei, _learners = await people(app, 3)
    pushes = app.services.pushes
    await pushes.confirm(community, mei, (await pushes.draft(community, mei, "all", "x")).campaign.id)
    async with app.db.write() as conn:  # a worker claimed everything and stalled
        await conn.execute(
            update(push_outbox).values(
                status="sending", claim_token="stalled", claimed_at=clock.now(), attempts=1
            )
        )
    channel = FakeChannel()
    pushes.channels["fake"] = channel
    async with worker_alive(app, "stalled"):
        assert (await pushes.send_due()).sent == 0  # its lease still runs
        clock.advance(pushes.lease + timedelta(seconds=1))
        assert (await pushes.send_due()).sent == 3
    async with app.db.write() as conn:  # the stalled worker's result arrives: ignored
        done = await conn.execute(
            update(push_outbox)
            .where(push_outbox.c.claim_token == "stalled", push_outbox.c.status == "sending")
            .values(status="failed")
        )
        assert done.rowcount == 0
    assert (await pushes.status(community, mei)).counts["sent"] == 3


async def test_rows_of_a_dead_worker_are_taken_over_at_once_on_postgresql(
    app: App, clock: ManualClock, backend: str
) -> None:
    """Its process died, and its lock with its connection: no waiting for the lease. A live
    worker's rows stay its own."""
    if backend == "sqlite":
        pytest.skip("PostgreSQL only: one process sends on SQLite")
    community, mei, learners = await people(app, 4)
    pushes = app.services.pushes
    await pushes.confirm(community, mei, (await pushes.draft(community, mei, "all", "x")).campaign.id)
    async with app.db.write() as conn:
        for token, member in (("dead", learners[0]), ("dead", learners[1]), ("alive", learners[2])):
            await conn.execute(
                update(push_outbox)
                .where(push_outbox.c.member_id == member.id)
                .values(status="sending", claim_token=token, claimed_at=clock.now(), attempts=1)
            )
    channel = FakeChannel()
    pushes.channels["fake"] = channel
    async with worker_alive(app, "alive"):
        assert (await pushes.send_due()).sent == 3  # the dead worker's two, and the pending one
    assert sorted(a for a, _, _ in channel.sent) == ["u0", "u1", "u3"]
    assert [status for _, status, _, _ in await outbox(app)] == ["sent", "sent", "sending", "sent"]


async def test_a_sender_killed_mid_campaign_and_restarted_delivers_to_everyone_exactly_once(
    app: App, db_url: str
) -> None:
    """The crash test: a worker process is killed (SIGKILL) right after the platform accepted
    its 150th message, before it could record it; a second worker finishes the campaign
    once the lease runs out. The platform deduplicates by the message key: every member gets
    exactly one message; the repeats are only those the dead worker had in flight."""
    community, mei, _ = await people(app, 400)
    pushes = app.services.pushes
    await pushes.confirm(community, mei, (await pushes.draft(community, mei, "all", "x")).campaign.id)
    platform = FakePlatform(rate=2000, burst=50, dedupe=True)
    url = await platform.start()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    command = [sys.executable, "-m", "tests.push_worker", db_url, url]
    try:
        first = await asyncio.create_subprocess_exec(*command, env=env)
        platform.on_accept = lambda n: os.kill(first.pid, signal.SIGKILL) if n == 150 else None
        assert await asyncio.wait_for(first.wait(), 60) == -signal.SIGKILL
        killed_at = platform.accepted
        assert 150 <= killed_at < 400
        second = await asyncio.create_subprocess_exec(*command, env=env)
        assert await asyncio.wait_for(second.wait(), 60) == 0
    finally:
        await platform.stop()
    assert set(platform.deliveries) == {f"u{i}" for i in range(400)}
    assert set(platform.deliveries.values()) == {1}
    assert 1 <= platform.repeats <= pushes.window
    assert (await pushes.status(community, mei)).counts["sent"] == 400
    async with app.db.read() as conn:
        retried = (await conn.execute(select(func.count()).where(push_outbox.c.attempts > 1))).scalar_one()
    assert retried >= platform.repeats


# -- A/B --------------------------------------------------------------------------------------


async def test_an_ab_push_splits_at_random_in_halves_and_compares_purchases_within_7_days(
    app: App, clock: ManualClock
) -> None:
    community, mei, learners = await people(app, 9)
    pushes = app.services.pushes
    pushes.channels["fake"] = FakeChannel()
    draft = await pushes.draft(community, mei, "all", "Course A copy", "Course B copy")
    assert draft.campaign.is_ab
    await pushes.confirm(community, mei, draft.campaign.id)
    variants = {member: variant for member, _, _, variant in await outbox(app)}
    assert sorted(Counter(variants.values()).values()) == [4, 5]
    await pushes.send_due()
    catalog, orders = app.services.catalog, app.services.orders
    course = await catalog.add_course(community, mei, "py101", Money("USD", 1000), "Python")
    b_members = [m for m in learners if variants[m.id] == "b"]
    a_members = [m for m in learners if variants[m.id] == "a"]
    clock.advance(timedelta(days=3))
    for buyer in b_members[:3] + a_members[:1]:
        order = await orders.order_course(community, buyer, course)
        await orders.record_payment(
            order.id, provider="sandbox", provider_ref=f"p{order.id}", paid=order.amount
        )
    clock.advance(timedelta(days=5))  # eight days after delivery: too late to count
    late = await orders.order_course(community, a_members[1], course)
    await orders.record_payment(late.id, provider="sandbox", provider_ref="late", paid=late.amount)
    comparison = (await pushes.status(community, mei)).comparison
    assert comparison is not None
    assert (comparison.a.sent, comparison.a.converted) == (len(a_members), 1)
    assert (comparison.b.sent, comparison.b.converted) == (len(b_members), 3)
    assert comparison.z == two_proportion_z(1, len(a_members), 3, len(b_members))
    assert not comparison.likely_real


def test_the_z_test_tells_a_real_difference_from_chance() -> None:
    assert two_proportion_z(100, 1000, 150, 1000) == pytest.approx(-3.38, abs=0.01)
    assert abs(two_proportion_z(10, 100, 12, 100) or 0) < 1.96
    assert two_proportion_z(0, 0, 1, 10) is None
    assert two_proportion_z(0, 10, 0, 10) is None


def test_the_split_depends_on_the_seed_only() -> None:
    from core.pushes.campaigns import Campaign, _split

    def campaign(seed: int) -> Campaign:
        return Campaign(1, 1, "push", "all", "a", "b", "draft", START, seed, START)

    ids = list(range(100))
    assert _split(campaign(7), ids) == _split(campaign(7), list(reversed(ids)))
    assert _split(campaign(7), ids) != _split(campaign(8), ids)


# -- automations ------------------------------------------------------------------------------


async def test_the_welcome_sequence_sends_day_0_1_and_3_once_each_when_on(
    app: App, clock: ManualClock
) -> None:
    community, mei, learners = await people(app, 0)
    pushes, settings = app.services.pushes, app.services.settings
    channel = FakeChannel()
    pushes.channels["fake"] = channel
    ana = await app.services.members.ensure_member(community, UserRef("fake", "ana", "Ana"))
    assert await pushes.automate(clock.now()) == {"welcome": 0, "winback": 0}  # off by default
    await settings.set(community.id, "push.welcome", "on", actor=mei)
    await pushes.set_automation_text(community, mei, "welcome1", "Day one: try /checkin")
    texts = []
    for _ in range(5 * 24):
        await pushes.automate(clock.now())
        await pushes.send_due()
        clock.advance(timedelta(hours=1))
    texts = [t for _, t, _ in channel.sent]
    assert texts == [
        "Welcome to testhall! /help shows what you can do here and /courses what you can learn.",
        "Day one: try /checkin",
        "Three days in: /courses has something for where you are now. /mute stops these messages.",
    ]
    assert learners == [] and ana.role is Role.LEARNER


async def test_win_back_goes_to_members_at_risk_at_most_once_per_period(app: App, clock: ManualClock) -> None:
    community, mei, learners = await people(app, 3)
    pushes, settings = app.services.pushes, app.services.settings
    channel = FakeChannel()
    pushes.channels["fake"] = channel
    async with app.db.write() as conn:
        await conn.execute(
            insert(member_scores),
            [
                {
                    "community_id": community.id,
                    "member_id": m.id,
                    "engagement_tenths": 100,
                    "cluster": 0,
                    "segments": segments,
                    "computed_at": clock.now(),
                }
                for m, segments in zip(learners, ("at-risk", "active,at-risk", "active"), strict=True)
            ],
        )
    await settings.set(community.id, "push.winback", "on", actor=mei)
    await settings.set(community.id, "push.winback_days", "10", actor=mei)
    for _ in range(12):
        await pushes.automate(clock.now())
        await pushes.send_due()
        clock.advance(timedelta(days=1))
    assert Counter(a for a, _, _ in channel.sent) == {"u0": 2, "u1": 2}
    assert (
        channel.sent[0][1] == "We miss you in testhall! /courses has what is new. /mute stops these messages."
    )
    await settings.set(community.id, "push.winback", "off", actor=mei)
    clock.advance(timedelta(days=30))
    assert (await pushes.automate(clock.now()))["winback"] == 0


async def test_automation_texts_are_for_creators_and_known_kinds(app: App) -> None:
    community, mei, learners = await people(app, 1)
    pushes = app.services.pushes
    with pytest.raises(NotAllowed):
        await pushes.set_automation_text(community, learners[0], "welcome0", "hi")
    with pytest.raises(InvalidInput):
        await pushes.set_automation_text(community, mei, "birthday", "hi")
    await pushes.set_automation_text(community, mei, "winback", "Come back!")
    assert await pushes.automation_texts(community) == {"winback": "Come back!"}
    await pushes.set_automation_text(community, mei, "winback", "")
    assert await pushes.automation_texts(community) == {}


async def test_campaign_rows_are_scoped_to_their_community(app: App) -> None:
    community, mei, _ = await people(app, 1)
    other = await app.services.members.ensure_community("elsewhere", default_locale="en", timezone="UTC")
    draft = await app.services.pushes.draft(community, mei, "all", "x")
    with pytest.raises((NotFound, NotAllowed)):
        await app.services.pushes.confirm(other, mei, draft.campaign.id)
    async with app.db.read() as conn:
        statuses = (await conn.execute(select(push_campaigns.c.status))).scalars().all()
    assert statuses == ["draft"] and await outbox(app) == []
