"""Plans: recurring paid access (a month, a quarter or a year), with a trial and a grace period."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from core.access.tables import plans
from core.audit.log import record
from core.catalog.models import Product
from core.catalog.money import Money
from core.catalog.service import checked_title
from core.clock import Clock
from core.errors import InvalidInput
from core.i18n import msg
from core.ledger.points import PointsService
from core.members.models import Community, Member, require_creator
from core.storage.database import Database

PLANS_FOR_CREATORS = msg("Only creators can manage plans.")
MAX_TRIAL_DAYS = 365
MAX_GRACE_DAYS = 90

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,29}$")
MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Plan:
    id: int
    community_id: int
    code: str
    title: str
    price: Money
    period: str
    trial_days: int
    grace_days: int
    hidden: bool
    tier: str | None = None  # the tier its subscribers have, whatever their points

    def product(self) -> Product:
        return Product("plan", self.id, self.code, self.title, self.price, self.hidden, ())


def add_period(start: datetime, period: str) -> datetime:
    """``start`` plus one period, by calendar months (Jan 31 + a month is Feb 28 or 29)."""
    months = start.month - 1 + MONTHS[period]
    year, month = start.year + months // 12, months % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


class PlanService:
    def __init__(self, db: Database, clock: Clock, points: PointsService) -> None:
        self._db = db
        self._clock = clock
        self._points = points

    async def add(
        self,
        community: Community,
        actor: Member,
        *,
        code: str,
        title: str,
        price: Money,
        period: str,
        trial_days: int = 0,
        grace_days: int = 3,
        tier: str | None = None,
        via: str = "command",
    ) -> Plan:
        require_creator(community, actor, PLANS_FOR_CREATORS)
        code = code.lower()
        if not CODE.match(code):
            raise InvalidInput(
                msg("A plan code is 2 to 30 lowercase letters, digits, - or _, like monthly."), field="code"
            )
        if period not in MONTHS:
            raise InvalidInput(msg("A plan renews every month, quarter or year."), field="period")
        _check_days(trial_days, grace_days)
        title = checked_title(title)
        tier = await self._known_tier(community, tier)
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    insert(plans).values(
                        community_id=community.id,
                        code=code,
                        title=title,
                        price_minor=price.minor,
                        currency=price.currency,
                        period=period,
                        trial_days=trial_days,
                        grace_days=grace_days,
                        tier=tier,
                        created_at=self._clock.now(),
                    )
                )
                await record(
                    conn,
                    community_id=community.id,
                    at=self._clock.now(),
                    action="plan.add",
                    actor_member_id=actor.id,
                    code=code,
                    price=price.minor,
                    currency=price.currency,
                    period=period,
                    tier=tier,
                    via=via,
                )
        except IntegrityError:
            raise InvalidInput(msg("There is already a plan {code}.", code=code), field="code") from None
        return await self.get(community, code, include_hidden=True)

    async def edit(
        self, community: Community, actor: Member, code: str, field: str, value: Any, *, via: str = "command"
    ) -> Plan:
        """``field``: title, price (Money), trial or grace (days), hidden (bool), tier (a tier
        name, or None for none). A new price applies from the next payment; periods already
        paid stay as they are; a new tier applies to current subscribers at once."""
        return await self.edit_fields(community, actor, code, {field: value}, via=via)

    async def edit_fields(
        self, community: Community, actor: Member, code: str, values: dict[str, Any], *, via: str = "command"
    ) -> Plan:
        """Several fields at once (each as ``edit`` takes it): all are checked before any is
        written, so a refusal (naming its field) changes nothing."""
        require_creator(community, actor, PLANS_FOR_CREATORS)
        plan = await self.get(community, code, include_hidden=True)
        changes: dict[str, Any] = {}
        for field, value in values.items():
            if field == "title":
                changes["title"] = checked_title(str(value))
            elif field == "price":
                changes.update(price_minor=value.minor, currency=value.currency)
            elif field in ("trial", "grace"):
                trial, grace = values.get("trial", plan.trial_days), values.get("grace", plan.grace_days)
                _check_days(trial, grace)
                changes.update(trial_days=trial, grace_days=grace)
            elif field == "hidden":
                changes["hidden"] = bool(value)
            elif field == "tier":
                changes["tier"] = await self._known_tier(community, value)
            else:
                raise InvalidInput(msg("You can edit: {fields}.", fields="title, price, trial, grace, tier"))
        if not changes:
            return plan
        async with self._db.write() as conn:
            await conn.execute(update(plans).where(plans.c.id == plan.id).values(**changes))
            for field, value in values.items():
                await record(
                    conn,
                    community_id=community.id,
                    at=self._clock.now(),
                    action="plan.edit",
                    actor_member_id=actor.id,
                    code=plan.code,
                    field=field,
                    value=str(value),
                    via=via,
                )
        self._points.forget_tier_grants(community.id)
        return await self.get(community, code, include_hidden=True)

    async def list(self, community: Community, *, include_hidden: bool = False) -> list[Plan]:
        query = select(plans).where(plans.c.community_id == community.id).order_by(plans.c.id)
        if not include_hidden:
            query = query.where(plans.c.hidden.is_(False))
        async with self._db.read() as conn:
            return [_plan(row) for row in await conn.execute(query)]

    async def get(self, community: Community, code: str, *, include_hidden: bool = False) -> Plan:
        query = select(plans).where(plans.c.community_id == community.id, plans.c.code == code.lower())
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None or (row.hidden and not include_hidden):
            raise InvalidInput(msg("There is no plan {code}. /plans lists them.", code=code[:30]))
        return _plan(row)

    async def by_id(self, plan_id: int) -> Plan:
        async with self._db.read() as conn:
            return _plan((await conn.execute(select(plans).where(plans.c.id == plan_id))).one())

    async def _known_tier(self, community: Community, name: str | None) -> str | None:
        """The community's tier of that name (as the creator spelled it there), or None."""
        if name is None or name.casefold() in ("none", "-"):
            return None
        tiers = await self._points.tiers(community)
        found = next((t for t in tiers if t.name.casefold() == name.casefold()), None)
        if found is None:
            raise InvalidInput(
                msg(
                    "There is no tier {name}. Tiers: {tiers}.",
                    name=name[:40],
                    tiers=", ".join(t.name for t in tiers),
                ),
                field="tier",
            )
        return found.name


def _check_days(trial_days: int, grace_days: int) -> None:
    if not 0 <= trial_days <= MAX_TRIAL_DAYS:
        raise InvalidInput(msg("A trial lasts 0 to {max} days.", max=MAX_TRIAL_DAYS), field="trial")
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise InvalidInput(msg("Grace lasts 0 to {max} days.", max=MAX_GRACE_DAYS), field="grace")


def _plan(row: Any) -> Plan:
    return Plan(
        row.id,
        row.community_id,
        row.code,
        row.title,
        Money(row.currency, row.price_minor),
        row.period,
        row.trial_days,
        row.grace_days,
        row.hidden,
        row.tier,
    )
