"""Declarative command parameters: each converts one token (or the rest of the line).

A conversion failure raises ArgError with a message for the member; the router answers it
together with the command's usage line and runs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.commands.errors import ArgError
from core.i18n import msg
from core.numbers import parse_whole_number

if TYPE_CHECKING:
    from core.commands.context import Context

MAX_INT = 10**12


@dataclass(frozen=True)
class Param:
    name: str
    optional: bool = False
    consumes_rest: bool = False

    async def convert(self, token: str, ctx: Context) -> Any:
        return token


@dataclass(frozen=True)
class Word(Param):
    max_length: int = 100

    async def convert(self, token: str, ctx: Context) -> Any:
        if len(token) > self.max_length:
            raise ArgError(
                msg("{name} is too long (at most {max} characters).", name=self.name, max=self.max_length)
            )
        return token


@dataclass(frozen=True)
class Rest(Param):
    """Everything after the previous parameters, as typed (for reasons, texts)."""

    consumes_rest: bool = True
    max_length: int = 2000

    async def convert(self, token: str, ctx: Context) -> Any:
        if len(token) > self.max_length:
            raise ArgError(
                msg("{name} is too long (at most {max} characters).", name=self.name, max=self.max_length)
            )
        return token


@dataclass(frozen=True)
class Int(Param):
    minimum: int = 1
    maximum: int = MAX_INT

    async def convert(self, token: str, ctx: Context) -> Any:
        value = parse_whole_number(token, bound=max(abs(self.minimum), abs(self.maximum)))
        if value is None:
            raise ArgError(msg("{value} is not a whole number.", value=token[:30]))
        if value < self.minimum or value > self.maximum:
            raise ArgError(
                msg(
                    "{value} is out of range ({minimum} to {maximum}).",
                    value=token[:30],
                    minimum=self.minimum,
                    maximum=self.maximum,
                )
            )
        return value


@dataclass(frozen=True)
class Choice(Param):
    """One of fixed words; ``synonyms`` maps extra spellings (``zh`` → ``zh_CN``)."""

    choices: Sequence[str] = ()
    synonyms: Mapping[str, str] = field(default_factory=dict)

    async def convert(self, token: str, ctx: Context) -> Any:
        key = token.strip().lower()
        for choice in self.choices:
            if key == choice.lower():
                return choice
        if key in self.synonyms:
            return self.synonyms[key]
        raise ArgError(
            msg("{value} is not one of: {choices}.", value=token[:30], choices=", ".join(self.choices))
        )


@dataclass(frozen=True)
class MemberParam(Param):
    """``@name`` (or a platform mention) → a member of the current community."""

    allow_self: bool = True

    async def convert(self, token: str, ctx: Context) -> Any:
        member = await ctx.resolve_member(token)
        if not self.allow_self and member.id == ctx.member.id:
            raise ArgError(msg("You cannot name yourself here."))
        return member


def describe(params: Sequence[Param]) -> str:
    """A usage fragment like ``@member learner|moderator [reason…]``."""
    parts = []
    for param in params:
        if isinstance(param, Choice):
            text = "|".join(param.choices)
        elif isinstance(param, MemberParam):
            text = "@" + param.name
        elif param.consumes_rest:
            text = param.name + "…"
        else:
            text = param.name.upper() if isinstance(param, Int) else param.name
        parts.append(f"[{text}]" if param.optional else text)
    return " ".join(parts)
