"""core/access/chat_choices.py: a chat named by its public handle through the platform's
FindsChats port, and the /bind choice a forwarded post completes (ten minutes, used once)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import App
from core.access.chat_choices import Waiting
from core.clock import ManualClock
from core.errors import InvalidInput, NotFound
from core.events import ChatKind, ChatRef
from core.i18n import render
from tests.conftest import snapshot
from tests.shop_fixtures import Shop

CLUB = ChatRef("console", "channel:club", ChatKind.CHANNEL, "Data club")


class Finder:
    """A platform that finds what ``chats`` names, and records each look-up."""

    platform = "console"

    def __init__(self, chats: dict[str, ChatRef]) -> None:
        self.chats = chats
        self.asked: list[str] = []

    async def find_chat(self, handle: str) -> ChatRef | None:
        self.asked.append(handle)
        return self.chats.get(handle)


def finder(app: App, **chats: ChatRef) -> Finder:
    port = Finder({f"@{name}": chat for name, chat in chats.items()})
    app.services.paid_chats.ports["console"] = port  # type: ignore[assignment]
    return port


async def test_a_handle_is_looked_up_and_the_chat_recorded(app: App, shop: Shop) -> None:
    port = finder(app, dataclub=CLUB)
    chat = await app.services.chat_choices.by_handle(shop.community, "console", "@dataclub")
    assert (chat.external_id, chat.kind, chat.title) == ("channel:club", ChatKind.CHANNEL, "Data club")
    assert port.asked == ["@dataclub"]
    assert app.services.chat_choices.can_find("console") and not app.services.chat_choices.can_find("wechat")


@pytest.mark.parametrize(
    ("handle", "error", "says"),
    [
        ("dataclub", InvalidInput, "dataclub is not a chat's public name: write it as @name."),
        ("@data club", InvalidInput, "@data club is not a chat's public name"),
        ("@", InvalidInput, "@ is not a chat's public name"),
        ("@nobody", NotFound, "The bot finds no public group or channel @nobody"),
        ("@someone", NotFound, "The bot finds no public group or channel @someone"),  # a person
        ("@elsewhere", NotFound, "The bot finds no public group or channel @elsewhere"),  # another platform
    ],
)
async def test_what_cannot_be_found_is_refused_and_nothing_is_recorded(
    app: App, shop: Shop, handle: str, error: type[Exception], says: str
) -> None:
    finder(
        app,
        dataclub=CLUB,
        someone=ChatRef("console", "dm:someone", ChatKind.PRIVATE, "Someone"),
        elsewhere=ChatRef("discord", "123", ChatKind.GROUP, "Elsewhere"),
    )
    before = await snapshot(app.db)
    with pytest.raises(error) as refused:
        await app.services.chat_choices.by_handle(shop.community, "console", handle)
    assert render(refused.value.message, "en").startswith(says)  # type: ignore[attr-defined]
    assert await snapshot(app.db) == before


async def test_a_platform_that_cannot_look_chats_up_refuses_handles(app: App, shop: Shop) -> None:
    with pytest.raises(InvalidInput) as refused:
        await app.services.chat_choices.by_handle(shop.community, "console", "@dataclub")
    assert render(refused.value.message, "en").startswith("Chats cannot be named by @name here")


async def test_a_choice_waits_ten_minutes_and_is_used_once(app: App, shop: Shop, clock: ManualClock) -> None:
    choices = app.services.chat_choices
    await choices.wait(shop.mei, "course", "py101")
    await choices.wait(shop.mei, "plan", "monthly")  # the newest counts
    await choices.wait(shop.ana, "course", "py101")
    assert await choices.take(shop.mei) == Waiting("plan", "monthly")
    assert await choices.take(shop.mei) is None  # used up
    clock.advance(timedelta(minutes=10, seconds=1))
    assert await choices.take(shop.ana) is None  # too old
    await choices.wait(shop.ana, "course", "py101")
    await choices.forget(shop.ana)
    assert await choices.take(shop.ana) is None


async def test_a_forwarded_channel_is_recorded_as_one_of_the_communitys_chats(app: App, shop: Shop) -> None:
    chat = await app.services.chat_choices.forwarded(shop.community, CLUB)
    assert chat == await app.services.chat_choices.forwarded(shop.community, CLUB)
    assert (chat.community_id, chat.platform, chat.kind) == (shop.community.id, "console", ChatKind.CHANNEL)
