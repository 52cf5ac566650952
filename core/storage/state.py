"""Reading and writing the app's own small key/value state."""

from __future__ import annotations

from sqlalchemy import insert, select, update

from core.storage.database import Database
from core.storage.state_tables import app_state


async def get_state(db: Database, key: str) -> str | None:
    async with db.read() as conn:
        return (
            await conn.execute(select(app_state.c.value).where(app_state.c.key == key))
        ).scalar_one_or_none()


async def set_state(db: Database, key: str, value: str) -> None:
    async with db.write() as conn:
        changed = await conn.execute(update(app_state).where(app_state.c.key == key).values(value=value))
        if changed.rowcount == 0:
            await conn.execute(insert(app_state).values(key=key, value=value))
