"""Backups and restores of the whole database, with a manifest that says what is inside.

SQLite: SQLite's online backup API copies the file page by page inside one read transaction,
so the copy is a consistent snapshot even while ``studyhall run`` writes (WAL mode: readers
never block the writer). PostgreSQL: ``pg_dump --format=custom`` (core/storage/pg_backup.py).

Every backup ``FILE`` gets a manifest beside it, ``FILE.json``: the migration revision, the
time, the row count of every table, ledger sums and the file's SHA-256. It sits beside the file
rather than in it because a pg_dump archive has no room for it, and because a table inside the
backup would be restored into the live database. The SQLite file still carries its revision
(its ``alembic_version`` table), so a backup without its manifest can be restored; a manifest
whose checksum does not match its file stops the restore.

Revisions on restore: a backup from a revision this code does not know (a newer studyhall) is
refused; an older one is restored and then migrated to the head, as ``studyhall migrate`` would.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from core.ledger.tables import effective_sql
from core.storage.migrate import alembic_config, head_revision
from core.storage.schema import load_all_tables

MANIFEST_FORMAT = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
SQLITE_BUSY_TIMEOUT_S = 10.0
VERSION_TABLE = "alembic_version"

Query = Callable[[str], Sequence[Sequence[Any]]]


class BackupError(Exception):
    """A backup or restore that cannot be done; the text is one line for the operator."""


@dataclass(frozen=True)
class Summary:
    """What a database holds, comparable between a backup and its restore."""

    revision: str | None
    tables: dict[str, int]  # rows per table
    ledger: dict[str, Any]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    @property
    def ledger_balanced(self) -> bool:
        """Each community's balances sum to zero and each balance is its transfers' sum."""
        return self.ledger["accounts_off_transfers"] == 0 and not any(
            self.ledger["balance_total_by_community"].values()
        )

    def differences(self, other: Summary) -> list[str]:
        """What differs from ``other``, one short phrase each (empty: the same)."""
        found = [
            f"{name}: {self.tables.get(name)} rows, not {other.tables.get(name)}"
            for name in sorted(set(self.tables) | set(other.tables))
            if self.tables.get(name) != other.tables.get(name)
        ]
        found += [
            f"ledger {key}: {self.ledger.get(key)!r}, not {other.ledger.get(key)!r}"
            for key in sorted(set(self.ledger) | set(other.ledger))
            if self.ledger.get(key) != other.ledger.get(key)
        ]
        return found


@dataclass(frozen=True)
class Manifest:
    """The sidecar ``FILE.json``."""

    backend: str
    created_at: str
    source: str  # the database URL, password hidden
    file: str
    bytes: int
    sha256: str
    integrity: str
    summary: Summary
    studyhall_version: str

    def to_json(self) -> str:
        body = {
            "studyhall_backup": MANIFEST_FORMAT,
            "backend": self.backend,
            "created_at": self.created_at,
            "revision": self.summary.revision,
            "studyhall_version": self.studyhall_version,
            "source": self.source,
            "file": self.file,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "integrity": self.integrity,
            "tables": self.summary.tables,
            "ledger": self.summary.ledger,
        }
        return json.dumps(body, indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        body = json.loads(text)
        if body.get("studyhall_backup") != MANIFEST_FORMAT:
            raise ValueError("not a studyhall backup manifest")
        summary = Summary(body["revision"], dict(body["tables"]), dict(body["ledger"]))
        return cls(
            backend=body["backend"],
            created_at=body["created_at"],
            source=body.get("source", ""),
            file=body["file"],
            bytes=int(body["bytes"]),
            sha256=body["sha256"],
            integrity=body.get("integrity", ""),
            summary=summary,
            studyhall_version=body.get("studyhall_version", ""),
        )


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + ".json")


def read_manifest(backup: Path) -> Manifest | None:
    """The backup's manifest, None without one; BackupError when it is unreadable."""
    path = manifest_path(backup)
    try:
        return Manifest.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BackupError(
            f"the manifest {path} is unreadable ({error}); move it away to restore without it"
        ) from None


def write_manifest(backup: Path, manifest: Manifest) -> Path:
    path = manifest_path(backup)
    _replace_atomically(path, manifest.to_json().encode("utf-8"))
    return path


def check_against_manifest(backup: Path, manifest: Manifest | None) -> None:
    """BackupError when the file is not the one its manifest describes (truncated, damaged)."""
    if manifest is None:
        return
    digest = file_sha256(backup)
    if digest != manifest.sha256:
        raise BackupError(
            f"{backup} does not match its manifest {manifest_path(backup).name} (SHA-256 differs): "
            "the file is damaged or was replaced"
        )


