"""Feedback and NPS in chat: /feedback TEXT (anyone) makes a ticket; moderators and creators
list, answer and close tickets with /feedback list|answer|close; /nps SCORE answers a survey
(what its buttons send: /nps SCORE #SURVEY)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from core.commands.context import Context
from core.commands.params import Rest, Word
from core.commands.router import Router
from core.errors import InvalidInput
from core.events import ChatKind
from core.feedback.nps import NpsScore, parse_score, parse_survey
from core.feedback.service import MAX_TEXT, STATUSES, Ticket
from core.i18n import Msg, msg, nmsg
from core.replies import Reply, ReplyBuilder

router = Router()

STAFF_ACTIONS = ("list", "answer", "close")
STAFF_USAGE = "/feedback list [open|answered|closed] · /feedback answer ID TEXT · /feedback close ID"
STATUS_NAMES: dict[str, Msg] = {"open": msg("open"), "answered": msg("answered"), "closed": msg("closed")}
_ID = re.compile(r"^#?(\d{1,12})$")
# What a member may type (the service refuses over MAX_TEXT with the limit in its words).
TYPED_LIMIT = 3 * MAX_TEXT


@router.command(
    "feedback",
    aliases=("反馈",),
    help=msg("Send feedback to the team; moderators and creators list and answer it"),
    params=(Rest("text", optional=True, max_length=TYPED_LIMIT),),
)
async def feedback(ctx: Context) -> Reply:
    text = (ctx.args["text"] or "").strip()
    action, _, rest = text.partition(" ")
    staff = ctx.member.role.is_staff
    service = ctx.services.feedback
    if staff and (not text or action.lower() in STAFF_ACTIONS):
        action = action.lower() or "list"
        if action == "list":
            if ctx.chat.kind is not ChatKind.PRIVATE:  # members' words are not for the whole group
                return Reply.text(msg("Feedback is listed in a private chat with the bot."))
            status = rest.strip().lower() or "open"
            if status not in STATUSES:
                raise InvalidInput(msg("Usage: {usage}", usage=STAFF_USAGE))
            return await _list(ctx, status)
        ticket_id, _, answer = rest.strip().partition(" ")
        if action == "answer":
            ticket = await service.answer(ctx.community, ctx.member, _ticket_id(ticket_id), answer)
            return Reply.text(msg("Answered feedback #{id}; the answer is on its way to them.", id=ticket.id))
        ticket = await service.close(ctx.community, ctx.member, _ticket_id(ticket_id))
        return Reply.text(msg("Feedback #{id} is closed.", id=ticket.id))
    ticket = await service.submit(
        ctx.community, ctx.member, text, platform=ctx.event.platform, key=ctx.event_key("feedback")
    )
    return Reply.text(
        msg("Thank you! Your feedback #{id} is with the team; their answer will come here.", id=ticket.id)
    )


@router.command(
    "nps",
    help=msg("Answer a survey with a score from 0 to 10"),
    params=(Word("score", max_length=20), Word("survey", optional=True, max_length=20)),
    personal=True,
)
async def nps(ctx: Context) -> Reply:
    score = parse_score(ctx.args["score"])
    survey = parse_survey(ctx.args["survey"]) if ctx.args["survey"] else None
    answered = await ctx.services.nps.answer(
        ctx.community, ctx.member, score, survey, platform=ctx.event.platform
    )
    if not answered.recorded:
        return Reply.text(
            msg("You answered this survey already (with {score}); thank you!", score=answered.score)
        )
    return Reply.text(msg("Thank you! Your answer {score} is recorded.", score=answered.score))


def _ticket_id(text: str) -> int:
    match = _ID.match(text.strip())
    if match is None:
        raise InvalidInput(msg("Name a ticket by its number, like 3 or #3."))
    return int(match[1])


async def _list(ctx: Context, status: str) -> Reply:
    service = ctx.services.feedback
    counts = await service.counts(ctx.community, ctx.member)
    tickets = await service.tickets(ctx.community, ctx.member, status, limit=10)
    builder = ReplyBuilder().bold(
        msg(
            "Feedback: {open} open · {answered} answered · {closed} closed",
            open=counts["open"],
            answered=counts["answered"],
            closed=counts["closed"],
        )
    )
    if not tickets:
        builder.line().text(msg("No {status} feedback.", status=STATUS_NAMES[status]))
    names = {}
    for ticket in tickets:
        if ticket.member_id not in names:
            names[ticket.member_id] = (await ctx.services.members.get_member(ticket.member_id)).display_name
        builder.line().code(f"#{ticket.id}").text(" ").text(_line(ctx, ticket, names[ticket.member_id]))
    return builder.line().text(STAFF_USAGE).build()


def _line(ctx: Context, ticket: Ticket, name: str) -> str:
    when = ticket.created_at.astimezone(ZoneInfo(ctx.community.timezone)).strftime("%Y-%m-%d %H:%M")
    text = ticket.text if len(ticket.text) <= 80 else ticket.text[:79] + "…"
    return f"{name} · {when} · {ticket.platform}: {text}"


def nps_line(found: NpsScore | None) -> Msg:
    """The NPS in one line for /stats."""
    if found is None:
        return msg("NPS: no survey yet; /push nps SEGMENT sends one.")
    if not found.answers:
        return msg("NPS (survey #{id}): no answers yet.", id=found.survey_id)
    low, high = found.interval
    return msg(
        "NPS (survey #{id}): {score} (95% CI {low} to {high}) from {answers}: {promoters} promoters,"
        " {passives} passives, {detractors} detractors.",
        id=found.survey_id,
        score=f"{found.score:+.0f}",
        low=f"{low:+.0f}",
        high=f"{high:+.0f}",
        answers=nmsg("{n} answer", "{n} answers", found.answers),
        promoters=found.promoters,
        passives=found.passives,
        detractors=found.detractors,
    )
