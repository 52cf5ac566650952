"""The one error of command parsing, in a module of its own so that every part of
core/commands can raise it without importing another."""

from __future__ import annotations

from core.errors import InvalidInput


class ArgError(InvalidInput):
    """An argument or option does not fit what the command takes; nothing was run."""
