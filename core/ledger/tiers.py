"""Tiers: named levels of lifetime earned points, each with a participation multiplier."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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

DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier("regular", 0, 100),
    Tier("premium", 500, 120),
    Tier("VIP", 2000, 150),
)


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
