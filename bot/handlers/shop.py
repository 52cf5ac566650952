"""The shop in chat: /courses, /course (and its creator actions), /buy, /orders,
/mycourses, /learn. Payment completion (sandbox :pay, later webhooks) ends in
``fulfilment_replies``."""

from __future__ import annotations

from bot.handlers.lessons import LESSON_USAGE
from core.catalog.course_fields import course_field_value
from core.catalog.models import Course, Product
from core.catalog.money import Money, format_money, parse_money
from core.commands.context import Context
from core.commands.params import Int, Rest, Word
from core.commands.router import CREATORS, Router
from core.errors import InvalidInput
from core.events import ChatKind
from core.i18n import Msg, msg, nmsg
from core.links import WECHAT_H5_PATH, mini_app_link
from core.members.models import Role
from core.orders.models import STATUS_LABELS, WECHAT_PAY_PROVIDER, Fulfilment, Order, RefundFailed, Status
from core.orders.offsets import ALL
from core.orders.refunds import parse_refund_amount, refund_reply
from core.replies import Button, File, Image, Notice, Reply, ReplyBuilder

router = Router()

COURSE_USAGE = (
    "/course CODE | /course list | /course add CODE PRICE CURRENCY TITLE… | "
    "/course edit CODE title|description|price|points|completion VALUE… | /course hide|show CODE"
)
BUNDLE_USAGE = "/bundle add CODE PRICE CURRENCY COURSE,COURSE,… TITLE…"


def price_text(course: Course, locale: str) -> str:
    text = format_money(course.price, locale)
    return f"{text} / {course.points_price} pts" if course.points_price else text


@router.command("courses", aliases=("课程",), help=msg("List the courses for sale"))
async def list_courses(ctx: Context) -> Reply:
    staff = ctx.member.role is Role.CREATOR
    found = await ctx.services.catalog.courses(ctx.community, include_hidden=staff)
    bundles = await ctx.services.catalog.bundles(ctx.community, include_hidden=staff)
    if not found:
        return Reply.text(msg("No courses yet."))
    builder = ReplyBuilder().bold(msg("Courses:"))
    for course in found:
        builder.line().code(course.code).text(f"  {course.title} · {price_text(course, ctx.locale)}")
        if course.hidden:
            builder.text(" ").text(msg("(hidden)"))
    if bundles:
        builder.line().bold(msg("Bundles:"))
    for bundle in bundles:
        included = "+".join(c.code for c in bundle.courses)
        price = format_money(bundle.price, ctx.locale)
        builder.line().code(bundle.code).text(f"  {bundle.title} ({included}) · {price}")
        if bundle.hidden:
            builder.text(" ").text(msg("(hidden)"))
    builder.line().text(msg("/course CODE for details, /buy CODE to buy."))
    mine = _in_the_app(ctx, "/me")
    if mine is not None:
        builder.buttons((mine,))
    return builder.build()


def _in_the_app(ctx: Context, then: str) -> Button | None:
    """In a private Telegram chat, a button opening the learner pages as a Mini App on ``then``
    (signed in by Telegram); on WeChat, a link to them as an H5 page (signed in through WeChat's
    OAuth). None elsewhere, or without the web over HTTPS."""
    if ctx.event.chat.kind is not ChatKind.PRIVATE:
        return None
    base = ctx.services.web_sessions.base_url
    if ctx.event.platform == "telegram":
        link = mini_app_link(base, then)
        return Button(msg("Open in the app"), url=link, web_app=True) if link else None
    if ctx.event.platform == "wechat":
        link = mini_app_link(base, then, WECHAT_H5_PATH)
        return Button(msg("Open the web page"), url=link) if link else None
    return None


