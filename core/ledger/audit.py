"""The audit of staff point movements (awards, deductions, corrections) as people read it:
who did it, to whom, how many points which way. /audit and the dashboard's audit page both
read it here, so the rule for which side is "the member" lives once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.ledger.models import Kind, Transfer
from core.ledger.service import Ledger
from core.members.service import MemberService

AUDITED_KINDS: tuple[str, ...] = (Kind.AWARD, Kind.DEDUCT, Kind.REVERSAL)
NOBODY = "—"


@dataclass(frozen=True)
class AuditEntry:
    transfer: Transfer
    actor: str  # the staff member's display name (NOBODY for a system posting)
    subject: str  # the member whose points moved
    signed_amount: str  # "+30" to the member, "-5" from them


async def audit_entries(
    ledger: Ledger,
    members: MemberService,
    community_id: int,
    *,
    kinds: Sequence[str] = AUDITED_KINDS,
    member_id: int | None = None,
    actor_id: int | None = None,
    before: int | None = None,
    limit: int = 20,
) -> list[AuditEntry]:
    """Newest first; ``before`` (a transfer id) gives the next older page."""
    transfers = await ledger.transfers_of_kinds(
        community_id, kinds, member_id=member_id, actor_id=actor_id, before=before, limit=limit
    )
    return await describe_transfers(ledger, members, transfers)


async def describe_transfers(
    ledger: Ledger, members: MemberService, transfers: Sequence[Transfer]
) -> list[AuditEntry]:
    """Each transfer with its actor's and its member's names and the signed amount."""
    owners = await ledger.members_of_accounts(
        [t.credit_account_id for t in transfers] + [t.debit_account_id for t in transfers]
    )
    names: dict[int, str] = {}

    async def name_of(member_id: int | None) -> str:
        if member_id is None:
            return NOBODY
        if member_id not in names:
            names[member_id] = (await members.get_member(member_id)).display_name
        return names[member_id]

    entries = []
    for transfer in transfers:
        # The member side: the receiver if a member was credited (+), else the giver (-).
        receiver, giver = owners.get(transfer.credit_account_id), owners.get(transfer.debit_account_id)
        sign, subject = ("+", receiver) if receiver is not None else ("-", giver)
        entries.append(
            AuditEntry(
                transfer,
                await name_of(transfer.actor_member_id),
                await name_of(subject),
                f"{sign}{transfer.amount}",
            )
        )
    return entries
