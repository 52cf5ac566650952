"""Communities, members, identities, chats and roles."""

from core.members.models import Chat, Community, Identity, Member, Role
from core.members.service import MemberService

__all__ = ["Chat", "Community", "Identity", "Member", "MemberService", "Role"]
