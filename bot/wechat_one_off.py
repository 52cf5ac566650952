"""The WeChat API for one-off commands (``studyhall doctor``, ``studyhall wechat menu``).

WeChat keeps one valid access token per AppID, and fetching a new one invalidates the old one
for everyone. A command run beside the service therefore takes the token the running processes
share through the database (core/delivery/access_tokens.py), and fetches one only when that is
stale, writing it back for them. Without a reachable, migrated database it keeps a token of
its own, as it must.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.adapters.wechat.api import WeChatApi
from bot.config import Config, Secret
from core.delivery.access_tokens import read_access_token
from core.storage.database import Database


@asynccontextmanager
async def one_off_wechat_api(config: Config) -> AsyncIterator[WeChatApi]:
    settings = config.adapter_settings["wechat"]
    secret = settings["app_secret"]
    db = await _shared_database(config.database_url)
    api = WeChatApi(
        str(settings["app_id"]),
        secret.reveal() if isinstance(secret, Secret) else str(secret),
        str(settings.get("api_base") or "") or None,
        db=db,
    )
    try:
        yield api
    finally:
        api.close()
        if db is not None:
            await db.dispose()


def missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite database file that does not exist (connecting would create an
    empty one), else None."""
    if not url.startswith("sqlite"):
        return None
    path = make_url(url).database
    if path and path != ":memory:" and not Path(path).expanduser().exists():
        return path
    return None


async def _shared_database(url: str) -> Database | None:
    """The database the running processes share the token through, when it can be read;
    None otherwise (no file, unreachable, or not migrated that far)."""
    if missing_sqlite_file(url):
        return None
    db = Database(url)
    try:
        async with db.read() as conn:
            await read_access_token(conn, "")  # the table is there
    except Exception:  # any failure: the command goes on with a token of its own
        await db.dispose()
        return None
    return db
