"""The audit log: the community's whole audit trail (core.audit.trail: the audit log's entries
and the ledger's staff point movements, as /audit lists them), newest first, each marked "via
dashboard" or "via command", filtered by actor, action and dates in the community's zone —
and, for creators, a point movement corrected by its reverse (as /reverse), once confirmed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from core.audit.trail import ACTION_PATTERN, ACTIONS, LEDGER, VIA, AuditTrail, Cursor, TrailEntry
from core.errors import InvalidInput, NotAllowed
from core.i18n import Msg, msg, render
from core.ledger.audit import describe_transfers
from core.ledger.models import Transfer
from core.ledger.notes import reversed_message
from core.members.models import Role
from web import texts
from web.kit import Authorized, Kit, MenuItem, path_id, query_id, redirect, when

MENU = MenuItem("/dashboard/audit", texts.LABELS["audit"], creators_only=False)
AUDIT_PAGE = 20
LABELS: dict[str, Msg] = {
    "since": msg("From"),
    "until": msg("To"),
    "details": msg("Details"),
    "where": msg("Where"),
    "nothing_yet": msg("Nothing recorded yet."),
    "correct": msg("Correct"),
    "correct_title": msg("Correct a transfer"),
    "correct_intro": msg("This posts the reverse of the transfer below; the history keeps both."),
    "reason": msg("Reason"),
    "confirm_correct": msg("Reverse this transfer"),
    "cancel": msg("Cancel"),
    "transfer": msg("Transfer"),
}
CORRECTABLE = ("points.award", "points.deduct")  # the staff point movements the page offers to correct
REVERSE = "/dashboard/audit/transfers/{transfer_id:[0-9]+}/reverse"
BAD_DATE = msg("Enter a date as YYYY-MM-DD.")
DATES_REVERSED = msg("The end date is before the start date.")


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Audit(kit)
    router.add_get("/dashboard/audit", kit.guard(pages.audit), allow_head=False)
    router.add_get(REVERSE, kit.guard(pages.confirm_reverse), allow_head=False)
    router.add_post(REVERSE, kit.guard(pages.reverse))


class Audit:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        services = kit.services
        self.trail = AuditTrail(services.db, services.ledger, services.members)

    async def audit(self, request: web.Request) -> web.StreamResponse:
        """By pages of AUDIT_PAGE with an "older" link keyed on the last entry shown."""
        auth = await self.kit.authorize(request)  # creators and moderators: the core checks
        login = auth.login
        locale = self.kit.locale(request, login)
        actor, action, before = query_id(request, "actor"), _action(request), _cursor(request)
        filters: dict[str, Any] = {
            "actor": actor,
            "action": action or "",
            "since": request.query.get("since", "")[:10],
            "until": request.query.get("until", "")[:10],
        }
        errors: dict[str, str] = {}
        since = _day(filters["since"], auth.zone, "since", errors, locale)
        until = _day(filters["until"], auth.zone, "until", errors, locale)
        if since and until and until < since:
            errors["until"] = render(DATES_REVERSED, locale)
        found: list[TrailEntry] = []
        if not errors:
            found = await self.trail.read(
                login.community,
                login.member,
                actor_id=actor,
                action=action,
                since=since,
                until=until + timedelta(days=1) if until else None,  # "to" includes its day
                before=before,
                limit=AUDIT_PAGE + 1,
            )
        older = None
        if len(found) > AUDIT_PAGE:
            shown = {k: v for k, v in filters.items() if v}
            older = "/dashboard/audit?" + urlencode({**shown, "before": found[AUDIT_PAGE - 1].cursor.text()})
        staff = await self.kit.services.members.members_by_role(
            login.community.id, [Role.CREATOR, Role.MODERATOR]
        )
        done = None
        reversed_id = query_id(request, "reversed")
        if reversed_id is not None:
            done = await self._reversed(login.community.id, reversed_id, locale)
        context = {
            "rows": [_row(e, auth.zone, locale) for e in found[:AUDIT_PAGE]],
            "creator": login.member.role is Role.CREATOR,
            "correctable": CORRECTABLE,
            "done": done,
            "older": older,
            "filters": filters,
            "errors": errors,
            "actions": [(name, render(label, locale)) for name, label in ACTIONS.items()],
            "staff": [(m.id, m.display_name) for m in staff],
        }
        status = 400 if errors else 200
        return self.kit.page(request, "audit.html", auth, context, labels=LABELS, status=status)

    # -- correcting a transfer (/reverse) ----------------------------------------------------

    async def confirm_reverse(self, request: web.Request) -> web.StreamResponse:
        """What the correction will reverse, with the reason to give (creators)."""
        auth = await self.kit.authorize(request, creator=True)
        return await self._confirm_page(request, auth, path_id(request, "transfer_id"))

    async def reverse(self, request: web.Request) -> web.StreamResponse:
        """/reverse from the page: a refusal (already reversed, points spent) is shown on the
        confirmation page with the command's words (400), nothing changed."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login
        transfer_id = path_id(request, "transfer_id")
        await self._transfer(login.community.id, transfer_id)  # another community's: 404
        form = await request.post()
        reason = str(form.get("reason", ""))[:300]

        async def act(key: str) -> web.StreamResponse:
            points = self.kit.services.points
            try:
                await points.reverse(login.community, login.member, transfer_id, reason, key)
            except (InvalidInput, NotAllowed) as refused:
                return await self._confirm_page(
                    request, auth, transfer_id, refused=refused.message, reason=reason
                )
            return redirect(f"/dashboard/audit?reversed={transfer_id}")

        return await self.kit.submit(request, auth, act)

    async def _transfer(self, community_id: int, transfer_id: int) -> Transfer:
        transfer = await self.kit.services.ledger.transfer(community_id, transfer_id)
        if transfer is None:
            raise web.HTTPNotFound()
        return transfer

    async def _confirm_page(
        self,
        request: web.Request,
        auth: Authorized,
        transfer_id: int,
        *,
        refused: Msg | None = None,
        reason: str = "",
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        services = self.kit.services
        transfer = await self._transfer(login.community.id, transfer_id)
        [entry] = await describe_transfers(services.ledger, services.members, [transfer])
        context = {
            "transfer": {
                "id": transfer.id,
                "when": when(transfer.at, auth.zone),
                "actor": entry.actor,
                "action": render(texts.KINDS[transfer.kind], locale)
                if transfer.kind in texts.KINDS
                else transfer.kind,
                "subject": entry.subject,
                "amount": entry.signed_amount,
                "memo": transfer.memo,
            },
            "reason": reason,
            "refused": render(refused, locale) if refused else None,
        }
        status = 400 if refused is not None else 200
        return self.kit.page(request, "audit_reverse.html", auth, context, labels=LABELS, status=status)

    async def _reversed(self, community_id: int, transfer_id: int, locale: str) -> str | None:
        """The confirmation after a correction, in /reverse's words (None for a stale link)."""
        reversal = await self.kit.services.ledger.reversal_of(community_id, transfer_id)
        return render(reversed_message(transfer_id, reversal), locale) if reversal else None


def _action(request: web.Request) -> str | None:
    # "kind" is the old name of the filter (award, deduct, reversal): links to it keep working.
    text = request.query.get("action", "") or (
        f"points.{request.query['kind']}" if request.query.get("kind") else ""
    )
    if not text:
        return None
    if not ACTION_PATTERN.fullmatch(text):
        raise InvalidInput(texts.BAD_ADDRESS)
    return text


def _cursor(request: web.Request) -> Cursor | None:
    text = request.query.get("before", "")
    if not text:
        return None
    try:
        return Cursor.parse(text)
    except ValueError:
        raise InvalidInput(texts.BAD_ADDRESS) from None


def _day(text: str, zone: ZoneInfo, field: str, errors: dict[str, str], locale: str) -> datetime | None:
    """The start of the day ``text`` (YYYY-MM-DD) in the community's zone; an error beside
    ``field`` when it is not a date."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[field] = render(BAD_DATE, locale)
        return None
    if len(text) != 10 or not 1970 <= day.year <= 9998:  # what a date input sends; no overflow
        errors[field] = render(BAD_DATE, locale)
        return None
    return datetime.combine(day, time(), zone)


def _row(entry: TrailEntry, zone: ZoneInfo, locale: str) -> dict[str, Any]:
    label = ACTIONS.get(entry.action)
    return {
        "id": f"{'transfer' if entry.source == LEDGER else 'entry'}-{entry.id}",
        "number": f"#{entry.id}" if entry.source == LEDGER else "",
        "transfer_id": entry.id if entry.source == LEDGER else None,
        "when": when(entry.at, zone),
        "actor_id": entry.actor_member_id,
        "actor": entry.actor,
        "action": render(label, locale) if label else entry.action,
        "action_code": entry.action,
        "subject": entry.subject,
        "amount": entry.amount,
        "detail": "; ".join(f"{key}: {_plain(value)}" for key, value in entry.detail.items()),
        "via": render(VIA[entry.via], locale),
        "via_code": entry.via,
    }


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)
