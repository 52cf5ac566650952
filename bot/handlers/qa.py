"""Q&A in chat: /ask (with a bounty), /answer or a reply, /accept, /up, /questions, /q, /search,
/report, and /hide and /unhide for moderators."""

from __future__ import annotations

import re

from core.commands.context import Context
from core.commands.options import IntOption, OptionSet
from core.commands.params import Choice, Rest, Word
from core.commands.router import STAFF, Router
from core.errors import InvalidInput
from core.events import ChatKind
from core.i18n import Msg, msg, nmsg
from core.qa.models import Answer, Question
from core.qa.service import MAX_BOUNTY
from core.replies import Button, Reply, ReplyBuilder

router = Router()

ASK_OPTIONS = OptionSet(
    (IntOption("bounty", words=("bounty", "悬赏"), minimum=1, maximum=MAX_BOUNTY),),
    usage="/ask QUESTION… [bounty N]",
    example="/ask How do I read a CSV file with pandas?",
    keyed=False,  # a question may hold a=b; only a closing "bounty N" is an option
)
_ID = re.compile(r"^[#＃]?(?P<kind>[qa]?)(?P<id>\d{1,12})$", re.IGNORECASE)
STATUS: dict[str, Msg] = {"open": msg("open"), "answered": msg("answered"), "expired": msg("closed")}


def _number(token: str, kind: str) -> int:
    """``12``, ``#12``, ``Q12`` (questions) or ``A7`` (answers) → the number."""
    match = _ID.match(token.strip())
    if match is None or match.group("kind").lower() not in ("", kind):
        if kind == "q":
            raise InvalidInput(msg("{token} is not a question number.", token=token[:20]))
        raise InvalidInput(msg("{token} is not an answer number.", token=token[:20]))
    return int(match.group("id"))


def question_line(question: Question) -> Msg:
    bounty = msg(" · bounty {points}", points=question.bounty) if question.bounty else ""
    return nmsg(
        "#{id} {text} ({status}, {n} answer{bounty})",
        "#{id} {text} ({status}, {n} answers{bounty})",
        question.answers,
        id=question.id,
        text=question.text if len(question.text) <= 80 else question.text[:79] + "…",
        status=STATUS[question.status],
        bounty=bounty,
    )


@router.command(
    "ask",
    aliases=("提问",),
    help=msg("Ask the community a question, with a bounty in points if you like"),
    params=(Rest("question", max_length=2100),),
    options=(ASK_OPTIONS,),
)
async def ask(ctx: Context) -> Reply:
    text, bounty = ctx.args["question"], ctx.options.get("bounty", 0)
    asked = await ctx.services.qa.ask(
        ctx.community,
        ctx.member,
        ctx.chat,
        text,
        bounty,
        ctx.event_key("ask"),
        message_id=ctx.event.message_id,
        thread=ctx.event.thread,
    )
    if asked.question is None:
        builder = ReplyBuilder().bold(msg("These answered questions look like yours:"))
        for similar in asked.suggestions:
            builder.line().text(question_line(similar)).text(" — ").code(f"/q {similar.id}")
        return builder.buttons((Button(msg("Post mine anyway"), data="cmd:/askanyway"),)).build()
    return _posted(asked.question)


@router.command("askanyway", help=msg("Post the question you held back"), hidden=True)
async def ask_anyway(ctx: Context) -> Reply:
    asked = await ctx.services.qa.ask_draft(ctx.community, ctx.member, ctx.event_key("ask"))
    assert asked.question is not None
    return _posted(asked.question)


def _posted(question: Question) -> Reply:
    held = nmsg(
        " Its bounty of {n} point is held until you accept an answer.",
        " Its bounty of {n} points is held until you accept an answer.",
        question.bounty,
    )
    return Reply.text(
        msg("Question #{id} is posted.{held}", id=question.id, held=held if question.bounty else ""),
        msg("Answer with /answer {id} TEXT, or reply to the question.", id=question.id),
    )


@router.command(
    "answer",
    aliases=("回答",),
    help=msg("Answer a question"),
    params=(Word("question"), Rest("answer", max_length=2100)),
)
async def answer(ctx: Context) -> Reply:
    question_id = _number(ctx.args["question"], "q")
    question, given = await ctx.services.qa.answer(
        ctx.community, ctx.member, question_id, ctx.args["answer"], ctx.event_key("answer")
    )
    return Reply.text(
        msg("Your answer A{answer} to question #{question} is in.", answer=given.id, question=question.id)
    )


@router.on_message()
async def answer_by_reply(ctx: Context) -> Reply | None:
    """In a group, a reply to a question's /ask message answers it."""
    event = ctx.event
    if event.reply_to is None or ctx.chat.kind is not ChatKind.GROUP:
        return None
    question = await ctx.services.qa.question_replied_to(ctx.chat, event.reply_to)
    if question is None or question.asker_id == ctx.member.id or len(event.text.strip()) < 5:
        return None
    _, given = await ctx.services.qa.answer(
        ctx.community, ctx.member, question.id, event.text, ctx.event_key("answer")
    )
    return Reply.text(
        msg("Your answer A{answer} to question #{question} is in.", answer=given.id, question=question.id)
    )


@router.command(
    "accept",
    aliases=("采纳",),
    help=msg("Accept the answer that solved your question"),
    params=(Word("answer"),),
)
async def accept(ctx: Context) -> Reply:
    done = await ctx.services.qa.accept(ctx.community, ctx.member, _number(ctx.args["answer"], "a"))
    author = await ctx.services.members.get_member(done.answer.answerer_id)
    return Reply.text(
        nmsg(
            "Answer A{answer} accepted: {name} receives {n} point.",
            "Answer A{answer} accepted: {name} receives {n} points.",
            done.bounty + done.bonus,
            answer=done.answer.id,
            name=author.display_name,
        )
    )


