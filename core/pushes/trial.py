"""A test send: a push's texts to the creator alone, through the channel a push to them would
take, before the push goes to anyone else."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.audit.log import record
from core.clock import Clock
from core.errors import InvalidInput
from core.i18n import msg
from core.members.models import Community, Member, require_creator
from core.pushes.audience import _Address
from core.pushes.campaigns import Campaign, check_text
from core.pushes.delivery import PushChannel, RateLimited, Unreachable
from core.pushes.pacing import Pacing
from core.replies import Reply
from core.storage.database import Database

NO_CHANNEL = msg("The bot cannot send to you on any platform: start a private chat with it.")


class PushTrial:
    """PushService's test sends (core/pushes/service.py puts the parts together)."""

    _db: Database
    _clock: Clock
    channels: dict[str, PushChannel]

    if TYPE_CHECKING:  # from the other parts of PushService

        async def _address(self, community: Community, member_ids: list[int]) -> list[_Address]: ...
        async def _campaign(self, community: Community, campaign_id: int) -> Campaign: ...
        def _pacer(self, platform: str, channel: PushChannel) -> Pacing: ...

    async def send_test(self, community: Community, actor: Member, campaign_id: int, key: str) -> str:
        """Send push ``campaign_id``'s text (both texts of an A/B test) to ``actor`` only, at
        the platform's pace, even if they muted pushes; nothing is recorded in the outbox.
        Returns the platform it went to. ``key`` makes a deduplicating gateway send it once."""
        require_creator(community, actor, msg("Only creators can send pushes."))
        campaign = await self._campaign(community, campaign_id)
        texts = [check_text(t) for t in (campaign.text_a, campaign.text_b) if t is not None]
        [address] = await self._address(community, [actor.id])
        channel = self.channels.get(address.platform or "")
        if address.platform is None or address.account is None or channel is None:
            raise InvalidInput(NO_CHANNEL)
        pacer = self._pacer(address.platform, channel)
        for index, text in enumerate(texts):
            await pacer.wait(address.account)
            try:
                await channel.push(address.account, Reply.text(text), address.locale, f"{key}:{index}")
            except RateLimited as error:
                pacer.pause(error.retry_after)
                raise InvalidInput(msg("The platform asks to wait: try again in a minute.")) from None
            except Unreachable:
                raise InvalidInput(NO_CHANNEL) from None
        # Nothing else is stored for a test send: the entry is its only trace.
        async with self._db.write() as conn:
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="push.test",
                actor_member_id=actor.id,
                push=campaign.id,
                platform=address.platform,
            )
        return address.platform
