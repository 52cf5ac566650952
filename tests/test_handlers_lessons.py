"""bot/handlers/lessons.py: lesson versions and content review in chat, through the console:
every edit keeps the previous version (/lesson history, /lesson restore), and with
content.review on what a moderator or another creator writes is a draft the owner approves or
rejects (/drafts); learners never read a draft."""

from __future__ import annotations

import re

from bot.app import App
from tests.conftest import ConsoleDriver

SETUP = (
    ":as Mei creator",  # the first creator: the community's owner
    "/course add py101 19.99 USD Python for data analysis",
    "/lesson add py101 Setup | Install Python 3.12 and pandas.",
    ":as Ana",
    "/help",
    ":as Mei",
    "/coupon add FREE 100%",
    ":as Ana",
    "/buy py101 FREE",
)


def version_ids(lines: list[str]) -> list[int]:
    return [int(found.group(1)) for line in lines if (found := re.match(r"bot> (\d+)  ", line))]


async def test_every_edit_keeps_the_version_before_it_and_one_can_be_restored(console: ConsoleDriver) -> None:
    await console(*SETUP, ":as Mei")
    assert await console("/lesson edit py101 1 Setup, again | Install Python 3.13.") == [
        "bot> Lesson 1 updated: Setup, again"
    ]
    history = await console("/lesson history py101 1")
    assert history[0] == "bot> Versions of lesson 1: Setup, again"
    assert re.match(r"bot> \d+  \d{4}-\d\d-\d\d \d\d:\d\d · Mei · published · Setup, again$", history[1])
    assert re.match(r"bot> \d+  .* · Mei · published · Setup$", history[2])
    newest, first = version_ids(history)

    assert await console(f"/lesson restore py101 {first}") == [
        f"bot> Lesson 1 restored from version {first}: Setup"
    ]
    assert "Install Python 3.12 and pandas." in "\n".join(await console(":as Ana", "/learn py101"))
    again = await console(":as Mei", "/lesson history py101 1")
    assert len(version_ids(again)) == 3 and f"(restored from version {first})" in again[2]
    assert newest in version_ids(again)


async def test_with_review_on_a_moderators_edit_waits_for_the_owner(console: ConsoleDriver, app: App) -> None:
    await console(*SETUP, ":as Mei", "/rules set content.review on", ":as Sam moderator")
    drafted = await console("/lesson edit py101 1 Setup (better) | Install Python 3.13 with uv.")
    found = re.match(r"bot> Saved as draft (\d+): Setup \(better\)\. The owner approves it", drafted[0])
    assert found, drafted
    draft = found.group(1)
    assert "Sam wrote a draft of Python for data analysis" in "\n".join(drafted)  # Mei is told
    assert "Install Python 3.12 and pandas." in "\n".join(await console(":as Ana", "/learn py101"))

    assert (await console(":as Sam", f"/drafts approve {draft}"))[1:] == [
        "bot> Only the community's owner approves or rejects drafts."
    ]
    waiting = (await console(":as Mei", "/drafts"))[1:]
    assert waiting[0] == "bot> Drafts waiting for review:" and f"bot> {draft}  " in waiting[1]
    approved = await console(f"/drafts approve {draft}")
    assert approved[0] == f"bot> Draft {draft} is published: lesson 1, Setup (better)."
    assert "Your draft Setup (better) is published." in "\n".join(approved)  # Sam is told
    course = await app.services.catalog.course(await app.community(), "py101")
    assert (await app.services.catalog.lesson(course, 1)).body == "Install Python 3.13 with uv."
    assert (await console(":as Mei", f"/drafts approve {draft}"))[1:] == [
        f"bot> Draft {draft} has been decided already."
    ]


async def test_a_new_lesson_by_another_creator_is_a_draft_until_approved_or_rejected(
    console: ConsoleDriver,
) -> None:
    await console(*SETUP, ":as Mei", "/rules set content.review on", ":as Lin creator")
    first = await console("/lesson add py101 Loops | for x in range(3): print(x)")
    second = await console("/lesson add py101 Spam | buy my other course")
    ids = [re.match(r"bot> Saved as draft (\d+)", out[0]).group(1) for out in (first, second)]  # type: ignore[union-attr]
    course = "\n".join(await console(":as Ana", "/course py101"))
    assert "Loops" not in course and "Spam" not in course

    assert (await console(":as Mei", f"/drafts reject {ids[1]}"))[1] == f"bot> Draft {ids[1]} rejected: Spam."
    assert (await console(f"/drafts approve {ids[0]}"))[
        0
    ] == f"bot> Draft {ids[0]} is published: lesson 2, Loops."
    course = "\n".join(await console(":as Ana", "/course py101"))
    assert "Loops" in course and "Spam" not in course
    assert (await console(":as Mei", "/drafts"))[1:] == ["bot> No drafts wait for review."]


async def test_who_may_write_and_bad_input(console: ConsoleDriver) -> None:
    await console(*SETUP)
    assert await console(":as Sam moderator", "/lesson edit py101 1 Mine | x") == [
        "(you are Sam, moderator, in dm)",
        "bot> Only creators can change the catalog.",
    ]
    assert await console(":as Ana", "/lesson history py101 1", "/drafts") == [
        "(you are Ana, learner, in dm)",
        "bot> Only creators can change the catalog.",
        "bot> Only creators can change the catalog.",
    ]
    await console(":as Mei")
    assert await console("/lesson history py101 x", "/lesson restore py101 999", "/drafts approve x") == [
        "bot> Usage: /lesson history CODE N | /lesson restore CODE VERSION",
        "bot> There is no version 999.",
        "bot> Usage: /drafts | /drafts approve ID | /drafts reject ID",
    ]
