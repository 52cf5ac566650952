"""The points mall in chat: /mall (list; creators also add, stock, hide, show, redemptions) and
/redeem."""

from __future__ import annotations

from core.catalog.mall import MAX_PER_MEMBER, MAX_STOCK, MallItem
from core.commands.context import Context
from core.commands.options import IntOption, OptionSet
from core.commands.params import Rest, Word
from core.commands.router import Router
from core.errors import InvalidInput
from core.i18n import Msg, msg, nmsg
from core.members.models import Role
from core.replies import Button, Reply, ReplyBuilder

router = Router()

ADD_USAGE = (
    "/mall add CODE POINTS course COURSE | coupon COUPON TITLE… | reward TITLE… [| NOTE] [stock=N] [per=N]"
)
ADD_OPTIONS = OptionSet(
    (IntOption("stock", minimum=0, maximum=MAX_STOCK), IntOption("per", minimum=1, maximum=MAX_PER_MEMBER)),
    usage=ADD_USAGE,
    example="/mall add zz 5 reward Sticker | We post it",
    action="add",
    until="|",  # the note after | is the creator's own words
)


def stock_text(item: MallItem) -> Msg:
    if item.stock is None:
        return msg("unlimited")
    if item.stock == 0:
        return msg("sold out")
    return nmsg("{n} left", "{n} left", item.stock)


@router.command(
    "mall",
    aliases=("商城",),
    help=msg("Items you can redeem with points; creators also add and restock them"),
    params=(Word("action", optional=True), Rest("details", optional=True, max_length=1500)),
    options=(ADD_OPTIONS,),
)
async def mall(ctx: Context) -> Reply:
    action = (ctx.args["action"] or "list").lower()
    details = (ctx.args["details"] or "").strip()
    service = ctx.services.mall
    if action == "list":
        creator = ctx.member.role is Role.CREATOR
        items = await service.items(ctx.community, include_hidden=creator)
        if not items:
            return Reply.text(msg("The mall is empty for now."))
        builder = ReplyBuilder().bold(msg("Mall (points):"))
        for item in items:
            builder.line().code(item.code).text(f"  {item.title} · {item.points} · ").text(stock_text(item))
            if item.hidden:
                builder.text(" ").text(msg("(hidden)"))
        builder.line().text(msg("/redeem CODE to get one."))
        buttons = [
            Button(item.title[:30], data=f"cmd:/redeem {item.code}") for item in items if item.stock != 0
        ][:6]
        if buttons:
            builder.buttons(*((button,) for button in buttons))
        return builder.build()
    if action == "add":
        added = await _add(ctx, details)
        return Reply.text(
            msg(
                "Mall item {code} added: {title}, {points}, stock {stock}.",
                code=added.code,
                title=added.title,
                points=nmsg("{n} point", "{n} points", added.points),
                stock=stock_text(added),
            )
        )
    if action == "stock":
        parts = details.split()
        if (
            len(parts) != 2
            or not (parts[1].isdigit() or parts[1].lower() == "unlimited")
            or len(parts[1]) > 9
        ):
            raise InvalidInput(msg("Usage: {usage}", usage="/mall stock CODE N|unlimited"))
        stock = None if parts[1].lower() == "unlimited" else int(parts[1])
        item = await service.set_stock(ctx.community, ctx.member, parts[0], stock)
        return Reply.text(msg("{title}: {stock}.", title=item.title, stock=stock_text(item)))
    if action in ("hide", "show") and details:
        item = await service.set_hidden(ctx.community, ctx.member, details.split()[0], action == "hide")
        return Reply.text(
            msg("{title} is hidden.", title=item.title)
            if item.hidden
            else msg("{title} is back.", title=item.title)
        )
    if action == "redemptions":
        lines = await service.recent_redemptions(ctx.community, ctx.member)
        if not lines:
            return Reply.text(msg("No redemptions yet."))
        builder = ReplyBuilder().bold(msg("Latest redemptions:"))
        for line in lines:
            builder.line().text(
                f"{line.at:%Y-%m-%d %H:%M} {line.member_name}: {line.item_title} (-{line.points})"
                + (f" {line.detail}" if line.detail else "")
            )
        return builder.build()
    raise InvalidInput(
        msg("Usage: {usage}", usage="/mall | " + ADD_USAGE + " | /mall stock CODE N | /mall hide|show CODE")
    )


async def _add(ctx: Context, details: str) -> MallItem:
    body, _, note = details.partition("|")
    kept = body.split()
    if len(kept) < 3 or not kept[1].isdigit() or len(kept[1]) > 9:
        raise InvalidInput(msg("Usage: {usage}", usage=ADD_USAGE))
    code, points, kind, rest = kept[0], int(kept[1]), kept[2].lower(), kept[3:]
    target = None
    if kind in ("course", "coupon"):
        if not rest:
            raise InvalidInput(msg("Usage: {usage}", usage=ADD_USAGE))
        target, rest = rest[0], rest[1:]
    return await ctx.services.mall.add(
        ctx.community,
        ctx.member,
        code=code,
        points=points,
        kind=kind,
        title=" ".join(rest),
        target=target,
        note=note.strip(),
        stock=ctx.options.get("stock"),
        per_member=ctx.options.get("per"),
    )


@router.command(
    "redeem",
    aliases=("兑换",),
    help=msg("Redeem a mall item with your points"),
    params=(Word("code", max_length=30),),
)
async def redeem(ctx: Context) -> Reply:
    done = await ctx.services.mall.redeem(
        ctx.community, ctx.member, ctx.args["code"], ctx.event_key("redeem")
    )
    item = done.item
    lines: list[Msg | str] = [
        nmsg(
            "You redeemed {title} for {n} point.",
            "You redeemed {title} for {n} points.",
            done.points,
            title=item.title,
        )
    ]
    if done.replayed:
        lines = [msg("You already redeemed {title} with this request.", title=item.title)]
    elif item.kind == "course" and item.course_id is not None:
        course = await ctx.services.catalog.course_by_id(item.course_id)
        lines.append(msg("It is yours now: /learn {code} opens the first lesson.", code=course.code))
    elif item.kind == "coupon" and done.coupon_code:
        lines.append(msg("Your personal coupon: {code} (use it with /buy).", code=done.coupon_code))
    elif item.note:
        lines.append(msg("How you get it: {note}", note=item.note))
    return Reply.text(*lines)
