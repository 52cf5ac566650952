"""Send windows, skipped messages, inbound deduplication and numbered options, in the database
so that every process serving a platform agrees.

A send window is what a platform allows the bot to push to one account, counted from that
account's own contacts. ``WindowPolicy`` holds the numbers (WeChat's customer-service rules
by default: 5 messages in the 48 hours after a message from the account, 3 in the minute
after a menu click, a follow or a scan, any number in the 48 hours after a payment).
``claim_send`` takes one message from what is left, atomically, or says why none is left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select, update

from core.clock import Clock
from core.delivery.tables import delivery_skipped, delivery_windows, inbound_seen, pending_options
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore, insert_or_update

PREVIEW_LENGTH = 200
SEEN_FOR = timedelta(days=2)  # inbound keys kept this long (platforms retry within seconds)
OPTIONS_FOR = timedelta(days=1)  # a bare number picks an option this long after it was shown


@dataclass(frozen=True)
class WindowPolicy:
    message_window: timedelta = timedelta(hours=48)
    after_message: int = 5
    interaction_window: timedelta = timedelta(minutes=1)
    after_interaction: int = 3
    paid_window: timedelta = timedelta(hours=48)


class SkipReason(StrEnum):
    NO_CONTACT = "no_contact"  # the account never wrote, clicked, followed or paid
    WINDOW_CLOSED = "window_closed"  # its last contact is older than the window
    QUOTA_USED = "quota_used"  # the window is open but its messages are used up
    REFUSED = "refused"  # the platform refused it (unfollowed, blocked, its own limits)
    FAILED = "failed"  # the platform could not be reached or answered an error


@dataclass(frozen=True)
class Option:
    """A numbered option: ``data`` comes back as a button press; ``url`` is a link to open.
    ``number``: the number that picks it when its label is a number itself (a 0–10 survey:
    typing 10 means 10), else its place in the list, from 1."""

    data: str = ""
    url: str = ""
    number: int | None = None


@dataclass(frozen=True)
class Skipped:
    platform: str
    external_id: str
    member_id: int | None
    reason: str
    preview: str
    created_at: datetime


class DeliveryService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    # -- send windows ---------------------------------------------------------------------

    async def contact(self, platform: str, external_id: str, *, interaction: bool = False) -> None:
        """The account wrote to the bot (or, with ``interaction``, clicked a menu, followed or
        scanned): its window opens again with a fresh count."""
        now = self._clock.now()
        at, sent = ("interaction_at", "interaction_sent") if interaction else ("message_at", "message_sent")
        await self._upsert(platform, external_id, {at: now, sent: 0})

    async def paid(self, platform: str, external_id: str) -> None:
        """The account paid: unlimited messages for the policy's paid window."""
        await self._upsert(platform, external_id, {"paid_at": self._clock.now()})

    async def _upsert(self, platform: str, external_id: str, values: dict[str, object]) -> None:
        row = {"platform": platform, "external_id": external_id, **values}
        async with self._db.write() as conn:
            await conn.execute(
                insert_or_update(
                    self._db.dialect, delivery_windows, row, ["platform", "external_id"], list(values)
                )
            )

    async def claim_send(
        self, platform: str, external_id: str, policy: WindowPolicy = WindowPolicy()
    ) -> SkipReason | None:
        """Take one message from the account's window: None when it may be sent now (and it
        is counted), else why not. The shortest-lived allowance is used first, so a click's
        minute does not eat into the 48 hours after a message."""
        now = self._clock.now()
        t = delivery_windows.c
        key = (t.platform == platform) & (t.external_id == external_id)
        async with self._db.write() as conn:
            row = (await conn.execute(select(delivery_windows).where(key))).mappings().first()
            if row is None:
                return SkipReason.NO_CONTACT
            if row["paid_at"] is not None and row["paid_at"] > now - policy.paid_window:
                return None
            took = await conn.execute(
                update(delivery_windows)
                .where(
                    key,
                    t.interaction_at > now - policy.interaction_window,
                    t.interaction_sent < policy.after_interaction,
                )
                .values(interaction_sent=t.interaction_sent + 1)
            )
            if took.rowcount:
                return None
            took = await conn.execute(
                update(delivery_windows)
                .where(key, t.message_at > now - policy.message_window, t.message_sent < policy.after_message)
                .values(message_sent=t.message_sent + 1)
            )
            if took.rowcount:
                return None
        recent = [
            at
            for at, window in (
                (row["message_at"], policy.message_window),
                (row["interaction_at"], policy.interaction_window),
            )
            if at is not None and at > now - window
        ]
        return SkipReason.QUOTA_USED if recent else SkipReason.WINDOW_CLOSED

    # -- skipped messages -----------------------------------------------------------------

    async def skipped(
        self, platform: str, external_id: str, member_id: int | None, reason: str, preview: str
    ) -> None:
        """Record a message that could not be sent, with why."""
        async with self._db.write() as conn:
            await conn.execute(
                delivery_skipped.insert().values(
                    platform=platform,
                    external_id=external_id,
                    member_id=member_id,
                    reason=reason[:40],
                    preview=preview[:PREVIEW_LENGTH],
                    created_at=self._clock.now(),
                )
            )

    async def skipped_since(self, platform: str, since: datetime) -> dict[str, int]:
        """How many messages were skipped since ``since``, by reason."""
        t = delivery_skipped.c
        query = (
            select(t.reason, func.count())
            .where(t.platform == platform, t.created_at >= since)
            .group_by(t.reason)
        )
        async with self._db.read() as conn:
            return {reason: count for reason, count in (await conn.execute(query)).all()}

    async def latest_skipped(self, platform: str, limit: int = 20) -> list[Skipped]:
        t = delivery_skipped.c
        query = (
            select(t.platform, t.external_id, t.member_id, t.reason, t.preview, t.created_at)
            .where(t.platform == platform)
            .order_by(t.id.desc())
            .limit(limit)
        )
        async with self._db.read() as conn:
            return [Skipped(*row) for row in (await conn.execute(query)).all()]

    # -- inbound deduplication ------------------------------------------------------------

    async def take_inbound(self, platform: str, key: str, digest: str = "") -> str | None:
        """Claim an inbound delivery by its key: None when this is the first time (the caller
        handles it), else the digest stored by the first one."""
        now = self._clock.now()
        t = inbound_seen.c
        async with self._db.write() as conn:
            taken = await conn.execute(
                insert_or_ignore(self._db.dialect, inbound_seen, ["platform", "key"]),
                [{"platform": platform, "key": key[:200], "digest": digest, "seen_at": now}],
            )
            if taken.rowcount:
                return None
            found = await conn.execute(select(t.digest).where(t.platform == platform, t.key == key[:200]))
            return found.scalar_one_or_none() or ""

    async def forget_inbound_before(self, before: datetime) -> int:
        async with self._db.write() as conn:
            done = await conn.execute(delete(inbound_seen).where(inbound_seen.c.seen_at < before))
            return done.rowcount or 0

    async def forget_old_inbound(self) -> int:
        return await self.forget_inbound_before(self._clock.now() - SEEN_FOR)

    # -- numbered options -----------------------------------------------------------------

    async def set_options(self, platform: str, external_id: str, options: list[Option]) -> None:
        """The options a bare number now picks for this account (the last reply's buttons)."""
        row = {
            "platform": platform,
            "external_id": external_id,
            "options": json.dumps([[o.data, o.url, o.number] for o in options]),
            "created_at": self._clock.now(),
        }
        async with self._db.write() as conn:
            await conn.execute(
                insert_or_update(
                    self._db.dialect,
                    pending_options,
                    row,
                    ["platform", "external_id"],
                    ["options", "created_at"],
                )
            )

    async def options(self, platform: str, external_id: str) -> list[Option]:
        """The account's pending options, or none when they are older than a day."""
        t = pending_options.c
        query = select(t.options, t.created_at).where(t.platform == platform, t.external_id == external_id)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None or row.created_at < self._clock.now() - OPTIONS_FOR:
            return []
        return [Option(*entry[:3]) for entry in json.loads(row.options)]  # [data, url(, number)]
