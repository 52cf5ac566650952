"""Creators' push campaigns: a draft with its preview, confirmation into the outbox (one row
per recipient, split A/B), cancelling, and status with each variant's conversion.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import record
from core.catalog.tables import bundle_courses
from core.clock import Clock
from core.errors import InvalidInput, NotFound
from core.i18n import Msg, msg
from core.members.models import Community, Member, require_creator
from core.orders.tables import orders
from core.pushes.audience import CHUNK, Reach, _Address, count_reach
from core.pushes.recommended import RECOMMENDED, check_placeholder
from core.pushes.tables import push_campaigns, push_outbox
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore

CONVERSION_WINDOW = timedelta(days=7)
PAID = ("paid", "fulfilled", "refunded")
LIVE = ("scheduled", "sending")
CREATOR_KINDS = ("push", "nps")  # what creators send (the rest are automations); nps: a survey
MAX_TEXT = 2000  # characters in one push text
# How a recipient's row was skipped or failed, and a push's status, in words.
REASON_NAMES: dict[str, Msg] = {
    "muted": msg("muted"),
    "no_account": msg("no account on any platform"),
    "dms_closed": msg("private messages closed"),
    "blocked": msg("blocked the bot"),
    "wechat_window": msg("outside WeChat's 48-hour window"),
    "cancelled": msg("cancelled"),
    "error": msg("platform error"),
    "no_pick": msg("nothing left to recommend"),
}
STATUS_NAMES: dict[str, Msg] = {
    "draft": msg("draft, not confirmed"),
    "scheduled": msg("scheduled"),
    "sending": msg("sending"),
    "done": msg("done"),
    "cancelled": msg("cancelled"),
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
    reach: Reach

    @property
    def per_platform(self) -> dict[str, int]:
        return self.reach.per_platform

    @property
    def muted(self) -> int:
        return self.reach.muted

    @property
    def unreachable(self) -> int:  # no account on any platform
        return self.reach.unreachable

    @property
    def recipients(self) -> int:
        return self.reach.recipients


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


class PushCampaigns:
    """PushService's campaigns (core/pushes/service.py puts the parts together)."""

    _db: Database
    _clock: Clock

    # -- creators ----------------------------------------------------------------------------

    async def draft(
        self,
        community: Community,
        actor: Member,
        segment: str,
        text_a: str | None,
        text_b: str | None = None,
        send_at: datetime | None = None,
        *,
        kind: str = "push",
    ) -> Preview:
        """Store a draft push (nothing is sent until it is confirmed) and return its preview.
        ``kind`` "nps": a survey (core/feedback/nps.py), whose text may be None (the default
        question in each recipient's language)."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        if kind not in CREATOR_KINDS:
            raise ValueError(f"not a creator's push kind: {kind}")
        text_a = None if text_a is None and kind != "push" else check_text(text_a or "")
        text_b = check_text(text_b) if text_b is not None else None
        if send_at is not None and send_at <= self._clock.now():
            raise InvalidInput(msg("{value} is in the past.", value=send_at.isoformat()[:16]))
        segment = segment.strip().lower()[:60]
        check_placeholder(segment, (text_a, text_b))
        audience = await self._audience(community, segment)  # an unknown segment is refused here
        now = self._clock.now()
        async with self._db.write() as conn:
            campaign_id = (
                await conn.execute(
                    insert(push_campaigns)
                    .values(
                        community_id=community.id,
                        kind=kind,
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
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="push.draft",
                actor_member_id=actor.id,
                push=campaign_id,
                segment=segment,
                ab=text_b is not None,
                **({"kind": kind} if kind != "push" else {}),
            )
        campaign = await self._campaign(community, campaign_id)
        return self._preview(campaign, await self._address(community, audience))

    async def preview(self, community: Community, actor: Member, campaign_id: int) -> Preview:
        """A push with the audience it would reach if confirmed now (a draft's preview again)."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        campaign = await self._campaign(community, campaign_id)
        return self._preview(
            campaign, await self._address(community, await self._audience(community, campaign.segment))
        )

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
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="push.confirm",
                actor_member_id=actor.id,
                push=campaign.id,
                segment=campaign.segment,
                recipients=sum(1 for row in rows if row["status"] == "pending"),
            )
        return self._preview(await self._campaign(community, campaign_id), addresses)

    async def cancel(self, community: Community, actor: Member, campaign_id: int) -> int:
        """Stop a push: what was not sent yet is skipped as ``cancelled``. Returns how many."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        campaign = await self._campaign(community, campaign_id)
        if campaign.status not in ("draft", *LIVE):
            raise InvalidInput(msg("Push #{id} is already finished or cancelled.", id=campaign_id))
        now = self._clock.now()
        async with self._db.write() as conn:
            await conn.execute(
                update(push_campaigns)
                .where(push_campaigns.c.id == campaign.id, push_campaigns.c.status.in_(("draft", *LIVE)))
                .values(status="cancelled", finished_at=now)
            )
            # A row in flight finishes as it will; the rest are never claimed.
            stopped = await conn.execute(
                update(push_outbox)
                .where(push_outbox.c.campaign_id == campaign.id, push_outbox.c.status == "pending")
                .values(status="skipped", reason="cancelled")
            )
            # Cancelling a draft is what the dashboard calls discarding it.
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="push.discard" if campaign.status == "draft" else "push.cancel",
                actor_member_id=actor.id,
                push=campaign.id,
                segment=campaign.segment,
                unsent=int(stopped.rowcount or 0),
            )
        return int(stopped.rowcount or 0)

    async def campaigns(
        self, community: Community, actor: Member, limit: int = 10, before: int | None = None
    ) -> list[Campaign]:
        """The newest pushes first; ``before``: only those older than that push (the next page)."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        query = select(push_campaigns).where(
            push_campaigns.c.community_id == community.id,
            push_campaigns.c.kind.in_(CREATOR_KINDS),
        )
        if before is not None:
            query = query.where(push_campaigns.c.id < before)
        async with self._db.read() as conn:
            rows = await conn.execute(query.order_by(push_campaigns.c.id.desc()).limit(limit))
            return [_campaign(r) for r in rows]

    async def status(
        self, community: Community, actor: Member, campaign_id: int | None = None
    ) -> CampaignStatus:
        """Sent, skipped (by reason), failed and waiting for a push (the latest by default),
        and for an A/B push (or one to ``recommended``) each variant's purchase conversion
        within 7 days of delivery."""
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
            # A `recommended` push's purchases are attributed the same way, with one text.
            attributed = campaign.is_ab or campaign.segment == RECOMMENDED
            comparison = await self._compare(conn, campaign) if attributed else None
        return CampaignStatus(campaign, counts, skipped, failed, comparison)

    async def tallies(
        self, community: Community, actor: Member, campaign_ids: list[int]
    ) -> dict[int, dict[str, int]]:
        """Rows by status (pending, sending, sent, skipped, failed) of each of these pushes of
        ``community`` (a page of the list, in one query)."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        found = {
            i: dict.fromkeys(("pending", "sending", "sent", "skipped", "failed"), 0) for i in campaign_ids
        }
        if not campaign_ids:
            return found
        async with self._db.read() as conn:
            grouped = await conn.execute(
                select(push_outbox.c.campaign_id, push_outbox.c.status, func.count())
                .where(
                    push_outbox.c.community_id == community.id,
                    push_outbox.c.campaign_id.in_(campaign_ids),
                )
                .group_by(push_outbox.c.campaign_id, push_outbox.c.status)
            )
            for campaign_id, status, n in grouped:
                found[campaign_id][status] += n
        return found

    async def _compare(self, conn: AsyncConnection, campaign: Campaign) -> Comparison:
        """Each variant's recipients and those who bought within 7 days of delivery: anything,
        or for a ``recommended`` push the course it recommended to them (or a bundle with it)."""
        t = push_outbox.c
        sent = (
            await conn.execute(
                select(t.member_id, t.variant, t.sent_at, t.subject).where(
                    t.campaign_id == campaign.id, t.status == "sent"
                )
            )
        ).all()
        paid: dict[int, list[tuple[datetime, str, int]]] = {}
        if sent:
            first = min(r.sent_at for r in sent)
            rows = await conn.execute(
                select(
                    orders.c.member_id, orders.c.paid_at, orders.c.product_kind, orders.c.product_id
                ).where(
                    orders.c.community_id == campaign.community_id,
                    orders.c.status.in_(PAID),
                    orders.c.paid_at >= first,
                )
            )
            for member_id, paid_at, kind, product in rows:
                paid.setdefault(member_id, []).append((paid_at, kind, product))
        picked = campaign.segment == RECOMMENDED
        bundles: dict[int, set[int]] = {}  # what each bought bundle holds: it covers its courses
        wanted = {p for bought in paid.values() for _, kind, p in bought if kind == "bundle"}
        if picked and wanted:
            held = await conn.execute(select(bundle_courses).where(bundle_courses.c.bundle_id.in_(wanted)))
            for bundle_id, course_id in held:
                bundles.setdefault(bundle_id, set()).add(course_id)

        def bought_it(kind: str, product: int, subject: int | None) -> bool:
            if not picked:
                return True
            return product == subject if kind == "course" else subject in bundles.get(product, ())

        tally = {"a": [0, 0], "b": [0, 0]}
        for member_id, variant, sent_at, subject in sent:
            tally[variant][0] += 1
            end = sent_at + CONVERSION_WINDOW
            tally[variant][1] += any(
                sent_at <= at < end and bought_it(kind, product, subject)
                for at, kind, product in paid.get(member_id, ())
            )
        a, b = VariantResult("a", *tally["a"]), VariantResult("b", *tally["b"])
        z = two_proportion_z(a.converted, a.sent, b.converted, b.sent)
        window_ends = max(r.sent_at for r in sent) + CONVERSION_WINDOW if sent else None
        return Comparison(a, b, z, z is not None and abs(z) >= 1.96, window_ends)

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

    def _preview(self, campaign: Campaign, addresses: list[_Address]) -> Preview:
        return Preview(campaign, count_reach(addresses))


def ab_note(comparison: Comparison) -> Msg:
    """In plain words: which text did better, and whether the difference is likely real."""
    a, b = comparison.a, comparison.b
    if comparison.z is None:
        return msg("No difference can be measured yet: too few recipients or no purchases.")
    if a.rate == b.rate:
        return msg("Both texts did the same so far.")
    better, worse = ("A", "B") if a.rate > b.rate else ("B", "A")
    if comparison.likely_real:
        return msg(
            "Text {better} did better than text {worse}, and with these numbers the difference"
            " is likely real (z = {z}): use text {better}.",
            better=better,
            worse=worse,
            z=comparison.z,
        )
    return msg(
        "Text {better} did a little better, but with these numbers the difference could well be"
        " chance (z = {z}): do not pick a winner on it yet.",
        better=better,
        z=comparison.z,
    )


def check_text(text: str) -> str:
    """A push text as sent (stripped); InvalidInput when empty or longer than MAX_TEXT."""
    text = text.strip()
    if not text:
        raise InvalidInput(msg("A push needs a text (and both texts for an A/B test)."))
    if len(text) > MAX_TEXT:
        raise InvalidInput(msg("A push text is at most {max} characters.", max=MAX_TEXT))
    return text


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