@router.command(
    "course",
    help=msg("Show a course; creators also add, edit, hide and show courses"),
    params=(Word("code", max_length=30), Rest("details", optional=True, max_length=4000)),
)
async def course(ctx: Context) -> Reply:
    word, rest = ctx.args["code"].lower(), (ctx.args["details"] or "").strip()
    catalog = ctx.services.catalog
    if word == "list":
        return await list_courses(ctx)
    if word == "add":
        parts = rest.split(maxsplit=3)
        if len(parts) < 4:
            raise InvalidInput(msg("Usage: {usage}", usage="/course add CODE PRICE CURRENCY TITLE…"))
        code, amount, currency, title = parts
        added = await catalog.add_course(
            ctx.community, ctx.member, code, parse_money(f"{amount} {currency}"), title
        )
        return Reply.text(
            msg(
                "Course {code} added: {title}, {price}.",
                code=added.code,
                title=added.title,
                price=price_text(added, ctx.locale),
            ),
            msg("Add lessons with {usage}", usage=LESSON_USAGE),
        )
    if word == "edit":
        parts = rest.split(maxsplit=2)
        if len(parts) < 3:
            raise InvalidInput(msg("Usage: {usage}", usage="/course edit CODE FIELD VALUE…"))
        code, field, value = parts[0], parts[1].lower(), parts[2]
        edited = await catalog.edit_course(
            ctx.community, ctx.member, code, field, course_field_value(field, value)
        )
        return Reply.text(msg("Course {code} updated.", code=edited.code))
    if word in ("hide", "show"):
        if not rest:
            raise InvalidInput(msg("Usage: {usage}", usage=f"/course {word} CODE"))
        changed = await catalog.set_hidden(ctx.community, ctx.member, rest.split()[0], word == "hide")
        return Reply.text(
            msg("Course {code} is hidden from learners.", code=changed.code)
            if changed.hidden
            else msg("Course {code} is on sale again.", code=changed.code)
        )
    return await _show_course(ctx, word)


async def _show_course(ctx: Context, code: str) -> Reply:
    catalog = ctx.services.catalog
    creator = ctx.member.role is Role.CREATOR
    product = await catalog.product(ctx.community, code, include_hidden=creator)
    if product.kind == "bundle":
        return await _show_bundle(ctx, product)
    found = product.courses[0]
    lessons = await catalog.lessons(found)
    builder = ReplyBuilder().bold(found.title).text(f" ({found.code})").line()
    if found.description:
        builder.text(found.description).line()
    builder.text(msg("Price: {price}", price=price_text(found, ctx.locale))).line()
    builder.text(nmsg("{n} lesson", "{n} lessons", len(lessons)))
    for lesson in lessons:
        builder.line().text(f"{lesson.position}. {lesson.title}")
        if lesson.unlock_days:
            builder.text(" ").text(
                nmsg("(opens {n} day after purchase)", "(opens {n} days after purchase)", lesson.unlock_days)
            )
    rating = await ctx.services.reviews.rating(found)
    if rating.average is not None:
        builder.line().text(
            nmsg(
                "Rated {average} of 5 ({n} review, /reviews {code})",
                "Rated {average} of 5 ({n} reviews, /reviews {code})",
                rating.count,
                average=f"{rating.average:.1f}",
                code=found.code,
            )
        )
    if await catalog.enrollment(ctx.member, found) is not None:
        return builder.line().text(msg("You own this course: /learn {code}", code=found.code)).build()
    if found.points_price:
        builder.line().text(
            nmsg(
                "Or with points: /buy {code} points ({n} point)",
                "Or with points: /buy {code} points ({n} points)",
                found.points_price,
                code=found.code,
            )
        )
    return builder.buttons((Button(msg("Buy"), data=f"cmd:/buy {found.code}"),)).build()


async def _show_bundle(ctx: Context, product: Product) -> Reply:
    builder = ReplyBuilder().bold(product.title).text(f" ({product.code})").line()
    builder.text(msg("Price: {price}", price=product.price)).line()
    builder.text(msg("Includes:"))
    total = 0
    for course in product.courses:
        total += course.price.minor
        builder.line().text(f"· {course.title} ({course.code}) — {format_money(course.price, ctx.locale)}")
    if total > product.price.minor:
        saved = Money(product.price.currency, total - product.price.minor)
        builder.line().text(msg("You save {amount} against buying them one by one.", amount=saved))
    return builder.buttons((Button(msg("Buy"), data=f"cmd:/buy {product.code}"),)).build()


@router.command(
    "bundle",
    aliases=("套餐",),
    roles=CREATORS,
    help=msg("Add a bundle of courses at its own price (creators)"),
    params=(Word("action"), Rest("details", optional=True, max_length=500)),
)
async def bundle(ctx: Context) -> Reply:
    parts = (ctx.args["details"] or "").split(maxsplit=4)
    if ctx.args["action"].lower() != "add" or len(parts) < 5:
        raise InvalidInput(msg("Usage: {usage}", usage=BUNDLE_USAGE))
    code, amount, currency, course_codes, title = parts
    added = await ctx.services.catalog.add_bundle(
        ctx.community, ctx.member, code, parse_money(f"{amount} {currency}"), title, course_codes.split(",")
    )
    return Reply.text(
        msg(
            "Bundle {code} added: {title}, {price}, with {courses}.",
            code=added.code,
            title=added.title,
            price=added.price,
            courses=", ".join(c.code for c in added.courses),
        )
    )


