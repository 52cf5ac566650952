"""Dashboard pages: a community of 50,000 members with a year of orders and activity; timed
requests through the real HTTP stack (aiohttp server, session cookie, authorization, templates)
to the overview, a members search, a member page, the orders list and one overview chart (SVG).

Reference, measured in the same run on the same file: the queries each page is built on, as raw
SQL through plain sqlite3 (the summary row; a name search page; a member's row, accounts, orders
and points; the newest orders page). ``ratio`` is page p95 / reference p95.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import START, bulk_community, emit, migrated_file, raw_connection, url_of, workdir
from bench.pages import REQUESTS, against_references, measure, page_figures, served
from bot.app import App
from bot.config import Config, Secret
from bot.web import install_dashboard
from core.clock import ManualClock

MEMBERS = int(os.environ.get("BENCH_MEMBERS", 50_000))
ORDERS = int(os.environ.get("BENCH_ORDERS", 60_000))
EVENTS = int(os.environ.get("BENCH_EVENTS", 300_000))
DAYS = 365
TARGET_P95_MS = 200.0
SECRET_KEY = "bench-secret-key-0123456789-abcdefghijklmn"
COURSES = (("py101", "Python 101", 19900), ("ds201", "Data science", 49900), ("ml301", "ML", 99900))


def _stamp(dt: object) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")  # type: ignore[attr-defined]


def fill(path: Path, community_id: int, member_ids: list[int]) -> None:
    """Members joining over a year, courses, a year of paid orders and activity."""
    rng = random.Random(23)
    conn = raw_connection(path)
    conn.execute("BEGIN")
    conn.execute(
        "UPDATE members SET role = 'creator', display_name = 'Mei', name_key = 'mei' WHERE id = ?",
        (member_ids[0],),
    )
    joined = {m: rng.uniform(0, DAYS - 1) for m in member_ids}
    conn.executemany(
        "UPDATE members SET created_at = ? WHERE id = ?",
        [(_stamp(START + timedelta(days=day)), m) for m, day in joined.items()],
    )
    course_ids = []
    for code, title, price in COURSES:
        course_ids.append(
            conn.execute(
                "INSERT INTO courses (community_id, code, title, description, price_minor, currency,"
                " completion_points, hidden, created_at)"
                " VALUES (?, ?, ?, '', ?, 'USD', 0, 0, ?) RETURNING id",
                (community_id, code, title, price, _stamp(START)),
            ).fetchone()[0]
        )
    buyers = rng.choices(member_ids[1:], k=ORDERS)
    rows = []
    for member in buyers:
        at = START + timedelta(days=rng.uniform(joined[member], DAYS))
        index = rng.randrange(len(COURSES))
        code, title, price = COURSES[index]
        stamp = _stamp(at)
        rows.append(
            (
                community_id,
                member,
                "course",
                course_ids[index],
                title,
                price,
                price,
                "USD",
                "fulfilled",
                rng.choice(("sandbox", "stripe")),
                f"pi_{len(rows)}",
                stamp,
                _stamp(at + timedelta(hours=1)),
                stamp,
                stamp,
                0,
                0,
            )
        )
    rows.sort(key=lambda row: row[11])  # ids in time order, as orders arrive
    conn.executemany(
        "INSERT INTO orders (community_id, member_id, product_kind, product_id, title, list_minor,"
        " amount_minor, currency, status, provider, provider_ref, created_at, expires_at, paid_at,"
        " fulfilled_at, refunded_minor, purchase_points)"
        f" VALUES ({', '.join('?' * 17)})",
        rows,
    )
    chat = conn.execute(
        "INSERT INTO chats (community_id, platform, external_id, kind, title, created_at, bot_present)"
        " VALUES (?, 'bench', 'g0', 'group', 'g0', ?, 1) RETURNING id",
        (community_id, _stamp(START)),
    ).fetchone()[0]
    weights = [rng.paretovariate(1.2) for _ in member_ids]
    chosen = rng.choices(member_ids, weights=weights, k=EVENTS)
    conn.executemany(
        "INSERT INTO activity (community_id, member_id, chat_id, at, kind, text_length)"
        " VALUES (?, ?, ?, ?, 'message', 20)",
        [
            (community_id, m, chat, _stamp(START + timedelta(days=rng.uniform(joined[m], DAYS))))
            for m in chosen
        ],
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def raw_queries(path: Path, community_id: int, member_id: int) -> dict[str, Callable[[], object]]:
    """What each page reads, as plain SQL."""
    conn = raw_connection(path)

    def overview() -> object:
        return conn.execute(
            "SELECT summary FROM analytics_runs WHERE community_id = ?", (community_id,)
        ).fetchone()

    def members() -> object:
        return conn.execute(
            "SELECT id, display_name, role, created_at FROM members"
            " WHERE community_id = ? AND name_key LIKE ? ORDER BY id LIMIT 51",
            (community_id, "m123%"),
        ).fetchall()

    def member() -> object:
        return (
            conn.execute("SELECT * FROM members WHERE id = ?", (member_id,)).fetchone(),
            conn.execute("SELECT * FROM identities WHERE member_id = ?", (member_id,)).fetchall(),
            conn.execute(
                "SELECT * FROM orders WHERE member_id = ? ORDER BY id DESC LIMIT 20", (member_id,)
            ).fetchall(),
            conn.execute(
                "SELECT * FROM activity WHERE member_id = ? ORDER BY at DESC LIMIT 20", (member_id,)
            ).fetchall(),
        )

    def orders() -> object:
        return conn.execute(
            "SELECT o.*, m.display_name FROM orders o JOIN members m ON m.id = o.member_id"
            " WHERE o.community_id = ? ORDER BY o.id DESC LIMIT 51",
            (community_id,),
        ).fetchall()

    return {"overview": overview, "members": members, "member": member, "orders": orders, "chart": overview}


async def main() -> None:
    folder = workdir()
    path = folder / "dashboard.db"
    await migrated_file(path)
    community_id, member_ids = await bulk_community(path, "bench", MEMBERS)
    fill(path, community_id, member_ids)
    # A buyer with orders: the member page shows a full history.
    conn = raw_connection(path)
    member_id = conn.execute(
        "SELECT member_id FROM orders GROUP BY member_id ORDER BY COUNT(*) DESC LIMIT 1"
    ).fetchone()[0]
    conn.close()
    clock = ManualClock(START + timedelta(days=DAYS))
    config = Config(
        database_url=url_of(path), data_dir=folder, community="bench", secret_key=Secret(SECRET_KEY)
    )
    app = await App.open(config, clock=clock)
    async with served(app, install_dashboard) as client:
        community = await app.community("bench")
        creator = await app.services.members.get_member(member_ids[0])
        await app.services.analytics.run(community)  # the nightly job's summary, as in production
        app.services.web_sessions.enable(str(client.make_url("")))
        link = await app.services.web_sessions.login_link(community, creator)
        signed_in = await client.get(urlsplit(link).path, allow_redirects=False)
        assert signed_in.status == 303, signed_in.status
        pages = {
            "overview": "/dashboard",
            "members": "/dashboard/members?q=m123",
            "member": f"/dashboard/members/{member_id}",
            "orders": "/dashboard/orders",
            "chart": "/dashboard/charts/signups.svg",  # drawn from the summary on each request
        }

        measured = await measure(client, pages)
    references = raw_queries(path, community_id, member_id)
    results = await against_references(measured, references)
    emit(
        {
            "bench": "dashboard",
            "members": MEMBERS,
            "orders": ORDERS,
            "events": EVENTS,
            "requests": REQUESTS,
            **page_figures(results, TARGET_P95_MS),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
