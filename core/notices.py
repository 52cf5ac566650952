"""Private notes that jobs produce for members (reminders, a payment delivered late), kept until
the App, which knows the adapters, sends them after the jobs have run.

Kept in memory: a crash between a job and the sending loses the note, never the state change
(the job has already recorded it, and reminders are recorded as sent only once queued here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.replies import Reply


@dataclass
class Notices:
    _queued: list[tuple[int, Reply]] = field(default_factory=list)

    def add(self, community_id: int, reply: Reply) -> None:
        """Queue ``reply`` (which names its member in ``to_member``)."""
        assert reply.to_member is not None, "a notice goes to a member"
        self._queued.append((community_id, reply))

    def take(self) -> list[tuple[int, Reply]]:
        taken, self._queued = self._queued, []
        return taken
