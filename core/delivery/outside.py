"""Messages outside a platform's send window: the consents an account gives for one message
each (WeChat's one-time subscribe messages), and the record of what went out that way.

A consent is given per scene, and one send spends it: pushes from the creator use the
``news`` scene, private notes (payments, reminders, answers) without a template of their own
the ``notes`` scene. What went by a template or a consent is recorded in delivery_fallbacks,
what could not go at all in delivery_skipped (service.py): between them, every message that did
not go as a plain message, and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, update

from core.clock import Clock
from core.delivery.tables import delivery_consents, delivery_fallbacks
from core.i18n import Msg, msg
from core.storage.database import Database

NEWS = 1  # WeChat takes a scene as a number from 0 to 10000
NOTES = 2
SCENES: dict[int, Msg] = {
    NEWS: msg("news from the community"),
    NOTES: msg("notices about your orders, subscriptions and questions"),
}
TEMPLATE = "template"
SUBSCRIBE = "subscribe"
PREVIEW_LENGTH = 200
TAKE_TRIES = 5  # another process may spend the same consent between our read and our update


@dataclass(frozen=True)
class Consent:
    id: int
    template_id: str


class WindowFallbacks:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    # -- consents -------------------------------------------------------------------------

    async def consent(self, platform: str, external_id: str, scene: int, template_id: str) -> int:
        """Record one consent; returns how many unused ones the account now has for ``scene``."""
        async with self._db.write() as conn:
            await conn.execute(
                delivery_consents.insert().values(
                    platform=platform,
                    external_id=external_id,
                    scene=scene,
                    template_id=template_id,
                    created_at=self._clock.now(),
                )
            )
        return await self.consents_left(platform, external_id, scene)

    async def consents_left(self, platform: str, external_id: str, scene: int) -> int:
        async with self._db.read() as conn:
            found = await conn.execute(select(func.count()).where(self._unused(platform, external_id, scene)))
            return int(found.scalar_one())

    async def take_consent(self, platform: str, external_id: str, scene: int) -> Consent | None:
        """Spend the oldest unused consent (each is spent once, whichever process asks); None
        when the account has none for ``scene``."""
        t = delivery_consents.c
        for _ in range(TAKE_TRIES):
            async with self._db.write() as conn:
                row = (
                    await conn.execute(
                        select(t.id, t.template_id)
                        .where(self._unused(platform, external_id, scene))
                        .order_by(t.id)
                        .limit(1)
                    )
                ).first()
                if row is None:
                    return None
                took = await conn.execute(
                    update(delivery_consents)
                    .where(t.id == row.id, t.used_at.is_(None))
                    .values(used_at=self._clock.now())
                )
                if took.rowcount:
                    return Consent(row.id, row.template_id)
        return None

    async def give_back(self, consent: Consent) -> None:
        """The send never reached the platform: the consent stays for the next message."""
        async with self._db.write() as conn:
            await conn.execute(
                update(delivery_consents).where(delivery_consents.c.id == consent.id).values(used_at=None)
            )

    @staticmethod
    def _unused(platform: str, external_id: str, scene: int) -> object:
        t = delivery_consents.c
        return and_(
            t.platform == platform, t.external_id == external_id, t.scene == scene, t.used_at.is_(None)
        )

    # -- what went outside the window -----------------------------------------------------

    async def sent(
        self, platform: str, external_id: str, member_id: int | None, via: str, reason: str, preview: str
    ) -> None:
        """Record a message that went by ``via`` (template, subscribe) because the window
        would not take it (``reason``)."""
        async with self._db.write() as conn:
            await conn.execute(
                delivery_fallbacks.insert().values(
                    platform=platform,
                    external_id=external_id,
                    member_id=member_id,
                    via=via,
                    reason=reason[:40],
                    preview=preview[:PREVIEW_LENGTH],
                    created_at=self._clock.now(),
                )
            )

    async def sent_since(self, platform: str, since: datetime) -> dict[str, int]:
        """How many messages went outside the window since ``since``, by way."""
        t = delivery_fallbacks.c
        query = (
            select(t.via, func.count()).where(t.platform == platform, t.created_at >= since).group_by(t.via)
        )
        async with self._db.read() as conn:
            return {via: count for via, count in (await conn.execute(query)).all()}
