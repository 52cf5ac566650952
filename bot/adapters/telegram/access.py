"""Telegram's side of paid access (core/access/ports.ChatAccess): single-use invite links,
join requests, and removal by ban then unban (Telegram has no "kick"; unbanning with
``only_if_banned`` lets the person rejoin after paying)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TypeVar

from telegram import Bot, ChatMember, ChatMemberAdministrator
from telegram.constants import ChatType
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError

from bot.adapters.telegram.inbound import PLATFORM
from bot.adapters.telegram.rights import NEEDED_RIGHTS
from core.access.ports import PlatformRefused
from core.events import ChatKind, ChatRef
from core.i18n import Msg, msg

log = logging.getLogger(__name__)

_IN = {ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER}
# What getChat may find that a paid chat can be (not a person's private chat).
_BINDABLE_KINDS = {
    ChatType.GROUP: ChatKind.GROUP,
    ChatType.SUPERGROUP: ChatKind.GROUP,
    ChatType.CHANNEL: ChatKind.CHANNEL,
}
T = TypeVar("T")
ChatMoved = Callable[[str, str], Awaitable[None]]  # (old id, new id): the adapter moves the chat


class TelegramChatAccess:
    platform = PLATFORM

    def __init__(self, bot: Bot, chat_moved: ChatMoved | None = None) -> None:
        self.bot = bot
        self._chat_moved = chat_moved

    async def single_use_invite(self, chat_id: str, *, for_account: str, expires_at: datetime) -> str:
        name = f"studyhall {for_account}"[:32]
        link = await self._on(
            chat_id,
            lambda chat: self.bot.create_chat_invite_link(
                chat, expire_date=expires_at, member_limit=1, name=name
            ),
        )
        return link.invite_link

    async def approve_join(self, chat_id: str, account: str) -> None:
        await self._on(chat_id, lambda chat: self.bot.approve_chat_join_request(chat, int(account)))

    async def decline_join(self, chat_id: str, account: str) -> None:
        await self._on(chat_id, lambda chat: self.bot.decline_chat_join_request(chat, int(account)))

    async def remove(self, chat_id: str, account: str) -> None:
        async def ban_then_unban(chat: str) -> None:
            await self.bot.ban_chat_member(chat, int(account))
            await self.bot.unban_chat_member(chat, int(account), only_if_banned=True)

        await self._on(chat_id, ban_then_unban)

    async def missing_rights(self, chat_id: str) -> list[Msg]:
        me = await self._on(chat_id, lambda chat: self.bot.get_chat_member(chat, self.bot.id))
        if me.status in (ChatMember.LEFT, ChatMember.BANNED):
            return [msg("the bot is not in the group any more; add it again as an administrator")]
        if not isinstance(me, ChatMemberAdministrator):
            return [msg("make the bot an administrator that can invite users via link and ban users")]
        return [
            msg("give the bot the {right} right", right=label)
            for attribute, label in NEEDED_RIGHTS
            if not getattr(me, attribute, False)
        ]

    async def is_member(self, chat_id: str, account: str) -> bool:
        member = await self._on(chat_id, lambda chat: self.bot.get_chat_member(chat, int(account)))
        return member.status in _IN or (member.status == ChatMember.RESTRICTED and bool(member.is_member))

    async def find_chat(self, handle: str) -> ChatRef | None:
        """A public group or channel by its @username (getChat), as core/access/ports.FindsChats
        asks; None when Telegram knows no such chat or it is a person's."""
        async with _refusals(handle):
            try:
                found = await self.bot.get_chat(handle)
            except BadRequest as error:
                if "not found" not in error.message.lower():
                    raise
                return None  # Telegram: "Chat not found" (no such username, or not public)
        kind = _BINDABLE_KINDS.get(found.type)
        if kind is None:
            return None
        return ChatRef(PLATFORM, str(found.id), kind, found.title or found.username or handle)

    async def _on(self, chat_id: str, call: Callable[[str], Awaitable[T]]) -> T:
        """``call`` on the chat; when the group became a supergroup meanwhile (ChatMigrated),
        the chat moves everywhere first and ``call`` goes again to the new id."""
        async with _refusals(chat_id):
            try:
                return await call(chat_id)
            except ChatMigrated as error:
                moved_to = str(error.new_chat_id)
                log.info("telegram: chat %s is %s now", chat_id, moved_to)
                if self._chat_moved is not None:
                    await self._chat_moved(chat_id, moved_to)
                return await call(moved_to)


@asynccontextmanager
async def _refusals(chat_id: str) -> AsyncIterator[None]:
    """Telegram's refusals as PlatformRefused with a message a creator can act on."""
    try:
        yield
    except TelegramError as error:
        log.info("telegram: chat %s refused: %s", chat_id, error)
        text = error.message.lower()
        if isinstance(error, Forbidden) or "not enough rights" in text or "administrator" in text:
            raise PlatformRefused(
                msg(
                    "The bot lacks the rights for this in the group: make it an administrator"
                    " allowed to invite users via link and to ban users."
                )
            ) from error
        if isinstance(error, BadRequest) and "chat not found" in text:
            raise PlatformRefused(msg("The bot is not in that group any more.")) from error
        raise PlatformRefused(
            msg("Telegram refused the request: {reason}", reason=error.message[:200])
        ) from error
