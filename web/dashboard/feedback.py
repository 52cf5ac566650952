"""Feedback inbox for creators and moderators: tickets by status (open, answered, closed),
newest first, each with an answer form and a close button — the same core calls /feedback
answer and /feedback close make, audited "via dashboard". Creators also see the NPS of the
latest surveys with its 95% interval (what /stats shows for the newest)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from core.errors import InvalidInput, NotAllowed
from core.feedback.nps import NpsScore
from core.feedback.service import MAX_TEXT, STATUSES, Ticket
from core.i18n import Msg, msg, render
from core.members.models import Role
from web import texts
from web.kit import Authorized, Kit, MenuItem, path_id, query_id, redirect, when

LABELS: dict[str, Msg] = {
    "feedback": msg("Feedback"),
    "tab_open": msg("Open"),
    "tab_answered": msg("Answered"),
    "tab_closed": msg("Closed"),
    "no_tickets": msg("No feedback in this list."),
    "older": msg("Older feedback"),
    "first_page": msg("Newest feedback"),
    "answer": msg("Answer"),
    "your_answer": msg("Your answer (sent to them privately, where they wrote from)"),
    "send_answer": msg("Send the answer"),
    "close": msg("Close"),
    "answered_by": msg("Answered"),
    "nps": msg("NPS"),
    "nps_help": msg(
        "Promoters (9–10) minus detractors (0–6), from −100 to +100, with its 95% CI (confidence interval)."
        " /push nps SEGMENT sends a survey."
    ),
    "no_surveys": msg("No survey yet."),
    "survey": msg("Survey"),
    "score": msg("Score"),
    "interval": msg("95% CI"),
    "answers": msg("Answers"),
    "split": msg("Promoters / passives / detractors"),
}
DONE: dict[str, Msg] = {
    "answered": msg("Answered: the answer is on its way to them."),
    "closed": msg("Closed."),
}
ACTIONS = ("answer", "close")
PAGE = 20
MENU = MenuItem("/dashboard/feedback", LABELS["feedback"], creators_only=False)


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = FeedbackPages(kit)
    router.add_get("/dashboard/feedback", kit.guard(pages.inbox), allow_head=False)
    router.add_post("/dashboard/feedback/{ticket:[0-9]+}", kit.guard(pages.act))


class FeedbackPages:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.service = kit.services.feedback
        self.nps = kit.services.nps

    async def inbox(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request)
        status = request.query.get("status", "open")
        done = DONE.get(request.query.get("done", ""))
        return await self._page(request, auth, status if status in STATUSES else "open", done=done)

    async def act(self, request: web.Request) -> web.StreamResponse:
        """answer (with ``text``) or close one ticket; a refusal re-renders its list (400) with
        the message and what was typed beside the ticket's form."""
        auth = await self.kit.authorize(request, post=True)
        login = auth.login
        ticket = await self.service.ticket(login.community, login.member, path_id(request, "ticket"))
        form = await request.post()
        action, text = str(form.get("do", "")), str(form.get("text", ""))[: 3 * MAX_TEXT]
        if action not in ACTIONS:
            raise InvalidInput(texts.BAD_ADDRESS)

        async def act(_key: str) -> web.StreamResponse:
            try:
                if action == "answer":
                    await self.service.answer(login.community, login.member, ticket.id, text)
                    done, status = "answered", "answered"
                else:
                    await self.service.close(login.community, login.member, ticket.id)
                    done, status = "closed", "closed"
            except (InvalidInput, NotAllowed) as refused:
                return await self._page(
                    request, auth, ticket.status, refused=(ticket.id, text, refused.message)
                )
            return redirect("/dashboard/feedback?" + urlencode({"status": status, "done": done}))

        return await self.kit.submit(request, auth, act)

    async def _page(
        self,
        request: web.Request,
        auth: Authorized,
        status: str,
        *,
        done: Msg | None = None,
        refused: tuple[int, str, Msg] | None = None,
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        before = query_id(request, "before") if refused is None else None
        found = await self.service.tickets(
            login.community, login.member, status, before=before, limit=PAGE + 1
        )
        shown = found[:PAGE]
        if refused is not None and refused[0] not in {t.id for t in shown}:  # keep it in view
            shown.insert(0, await self.service.ticket(login.community, login.member, refused[0]))
        counts = await self.service.counts(login.community, login.member)
        names = await self._names(
            {t.member_id for t in shown} | {t.answered_by for t in shown if t.answered_by}
        )
        rows = [self._ticket(t, names, auth, refused, locale) for t in shown]
        older = None
        if len(found) > PAGE:
            older = "/dashboard/feedback?" + urlencode({"status": status, "before": shown[-1].id})
        surveys = None
        if login.member.role is Role.CREATOR:
            surveys = [_survey(s, auth) for s in await self.nps.surveys(login.community, login.member)]
        context = {
            "status": status,
            "tabs": [(name, render(LABELS[f"tab_{name}"], locale), counts[name]) for name in STATUSES],
            "rows": rows,
            "older": older,
            "paged": before is not None,
            "done": render(done, locale) if done is not None else None,
            "max_text": MAX_TEXT,
            "surveys": surveys,
        }
        code = 400 if refused is not None else 200
        return self.kit.page(request, "feedback.html", auth, context, labels=LABELS, status=code)

    def _ticket(
        self,
        ticket: Ticket,
        names: dict[int, str],
        auth: Authorized,
        refused: tuple[int, str, Msg] | None,
        locale: str,
    ) -> dict[str, Any]:
        mine = refused is not None and refused[0] == ticket.id
        return {
            "id": ticket.id,
            "text": ticket.text,
            "who": names.get(ticket.member_id, ""),
            "when": when(ticket.created_at, auth.zone),
            "platform": ticket.platform,
            "answer": ticket.answer,
            "answered_by": names.get(ticket.answered_by, "") if ticket.answered_by else "",
            "answered_at": when(ticket.answered_at, auth.zone) if ticket.answered_at else "",
            "closed": ticket.status == "closed",
            "typed": refused[1] if mine and refused else "",
            "error": render(refused[2], locale) if mine and refused else None,
        }

    async def _names(self, ids: set[int]) -> dict[int, str]:
        members = self.kit.services.members
        return {member_id: (await members.get_member(member_id)).display_name for member_id in ids}


def _survey(found: NpsScore, auth: Authorized) -> dict[str, Any]:
    low, high = found.interval
    return {
        "id": found.survey_id,
        "when": when(found.sent_at, auth.zone) if found.sent_at else "",
        "answers": found.answers,
        "score": f"{found.score:+.0f}" if found.answers else "—",
        "interval": f"{low:+.0f} … {high:+.0f}" if found.answers else "—",
        "split": f"{found.promoters} / {found.passives} / {found.detractors}",
    }
