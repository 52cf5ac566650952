"""bot/adapters/discord/commands.py: the registry → slash-command mapping (names, localized
descriptions, typed options, permission defaults, contexts) and slash invocations back to the
text the core parses."""

from __future__ import annotations

from typing import Any

import pytest

from bot.adapters.discord.commands import (
    ARGS,
    BOT_DM,
    GUILD,
    INTEGER,
    MANAGE_GUILD,
    MANAGE_MESSAGES,
    STRING,
    USER,
    invocation_text,
    slash_commands,
    valid_name,
)
from bot.handlers import build_router
from core.commands.params import Choice, Int, MemberParam, Rest, Word
from core.commands.parser import parse_command
from core.commands.router import CREATORS, GROUPS_ONLY, PRIVATE_ONLY, STAFF, Router
from core.i18n import msg


async def _noop(ctx: Any) -> None:
    return None


@pytest.fixture(scope="module")
def registry() -> dict[str, dict[str, Any]]:
    return {command["name"]: command for command in slash_commands(build_router())}


def test_every_visible_command_becomes_a_slash_command(registry: dict[str, dict[str, Any]]) -> None:
    router = build_router()
    visible = {spec.name for spec in router.commands.values() if not spec.hidden}
    assert set(registry) == visible
    assert list(registry) == sorted(registry)
    assert len(registry) <= 100  # Discord's limit per scope


def test_descriptions_are_localized_for_en_us_and_zh_cn(registry: dict[str, dict[str, Any]]) -> None:
    points = registry["points"]
    assert points["description"] == "Your points, tier and what expires soon"
    assert points["description_localizations"]["zh-CN"] != points["description"]
    assert points["name_localizations"] == {"zh-CN": "积分"}
    for command in registry.values():
        assert 1 <= len(command["description"]) <= 100
        assert 1 <= len(command["description_localizations"]["zh-CN"]) <= 100
        for option in command["options"]:
            assert valid_name(option["name"])
            assert 1 <= len(option["description"]) <= 100
            assert option["description_localizations"]["zh-CN"]


def test_names_follow_discords_rules(registry: dict[str, dict[str, Any]]) -> None:
    for command in registry.values():
        assert valid_name(command["name"])
        for name in command.get("name_localizations", {}).values():
            assert valid_name(name)
    assert valid_name("我的课程") and valid_name("top") and valid_name("a-b_c")
    assert not valid_name("Points") and not valid_name("two words") and not valid_name("x" * 33)


def test_staff_commands_are_hidden_from_members_without_the_permission(
    registry: dict[str, dict[str, Any]],
) -> None:
    assert registry["points"]["default_member_permissions"] is None
    assert registry["award"]["default_member_permissions"] == str(MANAGE_MESSAGES)  # moderators
    assert registry["bind"]["default_member_permissions"] == str(MANAGE_GUILD)  # creators
    router = build_router()
    for name, command in registry.items():
        spec = router.commands[name]
        if spec.roles == CREATORS:
            assert command["default_member_permissions"] == str(MANAGE_GUILD), name
        elif spec.roles == STAFF:
            assert command["default_member_permissions"] == str(MANAGE_MESSAGES), name


def test_where_a_command_may_be_used(registry: dict[str, dict[str, Any]]) -> None:
    router = build_router()
    for name, command in registry.items():
        spec = router.commands[name]
        if spec.chats == GROUPS_ONLY:
            assert command["contexts"] == [GUILD], name
        elif spec.chats == PRIVATE_ONLY:
            assert command["contexts"] == [BOT_DM], name
    assert registry["bind"]["contexts"] == [GUILD, BOT_DM]  # in a DM it offers the chats to bind
    assert registry["points"]["contexts"] == [GUILD, BOT_DM]


def test_parameters_become_typed_options(registry: dict[str, dict[str, Any]]) -> None:
    award = registry["award"]["options"]
    assert [(o["name"], o["type"], o["required"]) for o in award] == [
        ("member", USER, True),
        ("points", INTEGER, True),
        ("reason", STRING, True),
    ]
    assert (award[1]["min_value"], award[1]["max_value"]) == (1, 1_000_000)
    assert award[2]["max_length"] == 300
    bind = registry["bind"]["options"]
    assert bind[0]["choices"] == [{"name": c, "value": c} for c in ("course", "plan", "tier")]
    history = registry["history"]["options"]
    assert [(o["name"], o["required"]) for o in history] == [("count", False)]
    assert registry["checkin"]["options"] == []


def test_parameters_discord_cannot_express_in_order_become_one_args_option() -> None:
    router = Router()
    router.command(
        "odd",
        help=msg("Your points, tier and what expires soon"),
        params=(Word("a", optional=True), Word("b")),
    )(_noop)
    (command,) = slash_commands(router)
    assert [(o["name"], o["type"], o["required"]) for o in command["options"]] == [(ARGS, STRING, False)]
    assert (
        invocation_text(router, {"name": "odd", "options": [{"name": ARGS, "value": " x y "}]}) == "/odd x y"
    )


def test_an_invocation_spells_the_command_the_core_parses() -> None:
    router = build_router()
    data = {
        "name": "award",
        "options": [
            {"name": "member", "type": USER, "value": "123456789012345678"},
            {"name": "points", "type": INTEGER, "value": 25},
            {"name": "reason", "type": STRING, "value": 'helped  a "classmate"'},
        ],
    }
    text = invocation_text(router, data)
    assert text == '/award <@123456789012345678> 25 helped  a "classmate"'
    parsed = parse_command(text)
    assert parsed is not None and parsed.name == "award"
    assert parsed.args[:2] == ("<@123456789012345678>", "25")


def test_words_with_spaces_stay_one_word() -> None:
    router = Router()
    router.command(
        "pair",
        help=msg("Your points, tier and what expires soon"),
        params=(
            Word("first"),
            Int("n"),
            Choice("c", choices=("x", "y")),
            MemberParam("m"),
            Rest("tail", optional=True),
        ),
    )(_noop)
    data = {
        "name": "pair",
        "options": [
            {"name": "first", "value": "two words"},
            {"name": "n", "value": 3},
            {"name": "c", "value": "x"},
            {"name": "m", "value": "99"},
        ],
    }
    text = invocation_text(router, data)
    parsed = parse_command(text)
    assert parsed is not None
    assert parsed.args == ("two words", "3", "x", "<@99>")


def test_missing_optional_options_and_unknown_commands() -> None:
    router = build_router()
    assert invocation_text(router, {"name": "history"}) == "/history"
    assert (
        invocation_text(router, {"name": "history", "options": [{"name": "count", "value": 5}]})
        == "/history 5"
    )
    assert invocation_text(router, {"name": "gone"}) == "/gone"  # a stale registration: the core answers
