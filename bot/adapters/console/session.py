"""One console session: meta lines (``:as``, ``:in``, ``:clock``…) and chat lines.

Each chat line becomes an Event from the current member in the current chat; replies print as
``bot> `` lines, messages to anyone or anywhere else as ``bot→NAME> `` lines, and buttons as
numbered options that typing the number presses.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from bot.adapters.console.access import ConsoleChatAccess
from bot.adapters.render import render_plain
from bot.app import App, Outgoing
from core.clock import MovableClock, OffsetClock
from core.errors import StudyhallError
from core.events import Attachment, ChatKind, ChatRef, Event, EventKind, UserRef
from core.i18n import render
from core.members.models import Role
from core.pushes.delivery import Pace, Unreachable
from core.replies import Button, Reply
from core.storage.state import get_state, set_state

PLATFORM = "console"
CLOCK_STATE_KEY = "console.clock_offset_seconds"
DEFAULT_MEMBER = "guest"
_NAME = re.compile(r"^[\w.\-]{1,32}$", re.UNICODE)
_DELTA = re.compile(r"^\+(\d{1,5})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_ATTACHMENT = 20 * 2**20  # what Telegram lets a bot download

META_HELP = (
    ":as NAME [learner|moderator|creator]  act as NAME",
    ":in CHAT  switch to group chat CHAT (joining it; a paid chat asks first)",
    ":leave  leave the group chat you are in",
    ":dm  switch to your private chat with the bot",
    ":clock +3d | +2h | 2027-01-01T09:00  move the sandbox clock and run due jobs",
    ":pay  complete your pending sandbox payment",
    ":attach PATH  send a file with your next message (for /lesson add)",
    ":who  show member, role, chat and time",
    ":quit  leave",
)


def _read_attachment(rest: str) -> Attachment:
    path = Path(rest).expanduser()
    if not rest or not path.is_file():
        raise ConsoleError("usage: :attach PATH (a file; it goes with your next message)")
    if path.stat().st_size > MAX_ATTACHMENT:
        raise ConsoleError(f"{path.name} is larger than {MAX_ATTACHMENT // 2**20} MB")
    return Attachment(path.name, path.read_bytes())


class ConsoleError(Exception):
    """A meta line that cannot be carried out; printed as ``error: …``."""


class ConsolePushChannel:
    """Pushes to console members print as ``bot→NAME>`` lines, like any note from a job."""

    pace = Pace(1000, burst=100)

    def __init__(self, session: ConsoleSession) -> None:
        self._session = session

    async def push(self, account: str, reply: Reply, locale: str, key: str) -> str:
        app = self._session.app
        community = await app.community(self._session.community)
        member = await app.services.members.find_by_identity(community.id, PLATFORM, account)
        if member is None:
            raise Unreachable("no_account")
        identities = tuple(await app.services.members.identities_of(member.id))
        # Written out now, never held for after :clock's summary line: the outbox records the
        # push as sent once this returns, so it must already be on the terminal or the pipe.
        self._session.write_now(Outgoing(reply, locale, member=member, identities=identities))
        return key


@dataclass
class Where:
    member: str
    chat: str | None  # None: the member's private chat

    @property
    def label(self) -> str:
        return self.chat or "dm"


class ConsoleSession:
    def __init__(
        self,
        app: App,
        clock: MovableClock,
        *,
        community: str,
        locale: str,
        write: Callable[[str], None],
        member: str = DEFAULT_MEMBER,
    ) -> None:
        """``write`` prints one line and has it out (flushed) when it returns: a push is
        recorded as sent right after it is written."""
        if not _NAME.match(member):
            raise ConsoleError("a name is 1 to 32 letters, digits, dots, dashes or underscores")
        self.app = app
        self.clock = clock
        self.community = community
        self.locale = locale
        self.write = write
        self.where = Where(member, None)
        self.buttons: list[Button] = []
        self.finished = False
        self._session_id = uuid.uuid4().hex[:8]
        self._sent = 0
        self._held: list[Outgoing] | None = None
        self._attached: Attachment | None = None

    @classmethod
    async def open(
        cls,
        app: App,
        clock: MovableClock,
        *,
        community: str,
        locale: str,
        write: Callable[[str], None],
        member: str = DEFAULT_MEMBER,
    ) -> ConsoleSession:
        """A session on ``app`` whose sandbox clock resumes where the last one left it."""
        offset = await get_state(app.db, CLOCK_STATE_KEY)
        if offset is not None and isinstance(clock, OffsetClock):
            clock.offset = max(clock.offset, timedelta(seconds=float(offset)))
        session = cls(app, clock, community=community, locale=locale, write=write, member=member)
        app.register_sender(session.deliver)
        app.services.pushes.channels.setdefault(PLATFORM, ConsolePushChannel(session))
        app.services.paid_chats.ports.setdefault(PLATFORM, ConsoleChatAccess())
        await app.community(community)
        await app.run_due_jobs()  # start schedules on first use
        return session

    async def deliver(self, outgoing: Outgoing) -> bool:
        """Replies that answer no line typed here (reminders and notes from jobs, payments)."""
        if outgoing.member is not None and not any(i.platform == PLATFORM for i in outgoing.identities):
            return False
        if self._held is not None:  # printed after the line that says what happened
            self._held.append(outgoing)
        else:
            self._print([outgoing])
        return True

    def write_now(self, outgoing: Outgoing) -> None:
        """Print ``outgoing`` at once (``write`` has each line out when it returns)."""
        self._print([outgoing])

    @property
    def prompt(self) -> str:
        return f"{self.where.member}@{self.where.label}> "

    async def handle_line(self, line: str) -> None:
        """Carry out one input line; errors print and the session goes on."""
        line = line.rstrip("\r\n")
        if not line.strip():
            return
        try:
            if line.startswith(":"):
                await self._meta(line.strip())
            elif line.strip().isdigit() and self.buttons:
                await self._press(int(line.strip()))
            else:
                await self._send(line)
        except (ConsoleError, StudyhallError) as error:
            text = render(error.message, "en") if isinstance(error, StudyhallError) else str(error)
            self.write(f"error: {text}")

    # -- chat -------------------------------------------------------------------------------

    def _user(self) -> UserRef:
        name = self.where.member
        return UserRef(PLATFORM, name.lower(), name, language=self.locale)

    def _chat(self) -> ChatRef:
        if self.where.chat is None:
            return ChatRef(PLATFORM, f"dm:{self.where.member.lower()}", ChatKind.PRIVATE, self.where.member)
        return ChatRef(PLATFORM, f"group:{self.where.chat.lower()}", ChatKind.GROUP, self.where.chat)

    def _event(self, kind: EventKind, *, text: str = "", data: str = "") -> Event:
        self._sent += 1
        return Event(
            platform=PLATFORM,
            community=self.community,
            chat=self._chat(),
            sender=self._user(),
            kind=kind,
            timestamp=self.clock.now(),
            text=text,
            data=data,
            message_id=f"{self._session_id}-{self._sent}",
        )

    async def _send(self, text: str) -> None:
        kind = EventKind.COMMAND if text.lstrip().startswith(("/", "／")) else EventKind.MESSAGE
        event = self._event(kind, text=text)
        if self._attached is not None:  # :attach FILE rides on this message
            event, self._attached = replace(event, attachments=(self._attached,)), None
        self._print(await self.app.handle(event))

    async def _press(self, number: int) -> None:
        if not 1 <= number <= len(self.buttons):
            raise ConsoleError(f"there is no option [{number}]; choose 1 to {len(self.buttons)}")
        button = self.buttons[number - 1]
        if button.url:
            self.write(f"(opens {button.url})")
            return
        self._print(await self.app.handle(self._event(EventKind.BUTTON, data=button.data)))

    def _print(self, outgoing: list[Outgoing]) -> None:
        current_chat = self._chat()
        for item in outgoing:
            plain = render_plain(item.reply, item.locale)
            if (item.chat is not None and item.chat == current_chat) or (
                item.member is not None
                and self.where.chat is None
                and item.member.display_name.lower() == self.where.member.lower()
            ):
                prefix = "bot> "
            elif item.member is not None:
                prefix = f"bot→{item.member.display_name}> "
            else:
                prefix = f"bot→{item.chat.title if item.chat else '?'}> "
            for text_line in plain.text.split("\n"):
                self.write(prefix + text_line)
            if plain.buttons and prefix == "bot> ":
                self.buttons = [button for _, button in plain.buttons]
                for index, (label, _) in enumerate(plain.buttons, start=1):
                    self.write(f"{prefix}[{index}] {label}")

    # -- meta lines -------------------------------------------------------------------------

    async def _meta(self, line: str) -> None:
        word, _, rest = line[1:].partition(" ")
        rest = rest.strip()
        handlers = {
            "as": self._meta_as,
            "in": self._meta_in,
            "dm": self._meta_dm,
            "leave": self._meta_leave,
            "clock": self._meta_clock,
            "pay": self._meta_pay,
            "attach": self._meta_attach,
            "who": self._meta_who,
            "quit": self._meta_quit,
            "help": self._meta_help,
        }
        handler = handlers.get(word.lower())
        if handler is None:
            raise ConsoleError(f"unknown meta line :{word}; try :help")
        await handler(rest)

    async def _meta_as(self, rest: str) -> None:
        parts = rest.split()
        if not parts or len(parts) > 2:
            raise ConsoleError("usage: :as NAME [learner|moderator|creator]")
        name = parts[0].lstrip("@")
        if not _NAME.match(name):
            raise ConsoleError("a name is 1 to 32 letters, digits, dots, dashes or underscores")
        role: Role | None = None
        if len(parts) == 2:
            try:
                role = Role(parts[1].lower())
            except ValueError:
                raise ConsoleError("role must be learner, moderator or creator") from None
        members = self.app.services.members
        community = await self.app.community(self.community)
        found = await members.find_by_identity(community.id, PLATFORM, name.lower())
        previous_dm = self.where.chat is None
        self.where = Where(found.display_name if found else name, None if previous_dm else self.where.chat)
        member = await members.ensure_member(community, self._user())
        if role is not None and role is not member.role:
            member = await members.assign_role(community, member, role, via="console :as")
        self.buttons = []
        self.write(f"(you are {member.display_name}, {member.role.value}, in {self.where.label})")

    async def _meta_in(self, rest: str) -> None:
        if not _NAME.match(rest.lstrip("#")):
            raise ConsoleError(
                "usage: :in CHAT (a chat name is 1 to 32 letters, digits, dots, dashes or underscores)"
            )
        previous = self.where
        self.where = Where(self.where.member, rest.lstrip("#"))
        community = await self.app.community(self.community)
        services = self.app.services
        chat = await services.members.ensure_chat(community, self._chat())
        member = await services.members.ensure_member(community, self._user())
        if not await services.paid_chats.in_chat(chat, member):
            # Entering a chat is joining it; a paid chat is asked to join (approved or not).
            paid = await services.paid_chats.is_paid(chat)
            kind = EventKind.JOIN_REQUEST if paid else EventKind.MEMBER_JOINED
            answer = await self.app.handle(self._event(kind))
            if paid and not await services.paid_chats.in_chat(chat, member):
                self.where = previous
                self.write(f"(you are not let into {rest.lstrip('#')})")
                self._print(answer)
                return
            self._print(answer)
        self.buttons = []
        self.write(f"(in group chat {self.where.chat})")

    async def _meta_leave(self, rest: str) -> None:
        if self.where.chat is None:
            raise ConsoleError("you are in your private chat; :in CHAT first")
        left = self.where.chat
        await self.app.handle(self._event(EventKind.MEMBER_LEFT))
        self.where = Where(self.where.member, None)
        self.buttons = []
        self.write(f"(you left {left}; in your private chat with the bot)")

    async def _meta_dm(self, rest: str) -> None:
        self.where = Where(self.where.member, None)
        self.buttons = []
        self.write("(in your private chat with the bot)")

    async def _meta_clock(self, rest: str) -> None:
        if not rest:
            self.write(f"(sandbox time {_fmt(self.clock.now())})")
            return
        delta_match = _DELTA.match(rest)
        try:
            if delta_match:
                amount, unit = int(delta_match.group(1)), _UNITS[delta_match.group(2)]
                self.clock.advance(timedelta(**{unit: amount}))
            else:
                self.clock.set(_parse_when(rest, self.app.config.timezone))
        except ValueError as error:
            raise ConsoleError(f"cannot move the clock: {error}") from None
        if isinstance(self.clock, OffsetClock):
            await set_state(self.app.db, CLOCK_STATE_KEY, str(self.clock.offset.total_seconds()))
        self._held = []
        try:
            ran = await self.app.run_due_jobs()
        finally:
            held, self._held = self._held, None
        self.write(f"(sandbox time {_fmt(self.clock.now())}; jobs run: {', '.join(ran) or 'none due'})")
        self._print(held)

    async def _meta_attach(self, rest: str) -> None:
        self._attached = await asyncio.to_thread(_read_attachment, rest)
        self.write(f"({self._attached.name} goes with your next message)")

    async def _meta_pay(self, rest: str) -> None:
        community = await self.app.community(self.community)
        member = await self.app.services.members.ensure_member(community, self._user())
        delivered = await self.app.pay_sandbox(community, member)
        if delivered is None:
            self.write("(no sandbox payment is pending for you)")
            return
        self.write("(sandbox payment completed)")
        self._print(delivered)

    async def _meta_who(self, rest: str) -> None:
        community = await self.app.community(self.community)
        member = await self.app.services.members.ensure_member(community, self._user())
        owner = " (owner)" if member.is_owner_of(community) else ""
        self.write(
            f"(member {member.display_name}, {member.role.value}{owner}; chat {self.where.label}; "
            f"community {community.name}; time {_fmt(self.clock.now())})"
        )

    async def _meta_quit(self, rest: str) -> None:
        self.finished = True

    async def _meta_help(self, rest: str) -> None:
        for text in META_HELP:
            self.write(f"  {text}")


def _parse_when(text: str, timezone: str) -> datetime:
    from zoneinfo import ZoneInfo

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not +Nm/+Nh/+Nd/+Nw or a date like 2027-01-01T09:00") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(timezone))
    return when


def _fmt(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")
