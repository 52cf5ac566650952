"""The console: a real platform for the core, driven by typed lines (see README)."""

from bot.adapters.console.session import ConsoleSession

__all__ = ["ConsoleSession"]
