"""Reading and writing the app's own small key/value state."""

from __future__ import annotations

from sqlalchemy import delete, select

from core.storage.database import Database
from core.storage.state_tables import app_state
from core.storage.upsert import insert_or_update


async def get_state(db: Database, key: str) -> str | None:
    async with db.read() as conn:
        query = select(app_state.c.value).where(app_state.c.key == key)
        return (await conn.execute(query)).scalar_one_or_none()


async def set_state(db: Database, key: str, value: str) -> None:
    """Set ``key`` (one atomic upsert, safe when two writers race)."""
    async with db.write() as conn:
        await conn.execute(
            insert_or_update(db.dialect, app_state, {"key": key, "value": value}, ["key"], ["value"])
        )


async def delete_state(db: Database, key: str) -> None:
    """Forget ``key`` (nothing happens when it is not set)."""
    async with db.write() as conn:
        await conn.execute(delete(app_state).where(app_state.c.key == key))
