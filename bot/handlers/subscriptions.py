"""Plans and subscriptions in chat: /plans, /plan (creators), /subscribe, /subscription, /cancel."""

from __future__ import annotations

from bot.handlers.shop import checkout_reply, fulfilment_replies
from core.access.plans import MAX_GRACE_DAYS, MAX_TRIAL_DAYS, Plan
from core.access.states import STATUS_LABELS
from core.access.subscriptions import PERIOD_NAMES, Subscription
from core.catalog.money import parse_money
from core.commands.context import Context
from core.commands.options import IntOption, OptionSet, WordOption
from core.commands.params import Rest, Word
from core.commands.router import Router
from core.errors import InvalidInput
from core.i18n import Msg, msg
from core.members.models import Role
from core.orders.models import Fulfilment, Status
from core.replies import Reply, ReplyBuilder

router = Router()

ADD_USAGE = "/plan add CODE PRICE CURRENCY month|quarter|year [trial=DAYS] [grace=DAYS] [tier=NAME] TITLE…"
EDIT_USAGE = "/plan edit CODE title|price|trial|grace|tier|hide|show VALUE…"
ADD_OPTIONS = OptionSet(
    (
        IntOption("trial", minimum=0, maximum=MAX_TRIAL_DAYS),
        IntOption("grace", minimum=0, maximum=MAX_GRACE_DAYS),
        WordOption("tier", max_length=40, sample="premium"),
    ),
    usage=ADD_USAGE,
    example="/plan add zz 9.99 USD month Monthly pass",
    action="add",
)


def plan_line(plan: Plan) -> Msg:
    trial = msg(", {n}-day trial", n=plan.trial_days) if plan.trial_days else ""
    tier = msg(", {tier} tier", tier=plan.tier) if plan.tier else ""
    return msg(
        "{title} · {price} a {period}{trial}{tier}",
        title=plan.title,
        price=plan.price,
        period=PERIOD_NAMES[plan.period],
        trial=trial,
        tier=tier,
    )


@router.command("plans", aliases=("会员方案",), help=msg("The membership plans you can subscribe to"))
async def list_plans(ctx: Context) -> Reply:
    found = await ctx.services.plans.list(ctx.community, include_hidden=ctx.member.role is Role.CREATOR)
    if not found:
        return Reply.text(msg("No membership plans yet."))
    builder = ReplyBuilder().bold(msg("Membership plans:"))
    for plan in found:
        builder.line().code(plan.code).text("  ").text(plan_line(plan))
        if plan.hidden:
            builder.text(" ").text(msg("(hidden)"))
    return builder.line().text(msg("/subscribe CODE to join.")).build()


@router.command(
    "plan",
    aliases=("方案",),
    roles=frozenset({Role.CREATOR}),
    help=msg("Add, edit or list membership plans (creators)"),
    params=(Word("action"), Rest("details", optional=True, max_length=500)),
    options=(ADD_OPTIONS,),
)
async def plan(ctx: Context) -> Reply:
    action, words = ctx.args["action"].lower(), (ctx.args["details"] or "").split()
    plans = ctx.services.plans
    if action == "list":
        return await list_plans(ctx)
    if action == "add":
        rest, options = words, ctx.options
        if len(rest) < 5:
            raise InvalidInput(msg("Usage: {usage}", usage=ADD_USAGE))
        code, amount, currency, period, title = rest[0], rest[1], rest[2], rest[3].lower(), " ".join(rest[4:])
        added = await plans.add(
            ctx.community,
            ctx.member,
            code=code,
            title=title,
            price=parse_money(f"{amount} {currency}"),
            period=period,
            trial_days=options.get("trial", 0),
            grace_days=options.get("grace", 3),
            tier=options.get("tier"),
        )
        return Reply.text(msg("Plan {code} added: {line}.", code=added.code, line=plan_line(added)))
    if action == "edit" and len(words) >= 2:
        code, field, value = words[0], words[1].lower(), " ".join(words[2:])
        if field in ("hide", "show"):
            edited = await plans.edit(ctx.community, ctx.member, code, "hidden", field == "hide")
        elif field == "price":
            edited = await plans.edit(ctx.community, ctx.member, code, "price", parse_money(value))
        elif field in ("trial", "grace"):
            if not value.isdigit() or len(value) > 3:
                raise InvalidInput(msg("{field} takes a number of days.", field=field))
            edited = await plans.edit(ctx.community, ctx.member, code, field, int(value))
        elif field == "tier" and value:
            edited = await plans.edit(ctx.community, ctx.member, code, "tier", value)
        else:
            edited = await plans.edit(ctx.community, ctx.member, code, field, value)
        return Reply.text(msg("Plan {code} updated: {line}.", code=edited.code, line=plan_line(edited)))
    raise InvalidInput(msg("Usage: {usage}", usage=f"{ADD_USAGE} | {EDIT_USAGE} | /plan list"))


