"""core/storage/access_tokens.py: one access token row per AppID, written by an upsert and
never shown in a repr."""

from __future__ import annotations

from datetime import timedelta

from core.storage.access_tokens import StoredToken, read_access_token, save_access_token
from core.storage.database import Database
from tests.conftest import START


async def test_a_token_is_saved_read_and_replaced(db_url: str) -> None:
    db = Database(db_url)
    try:
        async with db.read() as conn:
            assert await read_access_token(conn, "wx1") is None
        first = StoredToken("secret-token-1", START + timedelta(hours=2))
        async with db.write() as conn:
            await save_access_token(conn, "wx1", first, now=START)
            await save_access_token(conn, "wx2", StoredToken("other", START), now=START)
        second = StoredToken("secret-token-2", START + timedelta(hours=4))
        async with db.write() as conn:
            await save_access_token(conn, "wx1", second, now=START + timedelta(hours=2))
        async with db.read() as conn:
            assert await read_access_token(conn, "wx1") == second
            assert await read_access_token(conn, "wx2") == StoredToken("other", START)
    finally:
        await db.dispose()


def test_the_token_is_not_in_its_repr() -> None:
    stored = StoredToken("secret-token-1", START)
    assert "secret-token-1" not in repr(stored) and "expires_at" in repr(stored)
