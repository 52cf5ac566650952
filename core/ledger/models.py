"""Value types of the ledger: account references, postings, transfers and outcomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from core.ledger.tiers import Tier

# A posting's guard: given the batch's (blocking) connection, None to let it post, else a reason.
Guard = Callable[[Any], "str | None"]


class SystemCode(StrEnum):
    """System accounts, one of each per community. Their balances may go negative."""

    ISSUANCE = "issuance"  # where earned points come from
    REDEMPTION = "redemption"  # where spent points go (mall)
    EXPIRY = "expiry"  # where expired points go
    DEDUCTIONS = "deductions"  # where moderators' deductions go
    ESCROW = "escrow"  # held bounties
    BENCH = "bench"  # benchmarks' funding source (never used by the product)


class Kind(StrEnum):
    MESSAGE = "message"
    CHECKIN = "checkin"
    AWARD = "award"
    DEDUCT = "deduct"
    ANSWER = "answer"
    REFERRAL = "referral"
    PURCHASE = "purchase"
    SPEND = "spend"
    TRANSFER = "transfer"
    EXPIRY = "expiry"
    REVERSAL = "reversal"
    COMPLETION = "completion"  # finishing a course
    BOUNTY = "bounty"  # a question's bounty into escrow, and out to the answerer or back


# Credits of these kinds from issuance count as earned (tiers, leaderboards, caps).
EARNING_KINDS = frozenset(
    {Kind.MESSAGE, Kind.CHECKIN, Kind.AWARD, Kind.ANSWER, Kind.REFERRAL, Kind.PURCHASE, Kind.COMPLETION}
)
# Participation points: the member's tier multiplier applies to these.
TIERED_KINDS = frozenset({Kind.MESSAGE, Kind.CHECKIN, Kind.ANSWER})


@dataclass(frozen=True)
class MemberAccount:
    member_id: int


@dataclass(frozen=True)
class SystemAccount:
    code: SystemCode


AccountRef = MemberAccount | SystemAccount


class CapScope(StrEnum):
    CREDIT = "credit"  # what the receiving account got
    ACTOR = "actor"  # what the acting member gave


class Cap(NamedTuple):
    """At most ``limit`` points of ``kinds`` since ``since``, counted per ``scope``.

    ``clamp`` posts what is left under the cap; otherwise the posting is refused whole.
    """

    scope: CapScope
    kinds: tuple[str, ...]
    since: datetime
    limit: int
    clamp: bool = False


class Posting(NamedTuple):
    """One transfer asked of the ledger. Immutable; a named tuple rather than a frozen
    dataclass because every earning message builds one, and the dataclass costs 3.5 µs."""

    community_id: int
    debit: AccountRef
    credit: AccountRef
    amount: int
    kind: str
    key: str  # idempotency key, unique per community
    at: datetime
    memo: str = ""
    actor_member_id: int | None = None
    reverses_id: int | None = None
    caps: tuple[Cap, ...] = ()
    tiered: bool = False  # multiply by the credited member's tier
    # With ``tiered``: the tier the credited member has at least, whatever their points (a
    # plan grants it); the writer multiplies by the higher of the two.
    tier_floor: Tier | None = None
    partial: bool = False  # post what the debited member has, if less than asked
    # Run inside the posting's own transaction once the ledger would accept it: None lets it
    # post (and keeps whatever the guard wrote), a reason refuses it (the guard must then have
    # written nothing). For value that moves with points: mall stock, redemption rows.
    guard: Guard | None = None


class Transfer(NamedTuple):
    """One immutable ledger row. A named tuple, not a frozen dataclass: the writer makes one
    per posting, and a frozen dataclass's ``__init__`` costs several times more."""

    id: int
    community_id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    kind: str
    memo: str
    actor_member_id: int | None
    at: datetime
    key: str
    reverses_id: int | None


class Outcome(StrEnum):
    POSTED = "posted"
    REPLAYED = "replayed"  # the key was used before: nothing changed, ``transfer`` is the first
    INSUFFICIENT = "insufficient"  # the debited member has too few points
    CAPPED = "capped"  # a cap (or a zero multiplier) leaves nothing to post
    INVALID = "invalid"  # e.g. reversing a missing or already reversed transfer
    REFUSED = "refused"  # the posting's guard said no (sold out, a limit reached)


class PostingResult(NamedTuple):
    """What became of one posting (a named tuple for the same reason as ``Transfer``)."""

    outcome: Outcome
    transfer: Transfer | None = None
    capped_by: int | None = None  # index into Posting.caps
    available: int | None = None  # the debited member's balance when INSUFFICIENT
    earned_before: int | None = None  # the credited member's lifetime earned, around this posting
    earned_after: int | None = None
    refused: str | None = None  # the guard's reason when REFUSED

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.POSTED, Outcome.REPLAYED)

    @property
    def amount(self) -> int:
        return self.transfer.amount if self.transfer else 0
