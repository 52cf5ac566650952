"""Shared set-up for benchmarks: a migrated SQLite file, bulk members, raw-sqlite helpers."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from core.members.tables import communities, identities, members
from core.storage.database import Database
from core.storage.migrate import upgrade

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="studyhall-bench-"))


def url_of(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def migrated_file(path: Path) -> None:
    db = Database(url_of(path))
    try:
        await upgrade(db)
    finally:
        await db.dispose()


async def bulk_community(
    path: Path, name: str, member_count: int, platform: str = "bench"
) -> tuple[int, list[int]]:
    """A community with ``member_count`` learners (one identity each), inserted in bulk."""
    db = Database(url_of(path))
    try:
        async with db.write() as conn:
            return await insert_community(conn, name, member_count, platform)
    finally:
        await db.dispose()


async def insert_community(
    conn: AsyncConnection, name: str, member_count: int, platform: str = "bench"
) -> tuple[int, list[int]]:
    """Insert a community and its ``member_count`` learners (one identity each) on ``conn``:
    its id and the members' ids, in order. No ledger account is opened."""
    community_id = (
        await conn.execute(
            insert(communities)
            .values(name=name, default_locale="en", timezone="UTC", created_at=START)
            .returning(communities.c.id)
        )
    ).scalar_one()
    rows = [
        {
            "community_id": community_id,
            "display_name": f"m{i}",
            "name_key": f"m{i}",
            "role": "learner",
            "locale": None,
            "created_at": START,
        }
        for i in range(member_count)
    ]
    returning = insert(members).returning(members.c.id, sort_by_parameter_order=True)
    ids = list((await conn.execute(returning, rows)).scalars())
    await conn.execute(
        insert(identities),
        [
            {
                "community_id": community_id,
                "member_id": member_id,
                "platform": platform,
                "external_id": f"u{i}",
                "language_hint": None,
                "created_at": START,
            }
            for i, member_id in enumerate(ids)
        ],
    )
    return community_id, ids


def copy_db(source: Path, target: Path) -> None:
    """Copy a SQLite database (after a checkpoint, so the copy holds everything)."""
    conn = sqlite3.connect(source)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copyfile(source, target)


def raw_connection(path: Path) -> sqlite3.Connection:
    """Raw sqlite3 with the same durability settings as the product (WAL, synchronous=NORMAL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def emit(record: dict[str, object]) -> None:
    print(json.dumps(record), flush=True)
