"""When a push may go out: ``at TIME`` as creators type it, and quiet hours."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.errors import InvalidInput
from core.i18n import msg

_CLOCK_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ]([01]?\d|2[0-3]):([0-5]\d)$")


def parse_send_time(text: str, timezone: str, now: datetime) -> datetime:
    """``18:00`` (the next 18:00 in the community's time zone) or ``2026-12-24T09:00`` (in
    that zone) → an aware UTC-comparable datetime; InvalidInput for anything else or the past."""
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    value = text.strip()
    if match := _CLOCK_TIME.match(value):
        at = local_now.replace(hour=int(match[1]), minute=int(match[2]), second=0, microsecond=0)
        if at <= local_now:
            at += timedelta(days=1)
        return at
    if match := _DATE_TIME.match(value):
        try:
            at = datetime(
                int(match[1]), int(match[2]), int(match[3]), int(match[4]), int(match[5]), tzinfo=zone
            )
        except ValueError:
            raise InvalidInput(msg("{value} is not a date.", value=value[:30])) from None
        if at <= local_now:
            raise InvalidInput(msg("{value} is in the past.", value=value[:30]))
        return at
    raise InvalidInput(msg("Give the time as HH:MM or YYYY-MM-DDTHH:MM, not {value}.", value=value[:30]))


def is_quiet(at: datetime, timezone: str, start: int, end: int) -> bool:
    """Whether ``at`` falls in the quiet hours [start, end) of the community's local day
    (hours 0-24; start == end: no quiet hours; start > end: across midnight)."""
    if start == end:
        return False
    hour = at.astimezone(ZoneInfo(timezone)).hour
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end
