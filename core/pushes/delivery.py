"""The port platforms implement to deliver pushes, the errors they raise, and their pace.

Adapters register a :class:`PushChannel` per platform in ``PushService.channels``; the core
paces every channel with a :class:`~core.pushes.pacing.Pacer` built from its :class:`Pace`
and understands two neutral errors: :class:`RateLimited` (the platform said 429: wait
``retry_after`` seconds, then the same message is tried again) and :class:`Unreachable` (the
member blocked the bot, never opened a private chat, closed their DMs: skipped with a reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.replies import Reply


class DeliveryError(Exception):
    """Root of what a push channel raises on purpose."""


class RateLimited(DeliveryError):
    """The platform refused for now; ``retry_after`` seconds before anything else is sent."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = max(0.0, float(retry_after))


class Unreachable(DeliveryError):
    """This member cannot be messaged on this platform; ``reason`` is recorded (a short word:
    ``dms_closed``, ``blocked``, ``wechat_window``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:40]


@dataclass(frozen=True)
class Pace:
    """How fast a platform lets a bot send: ``per_second`` overall with bursts of ``burst``,
    and at least ``per_chat_interval`` seconds between two messages to one chat."""

    per_second: float
    burst: int = 1
    per_chat_interval: float = 0.0


# LIMITS.md: Telegram about 30 messages/s to different users and 1/s per chat (25/s here:
# the platform counts arrivals, and network jitter bunches a paced stream by 2-3 messages in a
# second, as the kill test measured at 28/s; the rest is for replies sent meanwhile); Discord 50
# requests/s per bot, and a first DM to someone takes two (open the DM channel, send), so 25
# messages/s; WeChat customer-service sends have a daily quota, not a per-second one: a
# moderate pace, with its 48-hour window rules checked by the service.
PACES: dict[str, Pace] = {
    "telegram": Pace(25, burst=5, per_chat_interval=1.0),
    "discord": Pace(25, burst=5, per_chat_interval=1.0),
    "wechat": Pace(20, burst=5, per_chat_interval=1.0),
}
DEFAULT_PACE = Pace(20, burst=5, per_chat_interval=1.0)


class PushChannel(Protocol):
    """One platform's way of delivering a push to a member's account on it."""

    pace: Pace
    # Optional ``pace_key``: which bot this is (a hash of its token), so that processes
    # sending on one bot share one bucket on PostgreSQL (core/pushes/shared_pacing.py).

    async def push(self, account: str, reply: Reply, locale: str, key: str) -> str:
        """Send ``reply`` to ``account``; return the platform's message id ('' if it has none).

        ``key`` is unique per campaign and member: a platform or gateway that deduplicates by
        it makes a retry after a crash harmless. Raises RateLimited or Unreachable; any other
        exception counts as a failed attempt (retried a few times)."""
        ...
