"""Referrals: commission rates (what /commission sets), what each member is owed (what /payouts
lists, by keyset pages), recording a payout with its reference, and the CSV /payouts csv sends —
each through the same core call as the command."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from core.catalog.money import Money, format_money
from core.errors import InvalidInput
from core.i18n import Msg, msg, render
from core.members.models import Community, Member
from core.referrals.commission_models import Balance, parse_percent, percent_text
from core.referrals.commissions import LEVELS_OVER_100
from web.kit import HEADERS, Authorized, Kit, MenuItem, path_id, query_id, redirect

PAGE = 50
LABELS: dict[str, Msg] = {
    "referrals": msg("Referrals"),
    "rates": msg("Commission rates"),
    "product": msg("Product"),
    "level1": msg("Level 1 (the buyer's referrer)"),
    "level2": msg("Level 2 (their referrer)"),
    "every_other": msg("every other product"),
    "no_rates": msg("No commissions are set."),
    "set_rate": msg("Set the rate"),
    "rate_help": msg("A percentage like 10 or 12.5; 0 or off removes it."),
    "owed": msg("Owed"),
    "member": msg("Member"),
    "currency": msg("Currency"),
    "available": msg("Available"),
    "held": msg("Held"),
    "paid": msg("Paid"),
    "reference": msg("Payment reference"),
    "record_payout": msg("Record the payout"),
    "nobody_owed": msg("Nobody is owed a commission."),
    "more_earners": msg("More members"),
    "first_earners": msg("First members"),
    "csv": msg("Download balances as CSV"),
    "not_saved": msg("Nothing was changed."),
}
MENU = MenuItem("/dashboard/referrals", LABELS["referrals"])
_AMOUNT = re.compile(r"^([A-Z]{3}):(\d{1,15})$")


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Referrals(kit)
    router.add_get("/dashboard/referrals", kit.guard(pages.referrals), allow_head=False)
    router.add_get("/dashboard/referrals.csv", kit.guard(pages.export), allow_head=False)
    router.add_post("/dashboard/referrals/rates", kit.guard(pages.set_rate))
    router.add_post(r"/dashboard/referrals/payouts/{member:[0-9]+}", kit.guard(pages.pay))


class Referrals:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.service = kit.services.commissions

    async def referrals(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        return await self._page(request, auth)

    async def export(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        data = await self.service.export_csv(auth.login.community, auth.login.member)
        headers = {
            **HEADERS,
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="commissions.csv"',
        }
        return web.Response(body=data, headers=headers)

    async def set_rate(self, request: web.Request) -> web.StreamResponse:
        """As /commission set CODE LEVEL1 [LEVEL2]; a refusal is shown beside its field."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login
        form = await request.post()
        typed = {name: str(form.get(name, ""))[:100] for name in ("product", "level1", "level2")}

        async def act(_key: str) -> web.StreamResponse:
            field = "level1"  # where a refusal is shown: the field whose value was refused
            try:
                level1 = 0 if typed["level1"].strip().lower() == "off" else parse_percent(typed["level1"])
                field = "level2"
                level2 = parse_percent(typed["level2"]) if typed["level2"].strip() else 0
                field = "product"
                rate = await self.service.set_rate(
                    login.community, login.member, typed["product"].strip(), level1, level2, via="dashboard"
                )
            except InvalidInput as refused:
                if refused.message.text == LEVELS_OVER_100.text:
                    field = "level2"
                return await self._page(request, auth, typed=typed, refused=(field, refused.message))
            return redirect(f"/dashboard/referrals?rate={rate.code}#rates")

        return await self.kit.submit(request, auth, act)

    async def pay(self, request: web.Request) -> web.StreamResponse:
        """As /payouts pay @member REFERENCE."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login
        member = await self._member(login.community, path_id(request, "member"))
        form = await request.post()
        reference = str(form.get("reference", ""))[:300]

        async def act(_key: str) -> web.StreamResponse:
            try:
                paid = await self.service.pay(
                    login.community, login.member, member, reference, via="dashboard"
                )
            except InvalidInput as refused:
                return await self._page(request, auth, paying=(member.id, reference, refused.message))
            if not paid:
                nothing = msg("{name} has nothing available to pay.", name=member.display_name)
                return await self._page(request, auth, paying=(member.id, reference, nothing))
            amounts = ",".join(f"{money.currency}:{money.minor}" for money in paid)
            return redirect(f"/dashboard/referrals?paid={member.id}&amounts={amounts}#owed")

        return await self.kit.submit(request, auth, act)

    async def _member(self, community: Community, member_id: int) -> Member:
        """A member of this community; anyone else is not found (404)."""
        member = await self.kit.services.members.get_member(member_id)  # NotFound: a 404
        if member.community_id != community.id:
            raise web.HTTPNotFound()
        return member

    async def _page(
        self,
        request: web.Request,
        auth: Authorized,
        *,
        typed: dict[str, str] | None = None,
        refused: tuple[str, Msg] | None = None,
        paying: tuple[int, str, Msg] | None = None,
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        services = self.kit.services
        community = login.community
        rates = [
            {
                "code": rate.code,
                "name": render(LABELS["every_other"], locale)
                if rate.code == "all"
                else f"{rate.code} ({rate.title})",
                "level1": percent_text(rate.level1_bp),
                "level2": percent_text(rate.level2_bp) if rate.level2_bp else "",
            }
            for rate in await self.service.rates(community)
        ]
        after = query_id(request, "after")
        owed, next_after = await self.service.owed_page(community, login.member, after=after, limit=PAGE)
        earners: dict[int, dict[str, Any]] = {}
        for member, balance in owed:
            entry = earners.setdefault(
                member.id, {"id": member.id, "name": member.display_name, "balances": []}
            )
            entry["balances"].append(_balance(balance, locale))
        for entry in earners.values():
            entry["reference"], entry["error"] = "", None
            if paying is not None and paying[0] == entry["id"]:
                entry["reference"], entry["error"] = paying[1], render(paying[2], locale)
        if paying is not None and paying[0] not in earners:  # paid off meanwhile: still say why
            member = await services.members.get_member(paying[0])
            earners[member.id] = {
                "id": member.id,
                "name": member.display_name,
                "balances": [],
                "reference": paying[1],
                "error": render(paying[2], locale),
            }
        products = [("all", render(LABELS["every_other"], locale))]
        products += [
            (c.code, f"{c.code} ({c.title})")
            for c in await services.catalog.courses(community, include_hidden=True)
        ]
        products += [
            (b.code, f"{b.code} ({b.title})")
            for b in await services.catalog.bundles(community, include_hidden=True)
        ]
        products += [
            (p.code, f"{p.code} ({p.title})")
            for p in await services.plans.list(community, include_hidden=True)
        ]
        context = {
            "rates": rates,
            "products": products,
            "typed": typed or {"product": "all", "level1": "", "level2": ""},
            "errors": {refused[0]: render(refused[1], locale)} if refused else {},
            "earners": list(earners.values()),
            "more": f"/dashboard/referrals?after={next_after}#owed" if next_after is not None else None,
            "paged": after is not None,
            "done": await self._done(request, community, rates, locale),
        }
        status = 400 if refused is not None or paying is not None else 200
        return self.kit.page(request, "referrals.html", auth, context, labels=LABELS, status=status)

    async def _done(
        self, request: web.Request, community: Community, rates: list[dict[str, Any]], locale: str
    ) -> str | None:
        """The confirmation of the action just redirected from, in the command's words."""
        code = request.query.get("rate")
        if code:
            found = [rate for rate in rates if rate["code"] == code]
            if not found:
                return render(msg("No commission on {code} any more.", code=code[:30]), locale)
            rate = found[0]
            what: Msg | str = LABELS["every_other"] if code == "all" else code
            if not rate["level2"]:
                return render(
                    msg("Referrers now earn {percent} on {code}.", percent=rate["level1"], code=what), locale
                )
            return render(
                msg(
                    "Referrers now earn {percent} on {code}, and their own referrers {percent2}.",
                    percent=rate["level1"],
                    code=what,
                    percent2=rate["level2"],
                ),
                locale,
            )
        paid = query_id(request, "paid")
        if paid is None:
            return None
        member = await self._member(community, paid)
        amounts = [_AMOUNT.match(part) for part in request.query.get("amounts", "").split(",")]
        shown = ", ".join(format_money(Money(m.group(1), int(m.group(2))), locale) for m in amounts if m)
        return render(
            msg("Recorded: {name} was paid {amounts}.", name=member.display_name, amounts=shown), locale
        )


def _balance(balance: Balance, locale: str) -> dict[str, str]:
    def money(minor: int) -> str:
        return format_money(Money(balance.currency, minor), locale)

    return {
        "currency": balance.currency,
        "available": money(balance.available),
        "held": money(balance.pending),
        "paid": money(balance.paid),
    }
