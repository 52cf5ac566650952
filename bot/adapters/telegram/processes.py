"""What each studyhall process does for Telegram when several share one PostgreSQL database.

- Webhook mode: every process serves the webhook route (the load balancer may pick any), and all
  of them check the same secret: the configured one, or one derived from the bot token — never
  one made up per run, which only the process that registered it would know. One process, the
  holder of an advisory lock, calls setWebhook (and setMyCommands); the others serve the route.
- Polling mode: one consumer per bot (Telegram answers a second getUpdates with 409 Conflict).
  The holder of the polling lock polls; another process says so in one line and stands by,
  taking over when the poller goes away.

On SQLite there is one process, and it holds both locks.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable

from core.storage.database import Database
from core.storage.leader import SchedulerLeader

log = logging.getLogger(__name__)

WEBHOOK_LOCK = 0x5354_5544_5457  # "STUDTW": the one process that registers the webhook
POLLING_LOCK = 0x5354_5544_5450  # "STUDTP": the one process that calls getUpdates
STANDBY_SECONDS = 30.0  # how often a process standing by asks for the polling lock
_LABEL = b"studyhall telegram webhook secret"


def webhook_secret(token: str, secret_key: str | None) -> str:
    """The webhook secret every process of one bot computes alike: HMAC-SHA256 of the bot token
    under STUDYHALL_SECRET_KEY (or a fixed label without one), base64url without padding — 43
    characters of the [A-Za-z0-9_-] alphabet setWebhook accepts. Whoever holds the token could
    make it, but whoever holds the token controls the bot anyway."""
    key = secret_key.encode() if secret_key else _LABEL
    digest = hmac.new(key, token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def webhook_registrar(db: Database) -> SchedulerLeader:
    return SchedulerLeader(db, key=WEBHOOK_LOCK, role="telegram", duty="registers the webhook")


class PollingGate:
    """Lets one process at a time poll: ``start`` and ``stop`` switch this process's polling on
    and off as it gains or loses the lock; it asks again every ``every`` seconds."""

    def __init__(
        self,
        db: Database,
        start: Callable[[], Awaitable[None]],
        stop: Callable[[], Awaitable[None]],
        *,
        every: float | None = None,
    ) -> None:
        self._lock = SchedulerLeader(db, key=POLLING_LOCK, role="telegram", duty="polls for updates")
        self._start = start
        self._stop = stop
        self._every = STANDBY_SECONDS if every is None else every
        self._polling = False
        self._watch: asyncio.Task[None] | None = None

    @property
    def polling(self) -> bool:
        return self._polling

    async def open(self) -> bool:
        """Poll if no other process does (True), else stand by; either way keep watching."""
        await self._step(first=True)
        if self._watch is None:
            self._watch = asyncio.create_task(self._watching(), name="telegram-polling-gate")
        return self._polling

    async def _watching(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self._step(first=False)
            except Exception:  # the database away for a moment: ask again next time
                log.warning("telegram: could not ask for the polling lock; trying again", exc_info=True)

    async def _step(self, *, first: bool) -> None:
        held = await self._lock.try_lead()
        if held and not self._polling:
            await self._start()
            self._polling = True
            if not first:
                log.warning("telegram: the process that polled is gone; this one polls now")
        elif not held and self._polling:
            await self._stop()
            self._polling = False
            log.warning(
                "telegram: lost the polling lock (the database connection broke); this one stopped polling"
            )
        elif not held and first:
            log.warning(
                "telegram: another process polls this bot on this database; this one receives no "
                "Telegram updates (it still sends) and takes over if that process stops"
            )

    async def close(self) -> None:
        """Stop polling, then let go of the lock: two processes never poll at once."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        if self._polling:
            self._polling = False
            await self._stop()
        await self._lock.release()
