"""The automations: the welcome sequence and win-back, queued into the outbox by the job, in
creators' own texts or the defaults.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.analytics.service import AnalyticsService
from core.audit.log import record
from core.clock import Clock
from core.errors import InvalidInput
from core.i18n import Msg, msg
from core.members.models import Community, Member, require_creator
from core.members.service import MemberService
from core.members.tables import members
from core.pushes.audience import CHUNK
from core.pushes.campaigns import Campaign, check_text
from core.pushes.tables import push_automation_texts, push_campaigns, push_outbox
from core.settings.service import SettingsService
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore, insert_or_update

WELCOME_STEPS = {"welcome0": 0, "welcome1": 1, "welcome3": 3}
AUTOMATIONS = (*WELCOME_STEPS, "winback")
AUTOMATION_LABELS: dict[str, Msg] = {
    "welcome0": msg("welcome, on the day of joining"),
    "welcome1": msg("welcome, one day later"),
    "welcome3": msg("welcome, three days later"),
    "winback": msg("win-back, for members at risk"),
}
# A welcome step is sent up to this long after it fell due: turning the sequence on greets
# the members who joined lately, not everyone who ever did.
WELCOME_CATCH_UP = timedelta(days=1)

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


class PushAutomations:
    """PushService's automations (core/pushes/service.py puts the parts together)."""

    _db: Database
    _clock: Clock
    _members: MemberService
    _settings: SettingsService
    _analytics: AnalyticsService

    # -- automations ---------------------------------------------------------------------------

    async def set_automation_text(self, community: Community, actor: Member, kind: str, text: str) -> None:
        """A creator's own text for an automation (empty: back to the default)."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        if kind not in AUTOMATIONS:
            raise InvalidInput(
                msg("{value} is not one of: {choices}.", value=kind[:30], choices=", ".join(AUTOMATIONS))
            )
        if text.strip():
            text = check_text(text)
        now = self._clock.now()
        async with self._db.write() as conn:
            # The entry names the automation and whether it got an own text, not the text.
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="push.auto_text",
                actor_member_id=actor.id,
                automation=kind,
                text="own" if text.strip() else "default",
            )
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
                "updated_at": now,
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