@router.command(
    "buy",
    aliases=("购买",),
    help=msg(
        "Buy a course, with a coupon if you have one; with points where it has a points price;"
        " or with points paying part of the price (usepoints [N])"
    ),
    # "coupon" keeps Discord's slash option as it was; it takes "usepoints [N]" too.
    params=(Word("code", max_length=30), Rest("coupon", optional=True, max_length=80)),
)
async def buy(ctx: Context) -> list[Reply]:
    services = ctx.services
    found = await services.catalog.product(ctx.community, ctx.args["code"])
    words = (ctx.args["coupon"] or "").split()
    if [w.lower() for w in words] in (["points"], ["积分"]):  # the points provider
        return await _buy_with_points(ctx, found)
    coupon, use_points = _buy_options(words)
    order = await services.orders.order(ctx.community, ctx.member, found, coupon, use_points)
    if order.status is Status.FULFILLED:  # a coupon (or points) made it free
        fulfilment = Fulfilment(order, fresh=True, points=order.purchase_points)
        free = (
            msg("Coupon applied: {title} is free for you.", title=order.title)
            if not order.offset_points
            else nmsg(
                "{n} point paid all of {title}.",
                "{n} points paid all of {title}.",
                order.offset_points,
                title=order.title,
            )
        )
        return [Reply.text(free), *fulfilment_replies(fulfilment, found)]
    owned = [c.title for c in found.courses if await services.catalog.enrollment(ctx.member, c) is not None]
    notice = (
        [msg("You own already: {titles}. The bundle price stays the same.", titles=", ".join(owned))]
        if owned
        else []
    )
    return [await checkout_reply(ctx, order, notice)]


USE_POINTS = ("usepoints", "用积分")
BUY_USAGE = "/buy CODE [COUPON] [usepoints [N]]"


def _buy_options(words: list[str]) -> tuple[str | None, int | None]:
    """A coupon and the points to use from what follows the code: ``SPRING15``, ``usepoints``
    (as many as allowed), ``usepoints 300``, in either order."""
    use_points: int | None = None
    rest: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word.lower() in USE_POINTS:
            following = words[index + 1] if index + 1 < len(words) else ""
            if following.isascii() and following.isdigit():
                use_points = int(following[:9])
                index += 1
            else:
                use_points = ALL
            if use_points == 0:
                raise InvalidInput(msg("Use at least 1 point, or leave out usepoints."))
        else:
            rest.append(word)
        index += 1
    if len(rest) > 1:
        raise InvalidInput(msg("Usage: {usage}", usage=BUY_USAGE))
    return (rest[0] if rest else None), use_points


async def _buy_with_points(ctx: Context, found: Product) -> list[Reply]:
    if found.kind != "course":
        raise InvalidInput(msg("{title} cannot be bought with points.", title=found.title))
    course = found.courses[0]
    spent = await ctx.services.mall.buy_course_with_points(
        ctx.community, ctx.member, course, ctx.event_key("buy")
    )
    return [
        Reply.text(
            nmsg(
                "You bought {title} for {n} point.",
                "You bought {title} for {n} points.",
                spent,
                title=course.title,
            ),
            msg("It is yours now: /learn {code} opens the first lesson.", code=course.code),
        )
    ]


