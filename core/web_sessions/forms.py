"""Idempotency keys of dashboard forms: each rendered form carries a fresh key; the first POST
with it claims it and acts, a repeat is sent where the first went and acts on nothing.

The claim is a primary-key insert, so two processes racing on one key cannot both act.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.clock import Clock
from core.storage.database import Database
from core.web_sessions.tables import web_form_keys

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
KEEP = timedelta(days=1)  # a form older than this is resent by nobody
WAIT_STEP = 0.05
WAIT_STEPS = 100  # a repeat waits up to 5 s for the first request's answer


class FormKeys:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    @staticmethod
    def well_formed(key: str) -> bool:
        return bool(KEY_PATTERN.fullmatch(key))

    async def claim(self, member_id: int, key: str) -> bool:
        """True when this request is the first with ``key``: it acts. False for a repeat."""
        now = self._clock.now()
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    delete(web_form_keys).where(
                        web_form_keys.c.member_id == member_id, web_form_keys.c.created_at < now - KEEP
                    )
                )
                await conn.execute(
                    insert(web_form_keys).values(member_id=member_id, form_key=key, created_at=now)
                )
        except IntegrityError:
            return False
        return True

    async def settle(self, member_id: int, key: str, location: str) -> None:
        """The first request acted and went to ``location``: repeats go there too."""
        async with self._db.write() as conn:
            await conn.execute(
                update(web_form_keys)
                .where(web_form_keys.c.member_id == member_id, web_form_keys.c.form_key == key)
                .values(location=location[:500])
            )

    async def release(self, member_id: int, key: str) -> None:
        """The first request was refused (nothing changed): the same form may be sent again."""
        async with self._db.write() as conn:
            await conn.execute(
                delete(web_form_keys).where(
                    web_form_keys.c.member_id == member_id, web_form_keys.c.form_key == key
                )
            )

    async def outcome(self, member_id: int, key: str) -> str | None:
        """Where the first request with ``key`` went, waiting a little while it still runs;
        None when it is still running after that, or was refused and released."""
        query = select(web_form_keys.c.location).where(
            web_form_keys.c.member_id == member_id, web_form_keys.c.form_key == key
        )
        for _ in range(WAIT_STEPS):
            async with self._db.read() as conn:
                row = (await conn.execute(query)).first()
            if row is None:
                return None
            if row.location is not None:
                return str(row.location)
            await asyncio.sleep(WAIT_STEP)
        return None
