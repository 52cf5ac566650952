"""Request and error ids: which lines of the log belong to one piece of work.

Each incoming event, HTTP request and job run opens a ``request_scope``; bot/logs.py puts the
ids on every line logged inside it. The id an apology or an error page shows a member is
``mark_error()``'s, which is the request's own id, so the operator finds every line of the
failed request with one search.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
error_id: ContextVar[str | None] = ContextVar("error_id", default=None)


def new_id() -> str:
    # A correlation id, not a secret: secrets.token_hex reads os.urandom, a system call on
    # every inbound event (5% of the PostgreSQL ingest benchmark's event loop).
    return f"{random.getrandbits(32):08x}"


@contextmanager
def request_scope() -> Iterator[str]:
    """The id of the work under way: a new one, or the enclosing scope's (an event handled
    inside a webhook's HTTP request keeps that request's id)."""
    current = request_id.get()
    if current is not None:
        yield current
        return
    rid, eid = request_id.set(new_id()), error_id.set(None)
    try:
        yield request_id.get() or ""
    finally:
        error_id.reset(eid)
        request_id.reset(rid)


def mark_error() -> str:
    """This request failed: the id to show (and log); later lines carry it as their error id."""
    current = error_id.get()
    if current is None:
        current = request_id.get()
        if current is None:  # outside any scope: nothing later belongs to it
            return new_id()
        error_id.set(current)
    return current
