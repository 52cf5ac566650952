"""Push campaigns: a creator's draft with its preview, confirmation into the outbox, sending at
the platforms' pace, status with A/B conversion, muting, and the automations.

The outbox has one row per recipient (unique per campaign and member), made when the push is
confirmed; a recipient who is muted or has no account anywhere gets a ``skipped`` row with the
reason. Sending claims rows under a lease (``sending``, ``claim_token``, ``claimed_at``) — on
PostgreSQL with ``FOR UPDATE SKIP LOCKED`` so several workers take disjoint rows, on SQLite
inside the single writer's ``BEGIN IMMEDIATE`` — and marks a row ``sent`` (with the
platform's message id) only after the platform accepted the message, by a conditional update
that only the lease holder can make.

The delivery guarantee: every recipient is sent to, and no row is held by two workers at once
(unless one stalls past its lease, ``lease``, 2 minutes; its late result is then ignored and
counted in ``lost_leases``). A worker that dies leaves its claimed rows ``sending``; once the
lease expires another worker claims them again. Rows claimed but not yet handed to the
platform cost nothing; the only messages a crash can repeat are those the platform accepted
while their result was not yet recorded: sends in flight and results waiting for their group
commit together never exceed ``window`` (32) per worker. Each send carries a key unique per
campaign and member, so a platform or gateway that deduplicates by it makes the repeat
harmless: exactly once per member. Telegram, Discord and WeChat take no such key, so there a
crash may repeat up to ``window`` messages, never more, and never loses one.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.activity.tables import activity
from core.analytics.service import AnalyticsService
from core.clock import Clock
from core.errors import InvalidInput, NotFound
from core.i18n import Msg, msg
from core.members.models import Community, Member, require_creator
from core.members.service import MemberService
from core.members.tables import chats, identities, members
from core.orders.tables import orders
from core.pushes.delivery import DEFAULT_PACE, PACES, PushChannel, RateLimited, Unreachable
from core.pushes.pacing import Pacer
from core.pushes.schedule import is_quiet
from core.pushes.tables import push_automation_texts, push_campaigns, push_mutes, push_outbox
from core.replies import Reply
from core.settings.service import SettingsService
from core.storage.database import Database
from core.storage.types import UTCDateTime
from core.storage.upsert import insert_or_ignore, insert_or_update

log = logging.getLogger(__name__)

PLATFORM_PREFERENCE = ("telegram", "discord", "wechat")  # the first a member has is used
WELCOME_STEPS = {"welcome0": 0, "welcome1": 1, "welcome3": 3}
AUTOMATIONS = (*WELCOME_STEPS, "winback")
# A welcome step is sent up to this long after it fell due: turning the sequence on greets
# the members who joined lately, not everyone who ever did.
WELCOME_CATCH_UP = timedelta(days=1)
CONVERSION_WINDOW = timedelta(days=7)
PAID = ("paid", "fulfilled", "refunded")
WECHAT_WINDOW = timedelta(hours=48)  # customer-service messages only this long after a message
WECHAT_MAX_IN_WINDOW = 5
MAX_ATTEMPTS = 3  # failed sends (errors, not 429s) before a row is given up
MAX_RATE_RETRIES = 20  # 429s in a row for one message before it waits for a later run
CHUNK = 2000  # ids per IN (...) list
LIVE = ("scheduled", "sending")

DEFAULT_TEXTS: dict[str, Msg] = {
    "welcome0": msg(
        "Welcome to {community}! /help shows what you can do here and /courses what you can learn."
    ),
    "welcome1": msg("How is it going? A daily /checkin earns points, and /ask gets your questions answered."),
    "welcome3": msg(
        "Three days in: /courses has something for where you are now. /mute stops these messages."
    ),
    "winback": msg("We miss you in {community}! /courses has what is new. /mute stops these messages."),
}


@dataclass(frozen=True)
class Campaign:
    id: int
    community_id: int
    kind: str
    segment: str
    text_a: str | None
    text_b: str | None
    status: str
    send_at: datetime
    seed: int
    created_at: datetime

    @property
    def is_ab(self) -> bool:
        return self.text_b is not None


@dataclass(frozen=True)
class Preview:
    campaign: Campaign
    per_platform: dict[str, int]
    muted: int
    unreachable: int  # no account on any platform

    @property
    def recipients(self) -> int:
        return sum(self.per_platform.values())


@dataclass(frozen=True)
class VariantResult:
    variant: str
    sent: int
    converted: int

    @property
    def rate(self) -> float:
        return self.converted / self.sent if self.sent else 0.0


@dataclass(frozen=True)
class Comparison:
    a: VariantResult
    b: VariantResult
    z: float | None
    likely_real: bool
    window_ends: datetime | None  # when the last recipient's 7 days end; None: nothing sent


@dataclass(frozen=True)
class CampaignStatus:
    campaign: Campaign
    counts: dict[str, int]  # pending, sending, sent, skipped, failed
    skipped: dict[str, int]  # by reason
    failed: dict[str, int]  # by reason
    comparison: Comparison | None


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0  # errors that will be tried again
    throttled: int = 0  # 429s answered
    lost_leases: int = 0  # results another worker had already taken over

    def add(self, other: SendReport) -> None:
        for name in ("sent", "skipped", "failed", "retried", "throttled", "lost_leases"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class _Address:
    member_id: int
    platform: str | None
    account: str | None
    locale: str
    muted: bool


@dataclass(frozen=True)
class _Row:
    id: int
    campaign_id: int
    community_id: int
    member_id: int
    variant: str
    platform: str
    account: str
    locale: str
    attempts: int


@dataclass(frozen=True)
class _Result:
    row: _Row
    status: str  # sent, skipped, retry, failed, release
    reason: str | None = None
    message_id: str = ""
    held: bool = False  # counted against the send window until recorded


@dataclass
class _Pipeline:
    """One platform's sending within one ``send_due`` call."""

    platform: str
    channel: PushChannel
    pacer: Pacer
    token: str
    campaigns: dict[int, Campaign]
    texts: dict[tuple[int, str], str]
    names: dict[int, str]  # community names, for the automations' default texts
    deadline: float | None
    report: SendReport = field(default_factory=SendReport)
    results: list[_Result] = field(default_factory=list)


