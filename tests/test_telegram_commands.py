"""bot/adapters/telegram/commands.py: the setMyCommands menus built from the router, and the
exact Bot API requests the adapter makes to publish them (a recording request object: the
emulator has no setMyCommands)."""

from __future__ import annotations

from telegram import (
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.adapters.telegram.commands import command_menus
from bot.app import App
from bot.handlers import build_router
from tests.telegram_peer import RecordingRequest


def _names(menu_commands: tuple) -> list[str]:
    return [command.command for command in menu_commands]


def test_menus_cover_each_scope_in_english_and_chinese() -> None:
    menus = command_menus(build_router())
    assert [(type(m.scope), m.language_code) for m in menus] == [
        (scope, code)
        for code in ("", "zh")
        for scope in (
            BotCommandScopeAllPrivateChats,
            BotCommandScopeAllGroupChats,
            BotCommandScopeAllChatAdministrators,
        )
    ]
    private, group, admins = (_names(m.commands) for m in menus[:3])
    assert {"start", "help", "points", "checkin", "lang"} <= set(private)
    assert "award" not in private and "award" not in group  # staff only
    assert "award" in admins and set(group) <= set(admins)
    for menu in menus:
        for command in menu.commands:
            assert command.command.isascii() and 1 <= len(command.command) <= 32
            assert 1 <= len(command.description) <= 256


def test_descriptions_are_translated_for_the_zh_menu() -> None:
    menus = command_menus(build_router())
    english = dict((c.command, c.description) for c in menus[0].commands)
    chinese = dict((c.command, c.description) for c in menus[3].commands)
    assert english.keys() == chinese.keys()
    assert english["points"] != chinese["points"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese["points"])


async def test_the_adapter_publishes_every_menu_with_its_scope_and_language(app: App) -> None:
    recorder = RecordingRequest()
    adapter = TelegramAdapter(app, {"token": "1:REC"}, request=recorder, updates_request=RecordingRequest())
    await adapter.application.initialize()
    try:
        await adapter.publish_commands()
    finally:
        await adapter.application.shutdown()
    published = [parameters for endpoint, parameters in recorder.calls if endpoint == "setMyCommands"]
    assert len(published) == 6
    scopes = [(p["scope"]["type"], p.get("language_code")) for p in published]
    assert scopes == [
        (kind, code)
        for code in (None, "zh")
        for kind in ("all_private_chats", "all_group_chats", "all_chat_administrators")
    ]
    expected = command_menus(app.router)
    assert [[(c["command"], c["description"]) for c in p["commands"]] for p in published] == [
        [(c.command, c.description) for c in menu.commands] for menu in expected
    ]
    assert "points" in [c["command"] for c in published[0]["commands"]]
