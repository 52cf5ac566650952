"""Members: the directory (search, filters, keyset pages, CSV), a member's page, and what staff
do to a member — award or deduct points (as /award and /deduct), change the role (as /role) and
erase their personal data (as /forget) — each by the core call the command makes."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from core.access.states import STATUS_LABELS as SUB_STATES
from core.catalog.money import Money, format_money
from core.errors import InvalidInput, NotAllowed
from core.i18n import Msg, render
from core.ledger.notes import award_notes, deduct_note
from core.members.directory import Filters, MemberDirectory, Row
from core.members.models import Member, Role
from core.orders.models import STATUS_LABELS as ORDER_STATES
from core.orders.models import Status
from web import texts
from web.dashboard import members_texts as mt
from web.kit import HEADERS, Authorized, Kit, MenuItem, path_id, query_id, redirect, when

MENU = MenuItem("/dashboard/members", texts.LABELS["members"], creators_only=False)
ROLE_CHOICES = (Role.LEARNER, Role.MODERATOR)  # what /role offers
DONE = {"award": mt.AWARDED, "deduct": mt.DEDUCTED, "role": mt.ROLE_CHANGED}
REASON_REFUSAL = "Please give a reason."  # the points service's msgid: shown beside the reason
CSV_COLUMNS = ("member_id", "name", "role", "platforms", "points", "spend", "joined")
MEMBER = "/dashboard/members/{member_id:[0-9]+}"


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Members(kit)
    router.add_get("/dashboard/members", kit.guard(pages.listing), allow_head=False)
    router.add_get("/dashboard/members.csv", kit.guard(pages.export), allow_head=False)
    router.add_get(MEMBER, kit.guard(pages.member), allow_head=False)
    router.add_post(MEMBER + "/points", kit.guard(pages.points))
    router.add_post(MEMBER + "/role", kit.guard(pages.role))
    router.add_post(MEMBER + "/erase", kit.guard(pages.erase))


class Members:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        services = kit.services
        self.directory = MemberDirectory(services.db, services.clock, services.members, services.points)

    # -- the list ------------------------------------------------------------------------

    async def listing(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request)
        login = auth.login
        locale = self.kit.locale(request, login)
        filters, chosen = _filters(request)
        before = query_id(request, "before")
        found = await self.directory.page(login.community, login.member, filters, before=before)
        choices = await self.directory.choices(login.community, login.member)
        rows = [_row(row, auth, locale) for row in found.rows]
        query = {k: v for k, v in chosen.items() if v}
        older = None
        if found.before is not None:
            older = "/dashboard/members?" + urlencode({**query, "before": found.before})
        erased = request.query.get("erased", "")
        context = {
            "rows": rows,
            "older": older,
            "first": "/dashboard/members?" + urlencode(query) if before else None,
            "csv": "/dashboard/members.csv" + ("?" + urlencode(query) if query else ""),
            "chosen": chosen,
            "roles": [(r.value, render(r.label, locale)) for r in choices.roles],
            "segments": [(str(s.number), s.name or f"#{s.number}") for s in choices.segments],
            "tiers": [t.name for t in choices.tiers],
            "platforms": choices.platforms,
            "erased": render(mt.ERASED, locale) if erased else None,
        }
        return self.kit.page(request, "members.html", auth, context, labels=mt.LABELS)

    async def export(self, request: web.Request) -> web.StreamResponse:
        """The filtered list as CSV (creators), streamed batch by batch: never all in memory."""
        auth = await self.kit.authorize(request, creator=True)
        login = auth.login
        filters, _ = _filters(request)
        batches = self.directory.export(login.community, login.member, filters)
        first = await anext(batches, None)  # the core's refusals come before the answer starts
        response = web.StreamResponse(
            headers={
                **HEADERS,
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": 'attachment; filename="members.csv"',
            }
        )
        await response.prepare(request)
        await response.write(_csv([CSV_COLUMNS]))
        if first is not None:
            await response.write(_csv(_csv_row(r, auth) for r in first))
            async for batch in batches:
                await response.write(_csv(_csv_row(r, auth) for r in batch))
        await response.write_eof()
        return response

    # -- one member ----------------------------------------------------------------------

    async def member(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request)
        done = request.query.get("done", "")
        return await self._member_page(request, auth, path_id(request, "member_id"), done=DONE.get(done))

    async def points(self, request: web.Request) -> web.StreamResponse:
        """/award or /deduct from the page: a refusal is shown beside its field (400)."""
        auth = await self.kit.authorize(request, post=True)
        login = auth.login
        target = await self.directory.member(login.community, login.member, path_id(request, "member_id"))
        form = await request.post()
        direction = "deduct" if form.get("direction") == "deduct" else "award"
        amount_text, reason = str(form.get("amount", "")).strip(), str(form.get("reason", ""))
        # Not a whole number: 0, which the service refuses with its own range message.
        amount = int(amount_text) if amount_text.isascii() and amount_text.isdigit() else 0
        points = self.kit.services.points

        async def act(key: str) -> web.StreamResponse:
            try:
                if direction == "award":
                    earned = await points.award(login.community, login.member, target, amount, reason, key)
                    notes = award_notes(login.community, login.member, target, amount, reason, earned)
                else:
                    await points.deduct(login.community, login.member, target, amount, reason, key)
                    notes = [deduct_note(login.community, login.member, target, amount, reason)]
            except (InvalidInput, NotAllowed) as refused:
                field = "reason" if refused.message.text == REASON_REFUSAL else "amount"
                typed = {"amount": amount_text, "reason": reason}
                return await self._member_page(
                    request, auth, target.id, refused=("points", field, refused.message), typed=typed
                )
            for note in notes:  # the member is told as /award and /deduct tell them
                self.kit.services.notices.add(login.community.id, note)
            return redirect(f"/dashboard/members/{target.id}?done={direction}#points")

        return await self.kit.submit(request, auth, act)

    async def role(self, request: web.Request) -> web.StreamResponse:
        """/role from the page (creators; the core decides who may change whose role)."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login
        target = await self.directory.member(login.community, login.member, path_id(request, "member_id"))
        form = await request.post()
        wanted, reason = str(form.get("role", "")), str(form.get("reason", ""))[:300]

        async def act(_key: str) -> web.StreamResponse:
            try:
                if wanted not in {r.value for r in ROLE_CHOICES}:
                    raise InvalidInput(mt.CHOOSE_ROLE)
                await self.kit.services.members.change_role(
                    login.community, login.member, target, Role(wanted), reason=reason, via="dashboard"
                )
            except (InvalidInput, NotAllowed) as refused:
                return await self._member_page(
                    request,
                    auth,
                    target.id,
                    refused=("role", "role", refused.message),
                    typed={"reason": reason},
                )
            return redirect(f"/dashboard/members/{target.id}?done=role#role")

        return await self.kit.submit(request, auth, act)

    async def erase(self, request: web.Request) -> web.StreamResponse:
        """/forget for a member, by a creator, once the member's name is typed to confirm."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login
        target = await self.directory.member(login.community, login.member, path_id(request, "member_id"))
        form = await request.post()
        typed = str(form.get("confirm", ""))

        async def act(_key: str) -> web.StreamResponse:
            try:
                if " ".join(typed.split()).casefold() != " ".join(target.display_name.split()).casefold():
                    raise InvalidInput(mt.confirm_name(target.display_name))
                await self.kit.services.privacy.forget(
                    login.community, target, actor=login.member, via="dashboard"
                )
            except (InvalidInput, NotAllowed) as refused:
                return await self._member_page(
                    request,
                    auth,
                    target.id,
                    refused=("erase", "confirm", refused.message),
                    typed={"confirm": typed},
                )
            return redirect(f"/dashboard/members?erased={target.id}")

        return await self.kit.submit(request, auth, act)

    async def _member_page(
        self,
        request: web.Request,
        auth: Authorized,
        member_id: int,
        *,
        done: Msg | None = None,
        refused: tuple[str, str, Msg] | None = None,
        typed: dict[str, str] | None = None,
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        profile = await self.directory.profile(login.community, login.member, member_id)
        zone = auth.zone
        left = await self.kit.services.points.budget_left(login.community, login.member)
        member = profile.member
        context: dict[str, Any] = {
            "m": {
                "id": member.id,
                "name": member.display_name,
                "role": render(member.role.label, locale),
                "joined": when(member.created_at, zone),
                "owner": profile.owner,
                "forgotten": profile.forgotten,
                "self": member.id == login.member.id,
            },
            "accounts": [(i.platform, i.external_id) for i in profile.accounts],
            "balance": profile.balance,
            "tier": render(mt.tier_of(profile.tier.name, profile.earned), locale),
            "spend": _money(profile.spend, locale),
            "history": [
                {
                    "id": h.transfer.id,
                    "when": when(h.transfer.at, zone),
                    "amount": f"{h.signed_amount:+d}",
                    "kind": render(texts.KINDS[h.transfer.kind], locale)
                    if h.transfer.kind in texts.KINDS
                    else h.transfer.kind,
                    "memo": h.transfer.memo,
                }
                for h in profile.history
            ],
            "orders": [
                {
                    "id": o.id,
                    "title": o.title,
                    "price": format_money(o.price, locale),
                    "refunded": format_money(Money(o.price.currency, o.refunded), locale)
                    if o.refunded
                    else "",
                    "status": render(ORDER_STATES[Status(o.status)], locale),
                    "provider": o.provider,
                    "when": when(o.at, zone),
                }
                for o in profile.orders
            ],
            "subscriptions": [
                (s.plan, render(SUB_STATES.get(s.status, s.status), locale), when(s.period_end, zone))
                for s in profile.subscriptions
            ],
            "referred_by": _link(profile.referred_by),
            "referred": [_link(m) for m in profile.referred],
            "referred_count": render(mt.referred(profile.referred_count), locale),
            "questions": [
                (q.question_id, q.text, q.status, q.hidden, when(q.at, zone)) for q in profile.questions
            ],
            "answers": [
                (a.question_id, a.text, a.status, a.hidden, when(a.at, zone)) for a in profile.answers
            ],
            "activity": {
                "total": profile.activity.total,
                "days_30": profile.activity.days_30,
                "last": when(profile.activity.last, zone) if profile.activity.last else None,
            },
            "budget": render(mt.budget_left(left), locale) if left is not None else None,
            "done": render(done, locale) if done else None,
            "refused": None,
            "typed": typed or {},
            "role_choices": [(r.value, render(r.label, locale)) for r in ROLE_CHOICES],
        }
        if refused is not None:
            form, field, message = refused
            context["refused"] = {"form": form, "field": field, "message": render(message, locale)}
        status = 400 if refused is not None else 200
        return self.kit.page(request, "member.html", auth, context, labels=mt.LABELS, status=status)


def _filters(request: web.Request) -> tuple[Filters, dict[str, str]]:
    """The list's filters from the query string, and their values as chosen (for the form and
    the next page's link). An unknown role or a malformed segment is refused."""
    q = request.query
    chosen = {
        key: q.get(key, "").strip()[:100] for key in ("q", "role", "segment", "tier", "paying", "platform")
    }
    role = chosen["role"]
    if role and role not in {r.value for r in Role}:
        raise InvalidInput(texts.BAD_ADDRESS)
    segment = chosen["segment"]
    if segment and not (segment.isascii() and segment.isdigit() and len(segment) < 6):
        raise InvalidInput(texts.BAD_ADDRESS)
    paying = {"yes": True, "no": False}.get(chosen["paying"])
    filters = Filters(
        query=chosen["q"],
        role=Role(role) if role else None,
        segment=int(segment) if segment else None,
        tier=chosen["tier"] or None,
        paying=paying,
        platform=chosen["platform"].lower() or None,
    )
    return filters, chosen


def _row(row: Row, auth: Authorized, locale: str) -> dict[str, Any]:
    return {
        "id": row.member.id,
        "name": row.member.display_name,
        "role": render(row.member.role.label, locale),
        "platforms": ", ".join(row.platforms),
        "balance": row.balance,
        "spend": _money(row.spend, locale),
        "joined": row.member.created_at.astimezone(auth.zone).strftime("%Y-%m-%d"),
        "forgotten": row.forgotten,
    }


def _money(amounts: Sequence[Money], locale: str) -> str:
    return ", ".join(format_money(m, locale) for m in amounts)


def _link(member: Member | None) -> tuple[int, str] | None:
    return (member.id, member.display_name) if member is not None else None


def _csv_row(row: Row, auth: Authorized) -> list[Any]:
    return [
        row.member.id,
        _cell(row.member.display_name),
        row.member.role.value,
        " ".join(row.platforms),
        row.balance,
        " ".join(f"{m.minor} {m.currency}" for m in row.spend),
        row.member.created_at.astimezone(auth.zone).date().isoformat(),
    ]


def _cell(text: str) -> str:
    """A name a spreadsheet would run as a formula (=, +, -, @ first) starts with a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(rows: Any) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")
