"""Learner pages: a community of 50,000 members and 200 published courses (eight lessons each,
a few on a drip, a hundred reviews each, some in bundles); timed requests through the real HTTP
stack (aiohttp server, routing, templates, Markdown) to a course page, the same page with a
referral code (its link checked against the codes), the sitemap, and, for an owner signed in as
a learner, a lesson page (session, ownership, drip, progress), the checkout page of a course they
do not own and their order's page.

Reference, measured in the same run on the same file: the queries each page is built on, as raw
SQL through plain sqlite3 (the course, its lessons, its rating and latest reviews, its bundles;
plus the referral code; the published courses' codes; the session, member, course, enrollment,
lesson, lesson count, progress and file of the lesson page; the session, member, course and
enrollment of the checkout; the session, member, order and course of the order page). ``ratio``
is page p95 / reference p95.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient

from bench.common import START, bulk_community, emit, migrated_file, raw_connection, url_of, workdir
from bench.pages import against_references, measure, page_figures, served
from bot.app import App
from bot.config import Config, Secret
from bot.web import install_web
from core.clock import ManualClock
from core.web_sessions.service import Scope

MEMBERS = int(os.environ.get("BENCH_MEMBERS", 50_000))
COURSES = int(os.environ.get("BENCH_COURSES", 200))
LESSONS = 8
REVIEWS = 100  # per course
BUNDLE_EVERY = 10  # every 10th course starts a bundle of it and the next two
TARGET_P95_MS = 50.0
REF_CODE = "bench234"
OTHER_CODE = "c002"  # a course the signed-in owner does not own: its checkout page
SECRET_KEY = "bench-secret-key-0123456789-abcdefghijklmn"
DESCRIPTION = (
    "## What you will learn\n\nA **hands-on** course: every lesson ends with an exercise.\n\n"
    "- reading data\n- cleaning it\n- plotting it\n\n[The syllabus](https://example.org/syllabus)\n"
)


def _stamp(dt: object) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")  # type: ignore[attr-defined]


def fill(path: Path, community_id: int, member_ids: list[int]) -> None:
    """Courses with lessons, reviews and bundles; a referral code."""
    rng = random.Random(29)
    conn = raw_connection(path)
    conn.execute("BEGIN")
    at = _stamp(START)
    course_ids = []
    for n in range(COURSES):
        course_ids.append(
            conn.execute(
                "INSERT INTO courses (community_id, code, title, description, price_minor, currency,"
                " points_price, completion_points, hidden, created_at)"
                " VALUES (?, ?, ?, ?, ?, 'USD', ?, 10, 0, ?)",
                (
                    community_id,
                    f"c{n:03d}",
                    f"Course {n}: data, step by step",
                    DESCRIPTION,
                    990 + n * 100,
                    500 if n % 2 else None,
                    at,
                ),
            ).lastrowid
        )
    conn.executemany(
        "INSERT INTO lessons (course_id, position, title, body, unlock_days) VALUES (?, ?, ?, ?, ?)",
        [
            (cid, p, f"Lesson {p}", "Text of the lesson.", 0 if p < 4 else p)
            for cid in course_ids
            for p in range(1, LESSONS + 1)
        ],
    )
    conn.executemany(
        "INSERT INTO reviews (community_id, course_id, member_id, stars, text, hidden, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
        [
            (
                community_id,
                cid,
                member,
                rng.randint(2, 5),
                "Useful and clear.",
                at,
                _stamp(START + timedelta(minutes=rng.randint(0, 500_000))),
            )
            for cid in course_ids
            for member in rng.sample(member_ids, REVIEWS)
        ],
    )
    for n in range(0, COURSES - 2, BUNDLE_EVERY):
        bundle = conn.execute(
            "INSERT INTO bundles (community_id, code, title, price_minor, currency, hidden, created_at)"
            " VALUES (?, ?, ?, 2500, 'USD', 0, ?)",
            (community_id, f"b{n:03d}", f"Bundle {n}", at),
        ).lastrowid
        conn.executemany(
            "INSERT INTO bundle_courses (bundle_id, course_id) VALUES (?, ?)",
            [(bundle, course_ids[n + k]) for k in range(3)],
        )
    conn.execute(
        "INSERT INTO referral_codes (community_id, member_id, code, created_at) VALUES (?, ?, ?, ?)",
        (community_id, member_ids[1], REF_CODE, at),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def raw_queries(path: Path, community_id: int, code: str, owner_id: int) -> dict[str, Callable[[], object]]:
    """What each page reads, as plain SQL."""
    conn = raw_connection(path)

    def course() -> object:
        row = conn.execute(
            "SELECT * FROM courses WHERE community_id = ? AND code = ?", (community_id, code)
        ).fetchone()
        course_id = row[0]
        return (
            row,
            conn.execute(
                "SELECT * FROM lessons WHERE course_id = ? ORDER BY position", (course_id,)
            ).fetchall(),
            conn.execute(
                "SELECT avg(stars), count(*) FROM reviews WHERE course_id = ? AND hidden = 0", (course_id,)
            ).fetchone(),
            conn.execute(
                "SELECT m.display_name, r.stars, r.text, r.updated_at FROM reviews r JOIN members m"
                " ON m.id = r.member_id WHERE r.course_id = ? AND r.hidden = 0"
                " ORDER BY r.updated_at DESC, r.id DESC LIMIT 5",
                (course_id,),
            ).fetchall(),
            conn.execute(
                "SELECT b.* FROM bundles b JOIN bundle_courses bc ON bc.bundle_id = b.id"
                " WHERE b.community_id = ? AND bc.course_id = ? AND b.hidden = 0",
                (community_id, course_id),
            ).fetchall(),
        )

    def referred() -> object:
        return course(), conn.execute(
            "SELECT member_id FROM referral_codes WHERE community_id = ? AND code = ?",
            (community_id, REF_CODE),
        ).fetchone()

    def lesson() -> object:
        course_id = conn.execute(
            "SELECT id FROM courses WHERE community_id = ? AND code = ?", (community_id, code)
        ).fetchone()[0]
        lesson_id = conn.execute(
            "SELECT id FROM lessons WHERE course_id = ? AND position = 3", (course_id,)
        ).fetchone()[0]
        return (
            conn.execute("SELECT * FROM web_sessions WHERE member_id = ?", (owner_id,)).fetchone(),
            conn.execute("SELECT * FROM members WHERE id = ?", (owner_id,)).fetchone(),
            conn.execute(
                "SELECT * FROM enrollments WHERE member_id = ? AND course_id = ?", (owner_id, course_id)
            ).fetchone(),
            conn.execute("SELECT * FROM lessons WHERE id = ?", (lesson_id,)).fetchone(),
            conn.execute("SELECT count(*) FROM lessons WHERE course_id = ?", (course_id,)).fetchone(),
            conn.execute(
                "SELECT count(*) FROM lesson_progress WHERE member_id = ? AND lesson_id = ?",
                (owner_id, lesson_id),
            ).fetchone(),
            conn.execute("SELECT name, size FROM lesson_files WHERE lesson_id = ?", (lesson_id,)).fetchone(),
        )

    def checkout() -> object:
        other = conn.execute(
            "SELECT * FROM courses WHERE community_id = ? AND code = ?", (community_id, OTHER_CODE)
        ).fetchone()
        return (
            conn.execute("SELECT * FROM web_sessions WHERE member_id = ?", (owner_id,)).fetchone(),
            conn.execute("SELECT * FROM members WHERE id = ?", (owner_id,)).fetchone(),
            other,
            conn.execute(
                "SELECT * FROM enrollments WHERE member_id = ? AND course_id = ?", (owner_id, other[0])
            ).fetchone(),
        )

    def order() -> object:
        row = conn.execute(
            "SELECT * FROM orders WHERE member_id = ? ORDER BY id LIMIT 1", (owner_id,)
        ).fetchone()
        return (
            conn.execute("SELECT * FROM web_sessions WHERE member_id = ?", (owner_id,)).fetchone(),
            conn.execute("SELECT * FROM members WHERE id = ?", (owner_id,)).fetchone(),
            row,
            conn.execute("SELECT * FROM courses WHERE id = ?", (row[4],)).fetchone(),
        )

    def sitemap() -> object:
        return conn.execute(
            "SELECT code FROM courses WHERE community_id = ? AND hidden = 0 ORDER BY id", (community_id,)
        ).fetchall()

    return {
        "course": course,
        "course_ref": referred,
        "sitemap": sitemap,
        "lesson": lesson,
        "checkout": checkout,
        "order": order,
    }


async def sign_in_owner(app: App, client: TestClient, code: str, owner_id: int) -> int:
    """The owner buys the course (sandbox) and signs in as a learner in ``client``; the order's id."""
    community = await app.community("bench")
    owner = await app.services.members.get_member(owner_id)
    course = await app.services.catalog.course(community, code)
    orders = app.services.orders
    order = await orders.order_course(community, owner, course)
    await orders.record_payment(order.id, provider="sandbox", provider_ref="bench", paid=order.amount)
    app.services.web_sessions.enable(str(client.make_url("")))
    link = await app.services.web_sessions.login_link(community, owner, Scope.LEARNER)
    signed_in = await client.get(urlsplit(link).path, allow_redirects=False)
    assert signed_in.status == 303, signed_in.status
    return order.id


