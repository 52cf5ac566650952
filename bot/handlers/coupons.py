"""Coupons in chat: /coupon add|disable|list (creators). Buyers use them with /buy CODE COUPON."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from core.catalog.coupons import MAX_USES, MAX_USES_PER_MEMBER, Coupon, CouponTerms, coupon_terms, last_day
from core.catalog.money import Money
from core.commands.context import Context
from core.commands.options import AmountOption, CodesOption, DateOption, IntOption, OptionSet
from core.commands.params import Rest, Word
from core.commands.router import CREATORS, Router
from core.errors import InvalidInput
from core.i18n import Msg, msg
from core.replies import Reply, ReplyBuilder

router = Router()

ADD_USAGE = (
    "/coupon add CODE 15% | 5 USD [min=50USD] [uses=N] [per=N]"
    " [from=YYYY-MM-DD] [until=YYYY-MM-DD] [for=py101,…]"
)
ADD_OPTIONS = OptionSet(
    (
        AmountOption("min", sample="5USD"),
        IntOption("uses", minimum=1, maximum=MAX_USES),
        IntOption("per", minimum=1, maximum=MAX_USES_PER_MEMBER),
        DateOption("from"),
        DateOption("until"),
        CodesOption("for"),
    ),
    usage=ADD_USAGE,
    example="/coupon add zz 10%",
    action="add",
)


@router.command(
    "coupon",
    aliases=("优惠券",),
    roles=CREATORS,
    help=msg("Add, disable or list coupons (creators)"),
    params=(Word("action"), Rest("details", optional=True, max_length=500)),
    options=(ADD_OPTIONS,),
)
async def coupon(ctx: Context) -> Reply:
    action, details = ctx.args["action"].lower(), (ctx.args["details"] or "").split()
    coupons = ctx.services.coupons
    if action == "list":
        found = await coupons.list(ctx.community)
        if not found:
            return Reply.text(msg("No coupons yet. {usage}", usage=ADD_USAGE))
        builder = ReplyBuilder().bold(msg("Coupons:"))
        for item in found:
            builder.line().code(item.code).text("  ").text(describe(item, ZoneInfo(ctx.community.timezone)))
        return builder.build()
    if action == "disable" and details:
        done = await coupons.disable(ctx.community, ctx.member, details[0])
        return Reply.text(msg("Coupon {code} is disabled.", code=done.code))
    if action == "add" and len(details) >= 2:
        terms = parse_terms(details, ctx.options, ZoneInfo(ctx.community.timezone))
        added = await coupons.add(ctx.community, ctx.member, terms)
        zone = ZoneInfo(ctx.community.timezone)
        return Reply.text(msg("Coupon {code} added: {terms}.", code=added.code, terms=describe(added, zone)))
    raise InvalidInput(msg("Usage: {usage}", usage=ADD_USAGE + " | /coupon disable CODE | /coupon list"))


def parse_terms(words: list[str], options: dict[str, Any], zone: ZoneInfo) -> CouponTerms:
    """``CODE 15%`` or ``CODE 5 USD``, with ``options`` already taken out of the line
    (see ADD_OPTIONS) → CouponTerms (InvalidInput if not)."""
    code, rest = words[0], words[1:]
    if rest[0].endswith("%"):
        off, rest = rest[0], rest[1:]
    else:
        if len(rest) < 2:
            raise InvalidInput(msg("Usage: {usage}", usage=ADD_USAGE))
        off, rest = f"{rest[0]} {rest[1]}", rest[2:]
    if rest:
        raise InvalidInput(
            msg(
                "{word} is not a coupon option; options are min=, uses=, per=, from=, until=, for=.",
                word=rest[0][:30],
            )
        )
    return coupon_terms(
        code,
        off,
        zone,
        min_spend=options.get("min"),
        uses=options.get("uses"),
        per=options.get("per", 1),
        starts=options.get("from"),
        until=options.get("until"),
        products=options.get("for", ()),
    )


def describe(item: Coupon, zone: ZoneInfo) -> Msg:
    off = f"{item.value}%" if item.kind == "percent" else Money(item.currency or "", item.value)
    limits = (
        msg("used {used} of {max}", used=item.used, max=item.max_uses)
        if item.max_uses
        else msg("used {used}", used=item.used)
    )
    state = msg("disabled") if item.disabled else msg("active")
    return msg(
        "{off} off, {limits}, {per} per member{products}{until} ({state})",
        off=off,
        limits=limits,
        per=item.per_member,
        products=f", {'/'.join(item.products)}" if item.products else "",
        until=f", until {last_day(item.ends_at, zone)}" if item.ends_at else "",
        state=state,
    )
