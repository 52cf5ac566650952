"""Paid chats: /bind, /unbind, /bindings, /access (creators), and the join, leave and join-request
events every platform reports. From the private chat, /bind names its chat by a button, by
@name, or by a post forwarded from the channel (core/access/chat_choices.py)."""

from __future__ import annotations

from core.access.paid_chats import Binding
from core.commands.context import Context
from core.commands.params import Choice, Word
from core.commands.router import CREATORS, Router
from core.events import ChatKind, EventKind
from core.i18n import Msg, msg, nmsg
from core.members.models import Chat, Role
from core.replies import Button, Reply, ReplyBuilder

router = Router()


@router.command(
    "bind",
    aliases=("绑定",),
    roles=CREATORS,
    help=msg(
        "Make a group or channel paid: only owners of a course, subscribers of a plan or a tier get in"
        " (inside the group, or in our private chat to choose one)"
    ),
    params=(
        Choice("kind", choices=("course", "plan", "tier")),
        Word("target", max_length=40),
        Word("chat", optional=True, max_length=40),  # #ROW from a button, or @name (Telegram: ≤32)
    ),
)
async def bind(ctx: Context) -> Reply:
    paid = ctx.services.paid_chats
    kind, target = ctx.args["kind"], ctx.args["target"]
    chat = ctx.chat
    if chat.kind is ChatKind.PRIVATE:  # from the private chat: which group or channel?
        chosen = ctx.args["chat"] or ""
        if not chosen:
            return await _choose_chat(ctx)
        if chosen.startswith("@"):
            chat = await ctx.services.chat_choices.by_handle(ctx.community, ctx.event.platform, chosen)
        elif (pressed := await _pressed_chat(ctx, chosen)) is not None:
            chat = pressed
        else:
            return Reply.text(
                msg(
                    "Choose the chat with one of the buttons of /bind {kind} {target}.",
                    kind=kind,
                    target=target,
                ),
                *_other_ways(ctx, kind, target),
            )
    done = await paid.bind(ctx.community, ctx.member, chat, kind, target)
    if ctx.chat.kind is ChatKind.PRIVATE:
        await ctx.services.chat_choices.forget(ctx.member)  # chosen: a forwarded post binds nothing now
    return await _bound(ctx, done)


async def _pressed_chat(ctx: Context, chosen: str) -> Chat | None:
    """The chat a chooser's button names (``#ROW``), or None when ``chosen`` is no such name."""
    if not (chosen.startswith("#") and chosen[1:].isdigit()):
        return None
    return await ctx.services.paid_chats.chat_of(ctx.community, int(chosen[1:]))


async def _bound(ctx: Context, done: Binding) -> Reply:
    """What the creator is told once a chat is bound, with what the bot still lacks there."""
    problems = await ctx.services.paid_chats.problems_in(done.chat)
    return Reply.text(
        msg(
            "{chat} is now paid: it needs {kind} {target}.",
            chat=done.chat.title,
            kind=done.kind,
            target=done.target,
        ),
        msg(
            "Members without it are taken out when they join or lapse; /access check shows what would change."
        ),
        *([msg("Before it works, fix this:"), *problems] if problems else []),
    )


async def _choose_chat(ctx: Context) -> Reply:
    """The groups and channels the bot is in, as buttons that bind the one pressed; the
    creator's next forwarded post binds its channel instead, for a few minutes."""
    kind, target = ctx.args["kind"], ctx.args["target"]
    await ctx.services.chat_choices.wait(ctx.member, kind, target)
    others = _other_ways(ctx, kind, target)
    here = ctx.event.platform  # the chats of the platform the creator is on
    found = [
        chat for chat in await ctx.services.paid_chats.group_chats(ctx.community) if chat.platform == here
    ]
    if not found:
        return Reply.text(
            msg(
                "The bot is in no group or channel yet: add it as an administrator there,"
                " then send this again."
            ),
            *others,
        )
    builder = ReplyBuilder().text(msg("Which chat needs {kind} {target}?", kind=kind, target=target))
    for line in others:
        builder.line().text(line)
    rows = [
        (Button(chat.title or str(chat.id), data=f"cmd:/bind {kind} {target} #{chat.id}"),) for chat in found
    ]
    return builder.buttons(*rows).build()


def _other_ways(ctx: Context, kind: str, target: str) -> list[Msg]:
    """Naming the chat without its button, where the platform can look chats up (Telegram)."""
    if not ctx.services.chat_choices.can_find(ctx.event.platform):
        return []
    return [
        msg(
            "Or forward a post from the channel here, or send /bind {kind} {target} @channel.",
            kind=kind,
            target=target,
        )
    ]


@router.on_message()
async def bind_forwarded(ctx: Context) -> Reply | None:
    """A creator forwards a channel's post to the bot privately: after /bind KIND TARGET that
    channel is bound (as /bind would); before it, they are told to send that first."""
    source = ctx.event.forwarded_from
    if source is None or ctx.chat.kind is not ChatKind.PRIVATE:
        return None
    # Read afresh, as the router does for commands: a creator demoted elsewhere binds nothing.
    member = await ctx.services.members.get_member(ctx.member.id, fresh=True)
    if member.role is not Role.CREATOR:
        return None  # anyone else may forward posts to the bot: not ours
    waiting = await ctx.services.chat_choices.take(member)
    if waiting is None:
        return Reply.text(
            msg(
                "To make {chat} paid, send /bind course|plan|tier ID first, then forward its post here"
                " again.",
                chat=source.title,
            )
        )
    chat = await ctx.services.chat_choices.forwarded(ctx.community, source)
    done = await ctx.services.paid_chats.bind(
        ctx.community, member, chat, waiting.kind, waiting.target, via="forward"
    )
    return await _bound(ctx, done)