async def main() -> None:
    folder = workdir()
    path = folder / "web.db"
    await migrated_file(path)
    community_id, member_ids = await bulk_community(path, "bench", MEMBERS)
    fill(path, community_id, member_ids)
    code = f"c{COURSES // 2 + 1:03d}"  # in a bundle, with a drip, a points price and reviews
    config = Config(
        database_url=url_of(path), data_dir=folder, community="bench", secret_key=Secret(SECRET_KEY)
    )
    app = await App.open(config, clock=ManualClock(START + timedelta(days=30)))
    owner_id = member_ids[2]
    pages = {
        "course": f"/c/{code}",
        "course_ref": f"/c/{code}?ref={REF_CODE}",
        "sitemap": "/sitemap.xml",
        "lesson": f"/learn/{code}/3",
    }
    async with served(app, install_web) as client:
        order_id = await sign_in_owner(app, client, code, owner_id)
        pages["checkout"] = f"/buy/{OTHER_CODE}"  # a course the owner does not own
        pages["order"] = f"/me/orders/{order_id}"
        measured = await measure(client, pages)
    references = raw_queries(path, community_id, code, owner_id)
    results = await against_references(measured, references)
    emit(
        {
            "bench": "web",
            "db": "sqlite",
            "members": MEMBERS,
            "courses": COURSES,
            **page_figures(results, TARGET_P95_MS),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
