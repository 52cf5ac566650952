"""Reading and changing community settings (cached per process, write-through)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from core.audit.log import record
from core.cache import Cache
from core.clock import Clock
from core.errors import InvalidInput, NotAllowed
from core.i18n import msg
from core.members.models import Member, Role
from core.settings.registry import SETTINGS, BoolSetting, Setting
from core.settings.tables import community_settings
from core.storage.database import Database
from core.storage.upsert import insert_or_update

CACHE_SECONDS = 10.0


class SettingsService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        # Other processes may change settings: re-read after a short while.
        self._cache: Cache[int, dict[str, Any]] = Cache(max_size=10_000, ttl=CACHE_SECONDS)

    async def all(self, community_id: int) -> dict[str, Any]:
        """Every setting's effective value for the community."""
        cached = self._cache.get(community_id, self._read_all)
        if cached is not None:
            return cached
        return self._cache.put(community_id, await self._read_all(community_id))

    async def _read_all(self, community_id: int) -> dict[str, Any]:
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(community_settings.c.key, community_settings.c.value).where(
                    community_settings.c.community_id == community_id
                )
            )
            stored = {row.key: row.value for row in rows}
        cached = {}
        for key, spec in SETTINGS.items():
            raw = stored.get(key)
            cached[key] = spec.default if raw is None else _decode(spec, raw)
        return cached

    async def get(self, community_id: int, key: str) -> Any:
        return (await self.all(community_id))[key]

    async def set(
        self, community_id: int, key: str, text: str, *, actor: Member, via: str | None = None
    ) -> Any:
        """Validate and store ``text`` for ``key`` on behalf of ``actor`` (a creator of the
        community), audited (with where it was asked for: core.audit.log.requested_via);
        InvalidInput for unknown keys or bad values, NotAllowed for others."""
        if actor.role is not Role.CREATOR or actor.community_id != community_id:
            raise NotAllowed(msg("Only creators can change the rules."))
        spec = SETTINGS.get(key.strip().lower())
        if spec is None:
            raise InvalidInput(msg("Unknown rule {key}. Send /rules to see them all.", key=key[:60]))
        value = spec.parse(text)
        async with self._db.write() as conn:
            if value == spec.default:
                await conn.execute(
                    delete(community_settings).where(
                        community_settings.c.community_id == community_id,
                        community_settings.c.key == spec.key,
                    )
                )
            else:
                row = {"community_id": community_id, "key": spec.key, "value": _encode(value)}
                await conn.execute(
                    insert_or_update(
                        self._db.dialect, community_settings, row, ["community_id", "key"], ["value"]
                    )
                )
            await record(
                conn,
                community_id=community_id,
                at=self._clock.now(),
                action="rules.set",
                actor_member_id=actor.id,
                key=spec.key,
                value=_encode(value),
                **({"via": via} if via else {}),
            )
        self._cache.drop(community_id)
        return value


def _encode(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def _decode(spec: Setting, raw: str) -> Any:
    if isinstance(spec, BoolSetting):
        return raw == "on"
    return int(raw)