@router.command(
    "unbind",
    aliases=("解绑",),
    roles=CREATORS,
    help=msg("Make a group or channel free again (inside it, or in our private chat to choose one)"),
    params=(Word("chat", optional=True, max_length=20),),
)
async def unbind(ctx: Context) -> Reply:
    chat = ctx.chat
    if chat.kind is ChatKind.PRIVATE:  # from the private chat: which one? (a deleted one too)
        pressed = await _pressed_chat(ctx, ctx.args["chat"] or "")
        if pressed is None:
            return await _choose_paid_chat(ctx)
        chat = pressed
    removed = await ctx.services.paid_chats.unbind(ctx.community, ctx.member, chat)
    if not removed:
        return Reply.text(msg("{chat} was not paid.", chat=chat.title))
    return Reply.text(msg("{chat} is free again.", chat=chat.title))


async def _choose_paid_chat(ctx: Context) -> Reply:
    """The paid chats of the creator's platform, as buttons that make the one pressed free."""
    needs: dict[Chat, list[str]] = {}  # each paid chat, with what it needs (bindings come by chat)
    for binding in await ctx.services.paid_chats.bindings(ctx.community):
        if binding.chat.platform == ctx.event.platform:
            needs.setdefault(binding.chat, []).append(f"{binding.kind} {binding.target}")
    if not needs:
        return Reply.text(msg("No paid chats yet. Send /bind course|plan|tier ID inside a group."))
    rows = [
        (Button(f"{chat.title or chat.id} ({', '.join(what)})", data=f"cmd:/unbind #{chat.id}"),)
        for chat, what in needs.items()
    ]
    return ReplyBuilder().text(msg("Which chat should be free again?")).buttons(*rows).build()


@router.command("bindings", roles=CREATORS, help=msg("List the paid chats and what each needs"))
async def bindings(ctx: Context) -> Reply:
    found = await ctx.services.paid_chats.bindings(ctx.community)
    if not found:
        return Reply.text(msg("No paid chats yet. Send /bind course|plan|tier ID inside a group."))
    builder = ReplyBuilder().bold(msg("Paid chats:"))
    for binding in found:
        builder.line().text(
            f"{binding.chat.title} ({binding.chat.platform}): {binding.kind} {binding.target}"
        )
    return builder.build()


@router.command(
    "access",
    aliases=("权限检查",),
    roles=CREATORS,
    help=msg(
        "Check paid chats against who has paid: /access check shows the plan, /access fix carries it out"
    ),
    params=(Choice("action", choices=("check", "fix")),),
)
async def access(ctx: Context) -> Reply:
    paid_chats = ctx.services.paid_chats
    fix = ctx.args["action"] == "fix"
    problems = await paid_chats.problems(ctx.community)
    actions = await (paid_chats.reconcile(ctx.community) if fix else paid_chats.plan(ctx.community))
    if not actions and not problems:
        return Reply.text(msg("Paid chats are in order: nothing to do."))
    if not actions:
        builder = ReplyBuilder().bold(msg("Nothing to change, but these need fixing:"))
        for chat, problem in problems:
            builder.line().text(f"{chat.title}: ").text(problem)
        return builder.build()
    builder = ReplyBuilder().bold(
        nmsg("Done: {n} change.", "Done: {n} changes.", len(actions))
        if fix
        else nmsg("{n} change would be made:", "{n} changes would be made:", len(actions))
    )
    for action in actions:
        verb = {"remove": msg("remove"), "admit": msg("give access")}.get(action.verb, msg("invite"))
        builder.line().text(verb).text(f" {action.member.display_name} · {action.chat.title} · ").text(
            action.reason
        )
    for chat, problem in problems:
        builder.line().text(f"{chat.title}: ").text(problem)
    if not fix:
        builder.line().text(msg("/access fix to do it now (the scheduled check does it every 30 minutes)."))
    return builder.build()


@router.on_event(EventKind.JOIN_REQUEST)
async def join_requested(ctx: Context) -> list[Reply]:
    answer = await ctx.services.paid_chats.join_requested(
        ctx.community, ctx.member, ctx.chat, ctx.event.sender.external_id
    )
    return [answer] if answer else []


@router.on_event(EventKind.MEMBER_JOINED)
async def joined(ctx: Context) -> list[Reply]:
    answer = await ctx.services.paid_chats.joined(
        ctx.community, ctx.member, ctx.chat, ctx.event.sender.external_id
    )
    return [answer] if answer else []


@router.on_event(EventKind.MEMBER_LEFT)
async def left(ctx: Context) -> list[Reply]:
    await ctx.services.paid_chats.left(ctx.chat, ctx.member)
    return []