class PushService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        members: MemberService,
        settings: SettingsService,
        analytics: AnalyticsService,
    ) -> None:
        self._db = db
        self._clock = clock
        self._members = members
        self._settings = settings
        self._analytics = analytics
        self.channels: dict[str, PushChannel] = {}  # filled by the adapters
        self._pacers: dict[str, Pacer] = {}
        self.lease = timedelta(minutes=2)  # a claimed row is someone else's after this
        self.batch = 100  # rows claimed at once per platform
        self.concurrency = 16  # sends in flight per platform
        self.window = 32  # messages sent and not yet recorded, at most (the crash window)

    # -- creators ----------------------------------------------------------------------------

    async def draft(
        self,
        community: Community,
        actor: Member,
        segment: str,
        text_a: str,
        text_b: str | None = None,
        send_at: datetime | None = None,
    ) -> Preview:
        """Store a draft push (nothing is sent until it is confirmed) and return its preview."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        text_a, text_b = text_a.strip(), text_b.strip() if text_b is not None else None
        if not text_a or text_b == "":
            raise InvalidInput(msg("A push needs a text (and both texts for an A/B test)."))
        segment = segment.strip().lower()[:60]
        audience = await self._audience(community, segment)  # an unknown segment is refused here
        now = self._clock.now()
        async with self._db.write() as conn:
            campaign_id = (
                await conn.execute(
                    insert(push_campaigns)
                    .values(
                        community_id=community.id,
                        kind="push",
                        segment=segment,
                        text_a=text_a,
                        text_b=text_b,
                        status="draft",
                        send_at=send_at or now,
                        seed=random.SystemRandom().randrange(2**31),
                        created_by=actor.id,
                        created_at=now,
                    )
                    .returning(push_campaigns.c.id)
                )
            ).scalar_one()
        campaign = await self._campaign(community, campaign_id)
        return self._preview(campaign, await self._address(community, audience))

    async def confirm(self, community: Community, actor: Member, campaign_id: int) -> Preview:
        """Turn a draft into outbox rows (the audience as of now), scheduled for its time.
        Confirming twice, or from two processes at once, makes the rows once."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        campaign = await self._campaign(community, campaign_id)
        if campaign.status != "draft":
            raise InvalidInput(msg("Push #{id} is already confirmed or cancelled.", id=campaign_id))
        addresses = await self._address(community, await self._audience(community, campaign.segment))
        # Only recipients who can be reached are split, so the halves compare like with like.
        reachable = [a.member_id for a in addresses if not a.muted and a.platform is not None]
        variants = _split(campaign, reachable)
        now = self._clock.now()
        rows = []
        for address in addresses:
            if address.muted:
                status, reason = "skipped", "muted"
            elif address.platform is None:
                status, reason = "skipped", "no_account"
            else:
                status, reason = "pending", None
            rows.append(
                {
                    "campaign_id": campaign.id,
                    "community_id": community.id,
                    "member_id": address.member_id,
                    "variant": variants.get(address.member_id, "a"),
                    "platform": address.platform,
                    "account": address.account,
                    "locale": address.locale,
                    "status": status,
                    "reason": reason,
                    "created_at": now,
                }
            )
        async with self._db.write() as conn:
            moved = await conn.execute(
                update(push_campaigns)
                .where(push_campaigns.c.id == campaign.id, push_campaigns.c.status == "draft")
                .values(status="scheduled", confirmed_at=now)
            )
            if moved.rowcount != 1:
                raise InvalidInput(msg("Push #{id} is already confirmed or cancelled.", id=campaign_id))
            for start in range(0, len(rows), CHUNK):
                await conn.execute(
                    insert_or_ignore(self._db.dialect, push_outbox), rows[start : start + CHUNK]
                )
        return self._preview(await self._campaign(community, campaign_id), addresses)

    async def cancel(self, community: Community, actor: Member, campaign_id: int) -> int:
        """Stop a push: what was not sent yet is skipped as ``cancelled``. Returns how many."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        campaign = await self._campaign(community, campaign_id)
        if campaign.status not in ("draft", *LIVE):
            raise InvalidInput(msg("Push #{id} is already finished or cancelled.", id=campaign_id))
        async with self._db.write() as conn:
            await conn.execute(
                update(push_campaigns)
                .where(push_campaigns.c.id == campaign.id, push_campaigns.c.status.in_(("draft", *LIVE)))
                .values(status="cancelled", finished_at=self._clock.now())
            )
            # A row in flight finishes as it will; the rest are never claimed.
            stopped = await conn.execute(
                update(push_outbox)
                .where(push_outbox.c.campaign_id == campaign.id, push_outbox.c.status == "pending")
                .values(status="skipped", reason="cancelled")
            )
        return int(stopped.rowcount or 0)

    async def campaigns(self, community: Community, actor: Member, limit: int = 10) -> list[Campaign]:
        require_creator(community, actor, msg("Only creators can send pushes."))
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(push_campaigns)
                .where(push_campaigns.c.community_id == community.id, push_campaigns.c.kind == "push")
                .order_by(push_campaigns.c.id.desc())
                .limit(limit)
            )
            return [_campaign(r) for r in rows]

    async def status(
        self, community: Community, actor: Member, campaign_id: int | None = None
    ) -> CampaignStatus:
        """Sent, skipped (by reason), failed and waiting for a push (the latest by default),
        and for an A/B push each variant's purchase conversion within 7 days of delivery."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        if campaign_id is None:
            latest = await self.campaigns(community, actor, limit=1)
            if not latest:
                raise NotFound(msg("No pushes yet. Send one with /push SEGMENT TEXT."))
            campaign = latest[0]
        else:
            campaign = await self._campaign(community, campaign_id)
        counts = dict.fromkeys(("pending", "sending", "sent", "skipped", "failed"), 0)
        skipped: dict[str, int] = {}
        failed: dict[str, int] = {}
        async with self._db.read() as conn:
            grouped = await conn.execute(
                select(push_outbox.c.status, push_outbox.c.reason, func.count())
                .where(push_outbox.c.campaign_id == campaign.id)
                .group_by(push_outbox.c.status, push_outbox.c.reason)
            )
            for status, reason, n in grouped:
                counts[status] += n
                if status == "skipped":
                    skipped[reason or "?"] = skipped.get(reason or "?", 0) + n
                elif status == "failed":
                    failed[reason or "?"] = failed.get(reason or "?", 0) + n
            comparison = await self._compare(conn, campaign) if campaign.is_ab else None
        return CampaignStatus(campaign, counts, skipped, failed, comparison)

    async def _compare(self, conn: AsyncConnection, campaign: Campaign) -> Comparison:
        sent = (
            await conn.execute(
                select(push_outbox.c.member_id, push_outbox.c.variant, push_outbox.c.sent_at).where(
                    push_outbox.c.campaign_id == campaign.id, push_outbox.c.status == "sent"
                )
            )
        ).all()
        paid: dict[int, list[datetime]] = {}
        if sent:
            first = min(r.sent_at for r in sent)
            rows = await conn.execute(
                select(orders.c.member_id, orders.c.paid_at).where(
                    orders.c.community_id == campaign.community_id,
                    orders.c.status.in_(PAID),
                    orders.c.paid_at >= first,
                )
            )
            for member_id, paid_at in rows:
                paid.setdefault(member_id, []).append(paid_at)
        tally = {"a": [0, 0], "b": [0, 0]}
        for member_id, variant, sent_at in sent:
            tally[variant][0] += 1
            end = sent_at + CONVERSION_WINDOW
            tally[variant][1] += any(sent_at <= at < end for at in paid.get(member_id, ()))
        a, b = VariantResult("a", *tally["a"]), VariantResult("b", *tally["b"])
        z = two_proportion_z(a.converted, a.sent, b.converted, b.sent)
        window_ends = max(r.sent_at for r in sent) + CONVERSION_WINDOW if sent else None
        return Comparison(a, b, z, z is not None and abs(z) >= 1.96, window_ends)

    # -- automations ---------------------------------------------------------------------------

    async def set_automation_text(self, community: Community, actor: Member, kind: str, text: str) -> None:
        """A creator's own text for an automation (empty: back to the default)."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        if kind not in AUTOMATIONS:
            raise InvalidInput(
                msg("{value} is not one of: {choices}.", value=kind[:30], choices=", ".join(AUTOMATIONS))
            )
        async with self._db.write() as conn:
            if not text.strip():
                await conn.execute(
                    delete(push_automation_texts).where(
                        push_automation_texts.c.community_id == community.id,
                        push_automation_texts.c.kind == kind,
                    )
                )
                return
            row = {
                "community_id": community.id,
                "kind": kind,
                "text": text.strip(),
                "updated_at": self._clock.now(),
            }
            await conn.execute(
                insert_or_update(
                    self._db.dialect,
                    push_automation_texts,
                    row,
                    ["community_id", "kind"],
                    ["text", "updated_at"],
                )
            )

    async def automation_texts(self, community: Community) -> dict[str, str]:
        """The creator's own texts by automation (the rest use the default)."""
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(push_automation_texts.c.kind, push_automation_texts.c.text).where(
                    push_automation_texts.c.community_id == community.id
                )
            )
            return {kind: text for kind, text in rows}

    async def automate(self, now: datetime) -> dict[str, int]:
        """Queue what the automations that are on owe: each welcome step once per member, a
        win-back at most once per ``push.winback_days`` per member at risk. Idempotent."""
        queued = {"welcome": 0, "winback": 0}
        for community in await self._members.list_communities():
            settings = await self._settings.all(community.id)
            if settings["push.welcome"]:
                for kind, days in WELCOME_STEPS.items():
                    campaign = await self._automation_campaign(community, kind, now)
                    due_before = now - timedelta(days=days)
                    already = select(push_outbox.c.member_id).where(push_outbox.c.campaign_id == campaign.id)
                    async with self._db.read() as conn:
                        joined = list(
                            (
                                await conn.execute(
                                    select(members.c.id).where(
                                        members.c.community_id == community.id,
                                        members.c.role == "learner",
                                        members.c.created_at <= due_before,
                                        members.c.created_at > due_before - WELCOME_CATCH_UP,
                                        members.c.id.not_in(already),
                                    )
                                )
                            ).scalars()
                        )
                    if joined:
                        queued["welcome"] += await self._enqueue(community, campaign, joined, now)
            if settings["push.winback"]:
                queued["winback"] += await self._win_back(community, settings["push.winback_days"], now)
        return queued

    async def _win_back(self, community: Community, every_days: int, now: datetime) -> int:
        at_risk = set(await self._analytics.members_in_segment(community, "at-risk"))
        if not at_risk:
            return 0
        async with self._db.read() as conn:
            recent = set(
                (
                    await conn.execute(
                        select(push_outbox.c.member_id)
                        .join(push_campaigns, push_campaigns.c.id == push_outbox.c.campaign_id)
                        .where(
                            push_campaigns.c.community_id == community.id,
                            push_campaigns.c.kind == "winback",
                            push_outbox.c.created_at > now - timedelta(days=every_days),
                        )
                    )
                ).scalars()
            )
        due = sorted(at_risk - recent)
        if not due:
            return 0
        async with self._db.write() as conn:
            campaign_id = await _insert_automation_campaign(
                conn, community.id, "winback", segment="at-risk", status="scheduled", now=now
            )
        return await self._enqueue(community, await self._campaign(community, campaign_id), due, now)

    async def _automation_campaign(self, community: Community, kind: str, now: datetime) -> Campaign:
        """The one standing campaign of a welcome step (its rows: one per member, ever)."""
        query = select(push_campaigns.c.id).where(
            push_campaigns.c.community_id == community.id, push_campaigns.c.kind == kind
        )
        async with self._db.read() as conn:
            found = (await conn.execute(query.order_by(push_campaigns.c.id).limit(1))).scalar()
        if found is None:
            async with self._db.write() as conn:
                found = (await conn.execute(query.order_by(push_campaigns.c.id).limit(1))).scalar()
                if found is None:
                    found = await _insert_automation_campaign(
                        conn, community.id, kind, segment="new", status="sending", now=now
                    )
        return await self._campaign(community, int(found))

    async def _enqueue(
        self, community: Community, campaign: Campaign, member_ids: list[int], now: datetime
    ) -> int:
        addresses = await self._address(community, member_ids)
        rows = [
            {
                "campaign_id": campaign.id,
                "community_id": community.id,
                "member_id": a.member_id,
                "variant": "a",
                "platform": a.platform,
                "account": a.account,
                "locale": a.locale,
                "status": "skipped" if a.muted or a.platform is None else "pending",
                "reason": "muted" if a.muted else "no_account" if a.platform is None else None,
                "created_at": now,
            }
            for a in addresses
        ]
        added = 0
        async with self._db.write() as conn:
            for start in range(0, len(rows), CHUNK):
                result = await conn.execute(
                    insert_or_ignore(self._db.dialect, push_outbox, ["campaign_id", "member_id"]),
                    rows[start : start + CHUNK],
                )
                added += max(int(result.rowcount or 0), 0)
        return added

    # -- members -------------------------------------------------------------------------------

    async def mute(self, member: Member) -> bool:
        """No more pushes or automated messages for ``member``; False if already muted."""
        async with self._db.write() as conn:
            done = await conn.execute(
                insert_or_ignore(self._db.dialect, push_mutes).values(
                    community_id=member.community_id, member_id=member.id, muted_at=self._clock.now()
                )
            )
        return done.rowcount == 1

    async def unmute(self, member: Member) -> bool:
        async with self._db.write() as conn:
            done = await conn.execute(
                delete(push_mutes).where(
                    push_mutes.c.community_id == member.community_id, push_mutes.c.member_id == member.id
                )
            )
        return done.rowcount == 1

    async def is_muted(self, member: Member) -> bool:
        async with self._db.read() as conn:
            found = await conn.execute(
                select(push_mutes.c.member_id).where(
                    push_mutes.c.community_id == member.community_id, push_mutes.c.member_id == member.id
                )
            )
            return found.first() is not None

    # -- sending -------------------------------------------------------------------------------

    async def send_due(self, now: datetime | None = None, *, budget: float | None = None) -> SendReport:
        """Send what is due (campaigns whose time has come, outside their community's quiet
        hours) through the registered channels, each platform at its own pace, until nothing
        is left or ``budget`` seconds have passed. Safe to run in several processes at once."""
        now = now or self._clock.now()
        report = SendReport()
        campaigns = await self._due_campaigns(now)
        if not campaigns:
            return report
        loop = asyncio.get_running_loop()
        deadline = None if budget is None else loop.time() + budget
        texts = await self._texts(campaigns.values())
        names = {
            c.community_id: (await self._members.community_by_id(c.community_id)).name
            for c in campaigns.values()
        }
        pipelines = [
            _Pipeline(
                platform,
                channel,
                self._pacer(platform, channel),
                uuid.uuid4().hex,
                campaigns,
                texts,
                names,
                deadline,
            )
            for platform, channel in self.channels.items()
        ]
        await asyncio.gather(*(self._run(p) for p in pipelines))
        for pipeline in pipelines:
            report.add(pipeline.report)
        await self._finish(campaigns)
        return report

    def _pacer(self, platform: str, channel: PushChannel) -> Pacer:
        pacer = self._pacers.get(platform)
        pace = getattr(channel, "pace", None) or PACES.get(platform, DEFAULT_PACE)
        if pacer is None or pacer.pace != pace:
            pacer = self._pacers[platform] = Pacer(pace)
        return pacer

    async def _due_campaigns(self, now: datetime) -> dict[int, Campaign]:
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    select(push_campaigns).where(
                        push_campaigns.c.status.in_(LIVE), push_campaigns.c.send_at <= now
                    )
                )
            ).all()
        due: dict[int, Campaign] = {}
        quiet: dict[int, bool] = {}
        for row in rows:
            if row.community_id not in quiet:
                community = await self._members.community_by_id(row.community_id)
                settings = await self._settings.all(community.id)
                quiet[row.community_id] = is_quiet(
                    now, community.timezone, settings["push.quiet_start"], settings["push.quiet_end"]
                )
            if not quiet[row.community_id]:
                due[row.id] = _campaign(row)
        return due

    async def _texts(self, campaigns: Iterable[Campaign]) -> dict[tuple[int, str], str]:
        """Creators' own automation texts, by (community, kind)."""
        wanted = {c.community_id for c in campaigns if c.kind in AUTOMATIONS}
        if not wanted:
            return {}
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(push_automation_texts).where(push_automation_texts.c.community_id.in_(wanted))
            )
            return {(r.community_id, r.kind): r.text for r in rows}

    async def _run(self, p: _Pipeline) -> None:
        """Claim, send, record: a claimer keeps a queue of leased rows, ``concurrency`` senders
        pace them out, a recorder commits results as they come (group commit)."""
        queue: asyncio.Queue[_Row | None] = asyncio.Queue(maxsize=self.batch)
        wake = asyncio.Event()
        sending_done = asyncio.Event()
        window = asyncio.Semaphore(self.window)
        loop = asyncio.get_running_loop()

        def expired() -> bool:
            return p.deadline is not None and loop.time() >= p.deadline

        async def claimer() -> None:
            try:
                while not expired():
                    rows, early = await self._claim(p, self.batch)
                    p.results.extend(early)
                    if early:
                        wake.set()
                    if not rows and not early:
                        break
                    for row in rows:
                        await queue.put(row)
            finally:
                for _ in range(self.concurrency):
                    await queue.put(None)

        async def sender() -> None:
            while (row := await queue.get()) is not None:
                if expired():
                    p.results.append(_Result(row, "release"))
                else:
                    p.results.append(await self._deliver(p, row, window))
                wake.set()

        async def recorder() -> None:
            while True:
                await wake.wait()
                wake.clear()
                while p.results:
                    taken, p.results[:] = p.results[: self.window], p.results[self.window :]
                    try:
                        await self._record(p, taken)
                    finally:
                        for result in taken:
                            if result.held:
                                window.release()
                if sending_done.is_set() and not p.results:
                    return

        recording = asyncio.create_task(recorder())
        try:
            await asyncio.gather(claimer(), *(sender() for _ in range(self.concurrency)))
        finally:
            sending_done.set()
            wake.set()
            await recording

    async def _claim(self, p: _Pipeline, limit: int) -> tuple[list[_Row], list[_Result]]:
        """Lease up to ``limit`` due rows of this platform: pending ones, and ones whose lease
        ran out (their worker died). Returns the rows to send and those decided at once
        (muted since, outside WeChat's window)."""
        now = self._clock.now()
        t = push_outbox.c
        claimable = and_(
            t.campaign_id.in_(list(p.campaigns)),
            t.platform == p.platform,
            or_(
                and_(t.status == "pending", or_(t.not_before.is_(None), t.not_before <= now)),
                and_(t.status == "sending", t.claimed_at < now - self.lease),
            ),
        )
        async with self._db.write() as conn:
            ids = select(t.id).where(claimable).order_by(t.id).limit(limit)
            if self._db.dialect == "postgresql":
                # Several workers: each takes rows no other holds, without waiting for them.
                ids = ids.with_for_update(skip_locked=True)
            chosen = list((await conn.execute(ids)).scalars())
            if not chosen:
                return [], []
            claimed = (
                await conn.execute(
                    update(push_outbox)
                    .where(t.id.in_(chosen), claimable)
                    .values(status="sending", claim_token=p.token, claimed_at=now, attempts=t.attempts + 1)
                    .returning(
                        t.id,
                        t.campaign_id,
                        t.community_id,
                        t.member_id,
                        t.variant,
                        t.platform,
                        t.account,
                        t.locale,
                        t.attempts,
                    )
                )
            ).all()
            rows = sorted((_Row(*r) for r in claimed), key=lambda r: r.id)
            member_ids = [r.member_id for r in rows]
            muted = set(
                (
                    await conn.execute(
                        select(push_mutes.c.member_id).where(push_mutes.c.member_id.in_(member_ids))
                    )
                ).scalars()
            )
            closed = await self._outside_wechat_window(conn, rows, now) if p.platform == "wechat" else set()
        early = [_Result(r, "skipped", "muted") for r in rows if r.member_id in muted]
        early += [_Result(r, "skipped", "wechat_window") for r in rows if r.member_id in closed - muted]
        decided = {result.row.id for result in early}
        return [r for r in rows if r.id not in decided], early

    async def _outside_wechat_window(
        self, conn: AsyncConnection, rows: Sequence[_Row], now: datetime
    ) -> set[int]:
        """Members WeChat will not let us message now: no message from them in 48 hours, or
        already 5 messages since their last one."""
        member_ids = [r.member_id for r in rows]
        last = dict(
            (
                await conn.execute(
                    select(activity.c.member_id, func.max(activity.c.at))
                    .join(chats, chats.c.id == activity.c.chat_id)
                    .where(activity.c.member_id.in_(member_ids), chats.c.platform == "wechat")
                    .group_by(activity.c.member_id)
                )
            ).all()
        )
        closed = set()
        for member_id in member_ids:
            spoke = last.get(member_id)
            if spoke is None or spoke < now - WECHAT_WINDOW:
                closed.add(member_id)
                continue
            since = (
                await conn.execute(
                    select(func.count()).where(
                        push_outbox.c.member_id == member_id,
                        push_outbox.c.platform == "wechat",
                        push_outbox.c.status == "sent",
                        push_outbox.c.sent_at > spoke,
                    )
                )
            ).scalar_one()
            if since >= WECHAT_MAX_IN_WINDOW:
                closed.add(member_id)
        return closed

    async def _deliver(self, p: _Pipeline, row: _Row, window: asyncio.Semaphore) -> _Result:
        """Send one row. Its result holds a slot of ``window`` (taken once it may go out) until
        it is committed: after a crash at most ``window`` messages went out unrecorded."""
        campaign = p.campaigns[row.campaign_id]
        reply = Reply.text(self._text(p, campaign, row))
        key = f"push:{row.campaign_id}:{row.member_id}"
        await p.pacer.wait(row.account)
        await window.acquire()
        result = await self._attempt(p, row, reply, key)
        return replace(result, held=True)

    async def _attempt(self, p: _Pipeline, row: _Row, reply: Reply, key: str) -> _Result:
        for attempt in range(MAX_RATE_RETRIES):
            if attempt:
                await p.pacer.wait(row.account)
            try:
                message_id = await p.channel.push(row.account, reply, row.locale, key)
            except RateLimited as error:
                p.pacer.pause(error.retry_after)
                p.report.throttled += 1
                continue
            except Unreachable as error:
                return _Result(row, "skipped", error.reason)
            except Exception as error:
                log.warning("push %s to member %s failed: %r", row.campaign_id, row.member_id, error)
                return _Result(row, "retry" if row.attempts < MAX_ATTEMPTS else "failed", "error")
            return _Result(row, "sent", message_id=str(message_id or "")[:100])
        return _Result(row, "release")  # still rate-limited: a later run takes it

    def _text(self, p: _Pipeline, campaign: Campaign, row: _Row) -> str | Msg:
        if row.variant == "b" and campaign.text_b is not None:
            return campaign.text_b
        if campaign.text_a is not None:
            return campaign.text_a
        own = p.texts.get((campaign.community_id, campaign.kind))
        if own is not None:
            return own
        default = DEFAULT_TEXTS[campaign.kind]
        return Msg(default.text, {**default.params, "community": p.names.get(campaign.community_id, "")})

    async def _record(self, p: _Pipeline, results: list[_Result]) -> None:
        """Commit results; each only while this worker still holds the row's lease."""
        now = self._clock.now()
        t = push_outbox.c
        mine = and_(t.id == bindparam("rid"), t.claim_token == p.token, t.status == "sending")
        by_status: dict[str, list[dict[str, Any]]] = {}
        for result in results:
            by_status.setdefault(result.status, []).append(
                {"rid": result.row.id, "why": result.reason, "mid": result.message_id or None}
            )
        statements = {
            "sent": update(push_outbox)
            .where(mine)
            .values(
                status="sent",
                sent_at=bindparam("at", type_=UTCDateTime),
                message_id=bindparam("mid"),
                reason=None,
            ),
            "skipped": update(push_outbox).where(mine).values(status="skipped", reason=bindparam("why")),
            "failed": update(push_outbox).where(mine).values(status="failed", reason=bindparam("why")),
            "retry": update(push_outbox)
            .where(mine)
            .values(
                status="pending",
                claim_token=None,
                reason=bindparam("why"),
                not_before=bindparam("at", type_=UTCDateTime),
            ),
            "release": update(push_outbox)
            .where(mine)
            .values(status="pending", claim_token=None, attempts=t.attempts - 1),
        }
        async with self._db.write() as conn:
            for status, params in by_status.items():
                at = now if status == "sent" else now + timedelta(minutes=1)
                for item in params:
                    item["at"] = at
                done = await conn.execute(statements[status], params)
                if done.rowcount is not None and 0 <= done.rowcount < len(params):
                    p.report.lost_leases += len(params) - done.rowcount
                    log.warning(
                        "push: %d results came after their lease ran out", len(params) - done.rowcount
                    )
        counted = Counter(r.status for r in results)
        p.report.sent += counted["sent"]
        p.report.skipped += counted["skipped"]
        p.report.failed += counted["failed"]
        p.report.retried += counted["retry"]

    async def _finish(self, campaigns: dict[int, Campaign]) -> None:
        """Pushes with nothing left to send are done (welcome steps stand open)."""
        ids = [c.id for c in campaigns.values() if c.kind not in WELCOME_STEPS]
        if not ids:
            return
        async with self._db.write() as conn:
            open_ids = set(
                (
                    await conn.execute(
                        select(push_outbox.c.campaign_id)
                        .where(
                            push_outbox.c.campaign_id.in_(ids),
                            push_outbox.c.status.in_(("pending", "sending")),
                        )
                        .distinct()
                    )
                ).scalars()
            )
            finished = [i for i in ids if i not in open_ids]
            if finished:
                await conn.execute(
                    update(push_campaigns)
                    .where(push_campaigns.c.id.in_(finished), push_campaigns.c.status.in_(LIVE))
                    .values(status="done", finished_at=self._clock.now())
                )
            started = [i for i in ids if i in open_ids and campaigns[i].status == "scheduled"]
            if started:
                await conn.execute(
                    update(push_campaigns)
                    .where(push_campaigns.c.id.in_(started), push_campaigns.c.status == "scheduled")
                    .values(status="sending")
                )

    # -- helpers -------------------------------------------------------------------------------

    async def _campaign(self, community: Community, campaign_id: int) -> Campaign:
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(push_campaigns).where(
                        push_campaigns.c.id == campaign_id, push_campaigns.c.community_id == community.id
                    )
                )
            ).first()
        if row is None:
            raise NotFound(msg("There is no push #{id}.", id=campaign_id))
        return _campaign(row)

    async def _audience(self, community: Community, segment: str) -> list[int]:
        """Member ids of a segment: ``all`` is every learner (staff are left out), the others
        come from the last analytics run (core/analytics)."""
        if segment == "all":
            async with self._db.read() as conn:
                return list(
                    (
                        await conn.execute(
                            select(members.c.id)
                            .where(members.c.community_id == community.id, members.c.role == "learner")
                            .order_by(members.c.id)
                        )
                    ).scalars()
                )
        return await self._analytics.members_in_segment(community, segment)

    async def _address(self, community: Community, member_ids: list[int]) -> list[_Address]:
        """Where each member can be reached: the first platform of PLATFORM_PREFERENCE they
        have an account on (then any other platform with a registered channel), their
        language, and whether they muted pushes."""
        found: list[_Address] = []
        async with self._db.read() as conn:
            muted = set(
                (
                    await conn.execute(
                        select(push_mutes.c.member_id).where(push_mutes.c.community_id == community.id)
                    )
                ).scalars()
            )
            for start in range(0, len(member_ids), CHUNK):
                chunk = member_ids[start : start + CHUNK]
                locales = dict(
                    (
                        await conn.execute(
                            select(members.c.id, members.c.locale).where(members.c.id.in_(chunk))
                        )
                    ).all()
                )
                accounts: dict[int, list[Any]] = {}
                for r in await conn.execute(
                    select(
                        identities.c.member_id,
                        identities.c.platform,
                        identities.c.external_id,
                        identities.c.language_hint,
                    )
                    .where(identities.c.member_id.in_(chunk))
                    .order_by(identities.c.id)
                ):
                    accounts.setdefault(r.member_id, []).append(r)
                for member_id in chunk:
                    own = accounts.get(member_id, [])
                    chosen = _choose(own, self.channels)
                    hint = next((a.language_hint for a in own if a.language_hint in ("en", "zh_CN")), None)
                    found.append(
                        _Address(
                            member_id,
                            chosen.platform if chosen else None,
                            chosen.external_id if chosen else None,
                            locales.get(member_id) or hint or community.default_locale,
                            member_id in muted,
                        )
                    )
        return found

    def _preview(self, campaign: Campaign, addresses: list[_Address]) -> Preview:
        per_platform: Counter[str] = Counter()
        muted = unreachable = 0
        for address in addresses:
            if address.muted:
                muted += 1
            elif address.platform is None:
                unreachable += 1
            else:
                per_platform[address.platform] += 1
        return Preview(campaign, dict(sorted(per_platform.items())), muted, unreachable)