@router.command("up", aliases=("赞",), help=msg("Upvote a helpful answer"), params=(Word("answer"),))
async def up(ctx: Context) -> Reply:
    given, counted = await ctx.services.qa.upvote(ctx.community, ctx.member, _number(ctx.args["answer"], "a"))
    if not counted:
        return Reply.text(msg("You have upvoted A{answer} already.", answer=given.id))
    return Reply.text(
        nmsg("Upvoted A{answer} ({n} vote).", "Upvoted A{answer} ({n} votes).", given.votes, answer=given.id)
    )


@router.command(
    "questions",
    aliases=("问题",),
    help=msg("Open questions, yours, or the top ones"),
    params=(Choice("which", optional=True, choices=("open", "mine", "top"), synonyms={"我的": "mine"}),),
)
async def list_questions(ctx: Context) -> Reply:
    which = ctx.args["which"] or "open"
    found = await ctx.services.qa.listing(ctx.community, which, ctx.member)
    if not found:
        return Reply.text(msg("No questions here yet. /ask TEXT to ask one."))
    builder = ReplyBuilder().bold(msg("Questions:"))
    for question in found:
        builder.line().text(question_line(question))
    return builder.line().text(msg("/q NUMBER shows one with its answers.")).build()


@router.command("q", aliases=("看问题",), help=msg("A question with its answers"), params=(Word("question"),))
async def show(ctx: Context) -> Reply:
    qa = ctx.services.qa
    question = await qa.question(ctx.community, _number(ctx.args["question"], "q"))
    asker = await ctx.services.members.get_member(question.asker_id)
    builder = (
        ReplyBuilder()
        .bold(msg("Question #{id} by {name}", id=question.id, name=asker.display_name))
        .text(" · ")
        .text(STATUS[question.status])
    )
    if question.bounty:
        builder.text(" · ").text(msg("bounty {points}", points=question.bounty))
    builder.line().text(question.text)
    found = await qa.answers_of(question)
    for item in found:
        builder.line().text(await _answer_line(ctx, question, item))
    if question.status == "open":
        builder.line().text(
            msg("/answer {id} TEXT to answer; /up A… to upvote; the asker can /accept A….", id=question.id)
        )
    return builder.build()


async def _answer_line(ctx: Context, question: Question, item: Answer) -> Msg:
    author = await ctx.services.members.get_member(item.answerer_id)
    accepted = msg(" ✓ accepted") if item.id == question.accepted_answer_id else ""
    return nmsg(
        "A{id} {name} ({n} vote){accepted}: {text}",
        "A{id} {name} ({n} votes){accepted}: {text}",
        item.votes,
        id=item.id,
        name=author.display_name,
        accepted=accepted,
        text=item.text,
    )


@router.command(
    "search",
    aliases=("搜索",),
    help=msg("Search the questions and answers"),
    params=(Rest("words", max_length=200),),
)
async def search(ctx: Context) -> Reply:
    found = await ctx.services.qa.search(ctx.community, ctx.args["words"])
    if not found:
        return Reply.text(msg("Nothing found. /ask it?"))
    builder = ReplyBuilder().bold(msg("Found:"))
    for question in found:
        builder.line().text(question_line(question))
    return builder.build()


@router.command(
    "hide",
    aliases=("隐藏",),
    roles=STAFF,
    help=msg("Hide a question (Q…) or an answer (A…) from listings and search"),
    params=(Word("item"), Rest("reason", max_length=300)),
)
async def hide(ctx: Context) -> Reply:
    kind, item_id = _item(ctx.args["item"])
    await ctx.services.qa.hide(ctx.community, ctx.member, kind, item_id, ctx.args["reason"])
    return Reply.text(msg("{item} is hidden.", item=_label(kind, item_id)))


@router.command(
    "unhide",
    aliases=("取消隐藏",),
    roles=STAFF,
    help=msg("Show a hidden question (Q…) or answer (A…) again"),
    params=(Word("item"), Rest("reason", max_length=300)),
)
async def unhide(ctx: Context) -> Reply:
    kind, item_id = _item(ctx.args["item"])
    await ctx.services.qa.unhide(ctx.community, ctx.member, kind, item_id, ctx.args["reason"])
    return Reply.text(msg("{item} is shown again.", item=_label(kind, item_id)))


@router.command(
    "report",
    aliases=("举报",),
    help=msg("Tell the moderators a question (Q…) or an answer (A…) breaks the rules"),
    params=(Word("item"), Rest("reason", max_length=300)),
)
async def report(ctx: Context) -> Reply:
    kind, item_id = _item(ctx.args["item"])
    if not await ctx.services.qa.report(ctx.community, ctx.member, kind, item_id, ctx.args["reason"]):
        return Reply.text(msg("You have reported {item} already.", item=_label(kind, item_id)))
    return Reply.text(msg("Thank you: the moderators will look at {item}.", item=_label(kind, item_id)))


def _item(token: str) -> tuple[str, int]:
    """``Q12``/``#12``/``12`` (a question) or ``A7`` (an answer) → its kind and number."""
    token = token.strip()
    kind = "answer" if token[:1].lower() == "a" else "question"
    return kind, _number(token, "a" if kind == "answer" else "q")


def _label(kind: str, item_id: int) -> str:
    return f"A{item_id}" if kind == "answer" else f"#{item_id}"
