"""Where a learner opens the community on a chat platform, as links a web page can show.

The Telegram bot's username comes from Telegram itself (getMe), so the adapter remembers it in
the app's state when it connects, and every process's pages read it from there.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

from core.referrals.service import PAYLOAD_PREFIX
from core.storage.database import Database
from core.storage.state import get_state, set_state

TELEGRAM_USERNAME = "links.telegram_username"
WECHAT_QR = "links.wechat_qr"  # the Official Account's QR code (a PNG, base64) for web pages


async def remember_telegram_username(db: Database, username: str) -> None:
    if username and await get_state(db, TELEGRAM_USERNAME) != username:
        await set_state(db, TELEGRAM_USERNAME, username)


async def telegram_username(db: Database) -> str | None:
    return await get_state(db, TELEGRAM_USERNAME)


async def remember_wechat_qr(db: Database, png: bytes) -> None:
    """The Official Account's QR code, which the WeChat adapter makes once, for every
    process's course pages to show."""
    await set_state(db, WECHAT_QR, base64.b64encode(png).decode("ascii"))


async def wechat_qr(db: Database) -> bytes | None:
    stored = await get_state(db, WECHAT_QR)
    return base64.b64decode(stored) if stored else None


def telegram_start_link(username: str, payload: str | None = None) -> str:
    """The bot's link; with ``payload``, the link that sends ``/start PAYLOAD`` (1-64 of
    A-Z, a-z, 0-9, _ and -, as Telegram allows)."""
    link = f"https://t.me/{quote(username)}"
    return f"{link}?start={quote(payload)}" if payload else link


def invitation_link(code: str, telegram_bot: str | None) -> str:
    """A member's invitation with referral ``code``: the bot's start link where a Telegram bot is
    known, else what to send the bot on any platform."""
    payload = f"{PAYLOAD_PREFIX}{code}"
    return telegram_start_link(telegram_bot, payload) if telegram_bot else f"/start {payload}"


MINI_APP_PATH = "/learn/app"  # Telegram's Mini App: signed in from Telegram's init data
WECHAT_H5_PATH = "/learn/wechat"  # WeChat's H5 page: signed in through WeChat's OAuth


def mini_app_link(base_url: str | None, then: str = "/me", path: str = MINI_APP_PATH) -> str | None:
    """The learner pages opened inside a chat app (``path``: Telegram's Mini App, or WeChat's
    H5 sign-in), landing on ``then`` once signed in; None unless the web is served over HTTPS
    (Telegram and WeChat open pages only there)."""
    if not base_url or not base_url.startswith("https://"):
        return None
    return f"{base_url.rstrip('/')}{path}?next={quote(then, safe='/')}"


def local_path(then: str | None, default: str = "/me") -> str:
    """``then`` if it is a path on this site (never another site's address), else ``default``."""
    if not then or not then.startswith("/") or then.startswith("//") or "\\" in then or len(then) > 200:
        return default
    return then
