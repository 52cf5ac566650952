"""The console: a real platform for the core, driven by typed lines (see docs/console.md)."""

from bot.adapters.console.session import ConsoleSession

__all__ = ["ConsoleSession"]
