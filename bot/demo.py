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
    "  /help  /points  /checkin  /history  /top      what you can do; your points",
    "  :in lounge, then chat (10+ characters)        messages in groups earn points",
    "  :as Sam  then  /award @Ana 20 great question   a moderator's award (budget 200/day)",
    "  :as Mei  then  /rules  /tier list  /audit       the creator's view; /lang zh for 中文",
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
    # A few days of check-ins and a moderator's award, so /points, /history and /top have data.
    for day in range(2, 6):
        for name in ("Ana", "Li"):
            dm = ChatRef(PLATFORM, f"dm:{name.lower()}", ChatKind.PRIVATE, name)
            user = UserRef(PLATFORM, name.lower(), name)
            await app.handle(
                _event(community_name, dm, user, "/checkin", start + timedelta(days=day, hours=9))
            )
    sam, sam_dm = UserRef(PLATFORM, "sam", "Sam"), ChatRef(PLATFORM, "dm:sam", ChatKind.PRIVATE, "Sam")
    award = "/award @Li 30 clear answer about pandas groupby"
    await app.handle(_event(community_name, sam_dm, sam, award, start + timedelta(days=6)))
    return True


def _event(community: str, chat: ChatRef, user: UserRef, text: str, when: datetime) -> Event:
    kind = EventKind.COMMAND if text.startswith("/") else EventKind.MESSAGE
    key = f"seed-{user.external_id}-{when.isoformat()}"
    return Event(PLATFORM, community, chat, user, kind, when, text=text, message_id=key)
