"""Why a database cannot be opened, in one line an operator can act on.

Connecting fails in driver-specific ways (asyncpg's OSErrors and SQLSTATEs, pysqlite's
error names) and SQLAlchemy passes them on as chains of two or three exceptions. The
engine's connect hook (database.py) turns the ones that mean "this database cannot be
reached or opened as configured" into :class:`DatabaseUnavailable`, whose message names the
host, port and database (never the password) and what to check.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

from sqlalchemy.engine import URL, make_url

WHERE = "the database URL (STUDYHALL_DATABASE_URL or --db)"


class DatabaseUnavailable(Exception):
    """The configured database cannot be reached or opened; the message says why and what
    to check, in one line."""


def connection_problem(url: str, error: BaseException) -> str | None:
    """One line on why connecting to ``url`` failed with ``error``, or None when ``error``
    is not a connection failure this module knows."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_problem(parsed, error)
    return _postgres_problem(parsed, error)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error``, what it wraps (SQLAlchemy's ``orig``) and what caused it, each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        item = pending.pop(0)
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        orig = getattr(item, "orig", None)
        pending += [orig if isinstance(orig, BaseException) else None, item.__cause__, item.__context__]


def _postgres_problem(url: URL, error: BaseException) -> str | None:
    host, port = url.host or "localhost", url.port or 5432
    database, user = url.database or url.username or "postgres", url.username or "postgres"
    at = f"{host}:{port}"
    cannot = f"cannot connect to PostgreSQL at {at} (database {database})"
    check = f"check that PostgreSQL is running there and the host and port in {WHERE}"
    for item in _chain(error):
        state = getattr(item, "sqlstate", None)
        text = _server_message(item)
        if state == "3D000":  # invalid_catalog_name
            return f"database {database} does not exist on {at}: create it first, e.g. createdb {database}"
        if state == "28P01":  # invalid_password
            return f"PostgreSQL at {at} refused the password of user {user}: check the password in {WHERE}"
        if state == "28000" and "does not exist" in text:  # the role
            return (
                f"role {user} does not exist on {at}: create it (e.g. createuser {user}) "
                f"or name an existing user in {WHERE}"
            )
        if isinstance(state, str) and state[:2] in ("28", "08", "53", "57"):
            # Refused by pg_hba.conf, too many connections, starting up or shutting down.
            return f"{cannot}: the server said: {text}"
        if isinstance(item, ConnectionRefusedError):
            return f"{cannot}: connection refused; {check}"
        if isinstance(item, socket.gaierror):
            return f"{cannot}: the host name {host} does not resolve; check the host in {WHERE}"
        if isinstance(item, TimeoutError):
            return f"{cannot}: no answer in time; {check}, and that no firewall is in the way"
        if isinstance(item, OSError):
            return f"{cannot}: {item.strerror or item}; {check}"
    return None


def _server_message(error: BaseException) -> str:
    # asyncpg's errors carry the server's own message; it never holds the password.
    message = getattr(error, "message", None)
    return message if isinstance(message, str) else str(error)


def _sqlite_problem(url: URL, error: BaseException) -> str | None:
    path = url.database or ":memory:"
    for item in _chain(error):
        name = getattr(item, "sqlite_errorname", None)
        if name == "SQLITE_CANTOPEN":
            return (
                f"cannot open the SQLite database {path}: check that it names a file (not a folder) "
                f"in a folder studyhall may write, in {WHERE}"
            )
        if name == "SQLITE_READONLY" or (isinstance(name, str) and name.startswith("SQLITE_READONLY")):
            return (
                f"the SQLite database {path} is read-only: studyhall writes the file and, beside it, "
                f"its -wal and -shm files; let it write there or choose another path in {WHERE}"
            )
        if name == "SQLITE_NOTADB":
            return f"{path} is not a SQLite database: choose another path in {WHERE}"
        if isinstance(name, str) and name.startswith(("SQLITE_IOERR", "SQLITE_PERM", "SQLITE_FULL")):
            return f"cannot use the SQLite database {path} ({item}): check the disk and the path in {WHERE}"
    return None
