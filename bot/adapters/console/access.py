"""The console's side of paid chats (core/access/ports.ChatAccess): the console has no platform
behind it, so who is in a chat is what studyhall recorded; the operations succeed and the core
records their effect. Invite links are console notes (`:in CHAT` joins)."""

from __future__ import annotations

from datetime import datetime

from core.i18n import Msg

PLATFORM = "console"


class ConsoleChatAccess:
    platform = PLATFORM

    async def single_use_invite(self, chat_id: str, *, for_account: str, expires_at: datetime) -> str:
        return f":in {chat_id.removeprefix('group:')}"

    async def approve_join(self, chat_id: str, account: str) -> None:
        return None

    async def decline_join(self, chat_id: str, account: str) -> None:
        return None

    async def remove(self, chat_id: str, account: str) -> None:
        return None

    async def missing_rights(self, chat_id: str) -> list[Msg]:
        return []  # the console's bot can do everything

    async def is_member(self, chat_id: str, account: str) -> bool:
        return True  # the core's own record is the console's truth
