"""The command router: a registry filled by decorators, and the dispatcher over it.

Role and chat-kind checks, argument conversion and error handling happen here, once, for
every command on every platform.  Handlers are plain async functions taking a Context and
returning a Reply, several Replies, or None.
"""

from __future__ import annotations

import difflib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from core.audit.log import requested_via
from core.commands.context import Context
from core.commands.errors import ArgError
from core.commands.options import OptionSet, option_set_for, take_options
from core.commands.params import Param, describe
from core.commands.parser import ParsedCommand, parse_command
from core.errors import StudyhallError
from core.events import ChatKind, EventKind
from core.i18n import Msg, msg
from core.members.models import Role
from core.replies import Reply

log = logging.getLogger(__name__)

HandlerResult = Reply | Sequence[Reply] | None
Handler = Callable[[Context], Awaitable[HandlerResult]]

ANYONE: frozenset[Role] = frozenset(Role)
STAFF: frozenset[Role] = frozenset({Role.MODERATOR, Role.CREATOR})
CREATORS: frozenset[Role] = frozenset({Role.CREATOR})
ANY_CHAT: frozenset[ChatKind] = frozenset(ChatKind)
PRIVATE_ONLY: frozenset[ChatKind] = frozenset({ChatKind.PRIVATE})
GROUPS_ONLY: frozenset[ChatKind] = frozenset({ChatKind.GROUP, ChatKind.CHANNEL})

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
BUTTON_COMMAND_PREFIX = "cmd:"


@dataclass(frozen=True)
class CommandSpec:
    name: str
    help: Msg
    handler: Handler
    aliases: tuple[str, ...] = ()
    roles: frozenset[Role] = ANYONE
    chats: frozenset[ChatKind] = ANY_CHAT
    params: tuple[Param, ...] = ()
    hidden: bool = False
    # The answer is about the sender alone (a balance, orders): platforms that can show a reply
    # to one person inside a group (Discord's ephemeral replies) show it only to them.
    personal: bool = False
    options: tuple[OptionSet, ...] = ()  # key=value options, of the command or of its actions

    @property
    def usage(self) -> str:
        tail = describe(self.params)
        return f"/{self.name} {tail}".rstrip()


@dataclass(frozen=True)
class Listener:
    handler: Handler
    priority: int