@router.command(
    "subscribe",
    aliases=("订阅",),
    help=msg("Join a membership plan (a trial first where it has one)"),
    params=(Word("plan", max_length=30), Word("coupon", optional=True, max_length=40)),
)
async def subscribe(ctx: Context) -> list[Reply]:
    services = ctx.services
    found = await services.plans.get(ctx.community, ctx.args["plan"])
    done = await services.subscriptions.subscribe(ctx.community, ctx.member, found, ctx.args["coupon"])
    if done.trial is not None:
        return [
            Reply.text(
                msg(
                    "Your {days}-day trial of {title} has started; it runs until {date}.",
                    days=found.trial_days,
                    title=found.title,
                    date=done.trial.period_end.date().isoformat(),
                ),
                msg(
                    "/subscribe {code} again any time to pay for the first {period}.",
                    code=found.code,
                    period=PERIOD_NAMES[found.period],
                ),
            )
        ]
    if done.resumed is not None:
        return [
            Reply.text(
                msg(
                    "Your subscription to {title} continues; it renews on {date}.",
                    title=found.title,
                    date=done.resumed.period_end.date().isoformat(),
                )
            )
        ]
    order = done.order
    assert order is not None
    if order.status is Status.FULFILLED:  # a coupon made it free
        product = await services.orders.product_of(order)
        return fulfilment_replies(Fulfilment(order, fresh=True, points=order.purchase_points), product)
    return [await checkout_reply(ctx, order)]


@router.command(
    "subscription",
    aliases=("我的订阅",),
    help=msg("Your memberships and until when they run"),
    personal=True,
)
async def subscription(ctx: Context) -> Reply:
    found = await ctx.services.subscriptions.of_member(ctx.member)
    if not found:
        return Reply.text(msg("You have no membership. /plans lists them."))
    builder = ReplyBuilder().bold(msg("Your memberships:"))
    for sub in found:
        builder.line().text(f"{sub.plan.title} · ").text(STATUS_LABELS[sub.status]).text(" · ").text(
            _until(sub)
        )
    return builder.build()


def _until(sub: Subscription) -> Msg:
    date = sub.access_until.date().isoformat()
    if sub.status == "ended":
        return msg("ended on {date}; /subscribe {code} to come back", date=date, code=sub.plan.code)
    if sub.cancel_at_period_end or sub.status == "trial":
        return msg("access until {date}", date=date)
    if sub.status == "grace":
        return msg("access until {date}; /subscribe {code} to pay", date=date, code=sub.plan.code)
    return msg("renews on {date}", date=date)


@router.command(
    "cancel",
    aliases=("取消订阅",),
    help=msg("Stop a membership renewing; you keep access to the end of the period"),
    params=(Word("plan", optional=True, max_length=30),),
)
async def cancel(ctx: Context) -> Reply:
    services = ctx.services
    live = [s for s in await services.subscriptions.of_member(ctx.member) if s.status != "ended"]
    code = ctx.args["plan"]
    if code is None:
        if len(live) != 1:
            raise InvalidInput(
                msg("Which membership? /cancel PLAN")
                if live
                else msg("You have no membership. /plans lists them.")
            )
        target = live[0].plan
    else:
        target = await services.plans.get(ctx.community, code, include_hidden=True)
    done = await services.subscriptions.cancel(ctx.member, target)
    return Reply.text(
        msg(
            "{title} will not renew. Your access lasts until {date}; /subscribe {code} to change your mind.",
            title=target.title,
            date=done.access_until.date().isoformat(),
            code=target.code,
        )
    )
