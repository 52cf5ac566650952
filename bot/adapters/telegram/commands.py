"""The command menus Telegram shows (``setMyCommands``), generated from the router's registry:
per scope (private chats, groups, group administrators) and per language (en, zh)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)

from core.commands.router import STAFF, CommandSpec, Router
from core.events import ChatKind
from core.i18n import render
from core.members.models import Role

# (locale we render in, Telegram's language_code: "" is the default for everyone else)
LANGUAGES = (("en", ""), ("zh_CN", "zh"))
MAX_DESCRIPTION = 256
_TELEGRAM_NAME = re.compile(r"^[a-z0-9_]{1,32}$")  # Chinese aliases still work when typed


@dataclass(frozen=True)
class CommandMenu:
    scope: BotCommandScope
    language_code: str
    commands: tuple[BotCommand, ...]


def command_menus(router: Router) -> list[CommandMenu]:
    menus: list[CommandMenu] = []
    specs = sorted(
        (s for s in router.commands.values() if not s.hidden and _TELEGRAM_NAME.match(s.name)),
        key=lambda s: s.name,
    )
    scopes = (
        (BotCommandScopeAllPrivateChats(), ChatKind.PRIVATE, _for_everyone),
        (BotCommandScopeAllGroupChats(), ChatKind.GROUP, _for_everyone),
        (BotCommandScopeAllChatAdministrators(), ChatKind.GROUP, _for_staff),
    )
    for locale, code in LANGUAGES:
        for scope, chat, wanted in scopes:
            commands = tuple(
                BotCommand(spec.name, render(spec.help, locale)[:MAX_DESCRIPTION])
                for spec in specs
                if chat in spec.chats and wanted(spec)
            )
            menus.append(CommandMenu(scope, code, commands))
    return menus


def _for_everyone(spec: CommandSpec) -> bool:
    return Role.LEARNER in spec.roles


def _for_staff(spec: CommandSpec) -> bool:
    # Telegram's group administrators are the likely moderators and creators (the core still
    # checks every command): their menu adds the staff commands to everyone's.
    return _for_everyone(spec) or bool(spec.roles & STAFF)
