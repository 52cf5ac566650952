"""Turning message text into a command name and arguments, the same on every platform."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# Slash or full-width slash (common in Chinese input methods), then a word that may be Chinese.
_COMMAND = re.compile(r"^[/／](?P<name>\w{1,64})(?:@(?P<bot>\w{1,64}))?(?=\s|$)", re.UNICODE)
MAX_ARGS = 50


@dataclass(frozen=True)
class ParsedCommand:
    name: str  # lower-cased, without slash or @bot suffix
    args: tuple[str, ...]  # shell-like tokens; quotes group words
    rest: str  # everything after the name, stripped, as typed


def parse_command(text: str, bot_username: str | None = None) -> ParsedCommand | None:
    """The command in ``text``, or None when it is not one (or is addressed to another bot)."""
    stripped = text.strip()
    match = _COMMAND.match(stripped)
    if match is None:
        return None
    addressed = match.group("bot")
    if addressed and bot_username and addressed.lower() != bot_username.lower():
        return None
    name = match.group("name").lower()
    if len(name) > 64:  # lower-casing can lengthen a name ("İ" → "i̇")
        return None
    rest = stripped[match.end() :].strip()
    return ParsedCommand(name, split_args(rest), rest)


def split_args(rest: str) -> tuple[str, ...]:
    """Split like a shell so "two words" stay together; unbalanced quotes split on spaces."""
    if not rest:
        return ()
    try:
        lexer = shlex.shlex(rest, posix=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        tokens = list(lexer)
    except ValueError:
        tokens = rest.split()
    return tuple(tokens[:MAX_ARGS])
