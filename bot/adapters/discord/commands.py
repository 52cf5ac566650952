"""Slash commands generated from the router's registry, and slash invocations turned back into
the command text the core parses.

Each visible command becomes a CHAT_INPUT command with its help as the description, in en-US
and zh-CN (its Chinese alias, where it has one, is its zh-CN name). Its parameters become
typed options where Discord can express them in order (a member → USER, a number → INTEGER
with its bounds, fixed words → STRING with choices, the rest of the line → STRING); otherwise
the command takes one free-text ``args`` option. Commands only staff may use are hidden from
members without Discord's matching permission (creators: Manage Server; moderators: Manage
Messages); the core still checks every role itself.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from core.commands.params import Choice, Int, MemberParam, Param
from core.commands.router import CREATORS, PRIVATE_ONLY, CommandSpec, Router
from core.events import ChatKind
from core.i18n import Msg, msg, render
from core.members.models import Role

# (locale we render in, Discord's locale): en-US is also the default for every other locale.
LANGUAGES = (("en", "en-US"), ("zh_CN", "zh-CN"))
MAX_NAME = 32
MAX_DESCRIPTION = 100
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_STRING = 6000
MAX_INTEGER = 2**53  # Discord's integers are JSON doubles

# Application command option types and contexts (Discord API).
STRING, INTEGER, USER = 3, 4, 6
CHAT_INPUT = 1
GUILD, BOT_DM = 0, 1
GUILD_INSTALL = 0

# Discord permission bits that stand for our staff roles (what a server gives its moderators).
MANAGE_GUILD = 1 << 5
MANAGE_MESSAGES = 1 << 13
ARGS = "args"


def valid_name(name: str) -> bool:
    """Discord's rule for command and option names: 1-32 letters, digits, - or _, lower case."""
    return (
        0 < len(name) <= MAX_NAME and name == name.lower() and all(ch.isalnum() or ch in "-_" for ch in name)
    )


def slash_commands(router: Router) -> list[dict[str, Any]]:
    """The payload for Discord's bulk overwrite of application commands, by name."""
    specs = sorted(
        (s for s in router.commands.values() if not s.hidden and valid_name(s.name)), key=lambda s: s.name
    )
    return [slash_command(spec) for spec in specs]


def slash_command(spec: CommandSpec) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": CHAT_INPUT,
        "name": spec.name,
        "description": _text(spec.help, "en"),
        "description_localizations": {code: _text(spec.help, locale) for locale, code in LANGUAGES[1:]},
        "options": options_for(spec),
        "default_member_permissions": default_permissions(spec),
        "contexts": _contexts(spec),
        "integration_types": [GUILD_INSTALL],
        "nsfw": False,
    }
    localized = next((a for a in spec.aliases if not a.isascii() and valid_name(a)), None)
    if localized is not None:
        payload["name_localizations"] = {"zh-CN": localized}
    return payload


def default_permissions(spec: CommandSpec) -> str | None:
    """Who sees the command by default: everyone for learners' commands; staff commands only
    for members with the permission a server gives that staff."""
    if Role.LEARNER in spec.roles:
        return None
    return str(MANAGE_GUILD if spec.roles <= CREATORS else MANAGE_MESSAGES)


def _contexts(spec: CommandSpec) -> list[int]:
    if spec.chats == PRIVATE_ONLY:
        return [BOT_DM]
    if ChatKind.PRIVATE not in spec.chats:
        return [GUILD]
    return [GUILD, BOT_DM]


def typed_options(spec: CommandSpec) -> bool:
    """Whether the spec's parameters map one to one onto Discord options."""
    params = spec.params
    names = [p.name for p in params]
    required_after_optional = any(
        not later.optional for index, p in enumerate(params) if p.optional for later in params[index + 1 :]
    )
    return (
        len(params) <= MAX_OPTIONS
        and len(set(names)) == len(names)
        and all(valid_name(name) for name in names)
        and not required_after_optional
    )


def options_for(spec: CommandSpec) -> list[dict[str, Any]]:
    if not spec.params:
        return []
    if not typed_options(spec):
        return [_option(ARGS, STRING, msg("What to write after the command"), required=False)]
    return [_param_option(param) for param in spec.params]


def _param_option(param: Param) -> dict[str, Any]:
    required = not param.optional
    if isinstance(param, MemberParam):
        return _option(param.name, USER, msg("A member"), required=required)
    if isinstance(param, Int):
        option = _option(param.name, INTEGER, msg("A whole number"), required=required)
        option["min_value"] = max(param.minimum, -MAX_INTEGER)
        option["max_value"] = min(param.maximum, MAX_INTEGER)
        return option
    if isinstance(param, Choice):
        described = msg("One of: {choices}", choices=", ".join(param.choices))
        option = _option(param.name, STRING, described, required=required)
        if len(param.choices) <= MAX_CHOICES:
            option["choices"] = [{"name": choice, "value": choice} for choice in param.choices]
        return option
    description = msg("The rest of the line") if param.consumes_rest else msg("One word")
    option = _option(param.name, STRING, description, required=required)
    limit = getattr(param, "max_length", None)
    if isinstance(limit, int):
        option["max_length"] = min(limit, MAX_STRING)
    return option


def _option(name: str, kind: int, description: Msg, required: bool) -> dict[str, Any]:
    return {
        "type": kind,
        "name": name,
        "description": _text(description, "en"),
        "description_localizations": {code: _text(description, locale) for locale, code in LANGUAGES[1:]},
        "required": required,
    }


def _text(message: Msg, locale: str) -> str:
    text = render(message, locale).strip() or "-"
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def invocation_text(router: Router, data: Mapping[str, Any]) -> str:
    """The command as the core parses it, from a slash command's interaction data: options in
    the order of the command's parameters, members as ``<@id>`` mentions, words quoted when
    they hold spaces (the rest of the line as typed)."""
    name = str(data.get("name", ""))
    given = {str(o.get("name")): o.get("value") for o in _flat_options(data.get("options") or [])}
    spec = router.find(name)
    if spec is None:
        return f"/{name}"
    if not spec.params or not typed_options(spec):
        args = str(given.get(ARGS) or "").strip()
        return f"/{spec.name} {args}".rstrip()
    parts: list[str] = []
    for param in spec.params:
        value = given.get(param.name)
        if value is None or value == "":
            continue
        if isinstance(param, MemberParam):
            parts.append(f"<@{value}>")
        elif param.consumes_rest:
            parts.append(str(value).strip())
        else:
            parts.append(_word(str(value)))
    return " ".join([f"/{spec.name}", *parts]).rstrip()


def _word(value: str) -> str:
    value = value.strip()
    if not value or any(ch.isspace() or ch in "'\"\\" for ch in value):
        return shlex.quote(value)
    return value


def _flat_options(options: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Options, with any subcommand's own options in its place (we define none, but a stale
    command registered by another version might)."""
    flat: list[Mapping[str, Any]] = []
    for option in options:
        if "options" in option:
            flat.extend(_flat_options(option["options"]))
        else:
            flat.append(option)
    return flat
