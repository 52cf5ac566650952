"""The root of every exception the core raises on purpose."""

from __future__ import annotations

from core.i18n import Msg


class StudyhallError(Exception):
    """Base for core errors. ``message`` is what a member may be shown."""

    def __init__(self, message: Msg) -> None:
        super().__init__(message.text)
        self.message = message


class NotAllowed(StudyhallError):
    """The actor's role does not permit the operation (checked in the core)."""


class InvalidInput(StudyhallError):
    """A value a member typed does not fit; nothing was changed. ``field`` names the value
    refused (a service's parameter name), so a form can show the message beside its input."""

    def __init__(self, message: Msg, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(StudyhallError):
    """A referenced thing (member, chat, …) does not exist."""
