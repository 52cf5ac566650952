"""bot/adapters/wechat/menu.py: the default menu from the registry, within WeChat's limits."""

from __future__ import annotations

from bot.adapters.wechat.menu import MAX_ITEM_BYTES, MAX_ITEMS, MAX_TOP, MAX_TOP_BYTES, default_menu
from bot.handlers import build_router
from core.commands.router import CREATORS, CommandSpec, Router
from core.i18n import msg


def test_the_default_menu_is_click_buttons_for_everyday_commands() -> None:
    router = build_router()
    menu = default_menu(router)
    groups = menu["button"]
    assert [group["name"] for group in groups] == ["学习", "积分", "更多"]
    assert len(groups) <= MAX_TOP
    for group in groups:
        assert len(group["name"].encode()) <= MAX_TOP_BYTES
        assert 1 <= len(group["sub_button"]) <= MAX_ITEMS
        for item in group["sub_button"]:
            assert item["type"] == "click" and len(item["name"].encode()) <= MAX_ITEM_BYTES
            name = item["key"].removeprefix("cmd:/")
            assert router.commands[name]  # every key is a registered command
    names = {item["name"]: item["key"] for group in groups for item in group["sub_button"]}
    assert names["签到"] == "cmd:/checkin" and names["积分"] == "cmd:/points"
    assert names["推荐"] == "cmd:/ref" and names["提问"] == "cmd:/ask" and names["课程"] == "cmd:/courses"


def test_commands_the_registry_lacks_or_that_are_for_creators_are_left_out() -> None:
    router = Router()

    async def handler(ctx: object) -> None:
        return None

    router.add(CommandSpec("points", msg("Your points"), handler, aliases=("积分",)))
    router.add(CommandSpec("checkin", msg("Check in"), handler, roles=CREATORS, aliases=("签到",)))
    menu = default_menu(router)
    assert menu == {
        "button": [{"name": "积分", "sub_button": [{"type": "click", "name": "积分", "key": "cmd:/points"}]}]
    }
