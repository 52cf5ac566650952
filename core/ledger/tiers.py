"""Tiers: named levels of lifetime earned points, each with a participation multiplier."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import InvalidInput
from core.i18n import msg
from core.numbers import parse_whole_number


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: int  # lifetime earned points needed
    multiplier_pct: int  # 100 = x1.0

    @property
    def multiplier_text(self) -> str:
        whole, part = divmod(self.multiplier_pct, 100)
        return f"×{whole}" if part == 0 else f"×{whole}.{part:02d}".rstrip("0")


# A tier rewards taking part: it never pays less than the rule's own points (x1), so a
# multiplier cannot round a check-in down to nothing.
MULTIPLIER_PCT_RANGE = (100, 1000)
MAX_THRESHOLD = 10**9
THRESHOLD_RANGE = msg("The threshold must be between 0 and 1000000000.")
_MULTIPLIER = re.compile(r"^[x×]?(\d{1,2})(?:\.(\d{1,2}))?$|^(\d{1,4})%$")

DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier("regular", 0, 100),
    Tier("premium", 500, 120),
    Tier("VIP", 2000, 150),
)


def crosses_threshold(tiers: Sequence[Tier], before: int, after: int) -> bool:
    """Whether a tier's threshold lies in (before, after]."""
    return any(before < tier.threshold <= after for tier in tiers)


def tier_for(tiers: Sequence[Tier], earned: int) -> Tier:
    """The highest tier whose threshold ``earned`` has reached (tiers need not be sorted)."""
    # A loop, not max() over a list: every tiered posting asks, in the writer and the handler.
    best: Tier | None = None
    for tier in tiers:
        if tier.threshold <= earned and (
            best is None
            or tier.threshold > best.threshold
            or (tier.threshold == best.threshold and tier.multiplier_pct > best.multiplier_pct)
        ):
            best = tier
    return best if best is not None else Tier("regular", 0, 100)


def higher_tier(a: Tier, b: Tier | None) -> Tier:
    """The higher of two tiers (by threshold, then multiplier); ``a`` when ``b`` is None."""
    if b is None:
        return a
    return max(a, b, key=lambda tier: (tier.threshold, tier.multiplier_pct))


def effective_tier(tiers: Sequence[Tier], earned: int, granted: Tier | None) -> Tier:
    """The member's tier: the one their lifetime points reached, or the one a plan grants
    them, whichever is higher."""
    return higher_tier(tier_for(tiers, earned), granted)


def next_tier(tiers: Sequence[Tier], earned: int) -> Tier | None:
    ahead = [tier for tier in tiers if tier.threshold > earned]
    return min(ahead, key=lambda tier: tier.threshold) if ahead else None


def apply_multiplier(amount: int, tier: Tier) -> int:
    """Integer points: round down, so a multiplier never mints a fraction."""
    return amount * tier.multiplier_pct // 100


def parse_multiplier(text: str) -> int:
    """``1.5``, ``x1.5`` or ``150%`` → 150 (percent, integer)."""
    match = _MULTIPLIER.match(text.strip().lower())
    if match is None:
        raise InvalidInput(msg("{value} is not a multiplier like 1.5 or 150%.", value=text[:20]))
    if match.group(3) is not None:
        return int(match.group(3))
    whole, fraction = int(match.group(1)), (match.group(2) or "0").ljust(2, "0")
    return whole * 100 + int(fraction)


def parse_threshold(text: str) -> int:
    """A tier's threshold as typed on a page (the command's parameter checks the same range)."""
    value = parse_whole_number(text.strip(), bound=MAX_THRESHOLD, allow_plus=False)
    if value is None or not 0 <= value <= MAX_THRESHOLD:
        raise InvalidInput(THRESHOLD_RANGE)
    return value