def _choose(accounts: list[Any], channels: dict[str, PushChannel]) -> Any | None:
    """A member's account to push to: by PLATFORM_PREFERENCE, then one on any platform this
    process has a channel for (the console, a test platform)."""
    for platform in PLATFORM_PREFERENCE:
        for account in accounts:
            if account.platform == platform:
                return account
    return next((a for a in accounts if a.platform in channels), None)


def _split(campaign: Campaign, member_ids: list[int]) -> dict[int, str]:
    """The A/B split: members shuffled by the campaign's seed, alternately a and b (so the
    halves differ by at most one); everyone gets ``a`` when there is one text."""
    if not campaign.is_ab:
        return dict.fromkeys(member_ids, "a")
    order = sorted(member_ids)
    random.Random(campaign.seed).shuffle(order)
    return {member_id: "ab"[index % 2] for index, member_id in enumerate(order)}


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """z of the difference between two conversion rates (pooled); None when it cannot be
    told (an empty group, or no variation at all)."""
    if not n1 or not n2:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    return round((x1 / n1 - x2 / n2) / se, 2)


def _campaign(row: Any) -> Campaign:
    return Campaign(
        row.id,
        row.community_id,
        row.kind,
        row.segment,
        row.text_a,
        row.text_b,
        row.status,
        row.send_at,
        row.seed,
        row.created_at,
    )


async def _insert_automation_campaign(
    conn: AsyncConnection, community_id: int, kind: str, *, segment: str, status: str, now: datetime
) -> int:
    """A campaign the automations start themselves: confirmed at once, sent from ``now``."""
    statement = (
        insert(push_campaigns)
        .values(
            community_id=community_id,
            kind=kind,
            segment=segment,
            status=status,
            send_at=now,
            seed=0,
            created_at=now,
            confirmed_at=now,
        )
        .returning(push_campaigns.c.id)
    )
    return int((await conn.execute(statement)).scalar_one())
