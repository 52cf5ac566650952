"""web/learn/reader.py over HTTP: the lesson reader for a course's owners. An open lesson shows
its content and file; a drip lesson shows when it opens; "Mark as done" records progress as
/learn does and a finished course earns its completion points once; a non-owner is sent to the
course page; a lesson's file is served only on a fresh signed address, in ranges for media."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.events import Attachment
from tests.learner_fixtures import web_link
from tests.web_fixtures import WebWorld

CLIP = bytes(range(256)) * 40  # 10,240 bytes of "video"


@pytest.fixture
async def reader(learners: WebWorld) -> WebWorld:
    """Ana signed in; py101 has a third lesson, open at once, with a video, and earns 20
    points when finished."""
    app = learners.app
    community = await app.community()
    mei = await app.services.members.find_by_identity(community.id, "console", "mei")
    assert mei is not None
    catalog = app.services.catalog
    await catalog.add_lesson(
        community, mei, "py101", "Watch", "The clip below.", file=Attachment("clip.mp4", CLIP)
    )
    await catalog.edit_course(community, mei, "py101", "completion", 20)
    await learners.client.get(await web_link(learners, "Ana"), allow_redirects=False)
    return learners


async def page(world: WebWorld, path: str) -> tuple[int, str]:
    response = await world.client.get(path, allow_redirects=False)
    return response.status, await response.text()


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


async def points(world: WebWorld, name: str) -> int:
    community = await world.app.community()
    member = await world.app.services.members.find_by_identity(community.id, "console", name)
    assert member is not None
    return (await world.app.services.ledger.balance(community.id, member.id)).balance


async def test_an_open_lesson_shows_its_content_and_whether_it_is_done(reader: WebWorld) -> None:
    status, html = await page(reader, "/learn/py101/1")

    assert status == 200
    assert "<h1>Lesson 1 of 3: Setup</h1>" in html and "Install Python and pandas." in html
    assert '<p id="done">✓ Done</p>' in html  # /learn opened it when the fixture ran
    assert 'href="/learn/py101/2" rel="next"' in html and 'rel="prev"' not in html


async def test_a_drip_lesson_says_when_it_opens_and_hides_its_content(reader: WebWorld) -> None:
    status, html = await page(reader, "/learn/py101/2")

    assert status == 200
    assert re.search(r'id="opens">This lesson opens on \d{4}-\d{2}-\d{2}\.<', html)
    assert "range(3)" not in html and "Mark as done" not in html
    token = csrf((await page(reader, "/learn/py101/3"))[1])
    early = await reader.client.post("/learn/py101/2/done", data={"csrf": token}, allow_redirects=False)
    assert early.status == 303 and early.headers["Location"] == "/learn/py101/2"  # not open yet
    assert "Mark as done" not in (await page(reader, "/learn/py101/2"))[1]
    assert "1 of 3 lessons done" in (await page(reader, "/me"))[1]


async def test_marking_done_records_progress_and_a_finished_course_pays_once(
    reader: WebWorld, clock: ManualClock
) -> None:
    before = await points(reader, "ana")
    _, html = await page(reader, "/learn/py101/3")
    done = await reader.client.post("/learn/py101/3/done", data={"csrf": csrf(html)}, allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == "/learn/py101/3"
    assert '<p id="done">✓ Done</p>' in (await page(reader, "/learn/py101/3"))[1]
    assert "2 of 3 lessons done" in (await page(reader, "/me"))[1]

    clock.advance(timedelta(days=2))
    _, html = await page(reader, "/learn/py101/2")
    last = await reader.client.post("/learn/py101/2/done", data={"csrf": csrf(html)}, allow_redirects=False)
    assert last.headers["Location"] == "/learn/py101/2?finished=1"
    assert (
        "You have finished Python for data analysis. Well done!"
        in (await page(reader, "/learn/py101/2?finished=1"))[1]
    )
    again = await reader.client.post("/learn/py101/2/done", data={"csrf": csrf(html)}, allow_redirects=False)
    assert again.headers["Location"] == "/learn/py101/2"
    assert await points(reader, "ana") == before + 20  # once
    assert "You have finished Python for data analysis" in await reader.console.text(
        ":as Ana", ":dm", "/learn py101"
    )
    assert await points(reader, "ana") == before + 20


async def test_a_form_without_the_sessions_token_changes_nothing(reader: WebWorld) -> None:
    response = await reader.client.post("/learn/py101/3/done", data={"csrf": "0" * 64}, allow_redirects=False)
    assert response.status == 403
    assert "Mark as done" in (await page(reader, "/learn/py101/3"))[1]


async def test_someone_who_does_not_own_the_course_is_sent_to_its_page(reader: WebWorld) -> None:
    await reader.client.get(await web_link(reader, "Mei"), allow_redirects=False)
    status, _ = await page(reader, "/learn/py101/1")
    response = await reader.client.get("/learn/py101/1", allow_redirects=False)

    assert status == 303 and response.headers["Location"] == "/c/py101"


async def test_signed_out_the_reader_says_how_to_sign_in(learners: WebWorld) -> None:
    status, html = await page(learners, "/learn/py101/1")
    assert status == 401 and "Send /web to the bot in a private chat" in html


async def test_the_lessons_video_is_served_on_its_signed_address_in_ranges(
    reader: WebWorld, clock: ManualClock
) -> None:
    _, html = await page(reader, "/learn/py101/3")
    found = re.search(
        r'<video controls preload="metadata" src="(/learn/py101/3/file\?e=\d+&amp;s=[0-9a-f]{64})">', html
    )
    assert found, html
    address = found.group(1).replace("&amp;", "&")
    client = reader.client

    whole = await client.get(address)
    assert whole.status == 200 and await whole.read() == CLIP
    assert whole.headers["Content-Type"] == "video/mp4" and whole.headers["Accept-Ranges"] == "bytes"
    part = await client.get(address, headers={"Range": "bytes=100-199"})
    assert part.status == 206 and await part.read() == CLIP[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(CLIP)}"
    tail = await client.get(address, headers={"Range": "bytes=-10"})
    assert tail.status == 206 and await tail.read() == CLIP[-10:]
    beyond = await client.get(address, headers={"Range": "bytes=20000-"})
    assert beyond.status == 416 and beyond.headers["Content-Range"] == f"bytes */{len(CLIP)}"

    forged = address[:-1] + ("0" if address[-1] != "0" else "1")
    assert (await client.get(forged)).status == 403
    assert (await client.get("/learn/py101/3/file")).status == 403
    clock.advance(timedelta(minutes=16))
    assert (await client.get(address)).status == 403  # expired


async def test_someone_else_cannot_use_an_owners_file_address(reader: WebWorld) -> None:
    _, html = await page(reader, "/learn/py101/3")
    found = re.search(r'src="(/learn/py101/3/file\?[^"]+)"', html)
    assert found
    await reader.client.get(await web_link(reader, "Mei"), allow_redirects=False)  # now Mei's browser
    assert (await reader.client.get(found.group(1).replace("&amp;", "&"))).status == 403
