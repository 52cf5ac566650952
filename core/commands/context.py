"""What a handler receives: the event, who sent it, where, and the services."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.commands.errors import ArgError
from core.events import ChatKind, Event
from core.i18n import Msg, msg
from core.members.models import Chat, Community, Member, Role
from core.services import Services


class CommandInfo(Protocol):
    """What a handler may read about a registered command (for /help)."""

    @property
    def name(self) -> str: ...
    @property
    def help(self) -> Msg: ...
    @property
    def usage(self) -> str: ...
    @property
    def aliases(self) -> tuple[str, ...]: ...
    @property
    def roles(self) -> frozenset[Role]: ...
    @property
    def hidden(self) -> bool: ...


class CommandIndex(Protocol):
    """The registry a context was dispatched by, as handlers see it (the router implements it;
    named structurally so this module need not import the router)."""

    def find(self, name: str) -> CommandInfo | None: ...
    def available_to(self, role: Role, chat: ChatKind | None = None) -> Sequence[CommandInfo]: ...


@dataclass
class Context:
    event: Event
    community: Community
    chat: Chat
    member: Member
    locale: str
    services: Services
    args: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # key=value options given, converted
    router: CommandIndex | None = None  # set by the router that dispatches this context
    bot_username: str | None = None  # the bot's own name on the platform, where it has one

    def event_key(self, purpose: str) -> str:
        """An idempotency key for what this event causes: a redelivered message gives the
        same key, so its effect happens once."""
        event = self.event
        if event.message_id:
            return f"{purpose}:{event.platform}:{event.chat.external_id}:{event.message_id}"[:200]
        return f"{purpose}:{uuid.uuid4().hex}"

    async def resolve_member(self, token: str) -> Member:
        """``@name`` or a platform mention → a member of this community, or ArgError."""
        mentioned = self.event.mentions.get(token)
        members = self.services.members
        if mentioned is not None:
            found = await members.find_by_identity(
                self.community.id, mentioned.platform, mentioned.external_id
            )
            if found is None:
                raise ArgError(msg("{name} has not talked to the bot yet.", name=token[:60]))
            return found
        name = token[1:] if token.startswith("@") else token
        if not name.strip():
            raise ArgError(msg("Name a member like @name."))
        matches = await members.find_by_name(self.community.id, name)
        if not matches:
            raise ArgError(msg("No member called {name} here.", name=token[:60]))
        if len(matches) > 1:
            raise ArgError(
                msg("Several members are called {name}; ask them to set distinct names.", name=token[:60])
            )
        return matches[0]
