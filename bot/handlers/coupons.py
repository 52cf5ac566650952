"""Coupons in chat: /coupon add|disable|list (creators). Buyers use them with /buy CODE COUPON."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.catalog.coupons import MAX_USES, MAX_USES_PER_MEMBER, Coupon, CouponTerms
from core.catalog.money import Money, parse_money
from core.commands.context import Context
from core.commands.options import AmountOption, CodesOption, DateOption, IntOption, OptionSet
from core.commands.params import Rest, Word
from core.commands.router import CREATORS, Router
from core.errors import InvalidInput
from core.i18n import Msg, msg
from core.numbers import parse_whole_number
from core.replies import Reply, ReplyBuilder

router = Router()

ADD_USAGE = (
    "/coupon add CODE 15% | 5 USD [min=50USD] [uses=N] [per=N]"
    " [from=YYYY-MM-DD] [until=YYYY-MM-DD] [for=py101,…]"
)
_MONEY = re.compile(r"^(\d[\d.]*)([A-Za-z]{3})$")
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
        # The range is the coupon service's rule: it refuses -10% or 150% with what it takes.
        value = parse_whole_number(rest[0][:-1], bound=100)
        if value is None:
            raise InvalidInput(msg("A percent coupon takes 1% to 100%, like 15%."))
        kind, currency, rest = "percent", None, rest[1:]
    else:
        if len(rest) < 2:
            raise InvalidInput(msg("Usage: {usage}", usage=ADD_USAGE))
        amount = parse_money(f"{rest[0]} {rest[1]}")
        kind, value, currency, rest = "fixed", amount.minor, amount.currency, rest[2:]
    if rest:
        raise InvalidInput(
            msg(
                "{word} is not a coupon option; options are min=, uses=, per=, from=, until=, for=.",
                word=rest[0][:30],
            )
        )
    min_spend = 0
    if "min" in options:
        typed = _MONEY.match(options["min"])
        spend = parse_money(
            f"{typed.group(1)} {typed.group(2)}" if typed else f"{options['min']} {currency or ''}"
        )
        if currency is not None and spend.currency != currency:
            raise InvalidInput(
                msg("The minimum spend must be in the coupon's currency, {currency}.", currency=currency)
            )
        min_spend, currency = spend.minor, spend.currency
    return CouponTerms(
        code=code,
        kind=kind,
        value=value,
        currency=currency,
        min_spend=min_spend,
        max_uses=options.get("uses"),
        per_member=options.get("per", 1),
        starts_at=_start_of(options.get("from"), zone),
        ends_at=_start_of(options["until"] + timedelta(days=1), zone) if "until" in options else None,
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
        until=f", until {_last_day(item.ends_at, zone)}" if item.ends_at else "",
        state=state,
    )


def _last_day(ends_at: datetime, zone: ZoneInfo) -> str:
    """The last local day a coupon is valid (it ends at the midnight that follows)."""
    return (ends_at.astimezone(zone) - timedelta(microseconds=1)).date().isoformat()


def _start_of(day: date | None, zone: ZoneInfo) -> datetime | None:
    """The midnight that starts ``day`` in the community's time zone (``until`` ends at the
    midnight after its day)."""
    return None if day is None else datetime.combine(day, time(0), tzinfo=zone)
