"""Telegram's side of paid access (core/access/ports.ChatAccess): single-use invite links,
join requests, and removal by ban then unban (Telegram has no "kick"; unbanning with
``only_if_banned`` lets the person rejoin after paying)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from telegram import Bot, ChatMember, ChatMemberAdministrator
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.adapters.telegram.inbound import PLATFORM
from bot.adapters.telegram.rights import NEEDED_RIGHTS
from core.access.ports import PlatformRefused
from core.i18n import Msg, msg

log = logging.getLogger(__name__)

_IN = {ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER}


class TelegramChatAccess:
    platform = PLATFORM

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def single_use_invite(self, chat_id: str, *, for_account: str, expires_at: datetime) -> str:
        async with _refusals(chat_id):
            link = await self.bot.create_chat_invite_link(
                chat_id, expire_date=expires_at, member_limit=1, name=f"studyhall {for_account}"[:32]
            )
        return link.invite_link

    async def approve_join(self, chat_id: str, account: str) -> None:
        async with _refusals(chat_id):
            await self.bot.approve_chat_join_request(chat_id, int(account))

    async def decline_join(self, chat_id: str, account: str) -> None:
        async with _refusals(chat_id):
            await self.bot.decline_chat_join_request(chat_id, int(account))

    async def remove(self, chat_id: str, account: str) -> None:
        async with _refusals(chat_id):
            await self.bot.ban_chat_member(chat_id, int(account))
            await self.bot.unban_chat_member(chat_id, int(account), only_if_banned=True)

    async def missing_rights(self, chat_id: str) -> list[Msg]:
        async with _refusals(chat_id):
            me = await self.bot.get_chat_member(chat_id, self.bot.id)
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
        async with _refusals(chat_id):
            member = await self.bot.get_chat_member(chat_id, int(account))
        return member.status in _IN or (member.status == ChatMember.RESTRICTED and bool(member.is_member))


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
