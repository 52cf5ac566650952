"""Staff commands on points: /award and /deduct (moderators, within budgets), /audit and
/reverse (creators)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from core.commands.context import Context
from core.commands.params import Int, MemberParam, Rest
from core.commands.router import CREATORS, STAFF, Router
from core.i18n import msg, nmsg
from core.ledger.audit import audit_entries
from core.ledger.notes import award_notes, deduct_note, reversed_message
from core.replies import Reply, ReplyBuilder

router = Router()

AMOUNT = Int("points", minimum=1, maximum=1_000_000)
REASON = Rest("reason", max_length=300)


@router.command(
    "award",
    aliases=("奖励", "give"),
    roles=STAFF,
    help=msg("Give a member points for a good contribution"),
    params=(MemberParam("member", allow_self=False), AMOUNT, REASON),
)
async def award(ctx: Context) -> list[Reply]:
    target, amount, reason = ctx.args["member"], ctx.args["points"], ctx.args["reason"]
    points = ctx.services.points
    earned = await points.award(ctx.community, ctx.member, target, amount, reason, ctx.event_key("award"))
    done = nmsg(
        "{name} received {n} point: {reason}",
        "{name} received {n} points: {reason}",
        amount,
        name=target.display_name,
        reason=reason,
    )
    left = await points.budget_left(ctx.community, ctx.member)
    budget = [msg("Your award budget left today: {left}", left=left)] if left is not None else []
    notes = award_notes(ctx.community, ctx.member, target, amount, reason, earned)
    return [Reply.text(done, *budget), *notes]


@router.command(
    "deduct",
    aliases=("扣分",),
    roles=STAFF,
    help=msg("Take points from a member, with a reason"),
    params=(MemberParam("member", allow_self=False), AMOUNT, REASON),
)
async def deduct(ctx: Context) -> list[Reply]:
    target, amount, reason = ctx.args["member"], ctx.args["points"], ctx.args["reason"]
    await ctx.services.points.deduct(
        ctx.community, ctx.member, target, amount, reason, ctx.event_key("deduct")
    )
    return [
        Reply.text(
            nmsg(
                "{n} point taken from {name}: {reason}",
                "{n} points taken from {name}: {reason}",
                amount,
                name=target.display_name,
                reason=reason,
            )
        ),
        deduct_note(ctx.community, ctx.member, target, amount, reason),
    ]


@router.command(
    "audit",
    aliases=("审计",),
    roles=CREATORS,
    help=msg("Recent awards, deductions and corrections: who, when, why"),
    params=(MemberParam("member", optional=True),),
)
async def audit(ctx: Context) -> Reply:
    target = ctx.args["member"]
    entries = await audit_entries(
        ctx.services.ledger,
        ctx.services.members,
        ctx.community.id,
        member_id=target.id if target else None,
    )
    if not entries:
        return Reply.text(msg("No awards, deductions or corrections yet."))
    zone = ZoneInfo(ctx.community.timezone)
    builder = ReplyBuilder().bold(msg("Recent awards, deductions and corrections:"))
    for entry in entries:
        transfer = entry.transfer
        when = transfer.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        builder.line().text(f"#{transfer.id} {when} {entry.actor} → ")
        builder.text(f"{entry.subject} ").code(entry.signed_amount).text(f" {transfer.kind}")
        if transfer.memo:
            builder.text(f": {transfer.memo}")
    return builder.build()


@router.command(
    "reverse",
    aliases=("冲正",),
    roles=CREATORS,
    help=msg("Correct a transfer by posting its reverse"),
    params=(Int("transfer", minimum=1, maximum=10**15), Rest("reason", max_length=300)),
)
async def reverse(ctx: Context) -> Reply:
    result = await ctx.services.points.reverse(
        ctx.community, ctx.member, ctx.args["transfer"], ctx.args["reason"]
    )
    assert result.transfer is not None
    return Reply.text(reversed_message(ctx.args["transfer"], result.transfer))
