"""Plain value objects for rows of the members tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.errors import NotAllowed
from core.events import ChatKind
from core.i18n import Msg, msg


class Role(StrEnum):
    LEARNER = "learner"
    MODERATOR = "moderator"
    CREATOR = "creator"

    @property
    def label(self) -> Msg:
        return ROLE_LABELS[self]

    @property
    def is_staff(self) -> bool:
        return self is not Role.LEARNER


ROLE_LABELS: dict[Role, Msg] = {
    Role.LEARNER: msg("learner"),
    Role.MODERATOR: msg("moderator"),
    Role.CREATOR: msg("creator"),
}


@dataclass(frozen=True)
class Community:
    id: int
    name: str
    default_locale: str
    timezone: str
    owner_member_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class Member:
    id: int
    community_id: int
    display_name: str
    role: Role
    locale: str | None
    created_at: datetime

    def is_owner_of(self, community: Community) -> bool:
        return community.owner_member_id == self.id


@dataclass(frozen=True)
class Identity:
    id: int
    member_id: int
    platform: str
    external_id: str
    language_hint: str | None
    created_at: datetime


@dataclass(frozen=True)
class Chat:
    id: int
    community_id: int
    platform: str
    external_id: str
    kind: ChatKind
    title: str


def require_creator(community: Community, actor: Member, refusal: Msg) -> None:
    """Authorization in the core, whatever the adapter checked: ``actor`` must be a creator of
    ``community``; else NotAllowed with ``refusal``."""
    if actor.role is not Role.CREATOR or actor.community_id != community.id:
        raise NotAllowed(refusal)


def require_staff(community: Community, actor: Member, refusal: Msg) -> None:
    """As require_creator, for moderators and creators of ``community``."""
    if not actor.role.is_staff or actor.community_id != community.id:
        raise NotAllowed(refusal)
