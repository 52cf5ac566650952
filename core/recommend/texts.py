"""What the recommendations learned, in words: one line for /stats and the dashboard."""

from __future__ import annotations

from core.i18n import Msg, msg
from core.recommend.service import Learned


def learned_line(learned: Learned) -> Msg:
    if not learned.pairs:
        return msg("Recommendations: not enough purchases yet to learn which courses go together.")
    pairs = " · ".join(f"{a.title} + {b.title} ({s:.2f})" for a, b, s in learned.pairs[:3])
    return msg(
        "Recommendations: personal picks for {covered} of {members} members with courses;"
        " taken together most: {pairs}",
        covered=learned.covered,
        members=learned.members,
        pairs=pairs,
    )
