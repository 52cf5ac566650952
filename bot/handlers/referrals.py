"""Referrals in chat: /ref (everyone), /commissions (everyone), /commission and /payouts (creators)."""

from __future__ import annotations

from core.catalog.money import Money
from core.commands.context import Context
from core.commands.params import MemberParam, Rest, Word
from core.commands.router import CREATORS, Router
from core.errors import InvalidInput
from core.i18n import Msg, msg
from core.links import invitation_link
from core.referrals.commission_models import Balance, parse_percent, percent_text
from core.referrals.service import PAYLOAD_PREFIX
from core.replies import File, Link, Reply, ReplyBuilder

router = Router()

RATE_USAGE = "/commission set CODE|all PERCENT [LEVEL2_PERCENT] · /commission list"
PAYOUTS_USAGE = "/payouts · /payouts csv · /payouts pay @member REFERENCE…"
# A link the WeChat adapter turns into a QR code that follows the Official Account with
# this scene (``qr:ref_CODE``); WeChat has no start links.
QR_PREFIX = "qr:"


def invite_link(ctx: Context, code: str) -> str:
    """The member's link on the platform they are on (elsewhere, what to type)."""
    return invitation_link(code, ctx.bot_username if ctx.event.platform == "telegram" else None)


def invite_qr(ctx: Context, code: str) -> Link | None:
    """On WeChat, the member's invitation as a QR code (scanning it follows the Official
    Account with their code as the scene); elsewhere None."""
    if ctx.event.platform != "wechat":
        return None
    return Link(msg("Your invitation QR code"), f"{QR_PREFIX}{PAYLOAD_PREFIX}{code}")


@router.command(
    "ref", aliases=("推荐", "邀请", "invite"), help=msg("Your invitation link and who came through it")
)
async def ref(ctx: Context) -> Reply:
    stats = await ctx.services.referrals.stats(ctx.member)
    balances = await ctx.services.commissions.balances(ctx.member)
    builder = (
        ReplyBuilder()
        .bold(msg("Your invitation link:"))
        .text(" ")
        .code(invite_link(ctx, stats.code))
        .line()
        .text(
            msg(
                "Invited {invited} · took part {joined} · first purchases {bought}",
                invited=stats.invited,
                joined=stats.joined,
                bought=stats.first_purchases,
            )
        )
        .line()
        .text(msg("Points from invitations: {points}", points=stats.points))
    )
    for balance in balances:
        builder.line().text(_earned_line(balance))
    qr = invite_qr(ctx, stats.code)
    if qr is not None:
        builder.line().text(msg("Share the QR code below: whoever scans it and follows is your invitee."))
        builder.segments.append(qr)
    return builder.build()


def _earned_line(balance: Balance) -> Msg:
    def money(minor: int) -> Money:
        return Money(balance.currency, minor)

    return msg(
        "Commissions: {total} earned ({available} available, {pending} pending, {paid} paid)",
        total=money(balance.pending + balance.available + balance.paid),
        available=money(balance.available),
        pending=money(balance.pending),
        paid=money(balance.paid),
    )


@router.command("commissions", aliases=("佣金",), help=msg("Your commissions: pending, available and paid"))
async def my_commissions(ctx: Context) -> Reply:
    service = ctx.services.commissions
    balances = await service.balances(ctx.member)
    history = await service.history(ctx.member)
    if not balances and not history:
        return Reply.text(msg("No commissions yet. /ref shows your invitation link."))
    builder = ReplyBuilder().bold(msg("Your commissions:"))
    for balance in balances:
        builder.line().text(_earned_line(balance))
    if history:
        builder.line().text(msg("Latest:"))
    for item in history:
        if item.net_minor <= 0:
            state: Msg = msg("cancelled by a refund")
        elif item.status == "pending":
            state = msg("held until {date}", date=item.available_at.date().isoformat())
        else:
            state = msg("available")
        builder.line().text(
            msg(
                "Order #{order} (level {level}): {amount} · {state}",
                order=item.order_id,
                level=item.level,
                amount=Money(item.amount.currency, item.net_minor),
                state=state,
            )
        )
    return builder.build()


