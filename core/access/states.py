"""A subscription's states in words: /subscription and the dashboard's Members page say the same."""

from __future__ import annotations

from core.i18n import Msg, msg

STATUS_LABELS: dict[str, Msg] = {
    "trial": msg("trial"),
    "active": msg("active"),
    "grace": msg("in grace, renewal unpaid"),
    "ended": msg("ended"),
}
