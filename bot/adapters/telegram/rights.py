"""The bot's own rights in a group or channel (``my_chat_member``): what is missing for paid
access to work there, told to the community's creators in their language, in plain words."""

from __future__ import annotations

from telegram import Chat as TgChat
from telegram import ChatMember, ChatMemberAdministrator, ChatMemberUpdated

from core.i18n import Msg, msg

# What paid groups need from the bot, and how a creator finds the switch in Telegram.
NEEDED_RIGHTS: tuple[tuple[str, Msg], ...] = (
    ("can_invite_users", msg("Invite users via link")),
    ("can_restrict_members", msg("Ban users")),
)


def rights_report(change: ChatMemberUpdated) -> list[Msg] | None:
    """Lines for the creators about this change of the bot's status in a group, or None when
    there is nothing to say (not a group, or nothing changed that matters)."""
    if change.chat.type not in (TgChat.GROUP, TgChat.SUPERGROUP, TgChat.CHANNEL):
        return None
    title = change.chat.title or str(change.chat.id)
    after = change.new_chat_member
    if after.status in (ChatMember.LEFT, ChatMember.BANNED):
        return [msg("The bot was removed from {chat}. Add it again to keep paid access working.", chat=title)]
    if not isinstance(after, ChatMemberAdministrator):
        return [
            msg("The bot is in {chat} but is not an administrator.", chat=title),
            msg("Fix: open the group → Administrators → Add administrator → choose the bot, and allow:"),
            *(label for _attribute, label in NEEDED_RIGHTS),
        ]
    missing = [label for attribute, label in NEEDED_RIGHTS if not getattr(after, attribute, False)]
    if missing:
        return [
            msg("The bot is an administrator of {chat} but is missing rights it needs.", chat=title),
            msg("Fix: open the group → Administrators → the bot, and turn on:"),
            *missing,
        ]
    before = change.old_chat_member
    if isinstance(before, ChatMemberAdministrator) and all(
        getattr(before, a, False) for a, _ in NEEDED_RIGHTS
    ):
        return None  # it had everything already: nothing new to say
    return [msg("The bot now has every right it needs in {chat}.", chat=title)]
