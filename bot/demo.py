"""The demo community: a few members in a few roles, seeded through the real App.

It grows with each feature so `make demo` always shows what studyhall can do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.app import App
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef
from core.members.models import Role

PLATFORM = "console"
DEMO_COMMUNITY = "demo"
GUIDE = (
    "Try this (you are Ana, a learner; type :help for the console's own commands):",
    "  /help                   what you can do here     /whoami   your profile",
    "  /lang zh                switch to Chinese (中文); /lang en switches back",
    "  :as Mei                 act as Mei, the creator, then: /role @Ana moderator",
    "  :in lounge              talk in the group chat;  :dm returns to your private chat",
)


@dataclass(frozen=True)
class DemoMember:
    name: str
    role: Role
    locale: str | None


DEMO_MEMBERS = (
    DemoMember("Mei", Role.CREATOR, "zh_CN"),
    DemoMember("Sam", Role.MODERATOR, "en"),
    DemoMember("Ana", Role.LEARNER, "en"),
    DemoMember("Li", Role.LEARNER, "zh_CN"),
    DemoMember("Omar", Role.LEARNER, None),
)

LOUNGE_CHAT = [
    ("Mei", "欢迎来到 Demo Academy！Welcome, everyone."),
    ("Ana", "Hi all, I just started the Python course."),
    ("Li", "大家好，我在学数据分析。"),
    ("Sam", "Ask here if anything is unclear, I moderate this lounge."),
    ("Omar", "Glad to be here!"),
]


async def seed_demo(app: App, community_name: str = DEMO_COMMUNITY) -> bool:
    """Create the demo community unless it exists. Returns True when it seeded."""
    members = app.services.members
    if await members.get_community(community_name) is not None:
        return False
    community = await app.community(community_name)
    start = app.clock.now() - timedelta(days=14)
    for index, person in enumerate(DEMO_MEMBERS):
        user = UserRef(PLATFORM, person.name.lower(), person.name)
        member = await members.ensure_member(community, user)
        if person.role is not Role.LEARNER:
            member = await members.assign_role(community, member, person.role, via="demo seed")
        if person.locale:
            await members.set_locale(member, person.locale)
        dm = ChatRef(PLATFORM, f"dm:{person.name.lower()}", ChatKind.PRIVATE, person.name)
        await app.handle(_event(community_name, dm, user, "/start", start + timedelta(hours=index)))
    lounge = ChatRef(PLATFORM, "group:lounge", ChatKind.GROUP, "lounge")
    for index, (name, text) in enumerate(LOUNGE_CHAT):
        user = UserRef(PLATFORM, name.lower(), name)
        await app.handle(
            _event(community_name, lounge, user, text, start + timedelta(days=1, minutes=index * 7))
        )
    return True


def _event(community: str, chat: ChatRef, user: UserRef, text: str, when: datetime) -> Event:
    kind = EventKind.COMMAND if text.startswith("/") else EventKind.MESSAGE
    return Event(PLATFORM, community, chat, user, kind, when, text=text)
