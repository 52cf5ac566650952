"""Which chat a creator means to bind, named from their private chat with the bot.

Besides the buttons of ``/bind KIND TARGET``, a creator can name a public group or channel by
its handle (``@channel``; the platform's FindsChats port looks it up), or forward one of the
channel's posts (the adapter puts the channel in ``Event.forwarded_from``). A forward carries
no command, so ``/bind KIND TARGET`` leaves what to bind waiting for a few minutes, in
app_state, for the creator's next forwarded post.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.access.paid_chats import BINDABLE, PaidChatService
from core.access.ports import FindsChats
from core.clock import Clock
from core.errors import InvalidInput, NotFound
from core.events import ChatRef
from core.i18n import msg
from core.members.models import Chat, Community, Member
from core.members.service import MemberService
from core.storage.database import Database
from core.storage.state import delete_state, get_state, set_state

WAITING_FOR = timedelta(minutes=10)
HANDLE = re.compile(r"^@[A-Za-z0-9_]{1,39}$")  # a public name as links show it (Telegram: 5-32)


@dataclass(frozen=True)
class Waiting:
    """What the creator's next forwarded post binds its channel to."""

    kind: str
    target: str


class ChatChoices:
    def __init__(self, db: Database, clock: Clock, members: MemberService, paid: PaidChatService) -> None:
        self._db = db
        self._clock = clock
        self._members = members
        self._paid = paid

    def can_find(self, platform: str) -> bool:
        """Whether chats on ``platform`` can be named by handle (and so forwarded from)."""
        return isinstance(self._paid.ports.get(platform), FindsChats)

    async def by_handle(self, community: Community, platform: str, handle: str) -> Chat:
        """The group or channel ``handle`` on ``platform``, recorded as one of the community's
        chats; InvalidInput or NotFound (nothing recorded) when it cannot be found."""
        if not HANDLE.match(handle):
            raise InvalidInput(
                msg("{handle} is not a chat's public name: write it as @name.", handle=handle[:40])
            )
        port = self._paid.ports.get(platform)
        if not isinstance(port, FindsChats):
            raise InvalidInput(
                msg(
                    "Chats cannot be named by @name here: send /bind course|plan|tier ID and choose"
                    " the chat with its buttons."
                )
            )
        found = await port.find_chat(handle)
        if found is None or found.platform != platform or found.kind not in BINDABLE:
            raise NotFound(
                msg(
                    "The bot finds no public group or channel {handle}: check the name, or forward"
                    " a post from the channel here instead.",
                    handle=handle,
                )
            )
        return await self._members.ensure_chat(community, found)

    async def forwarded(self, community: Community, source: ChatRef) -> Chat:
        """The channel a forwarded post came from, recorded as one of the community's chats."""
        return await self._members.ensure_chat(community, source)

    async def wait(self, member: Member, kind: str, target: str) -> None:
        """Remember that ``member``'s next forwarded post binds its channel to ``kind target``."""
        at = self._clock.now().isoformat()
        await set_state(self._db, _key(member), json.dumps({"kind": kind, "target": target, "at": at}))

    async def take(self, member: Member) -> Waiting | None:
        """What ``member`` is binding, if they asked within WAITING_FOR; used up by this."""
        stored = await get_state(self._db, _key(member))
        if stored is None:
            return None
        await self.forget(member)
        data = json.loads(stored)
        if self._clock.now() - datetime.fromisoformat(data["at"]) > WAITING_FOR:
            return None
        return Waiting(data["kind"], data["target"])

    async def forget(self, member: Member) -> None:
        await delete_state(self._db, _key(member))


def _key(member: Member) -> str:
    return f"bind.waiting.{member.id}"
