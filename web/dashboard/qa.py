"""Q&A for creators and moderators: the open, unanswered, reported and hidden questions; a
question with every answer and its reports; hide or show again with a reason, accept an answer
on the asker's behalf, dismiss reports — the same core calls /hide, /unhide and /accept make,
audited "via dashboard"."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from core.errors import InvalidInput, NotAllowed
from core.i18n import Msg, msg, nmsg, render
from core.qa.models import Question
from core.qa.moderation import QUEUES, Reviewed
from web import texts
from web.kit import Authorized, Kit, MenuItem, path_id, query_id, redirect, when

LABELS: dict[str, Msg] = {
    "qa": msg("Q&A"),
    "tab_open": msg("Open"),
    "tab_unanswered": msg("Unanswered"),
    "tab_reported": msg("Reported"),
    "tab_hidden": msg("Hidden"),
    "no_questions": msg("No questions in this list."),
    "older_questions": msg("Older questions"),
    "first_page": msg("Newest questions"),
    "asked_by": msg("Asked by"),
    "bounty": msg("Bounty"),
    "answers": msg("Answers"),
    "reports": msg("Reports"),
    "no_answers": msg("No answers yet."),
    "reason": msg("Reason"),
    "hide": msg("Hide"),
    "unhide": msg("Show again"),
    "accept": msg("Accept on the asker's behalf"),
    "dismiss": msg("Dismiss the reports"),
    "accepted": msg("accepted"),
    "hidden": msg("hidden"),
    "votes": msg("Votes"),
    "all_questions": msg("All questions"),
    "not_changed": msg("Nothing was changed."),
    "answer_about": msg("about answer"),
}
STATUS: dict[str, Msg] = {"open": msg("open"), "answered": msg("answered"), "expired": msg("closed")}
DONE: dict[str, Msg] = {
    "hidden": msg("Hidden. Learners no longer see it."),
    "shown": msg("Shown again."),
    "accepted": msg("Accepted: the bounty and the bonus went to the answer's author."),
    "dismissed": msg("The reports are dismissed."),
}
ACTIONS = ("hide", "unhide", "accept", "dismiss")
PAGE = 20
MENU = MenuItem("/dashboard/qa", LABELS["qa"], creators_only=False)


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = QAPages(kit)
    router.add_get("/dashboard/qa", kit.guard(pages.listing), allow_head=False)
    router.add_get("/dashboard/qa/{question:[0-9]+}", kit.guard(pages.question), allow_head=False)
    router.add_post("/dashboard/qa/{question:[0-9]+}", kit.guard(pages.moderate))


class QAPages:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.qa = kit.services.qa
        self.members = kit.services.members

    async def listing(self, request: web.Request) -> web.StreamResponse:
        """One queue, newest first, by pages of PAGE keyed on the question id."""
        auth = await self.kit.authorize(request)
        login = auth.login
        locale = self.kit.locale(request, login)
        tab = request.query.get("tab", "open")
        tab = tab if tab in QUEUES else "open"
        before = query_id(request, "before")
        found = await self.qa.queue(login.community, login.member, tab, before=before, limit=PAGE + 1)
        shown = found[:PAGE]
        reports = await self.qa.open_report_counts(login.community, [q.id for q in shown])
        names = await self._names({q.asker_id for q in shown})
        rows = [{**self._question(q, names, auth, locale), "reports": reports.get(q.id, 0)} for q in shown]
        older = None
        if len(found) > PAGE:
            older = "/dashboard/qa?" + urlencode({"tab": tab, "before": shown[-1].id})
        context = {
            "tab": tab,
            "tabs": [(name, render(LABELS[f"tab_{name}"], locale)) for name in QUEUES],
            "rows": rows,
            "older": older,
            "paged": before is not None,
        }
        return self.kit.page(request, "qa.html", auth, context, labels=LABELS)

    async def question(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request)
        done = request.query.get("done", "")
        return await self._review(request, auth, path_id(request, "question"), done=DONE.get(done))

    async def moderate(self, request: web.Request) -> web.StreamResponse:
        """hide / unhide (a question or one of its answers), accept (an answer), dismiss (the
        reports). A refusal re-renders the question (400) with the message beside its form."""
        auth = await self.kit.authorize(request, post=True)
        login = auth.login
        question_id = path_id(request, "question")
        reviewed = await self.qa.review(login.community, login.member, question_id)  # 404: not theirs
        form = await request.post()
        action, reason = str(form.get("do", "")), str(form.get("reason", ""))
        answer_id = _answer_id(form.get("answer"), reviewed)
        if action not in ACTIONS or (action == "accept" and answer_id is None):
            raise InvalidInput(texts.BAD_ADDRESS)
        kind, item = ("answer", answer_id) if answer_id is not None else ("question", question_id)
        target = f"answer-{answer_id}" if answer_id is not None else "question"

        async def act(_key: str) -> web.StreamResponse:
            community, actor = login.community, login.member
            try:
                if action == "accept":
                    assert answer_id is not None
                    await self.qa.accept(community, actor, answer_id, via="dashboard")
                    done = "accepted"
                elif action == "dismiss":
                    await self.qa.dismiss_reports(community, actor, question_id, reason, via="dashboard")
                    done = "dismissed"
                elif action == "hide":
                    await self.qa.hide(community, actor, kind, item, reason, via="dashboard")
                    done = "hidden"
                else:
                    await self.qa.unhide(community, actor, kind, item, reason, via="dashboard")
                    done = "shown"
            except (InvalidInput, NotAllowed) as refused:
                error = (target, action, reason, refused.message)
                return await self._review(request, auth, question_id, refused=error)
            return redirect(f"/dashboard/qa/{question_id}?done={done}#{target}")

        return await self.kit.submit(request, auth, act)

    async def _review(
        self,
        request: web.Request,
        auth: Authorized,
        question_id: int,
        *,
        done: Msg | None = None,
        refused: tuple[str, str, str, Msg] | None = None,
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        reviewed = await self.qa.review(login.community, login.member, question_id)
        question = reviewed.question
        names = await self._names(
            {question.asker_id}
            | {a.answerer_id for a in reviewed.answers}
            | {r.reporter_id for r in reviewed.reports}
        )
        answers = [
            {
                "id": a.id,
                "author": names.get(a.answerer_id, ""),
                "text": a.text,
                "votes": a.votes,
                "hidden": a.hidden,
                "accepted": a.id == question.accepted_answer_id,
                "can_accept": question.status == "open" and not question.hidden and not a.hidden,
            }
            for a in reviewed.answers
        ]
        reports = [
            {
                "who": names.get(r.reporter_id, ""),
                "reason": r.reason,
                "when": when(r.created_at, auth.zone),
                "answer": r.answer_id,
            }
            for r in reviewed.reports
        ]
        error: dict[str, Any] | None = None
        if refused is not None:
            forms = _forms(question.hidden, bool(reports), answers)
            error = {
                "target": refused[0],
                "action": refused[1],
                "reason": refused[2],
                "message": render(refused[3], locale),
                "placed": (refused[0], refused[1]) in forms,  # else shown at the top
            }
        context = {
            "q": self._question(question, names, auth, locale),
            "answers": answers,
            "reports": reports,
            "done": render(done, locale) if done is not None else None,
            "error": error,
        }
        status = 400 if refused is not None else 200
        return self.kit.page(request, "qa_question.html", auth, context, labels=LABELS, status=status)

    def _question(
        self, question: Question, names: dict[int, str], auth: Authorized, locale: str
    ) -> dict[str, Any]:
        return {
            "id": question.id,
            "text": question.text,
            "asker": names.get(question.asker_id, ""),
            "status": render(STATUS.get(question.status, msg("closed")), locale),
            "open": question.status == "open",
            "bounty": question.bounty,
            "answers": render(nmsg("{n} answer", "{n} answers", question.answers), locale),
            "hidden": question.hidden,
            "when": when(question.created_at, auth.zone),
        }

    async def _names(self, ids: set[int]) -> dict[int, str]:
        return {member_id: (await self.members.get_member(member_id)).display_name for member_id in ids}


def _answer_id(value: object, reviewed: Reviewed) -> int | None:
    """The answer a form is about: one of this question's, else a 404 (not a guess)."""
    if value is None or value == "":
        return None
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise web.HTTPNotFound()
    if int(text) not in {a.id for a in reviewed.answers}:
        raise web.HTTPNotFound()
    return int(text)


def _forms(hidden: bool, reported: bool, answers: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """The (target, action) forms the question's page shows, as qa_question.html does."""
    forms = {("question", "unhide" if hidden else "hide")} | (
        {("question", "dismiss")} if reported else set()
    )
    for a in answers:
        forms.add((f"answer-{a['id']}", "unhide" if a["hidden"] else "hide"))
        if a["can_accept"]:
            forms.add((f"answer-{a['id']}", "accept"))
    return forms