def new_manifest(backend: str, source: str, backup: Path, integrity: str, summary: Summary) -> Manifest:
    return Manifest(
        backend=backend,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source=source,
        file=backup.name,
        bytes=backup.stat().st_size,
        sha256=file_sha256(backup),
        integrity=integrity,
        summary=summary,
        studyhall_version=_studyhall_version(),
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_kind(path: Path) -> str:
    """ "sqlite" or "postgresql" by the file's first bytes; BackupError for anything else."""
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise BackupError(f"no backup file {path}") from None
    except OSError as error:
        raise BackupError(f"cannot read {path}: {error.strerror}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is neither a SQLite database nor a pg_dump custom-format archive")


# -- revisions ------------------------------------------------------------------------------


def check_revision(revision: str | None, what: str) -> bool:
    """Whether a backup at ``revision`` needs migrating after its restore (False: at head).
    BackupError for no revision or one this code does not know (made by a newer studyhall)."""
    if revision is None:
        raise BackupError(f"{what} has no migration revision: it is not a studyhall database backup")
    head = head_revision()
    if revision == head:
        return False
    try:
        known = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(
            f"{what} is at revision {revision}, which this studyhall (head {head}) does not know: "
            "it comes from a newer version; upgrade studyhall, then restore"
        )
    return True


# -- what a database holds ------------------------------------------------------------------


def schema_tables() -> list[str]:
    """The tables a studyhall database has at head, and the migration revision's table."""
    return [VERSION_TABLE, *sorted(t.name for t in load_all_tables().sorted_tables)]


def summarize(query: Query, present: Iterable[str]) -> Summary:
    """Rows per studyhall table among ``present`` ones, the revision and the ledger's sums.

    ``query(sql)`` returns rows; the SQL is plain enough for SQLite and PostgreSQL alike."""
    present = set(present)
    tables = {
        name: int(query(f'SELECT COUNT(*) FROM "{name}"')[0][0])
        for name in schema_tables()
        if name in present
    }
    revision = None
    if VERSION_TABLE in present:
        rows = query(f"SELECT version_num FROM {VERSION_TABLE}")
        revision = str(rows[0][0]) if rows else None
    ledger: dict[str, Any] = {}
    if {"ledger_accounts", "ledger_transfers"} <= present:
        ledger = _ledger_sums(query, striped="ledger_balance_stripes" in present)
    return Summary(revision, tables, ledger)


def _ledger_sums(query: Query, *, striped: bool) -> dict[str, Any]:
    # A system account's balance is its row's plus its stripes' (core/ledger/tables.py).
    balance, earned = "a.balance", "a.earned"
    if striped:  # absent from a backup made before revision 0020
        balance, earned = effective_sql("balance"), effective_sql("earned")
    by_community = query(
        f"SELECT a.community_id, COALESCE(SUM({balance}), 0) FROM ledger_accounts a GROUP BY a.community_id"
        " ORDER BY a.community_id"
    )
    count, total = query("SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM ledger_transfers")[0]
    # The correlated sums use the (credit|debit)_account_id, at indexes.
    off = query(
        f"SELECT COUNT(*) FROM ledger_accounts a WHERE {balance} <>"
        " COALESCE((SELECT SUM(t.amount) FROM ledger_transfers t WHERE t.credit_account_id = a.id), 0)"
        " - COALESCE((SELECT SUM(t.amount) FROM ledger_transfers t WHERE t.debit_account_id = a.id), 0)"
    )[0][0]
    digest = hashlib.sha256()
    for account, points, lifetime in query(
        f"SELECT a.id, {balance}, {earned} FROM ledger_accounts a ORDER BY a.id"
    ):
        digest.update(f"{account}:{points}:{lifetime}\n".encode())
    return {
        "transfers": int(count),
        "transfer_total": int(total),
        "balance_total_by_community": {str(c): int(s) for c, s in by_community},
        "accounts_off_transfers": int(off),
        "balances_sha256": digest.hexdigest(),  # every account's balance and earned, in id order
    }


def describe(summary: Summary) -> str:
    ledger = "ledger balanced" if summary.ledger_balanced else "LEDGER NOT BALANCED"
    if not summary.ledger:
        ledger = "no ledger"
    return (
        f"revision {summary.revision}, {len(summary.tables)} tables, {summary.rows} rows, "
        f"{summary.ledger.get('transfers', 0)} ledger transfers, {ledger}"
    )


# -- SQLite ---------------------------------------------------------------------------------


def _sqlite_tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def sqlite_summary(conn: sqlite3.Connection) -> Summary:
    return summarize(lambda sql: conn.execute(sql).fetchall(), _sqlite_tables(conn))


def _integrity(conn: sqlite3.Connection) -> str:
    problems = [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
    return "ok" if problems == ["ok"] else "; ".join(problems[:5])


def _open_sqlite(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT_S)
    else:
        conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)
    conn.isolation_level = None  # autocommit: the backup API and PRAGMAs manage their own
    return conn


def backup_sqlite(database: Path, target: Path, source: str) -> Manifest:
    """Copy the SQLite ``database`` (which may be in use) to ``target`` and write its manifest.

    The copy is written beside ``target`` and renamed into place only once it passed
    ``PRAGMA integrity_check``: a failed backup never replaces a good one."""
    if not database.is_file():
        raise BackupError(f"no SQLite database at {database}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        src = _open_sqlite(database)
        try:
            dst = _open_sqlite(partial)
            try:
                # One step (pages=-1): the whole copy inside one read transaction, a consistent
                # snapshot; in WAL mode the running writer goes on meanwhile.
                src.backup(dst)
                # The copy inherits WAL mode from the header; a backup is one self-contained file.
                dst.execute("PRAGMA journal_mode=DELETE")
                integrity = _integrity(dst)
                summary = sqlite_summary(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the backup of {database} failed: {error}") from None
    if integrity != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy of {database} failed its integrity check: {integrity}")
    if summary.revision is None:
        partial.unlink(missing_ok=True)
        raise BackupError(f"{database} has no migration revision: run studyhall migrate first")
    _fsync(partial)
    os.replace(partial, target)
    manifest = new_manifest("sqlite", source, target, integrity, summary)
    write_manifest(target, manifest)
    return manifest


def sqlite_is_empty(database: Path) -> bool:
    """True when ``database`` is missing or no studyhall table holds a row (the revision aside)."""
    if not database.exists():
        return True
    try:
        conn = _open_sqlite(database)  # read-write: a WAL file may need its -shm made
        try:
            present = _sqlite_tables(conn) & set(schema_tables()[1:])
            return not any(conn.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone() for name in present)
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise BackupError(f"cannot read the database {database}: {error}") from None


@dataclass(frozen=True)
class Restored:
    summary: Summary  # of the database as restored, before any migration
    needs_migration: bool
    verified_against: str  # what the restored rows were compared with


def restore_sqlite(backup: Path, database: Path, *, force: bool) -> Restored:
    """Copy ``backup`` into ``database`` through the backup API, checked before and after.

    Refuses (BackupError) a non-empty ``database`` without ``force``, a damaged backup, and a
    backup from a revision this code does not know. Studyhall must not be running on
    ``database``: its caches would not see the restore."""
    manifest = read_manifest(backup)
    if manifest is not None and manifest.backend != "sqlite":
        raise BackupError(f"{backup}'s manifest says it is a {manifest.backend} backup, not SQLite")
    check_against_manifest(backup, manifest)
    try:
        src = _open_sqlite(backup, read_only=True)
    except sqlite3.Error as error:
        raise BackupError(f"cannot open the backup {backup}: {error}") from None
    try:
        integrity = _integrity(src)
        if integrity != "ok":
            raise BackupError(f"the backup {backup} failed its integrity check: {integrity}")
        expected = sqlite_summary(src)
        needs_migration = check_revision(expected.revision, f"the backup {backup}")
        if not force and not sqlite_is_empty(database):
            raise BackupError(
                f"the database {database} is not empty; restoring would replace everything in it. "
                "Stop studyhall and add --force to overwrite it"
            )
        database.parent.mkdir(parents=True, exist_ok=True)
        dst = _open_sqlite(database)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")  # as studyhall runs it
            integrity = _integrity(dst)
            restored = sqlite_summary(dst)
        finally:
            dst.close()
    except sqlite3.Error as error:
        raise BackupError(f"the restore into {database} failed: {error}") from None
    finally:
        src.close()
    if integrity != "ok":
        raise BackupError(f"the restored database {database} failed its integrity check: {integrity}")
    differences = restored.differences(expected)
    if differences:
        raise BackupError(f"the restored database differs from the backup: {'; '.join(differences[:3])}")
    return Restored(restored, needs_migration, "the backup file")


# -- helpers --------------------------------------------------------------------------------


def _fsync(path: Path) -> None:
    with path.open("rb+") as file:
        os.fsync(file.fileno())


def _replace_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def _studyhall_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("studyhall")
    except PackageNotFoundError:
        return "unknown"
