"""Pushes: creator campaigns to a segment (with an A/B split), their audience and muting, the
automations, test sends, and the outbox that sends them — one service made of the parts in
core/pushes/campaigns.py, audience.py, automations.py, trial.py and outbox.py.
"""

from __future__ import annotations

from datetime import timedelta

from core.analytics.service import AnalyticsService
from core.clock import Clock
from core.members.service import MemberService
from core.pushes.audience import PushAudience
from core.pushes.automations import PushAutomations
from core.pushes.campaigns import PushCampaigns
from core.pushes.delivery import PushChannel
from core.pushes.outbox import PushOutbox
from core.pushes.pacing import Pacing
from core.pushes.trial import PushTrial
from core.settings.service import SettingsService
from core.storage.database import Database


class PushService(PushCampaigns, PushAutomations, PushAudience, PushOutbox, PushTrial):
    def __init__(
        self,
        db: Database,
        clock: Clock,
        members: MemberService,
        settings: SettingsService,
        analytics: AnalyticsService,
    ) -> None:
        self._db = db
        self._clock = clock
        self._members = members
        self._settings = settings
        self._analytics = analytics
        self.channels: dict[str, PushChannel] = {}  # filled by the adapters
        self._pacers: dict[str, Pacing] = {}
        self.lease = timedelta(minutes=2)  # a claimed row is someone else's after this
        self.batch = 100  # rows claimed at once per platform
        self.concurrency = 16  # sends in flight per platform
        self.window = 32  # messages sent and not yet recorded, at most (the crash window)
