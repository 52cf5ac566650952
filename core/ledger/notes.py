"""What a member is told privately of points staff gave or took (/award, /deduct, the
dashboard's Members page) and of a tier they reached: one wording for every face."""

from __future__ import annotations

from core.i18n import Msg, msg, nmsg
from core.ledger.models import Transfer
from core.ledger.points import Earned
from core.ledger.tiers import Tier
from core.members.models import Community, Member
from core.replies import Reply


def tier_upgrade_note(community: Community, tier: Tier) -> Msg:
    return msg(
        "You reached the {tier} tier in {community}! Participation points now count {multiplier}.",
        tier=tier.name,
        community=community.name,
        multiplier=tier.multiplier_text,
    )


def award_notes(
    community: Community, actor: Member, target: Member, amount: int, reason: str, earned: Earned
) -> list[Reply]:
    """The private notes to ``target`` of an award: what they got, and a tier it reached."""
    told = nmsg(
        "{actor} gave you {n} point in {community}: {reason}",
        "{actor} gave you {n} points in {community}: {reason}",
        amount,
        actor=actor.display_name,
        community=community.name,
        reason=reason,
    )
    notes = [Reply.text(told, to_member=target.id)]
    if earned.upgraded_to is not None:
        notes.append(Reply.text(tier_upgrade_note(community, earned.upgraded_to), to_member=target.id))
    return notes


def deduct_note(community: Community, actor: Member, target: Member, amount: int, reason: str) -> Reply:
    """The private note to ``target`` of a deduction."""
    told = nmsg(
        "{actor} took {n} point from you in {community}: {reason}",
        "{actor} took {n} points from you in {community}: {reason}",
        amount,
        actor=actor.display_name,
        community=community.name,
        reason=reason,
    )
    return Reply.text(told, to_member=target.id)


def reversed_message(original_id: int, reversal: Transfer) -> Msg:
    """What the creator who corrected a transfer (/reverse, the Audit log page) is told."""
    return nmsg(
        "Transfer #{original} reversed by #{reversal} ({n} point).",
        "Transfer #{original} reversed by #{reversal} ({n} points).",
        reversal.amount,
        original=original_id,
        reversal=reversal.id,
    )