@router.command(
    "commission",
    aliases=("佣金设置",),
    roles=CREATORS,
    help=msg("Set the commission referrers earn on a product (creators)"),
    params=(Word("action"), Rest("details", optional=True, max_length=200)),
)
async def commission(ctx: Context) -> Reply:
    action, words = ctx.args["action"].lower(), (ctx.args["details"] or "").split()
    service = ctx.services.commissions
    if action == "list":
        rates = await service.rates(ctx.community)
        if not rates:
            return Reply.text(msg("No commissions are set. {usage}", usage=RATE_USAGE))
        builder = ReplyBuilder().bold(msg("Commissions:"))
        for rate in rates:
            name = msg("every other product") if rate.code == "all" else f"{rate.code} ({rate.title})"
            builder.line().text(name).text(": ").text(percent_text(rate.level1_bp))
            if rate.level2_bp:
                builder.text(" · ").text(msg("level 2 {percent}", percent=percent_text(rate.level2_bp)))
        return builder.build()
    if action == "set" and len(words) in (2, 3):
        level1 = 0 if words[1].lower() == "off" else parse_percent(words[1])
        level2 = parse_percent(words[2]) if len(words) == 3 else 0
        rate = await service.set_rate(ctx.community, ctx.member, words[0], level1, level2)
        if not level1 and not level2:
            return Reply.text(msg("No commission on {code} any more.", code=rate.code))
        what = msg("every other product") if rate.code == "all" else rate.code
        if not level2:
            return Reply.text(
                msg("Referrers now earn {percent} on {code}.", percent=percent_text(level1), code=what)
            )
        return Reply.text(
            msg(
                "Referrers now earn {percent} on {code}, and their own referrers {percent2}.",
                percent=percent_text(level1),
                code=what,
                percent2=percent_text(level2),
            )
        )
    raise InvalidInput(msg("Usage: {usage}", usage=RATE_USAGE))


@router.command(
    "payouts",
    aliases=("结算",),
    roles=CREATORS,
    help=msg("Who is owed commissions; export them; record a payout (creators)"),
    params=(
        Word("action", optional=True),
        MemberParam("member", optional=True),
        Rest("reference", optional=True),
    ),
)
async def payouts(ctx: Context) -> Reply:
    action = (ctx.args["action"] or "").lower()
    service = ctx.services.commissions
    if not action:
        owed = await service.owed(ctx.community, ctx.member)
        if not owed:
            return Reply.text(msg("Nobody is owed a commission."))
        builder = ReplyBuilder().bold(msg("Commissions owed:"))
        for member, balance in owed:
            builder.line().text(
                msg(
                    "{name}: {available} available, {pending} held",
                    name=member.display_name,
                    available=Money(balance.currency, balance.available),
                    pending=Money(balance.currency, balance.pending),
                )
            )
        return builder.line().text(msg("/payouts pay @member REFERENCE once you have paid them.")).build()
    if action == "csv":
        data = await service.export_csv(ctx.community, ctx.member)
        builder = ReplyBuilder(to_member=ctx.member.id).text(msg("Commission balances, as CSV."))
        builder.segments.append(File("commissions.csv", data))
        return builder.build()
    if action == "pay" and ctx.args["member"] is not None and ctx.args["reference"]:
        target = ctx.args["member"]
        paid = await service.pay(ctx.community, ctx.member, target, ctx.args["reference"])
        if not paid:
            return Reply.text(msg("{name} has nothing available to pay.", name=target.display_name))
        amounts = ", ".join(money.localized(ctx.locale) for money in paid)
        return Reply.text(
            msg("Recorded: {name} was paid {amounts}.", name=target.display_name, amounts=amounts)
        )
    raise InvalidInput(msg("Usage: {usage}", usage=PAYOUTS_USAGE))
