"""Paid chats: /bind, /unbind, /bindings, /access (creators), and the join, leave and join-request
events every platform reports."""

from __future__ import annotations

from core.commands.context import Context
from core.commands.params import Choice, Word
from core.commands.router import CREATORS, GROUPS_ONLY, Router
from core.errors import InvalidInput
from core.events import ChatKind, EventKind
from core.i18n import msg, nmsg
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
        Word("chat", optional=True, max_length=20),
    ),
)
async def bind(ctx: Context) -> Reply:
    paid = ctx.services.paid_chats
    chat = ctx.chat
    if chat.kind is ChatKind.PRIVATE:  # from the private chat: which group or channel?
        chosen = ctx.args["chat"] or ""
        if not chosen:
            return await _choose_chat(ctx)
        if not (chosen.startswith("#") and chosen[1:].isdigit()):
            raise InvalidInput(
                msg(
                    "Choose the chat with one of the buttons of /bind {kind} {target}.",
                    kind=ctx.args["kind"],
                    target=ctx.args["target"],
                )
            )
        chat = await paid.chat_of(ctx.community, int(chosen[1:]))
    done = await paid.bind(ctx.community, ctx.member, chat, ctx.args["kind"], ctx.args["target"])
    problems = await paid.problems_in(chat)
    return Reply.text(
        msg(
            "{chat} is now paid: it needs {kind} {target}.",
            chat=chat.title,
            kind=done.kind,
            target=done.target,
        ),
        msg(
            "Members without it are taken out when they join or lapse; /access check shows what would change."
        ),
        *([msg("Before it works, fix this:"), *problems] if problems else []),
    )


async def _choose_chat(ctx: Context) -> Reply:
    """The groups and channels the bot is in, as buttons that bind the one pressed."""
    kind, target = ctx.args["kind"], ctx.args["target"]
    here = ctx.event.platform  # the chats of the platform the creator is on
    found = [
        chat for chat in await ctx.services.paid_chats.group_chats(ctx.community) if chat.platform == here
    ]
    if not found:
        return Reply.text(
            msg(
                "The bot is in no group or channel yet: add it as an administrator there,"
                " then send this again."
            )
        )
    builder = ReplyBuilder().text(msg("Which chat needs {kind} {target}?", kind=kind, target=target))
    rows = [
        (Button(chat.title or str(chat.id), data=f"cmd:/bind {kind} {target} #{chat.id}"),) for chat in found
    ]
    return builder.buttons(*rows).build()


@router.command(
    "unbind", aliases=("解绑",), roles=CREATORS, chats=GROUPS_ONLY, help=msg("Make this group free again")
)
async def unbind(ctx: Context) -> Reply:
    removed = await ctx.services.paid_chats.unbind(ctx.community, ctx.member, ctx.chat)
    if not removed:
        return Reply.text(msg("{chat} was not paid.", chat=ctx.chat.title))
    return Reply.text(msg("{chat} is free again.", chat=ctx.chat.title))


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
        builder = ReplyBuilder().bold(msg("Nothing to change, but the bot needs rights:"))
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
