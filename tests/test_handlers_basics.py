"""bot/handlers/basics.py: /start, /help, /lang, /whoami."""

from __future__ import annotations

from tests.conftest import ConsoleDriver


async def test_start_welcomes_with_buttons(console: ConsoleDriver) -> None:
    out = await console("/start ref_abc")
    assert out[0] == "bot> Welcome to testhall, guest!"
    assert out[-2:] == ["bot> [1] Help", "bot> [2] Language"]
    assert "Commands you can use here:" in await console.text("1")


async def test_help_for_one_command_shows_usage_and_aliases(console: ConsoleDriver) -> None:
    out = await console("/help lang")
    assert out == [
        "bot> /lang [en|zh_CN]",
        "bot> Choose your language: en or zh",
        "bot> Also: /language, /语言",
    ]
    assert await console("/help role") == ["bot> No command /role for you. Send /help to see the list."]
    await console(":as Boss creator")
    assert (await console("/help /role"))[0] == "bot> /role @member learner|moderator [reason…]"


async def test_chinese_alias_and_language_switch(console: ConsoleDriver) -> None:
    out = await console("/lang zh", "/帮助")
    assert out[0] == "bot> 语言已切换为中文。"
    assert out[1] == "bot> 你在这里可以使用的命令："
    assert await console("/lang klingon") == [
        "bot> klingon 不是可选值之一：en, zh_CN。",
        "bot> 用法：/lang [en|zh_CN]",
    ]
    assert await console("/lang EN") == ["bot> Language set to English."]


async def test_whoami_shows_role_owner_and_identities(console: ConsoleDriver) -> None:
    await console(":as Mei creator")
    out = await console.text("/whoami")
    assert "Role: creator (owner)" in out
    assert "Community: testhall" in out
    assert "• console: mei" in out
    await console(":as Ana")
    assert "Role: learner" in await console.text("/whoami")
