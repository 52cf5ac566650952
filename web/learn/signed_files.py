"""Short-lived signed addresses for lesson files, and the bytes a ``Range`` header asks for.

A lesson's file is served only to its owner: the lesson page, which checks ownership, hands out
an address signed with the secret key for that member, lesson and a few minutes; the file route
checks the session, the signature and the time, then ownership again, so an address copied out
of the page is of no use to anyone else, nor for long. Media answer ``Range`` requests (206), so
a video can seek.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta

LIFETIME = timedelta(minutes=15)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class FileSigner:
    def __init__(self, secret_key: str) -> None:
        self._key = b"lesson-file:" + secret_key.encode()

    def query(self, member_id: int, course_code: str, position: int, now: datetime) -> str:
        """The query string of the file's address for ``member_id``, valid for LIFETIME."""
        expires = int((now + LIFETIME).timestamp())
        return f"e={expires}&s={self._signature(member_id, course_code, position, expires)}"

    def valid(
        self, member_id: int, course_code: str, position: int, expires: str, signature: str, now: datetime
    ) -> bool:
        if not expires.isdigit() or len(expires) > 12 or int(expires) < now.timestamp():
            return False
        expected = self._signature(member_id, course_code, position, int(expires))
        return hmac.compare_digest(expected, signature)

    def _signature(self, member_id: int, course_code: str, position: int, expires: int) -> str:
        message = f"{member_id}:{course_code}:{position}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The (first, last) byte positions a ``Range: bytes=…`` header asks for, clipped to the
    file; None when it asks for none of it (416). One range only; a suffix ``-N`` is the last N.
    ValueError for a header of another form (several ranges, other units), which a server may
    ignore and answer with the whole file."""
    found = _RANGE.match(header.strip())
    if not found or not any(found.groups()):
        raise ValueError(header)
    if size == 0:
        return None
    first, last = found.groups()
    if not first:  # the last N bytes
        length = int(last)
        return (max(0, size - length), size - 1) if length else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end and start < size else None
