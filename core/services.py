"""The bundle of core services handed to handlers and jobs (built by bot.app.App)."""

from __future__ import annotations

from dataclasses import dataclass

from core.activity.log import ActivityLog
from core.clock import Clock
from core.members.service import MemberService
from core.storage.database import Database


@dataclass
class Services:
    db: Database
    clock: Clock
    members: MemberService
    activity: ActivityLog

    @classmethod
    def build(cls, db: Database, clock: Clock) -> Services:
        return cls(db=db, clock=clock, members=MemberService(db, clock), activity=ActivityLog(db))