@dataclass
class Router:
    """A registry of commands, plain-message listeners and event listeners."""

    commands: dict[str, CommandSpec] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    message_listeners: list[Listener] = field(default_factory=list)
    event_listeners: dict[EventKind, list[Listener]] = field(default_factory=dict)

    def command(
        self,
        name: str,
        *,
        help: Msg,
        aliases: Iterable[str] = (),
        roles: frozenset[Role] = ANYONE,
        chats: frozenset[ChatKind] = ANY_CHAT,
        params: Sequence[Param] = (),
        hidden: bool = False,
        personal: bool = False,
        options: Sequence[OptionSet] = (),
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            spec = CommandSpec(name, help, handler, tuple(aliases), roles, chats, tuple(params))
            self.add(replace(spec, hidden=hidden, personal=personal, options=tuple(options)))
            return handler

        return register

    def add(self, spec: CommandSpec) -> None:
        if not _NAME.match(spec.name):
            raise ValueError(f"bad command name {spec.name!r}")
        rest = [p for p in spec.params if p.consumes_rest]
        if rest and spec.params[-1] is not rest[0]:
            raise ValueError(f"/{spec.name}: a rest-of-line parameter must come last")
        for key in (spec.name, *spec.aliases):
            key = key.lower()
            if key in self.commands or key in self.aliases:
                raise ValueError(f"command or alias {key!r} registered twice")
        self.commands[spec.name] = spec
        for alias in spec.aliases:
            self.aliases[alias.lower()] = spec.name

    def on_message(self, priority: int = 0) -> Callable[[Handler], Handler]:
        """Register a listener for plain (non-command) messages; lower priority runs first."""

        def register(handler: Handler) -> Handler:
            self.message_listeners.append(Listener(handler, priority))
            self.message_listeners.sort(key=lambda item: item.priority)
            return handler

        return register

    def on_event(self, kind: EventKind, priority: int = 0) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            listeners = self.event_listeners.setdefault(kind, [])
            listeners.append(Listener(handler, priority))
            listeners.sort(key=lambda item: item.priority)
            return handler

        return register

    def include(self, other: Router) -> None:
        for spec in other.commands.values():
            self.add(spec)
        for listener in other.message_listeners:
            self.message_listeners.append(listener)
        self.message_listeners.sort(key=lambda item: item.priority)
        for kind, listeners in other.event_listeners.items():
            merged = self.event_listeners.setdefault(kind, [])
            merged.extend(listeners)
            merged.sort(key=lambda item: item.priority)

    # -- lookups ----------------------------------------------------------------------------

    def find(self, name: str) -> CommandSpec | None:
        name = name.lower()
        return self.commands.get(self.aliases.get(name, name))

    def available_to(self, role: Role, chat: ChatKind | None = None) -> list[CommandSpec]:
        """Commands ``role`` may use (in ``chat``, if given), by name."""
        return sorted(
            (
                spec
                for spec in self.commands.values()
                if role in spec.roles and not spec.hidden and (chat is None or chat in spec.chats)
            ),
            key=lambda spec: spec.name,
        )

    # -- dispatch ---------------------------------------------------------------------------

    async def dispatch(self, ctx: Context, bot_username: str | None = None) -> list[Reply]:
        """Route one event. Never raises: failures become a short reply and a log entry."""
        event = ctx.event
        ctx.router = self
        if event.kind is EventKind.BUTTON:
            return await self._dispatch_button(ctx, bot_username)
        if event.kind in (EventKind.MESSAGE, EventKind.COMMAND):
            # A post forwarded from a channel is the channel's text, never a command to run.
            forwarded = event.forwarded_from is not None
            parsed = None if forwarded else parse_command(event.text, bot_username)
            if parsed is not None:
                return await self.run_command(ctx, parsed)
            return await self._run_listeners(ctx, self.message_listeners)
        return await self._run_listeners(ctx, self.event_listeners.get(event.kind, []))

    async def run_command(self, ctx: Context, parsed: ParsedCommand) -> list[Reply]:
        spec = self.find(parsed.name)
        if spec is None:
            return self._unknown(ctx, parsed.name)
        if spec.roles != ANYONE:
            # Authorization reads the member afresh: the cached row may predate a role change
            # made by another process.
            ctx.member = await ctx.services.members.get_member(ctx.member.id, fresh=True)
        if ctx.member.role not in spec.roles:
            return [Reply.text(refusal(spec))]
        if ctx.chat.kind not in spec.chats:
            return [Reply.text(wrong_chat(spec))]
        try:
            parsed, ctx.options = take_options(spec.options, parsed, spec.name)
        except ArgError as error:
            found = option_set_for(spec.options, parsed)
            usage = found.usage if found is not None else spec.usage
            return [Reply.text(error.message, msg("Usage: {usage}", usage=usage))]
        try:
            ctx.args = await convert_args(spec, parsed, ctx)
        except ArgError as error:
            return [Reply.text(error.message, msg("Usage: {usage}", usage=spec.usage))]
        return await _guarded(spec.handler, ctx, f"/{spec.name}")

    async def _dispatch_button(self, ctx: Context, bot_username: str | None) -> list[Reply]:
        data = ctx.event.data
        if data.startswith(BUTTON_COMMAND_PREFIX):
            parsed = parse_command(data[len(BUTTON_COMMAND_PREFIX) :], bot_username)
            if parsed is not None:
                return await self.run_command(ctx, parsed)
        return [Reply.text(msg("That button has expired. Send /help to start again."))]

    async def _run_listeners(self, ctx: Context, listeners: Sequence[Listener]) -> list[Reply]:
        replies: list[Reply] = []
        for listener in listeners:
            replies.extend(await _guarded(listener.handler, ctx, listener.handler.__name__))
        return replies

    def _unknown(self, ctx: Context, name: str) -> list[Reply]:
        # In groups a slash word may be meant for another bot: stay quiet there.
        if ctx.chat.kind is not ChatKind.PRIVATE:
            return []
        known = [spec.name for spec in self.available_to(ctx.member.role)]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        lines: list[Msg] = [
            msg("Unknown command /{name}. Send /help to see what you can use.", name=name[:40])
        ]
        if close:
            lines.append(msg("Did you mean /{suggestion}?", suggestion=close[0]))
        return [Reply.text(*lines)]


async def convert_args(spec: CommandSpec, parsed: ParsedCommand, ctx: Context) -> dict[str, object]:
    """Convert tokens into the spec's parameters, or raise ArgError."""
    values: dict[str, object] = {}
    tokens = list(parsed.args)
    for index, param in enumerate(spec.params):
        if param.consumes_rest:
            rest = _rest_after(parsed.rest, index)
            if not rest:
                if not param.optional:
                    raise ArgError(msg("Missing {name}.", name=param.name))
                values[param.name] = None
            else:
                values[param.name] = await param.convert(rest, ctx)
            tokens = []
            break
        if not tokens:
            if not param.optional:
                raise ArgError(msg("Missing {name}.", name=param.name))
            values[param.name] = None
            continue
        values[param.name] = await param.convert(tokens.pop(0), ctx)
    if tokens:
        raise ArgError(msg("Too many words after /{name}.", name=spec.name))
    return values


def _rest_after(rest: str, skip: int) -> str:
    """The raw text after the first ``skip`` whitespace-separated words."""
    remaining = rest
    for _ in range(skip):
        parts = remaining.split(None, 1)
        remaining = parts[1] if len(parts) > 1 else ""
    return remaining.strip()


def refusal(spec: CommandSpec) -> Msg:
    if spec.roles == CREATORS:
        return msg("Only creators can use /{name}.", name=spec.name)
    if spec.roles == STAFF:
        return msg("Only moderators and creators can use /{name}.", name=spec.name)
    return msg("You cannot use /{name}.", name=spec.name)


def wrong_chat(spec: CommandSpec) -> Msg:
    if spec.chats == PRIVATE_ONLY:
        return msg("Use /{name} in a private chat with the bot.", name=spec.name)
    return msg("Use /{name} in a group chat.", name=spec.name)


async def _guarded(handler: Handler, ctx: Context, what: str) -> list[Reply]:
    try:
        with requested_via("command"):
            result = await handler(ctx)
    except StudyhallError as error:
        return [Reply.text(error.message)]
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        log.exception(
            "handler %s failed [error %s] platform=%s member=%s chat=%s",
            what,
            error_id,
            ctx.event.platform,
            ctx.member.id,
            ctx.chat.id,
        )
        return [
            Reply.text(
                msg(
                    "Sorry, something went wrong on our side (error {error_id}). Please try again later.",
                    error_id=error_id,
                )
            )
        ]
    if result is None:
        return []
    if isinstance(result, Reply):
        return [result]
    return list(result)
