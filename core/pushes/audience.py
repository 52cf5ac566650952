"""Who a push reaches: a segment's members, where each can be reached (platform, account,
language), and muting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from core.analytics.service import AnalyticsService
from core.clock import Clock
from core.i18n import msg
from core.members.models import Community, Member, require_creator
from core.members.tables import identities, members
from core.pushes.delivery import PushChannel
from core.pushes.recommended import RECOMMENDED, Recommender, recommended_audience
from core.pushes.tables import push_mutes
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore

PLATFORM_PREFERENCE = ("telegram", "discord", "wechat")  # the first a member has is used
CHUNK = 2000  # ids per IN (...) list


@dataclass(frozen=True)
class _Address:
    member_id: int
    platform: str | None
    account: str | None
    locale: str
    muted: bool


@dataclass(frozen=True)
class Reach:
    """How many members of a segment a push would reach now, per platform, and how many it
    would not: muted, or without an account on any platform."""

    per_platform: dict[str, int]
    muted: int
    unreachable: int

    @property
    def recipients(self) -> int:
        return sum(self.per_platform.values())


def count_reach(addresses: Iterable[_Address]) -> Reach:
    per_platform: Counter[str] = Counter()
    muted = unreachable = 0
    for address in addresses:
        if address.muted:
            muted += 1
        elif address.platform is None:
            unreachable += 1
        else:
            per_platform[address.platform] += 1
    return Reach(dict(sorted(per_platform.items())), muted, unreachable)


class PushAudience:
    """PushService's audience and mutes (core/pushes/service.py puts the parts together)."""

    _db: Database
    _clock: Clock
    _analytics: AnalyticsService
    channels: dict[str, PushChannel]
    recommend: Recommender | None = None  # set by Services.build: the `recommended` segment

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

    async def reach(self, community: Community, actor: Member, segment: str) -> Reach:
        """Who a push to ``segment`` would reach if confirmed now; stores nothing. An unknown
        segment is refused (InvalidInput) as /push refuses it."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        segment = segment.strip().lower()[:60]
        return count_reach(await self._address(community, await self._audience(community, segment)))

    async def _audience(self, community: Community, segment: str) -> list[int]:
        """Member ids of a segment: ``all`` is every learner (staff are left out), the others
        come from the last analytics run (core/analytics); ``recommended`` is every learner
        with a course to recommend (core/pushes/recommended.py)."""
        if segment == RECOMMENDED and self.recommend is not None:
            return await recommended_audience(self._db, self.recommend, community)
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


def _choose(accounts: list[Any], channels: dict[str, PushChannel]) -> Any | None:
    """A member's account to push to: by PLATFORM_PREFERENCE, then one on any platform this
    process has a channel for (the console, a test platform)."""
    for platform in PLATFORM_PREFERENCE:
        for account in accounts:
            if account.platform == platform:
                return account
    return next((a for a in accounts if a.platform in channels), None)
