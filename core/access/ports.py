"""What the core asks of a platform to control who is in a paid chat. Each adapter implements
it with its platform's operations (Telegram: invite links, join requests, ban then unban;
Discord: roles). The core never imports an SDK: it sees these methods and PlatformRefused.

A platform where the bot can let a member in itself (Discord: give them the chat's role)
implements AdmitsDirectly too; reconciliation then admits entitled members instead of sending
them an invite link. One where chats have public handles (Telegram's @channel) implements
FindsChats, so a creator can name the chat to bind."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from core.errors import StudyhallError
from core.events import ChatRef
from core.i18n import Msg


class PlatformRefused(StudyhallError):
    """The platform refused an operation; the message says what the creator should fix."""


class ChatAccess(Protocol):
    platform: str

    async def single_use_invite(self, chat_id: str, *, for_account: str, expires_at: datetime) -> str:
        """A link that lets one person in, once, until ``expires_at``."""
        ...

    async def approve_join(self, chat_id: str, account: str) -> None: ...

    async def decline_join(self, chat_id: str, account: str) -> None: ...

    async def remove(self, chat_id: str, account: str) -> None:
        """Take the account out of the chat so that it can come back later (after paying)."""
        ...

    async def is_member(self, chat_id: str, account: str) -> bool: ...

    async def missing_rights(self, chat_id: str) -> list[Msg]:
        """What the bot lacks in the chat for paid access to work, each as a fix for the
        creator ("give the bot the Ban users right in …"); empty when nothing is missing."""
        ...


@runtime_checkable
class AdmitsDirectly(Protocol):
    """A ChatAccess that can let a member in without their doing anything."""

    async def admit(self, chat_id: str, account: str) -> None:
        """Give the account access to the chat now (raises PlatformRefused)."""
        ...


@runtime_checkable
class FindsChats(Protocol):
    """A ChatAccess that can look a group or channel up by its public handle."""

    async def find_chat(self, handle: str) -> ChatRef | None:
        """The group or channel called ``handle`` (``@name``), or None when there is none
        (or it is no group or channel); raises PlatformRefused when the platform refuses."""
        ...
