"""The Official Account's default menu, built from the command registry.

WeChat allows 3 top-level buttons of up to 5 items each (a top-level name up to 16 bytes, an
item's up to 60). Every item is a CLICK button whose key is ``cmd:/NAME``, which comes back as
that command's button press; its name is the command's Chinese alias (followers' language).
A command the registry lacks is left out, so the menu never offers what the bot cannot do.
"""

from __future__ import annotations

from typing import Any

from core.commands.router import ANYONE, BUTTON_COMMAND_PREFIX, Router

# (group name, commands), in menu order; everyday commands any follower may use.
DEFAULT_LAYOUT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("学习", ("courses", "mycourses", "orders", "plans", "subscription")),
    ("积分", ("checkin", "points", "top", "mall", "history")),
    ("更多", ("ref", "ask", "questions", "help", "lang")),
)
MAX_TOP, MAX_ITEMS = 3, 5
MAX_TOP_BYTES, MAX_ITEM_BYTES = 16, 60


def _chinese_name(aliases: tuple[str, ...], fallback: str) -> str:
    for alias in aliases:
        if any("\u4e00" <= char <= "\u9fff" for char in alias):
            return alias
    return fallback


def default_menu(router: Router) -> dict[str, Any]:
    """The menu ``client.menu.create`` takes (``{"button": [...]}``)."""
    buttons: list[dict[str, Any]] = []
    for group, names in DEFAULT_LAYOUT[:MAX_TOP]:
        items = []
        for name in names:
            spec = router.commands.get(name)
            if spec is None or spec.roles != ANYONE or spec.hidden:
                continue
            label = _chinese_name(spec.aliases, spec.name)
            if len(label.encode()) > MAX_ITEM_BYTES:
                continue
            items.append({"type": "click", "name": label, "key": f"{BUTTON_COMMAND_PREFIX}/{spec.name}"})
        if items and len(group.encode()) <= MAX_TOP_BYTES:
            buttons.append({"name": group, "sub_button": items[:MAX_ITEMS]})
    return {"button": buttons}