async def checkout_reply(ctx: Context, order: Order, before: list[Msg] | None = None) -> Reply:
    """The order and how to pay it: the provider's note, link or in-chat invoice."""
    checkout = await ctx.services.orders.start_payment(order)
    builder = ReplyBuilder()
    for line in before or []:
        builder.text(line).line()
    if order.coupon_id is not None:
        builder.text(
            msg(
                "Coupon applied: {off} off {price}.",
                off=order.discount,
                price=Money(order.amount.currency, order.list_minor),
            )
        ).line()
    if order.offset_points:
        builder.text(
            nmsg(
                "{n} point pays {amount}: held until you pay, back to you if the order lapses.",
                "{n} points pay {amount}: held until you pay, back to you if the order lapses.",
                order.offset_points,
                amount=order.offset,
            )
        ).line()
    builder = (
        builder.text(
            nmsg(
                "Order #{id}: {title}, {price}. It stays open for {n} minute.",
                "Order #{id}: {title}, {price}. It stays open for {n} minutes.",
                int((order.expires_at - order.created_at).total_seconds() // 60),
                id=order.id,
                title=order.title,
                price=order.amount,
            )
        )
        .line()
        .text(checkout.note)
    )
    if checkout.invoice is not None:
        builder.segments.append(checkout.invoice)
    if checkout.image is not None:  # WeChat Pay's code, to scan
        builder.line().segments.append(Image(checkout.image, msg("Order #{id}", id=order.id)))
    if checkout.url:
        builder.buttons((Button(msg("Pay"), url=checkout.url),))
    elif order.provider == WECHAT_PAY_PROVIDER and ctx.event.platform == "wechat":
        # Inside WeChat the order's page pays in place (JSAPI), without scanning anything.
        page = _in_the_app(ctx, f"/me/orders/{order.id}")
        if page is not None:
            builder.buttons((page,))
    return builder.build()


@router.command(
    "orders",
    aliases=("订单",),
    help=msg("Your orders"),
    params=(Int("count", optional=True, maximum=50),),
    personal=True,
)
async def list_orders(ctx: Context) -> Reply:
    found = await ctx.services.orders.of_member(ctx.member, ctx.args["count"] or 10)
    if not found:
        return Reply.text(msg("You have no orders yet. /courses shows what is for sale."))
    builder = ReplyBuilder().bold(msg("Your orders:"))
    for order in found:
        builder.line().text(f"#{order.id} {order.title} · {format_money(order.amount, ctx.locale)} · ").text(
            STATUS_LABELS[order.status]
        )
    return builder.build()


@router.command("mycourses", aliases=("我的课程",), help=msg("The courses you own"), personal=True)
async def my_courses(ctx: Context) -> Reply:
    owned = await ctx.services.catalog.owned(ctx.member)
    if not owned:
        return Reply.text(msg("You own no courses yet. /courses shows what is for sale."))
    builder = ReplyBuilder().bold(msg("Your courses:"))
    for found, done, total in owned:
        builder.line().code(found.code).text(f"  {found.title} · ").text(
            nmsg("{done} of {n} lesson done", "{done} of {n} lessons done", total, done=done)
        )
    return builder.line().text(msg("/learn CODE opens your next lesson.")).build()


@router.command(
    "learn",
    aliases=("学习",),
    help=msg("Open your next lesson of a course"),
    params=(Word("code", max_length=30),),
)
async def learn(ctx: Context) -> list[Reply]:
    services = ctx.services
    found = await services.catalog.course(ctx.community, ctx.args["code"], include_hidden=True)
    step, points = await services.learning.next_lesson(ctx.community, ctx.member, found)
    if step.lesson is None and step.opens_at is not None:
        return [Reply.text(msg("Your next lesson opens on {date}.", date=step.opens_at.date().isoformat()))]
    if step.lesson is None:
        return [Reply.text(msg("You have finished {title}. Well done!", title=found.title))]
    builder = (
        ReplyBuilder()
        .bold(
            msg(
                "Lesson {n} of {total}: {title}",
                n=step.lesson.position,
                total=step.total,
                title=step.lesson.title,
            )
        )
        .line()
        .text(step.lesson.body)
    )
    if step.file is not None:
        builder.segments.append(File(step.file[0], step.file[1]))
    reader = _in_the_app(ctx, f"/learn/{found.code}/{step.lesson.position}")
    if reader is not None:
        builder.buttons((reader,))
    replies = [builder.build()]
    if step.just_completed:
        done = [msg("You have finished {title}. Well done!", title=found.title)]
        if points:
            done.append(nmsg("+{n} point for finishing it.", "+{n} points for finishing it.", points))
        replies.append(Reply.text(*done))
    return replies


def fulfilment_replies(fulfilment: Fulfilment, product: Product) -> list[Reply]:
    """What the buyer is told, privately, when an order is delivered (only when fresh)."""
    if not fulfilment.fresh:
        return []
    order = fulfilment.order
    lines: list[Msg | str] = [
        msg("Payment received for order #{id}: {title}.", id=order.id, title=order.title)
    ]
    if product.kind == "plan":
        lines.append(msg("You are a member now: /subscription shows until when."))
    elif len(product.courses) == 1:
        lines.append(
            msg("It is yours now: /learn {code} opens the first lesson.", code=product.courses[0].code)
        )
    else:
        codes = ", ".join(f"/learn {course.code}" for course in product.courses)
        lines.append(msg("They are yours now: {commands}", commands=codes))
    if fulfilment.points:
        lines.append(
            nmsg("+{n} point for your purchase.", "+{n} points for your purchase.", fulfilment.points)
        )
    paid_on = (order.paid_at or order.created_at).date().isoformat()
    fields = (("order", f"#{order.id}"), ("title", order.title), ("amount", order.amount), ("date", paid_on))
    return [Reply.text(*lines, to_member=order.member_id, notice=Notice("payment_received", fields))]


@router.command(
    "refund",
    aliases=("退款",),
    roles=CREATORS,
    help=msg("Refund an order in full, or part of it (creators)"),
    params=(Int("order"), Word("amount", optional=True, max_length=20)),
)
async def refund(ctx: Context) -> list[Reply]:
    orders = ctx.services.orders
    order = await orders.get(ctx.args["order"])
    amount = parse_refund_amount(order, ctx.args["amount"])
    try:
        done = await orders.refund(ctx.community, ctx.member, order.id, amount)
    except RefundFailed as error:
        raise InvalidInput(
            msg("The payment provider refused the refund: {reason}", reason=str(error)[:200])
        ) from None
    refunded = Money(order.amount.currency, done.amount)
    lines: list[Msg | str] = [msg("Refunded {amount} of order #{id}.", amount=refunded, id=order.id)]
    if done.order.status is Status.REFUNDED:
        lines.append(
            msg("The course was taken back.")
            if order.product_kind == "course"
            else msg("The courses this order gave were taken back (those owned through other orders stay).")
        )
    if done.points_clawed:
        lines.append(msg("Purchase points taken back: {n}.", n=done.points_clawed))
    if done.points_short:
        lines.append(
            msg("{n} purchase points were already spent and could not be taken back.", n=done.points_short)
        )
    return [Reply.text(*lines), refund_reply(order, done.amount, ctx.services.clock.now())]


@router.command(
    "review",
    aliases=("评价",),
    help=msg("Rate a course you own, 1 to 5 stars with an optional text; staff: /review hide COURSE @member"),
    params=(
        Word("course", max_length=30),
        Word("stars", max_length=40),
        Rest("text", optional=True, max_length=1000),
    ),
)
async def review(ctx: Context) -> Reply:
    services = ctx.services
    if ctx.args["course"].lower() == "hide":
        found = await services.catalog.course(ctx.community, ctx.args["stars"], include_hidden=True)
        author = await ctx.resolve_member((ctx.args["text"] or "").strip() or "@")
        await services.reviews.hide(ctx.community, ctx.member, found, author)
        return Reply.text(
            msg("{name}'s review of {title} is hidden.", name=author.display_name, title=found.title)
        )
    found = await services.catalog.course(ctx.community, ctx.args["course"], include_hidden=True)
    stars = ctx.args["stars"]
    if not stars.isdigit() or not 1 <= int(stars) <= 5:
        raise InvalidInput(msg("Give 1 to 5 stars."))
    replaced = await services.reviews.review(ctx.member, found, int(stars), ctx.args["text"] or "")
    return Reply.text(
        msg("Your review of {title} is updated.", title=found.title)
        if replaced
        else msg("Thanks for reviewing {title}!", title=found.title)
    )


@router.command(
    "reviews",
    aliases=("评论",),
    help=msg("Read the latest reviews of a course"),
    params=(Word("course", max_length=30),),
)
async def list_reviews(ctx: Context) -> Reply:
    found = await ctx.services.catalog.course(ctx.community, ctx.args["course"])
    lines = await ctx.services.reviews.latest(found)
    if not lines:
        return Reply.text(msg("{title} has no reviews yet.", title=found.title))
    builder = ReplyBuilder().bold(msg("Reviews of {title}:", title=found.title))
    for line in lines:
        builder.line().text(f"{'★' * line.stars}{'☆' * (5 - line.stars)} {line.member_name}")
        if line.text:
            builder.text(f": {line.text}")
    return builder.build()
