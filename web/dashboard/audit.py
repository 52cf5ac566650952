"""The audit log: what /audit lists (the same ledger query), newest first, filtered."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from core.i18n import render
from core.ledger.audit import AUDITED_KINDS, audit_entries
from core.members.models import Role
from web import texts
from web.kit import Kit, MenuItem, query_id, when

MENU = MenuItem("/dashboard/audit", texts.LABELS["audit"])
AUDIT_PAGE = 20
AUDIT_KINDS = {kind: texts.KINDS[kind] for kind in AUDITED_KINDS}


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Audit(kit)
    router.add_get("/dashboard/audit", kit.guard(pages.audit), allow_head=False)


class Audit:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    async def audit(self, request: web.Request) -> web.StreamResponse:
        """By pages of AUDIT_PAGE with an "older" link keyed on the last id; filtered by actor
        and by kind."""
        auth = await self.kit.authorize(request, creator=True)
        login = auth.login
        locale = self.kit.locale(request, login)
        kind = request.query.get("kind", "")
        kinds = [kind] if kind in AUDIT_KINDS else list(AUDIT_KINDS)
        actor, before = query_id(request, "actor"), query_id(request, "before")
        services = self.kit.services
        found = await audit_entries(
            services.ledger,
            services.members,
            login.community.id,
            kinds=kinds,
            actor_id=actor,
            before=before,
            limit=AUDIT_PAGE + 1,
        )
        rows = [
            {
                "id": e.transfer.id,
                "when": when(e.transfer.at, auth.zone),
                "actor_id": e.transfer.actor_member_id,
                "actor": e.actor,
                "subject": e.subject,
                "amount": e.signed_amount,
                "kind": render(AUDIT_KINDS[e.transfer.kind], locale)
                if e.transfer.kind in AUDIT_KINDS
                else e.transfer.kind,
                "memo": e.transfer.memo or "",
            }
            for e in found[:AUDIT_PAGE]
        ]
        staff = await services.members.members_by_role(login.community.id, [Role.CREATOR, Role.MODERATOR])
        filters = {"kind": kind if kind in AUDIT_KINDS else "", "actor": actor}
        older = None
        if len(found) > AUDIT_PAGE:
            older = "/dashboard/audit?" + urlencode(
                {**{k: v for k, v in filters.items() if v}, "before": found[AUDIT_PAGE - 1].transfer.id}
            )
        context = {
            "rows": rows,
            "older": older,
            "filters": filters,
            "kinds": [(name, render(label, locale)) for name, label in AUDIT_KINDS.items()],
            "staff": [(m.id, m.display_name) for m in staff],
        }
        return self.kit.page(request, "audit.html", auth, context)
