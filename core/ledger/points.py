"""The participation economy: earning rules, check-ins, moderator awards, tiers, leaderboards.

Every change of points is a ledger posting with an idempotency key.  Daily caps and
moderator budgets are enforced by the ledger writer inside the posting's transaction. The
message cooldown is checked twice: in this process's memory (a sliding window, with the repeat
check; a restart forgets them), and across processes by the posting's idempotency key, which
names the member's cooldown window, so processes behind a load balancer share it for free.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.cache import Cache
from core.clock import Clock
from core.errors import InvalidInput, NotAllowed
from core.i18n import msg, nmsg
from core.ledger import tiers as tier_rules
from core.ledger.models import (
    Cap,
    CapScope,
    Kind,
    MemberAccount,
    Outcome,
    Posting,
    PostingResult,
    SystemAccount,
    SystemCode,
)
from core.ledger.service import Balance, Ledger
from core.ledger.tables import ledger_tiers
from core.ledger.tier_store import replace_tiers
from core.ledger.tiers import DEFAULT_TIERS, MULTIPLIER_PCT_RANGE, Tier, effective_tier, next_tier, tier_for
from core.members.models import Community, Member, Role
from core.members.service import MemberService
from core.settings.service import SettingsService
from core.storage.database import Database

RECENT_MEMBERS = 200_000  # members whose cooldown and recent texts are remembered
WINDOWS = {"week": timedelta(days=7), "month": timedelta(days=30), "all": None}
_SPACES = re.compile(r"\s+")
_TIER_NAME = re.compile(r"^[\w\-]{1,40}$", re.UNICODE)
# Per time zone: the local day found last, as (start in UTC, end in UTC, start in the zone).
_DAYS: dict[str, tuple[datetime, datetime, datetime]] = {}


@dataclass
class _Recent:
    last_earned: datetime | None = None
    texts: deque[bytes] = field(default_factory=lambda: deque(maxlen=50))


@dataclass(frozen=True)
class TierGrant:
    """A tier a member has whatever their points, and what gives it (a plan's title)."""

    tier: str
    source: str


# Who has which granted tier in a community now: member id → grants (another package, such
# as plans, provides them; the ledger package does not know it).
TierGrants = Callable[[int], Awaitable[dict[int, list[TierGrant]]]]


@dataclass(frozen=True)
class Earned:
    """Points a member just earned, and a tier reached with them, if any."""

    result: PostingResult
    upgraded_to: Tier | None = None


@dataclass(frozen=True)
class CheckinOutcome:
    already: bool
    points: int
    streak: int
    upgraded_to: Tier | None = None


@dataclass(frozen=True)
class Summary:
    balance: Balance
    tier: Tier
    next_tier: Tier | None
    expiring_soon: int
    today: dict[str, int]
    caps: dict[str, int]
    checked_in_today: bool
    tier_source: str | None = None  # what grants the tier when points alone do not reach it


class PointsService:
    def __init__(
        self, db: Database, clock: Clock, ledger: Ledger, settings: SettingsService, members: MemberService
    ) -> None:
        self._db = db
        self._clock = clock
        self.ledger = ledger
        self._settings = settings
        self._members = members
        self._recent: OrderedDict[int, _Recent] = OrderedDict()
        self._tiers: Cache[int, tuple[Tier, ...]] = Cache(max_size=10_000, ttl=10.0)
        self._grant_sources: list[TierGrants] = []
        # Short-lived: a subscription that starts or ends in another process shows within it.
        self._grants: Cache[int, dict[int, list[TierGrant]]] = Cache(max_size=10_000, ttl=10.0)

    # -- time --------------------------------------------------------------------------

    @staticmethod
    def local_date(community: Community, at: datetime) -> date:
        return at.astimezone(ZoneInfo(community.timezone)).date()

    @staticmethod
    def day_start(community: Community, at: datetime) -> datetime:
        """Midnight of ``at``'s local day in the community's time zone (aware)."""
        # Every earning posting asks (its daily cap starts there): the day found last per
        # zone answers until its end, without a time-zone conversion.
        known = _DAYS.get(community.timezone)
        if known is not None and known[0] <= at < known[1]:
            return known[2]
        zone = ZoneInfo(community.timezone)
        day = at.astimezone(zone).date()
        start = datetime.combine(day, time(0), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        _DAYS[community.timezone] = (start.astimezone(UTC), end.astimezone(UTC), start)
        return start

    # -- messages ----------------------------------------------------------------------

    async def earn_for_message(
        self, community: Community, member: Member, text: str, at: datetime, key: str
    ) -> Earned | None:
        """Points for a group message if it qualifies: long enough, not a repeat of the
        member's own recent text, outside the cooldown, under the daily cap."""
        rules = await self._settings.all(community.id)
        recent = self._remember(member.id)
        normalized = _SPACES.sub(" ", text.strip()).casefold()
        fingerprint = hashlib.blake2b(normalized.encode(), digest_size=8).digest()
        window = rules["message.repeat_window"]
        repeated = window > 0 and fingerprint in islice(reversed(recent.texts), window)
        recent.texts.append(fingerprint)
        if repeated or len(normalized) < rules["message.min_length"] or rules["message.points"] <= 0:
            return None
        cooldown = timedelta(seconds=rules["message.cooldown_seconds"])
        # abs(): a platform may deliver a member's messages out of order.
        if recent.last_earned is not None and abs(at - recent.last_earned) < cooldown:
            return None
        earlier = recent.last_earned
        recent.last_earned = max(at, recent.last_earned or at)
        if cooldown:
            # One earning per member per aligned window, whichever process sees the message: the
            # unique key refuses a second. A redelivered message keeps its time, so its key.
            window = int(at.timestamp()) // int(cooldown.total_seconds())
            key = f"msgcd:{member.id}:{int(cooldown.total_seconds())}:{window}"
        granted = await self.granted_tier(community, member.id)
        result = await self.ledger.post(
            Posting(
                community_id=community.id,
                debit=SystemAccount(SystemCode.ISSUANCE),
                credit=MemberAccount(member.id),
                amount=rules["message.points"],
                kind=Kind.MESSAGE,
                key=key,
                at=at,
                tiered=True,
                tier_floor=granted[0] if granted else None,
                caps=(
                    Cap(
                        CapScope.CREDIT,
                        (Kind.MESSAGE,),
                        self.day_start(community, at),
                        rules["cap.message"],
                        True,
                    ),
                ),
            )
        )
        if result.outcome is not Outcome.POSTED:
            if result.outcome is Outcome.REPLAYED:  # earned before, here or by another process
                recent.last_earned = earlier  # so this one's time does not hold up the next
            return None
        return Earned(result, await self._upgrade(community, result, granted))

    def _remember(self, member_id: int) -> _Recent:
        recent = self._recent.get(member_id)
        if recent is None:
            recent = self._recent[member_id] = _Recent()
            if len(self._recent) > RECENT_MEMBERS:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(member_id)
        return recent

    # -- courses -----------------------------------------------------------------------

    async def complete_course(
        self, community: Community, member: Member, course_id: int, title: str, points: int
    ) -> int:
        """The course's completion points, once per member and course; returns those posted."""
        if points <= 0:
            return 0
        result = await self.ledger.post(
            Posting(
                community_id=community.id,
                debit=SystemAccount(SystemCode.ISSUANCE),
                credit=MemberAccount(member.id),
                amount=points,
                kind=Kind.COMPLETION,
                key=f"complete:{member.id}:{course_id}",
                at=self._clock.now(),
                memo=title[:300],
            )
        )
        return result.transfer.amount if result.outcome is Outcome.POSTED and result.transfer else 0

    # -- check-in ----------------------------------------------------------------------

    async def checkin(self, community: Community, member: Member, at: datetime) -> CheckinOutcome:
        rules = await self._settings.all(community.id)
        today = self.local_date(community, at)
        earlier = {
            self.local_date(community, when)
            for when in await self.ledger.recent_transfer_times(community.id, member.id, Kind.CHECKIN, 400)
        }
        if today in earlier:
            return CheckinOutcome(True, 0, _streak(earlier, today))
        streak = _streak(earlier | {today}, today)
        bonus = min(rules["checkin.streak_bonus"] * (streak - 1), rules["checkin.streak_bonus_max"])
        amount = rules["checkin.points"] + bonus
        if amount <= 0:
            raise InvalidInput(msg("Check-ins earn no points here right now."))
        granted = await self.granted_tier(community, member.id)
        result = await self.ledger.post(
            Posting(
                community_id=community.id,
                debit=SystemAccount(SystemCode.ISSUANCE),
                credit=MemberAccount(member.id),
                amount=amount,
                kind=Kind.CHECKIN,
                key=f"checkin:{member.id}:{today.isoformat()}",
                at=at,
                memo=f"streak {streak}",
                tiered=True,
                tier_floor=granted[0] if granted else None,
                caps=(
                    Cap(
                        CapScope.CREDIT,
                        (Kind.CHECKIN,),
                        self.day_start(community, at),
                        rules["cap.checkin"],
                        True,
                    ),
                ),
            )
        )
        if result.outcome is Outcome.REPLAYED:
            return CheckinOutcome(True, 0, streak)
        if result.outcome is not Outcome.POSTED:
            return CheckinOutcome(False, 0, streak)
        return CheckinOutcome(False, result.amount, streak, await self._upgrade(community, result, granted))

    # -- moderators ----------------------------------------------------------------------

    async def award(
        self, community: Community, actor: Member, target: Member, amount: int, reason: str, key: str
    ) -> Earned:
        """Give ``target`` points from issuance. Moderators spend a daily budget; creators do not.

        Raises NotAllowed / InvalidInput with a message for the actor; changes nothing then.
        """
        rules = await self._check_staff_action(community, actor, target, amount, reason)
        at = self._clock.now()
        day = self.day_start(community, at)
        caps = [Cap(CapScope.CREDIT, (Kind.AWARD,), day, rules["cap.award"])]
        if actor.role is Role.MODERATOR:
            caps.append(Cap(CapScope.ACTOR, (Kind.AWARD,), day, rules["award.budget"]))
        result = await self.ledger.post(
            Posting(
                community_id=community.id,
                debit=SystemAccount(SystemCode.ISSUANCE),
                credit=MemberAccount(target.id),
                amount=amount,
                kind=Kind.AWARD,
                key=key,
                at=at,
                memo=reason,
                actor_member_id=actor.id,
                caps=tuple(caps),
            )
        )
        if result.outcome is Outcome.CAPPED:
            if result.capped_by == 1:
                left = await self.budget_left(community, actor)
                raise NotAllowed(
                    msg(
                        "That is over your daily award budget: {left} of {budget} points left today.",
                        left=left,
                        budget=rules["award.budget"],
                    )
                )
            raise NotAllowed(
                nmsg(
                    "{name} has reached today's cap of {n} point from awards.",
                    "{name} has reached today's cap of {n} points from awards.",
                    rules["cap.award"],
                    name=target.display_name,
                )
            )
        granted = await self.granted_tier(community, target.id)
        return Earned(result, await self._upgrade(community, result, granted))

    async def deduct(
        self, community: Community, actor: Member, target: Member, amount: int, reason: str, key: str
    ) -> PostingResult:
        await self._check_staff_action(community, actor, target, amount, reason)
        if actor.role is Role.MODERATOR and target.role.is_staff:
            raise NotAllowed(msg("Moderators cannot deduct points from moderators or creators."))
        result = await self.ledger.post(
            Posting(
                community_id=community.id,
                debit=MemberAccount(target.id),
                credit=SystemAccount(SystemCode.DEDUCTIONS),
                amount=amount,
                kind=Kind.DEDUCT,
                key=key,
                at=self._clock.now(),
                memo=reason,
                actor_member_id=actor.id,
            )
        )
        if result.outcome is Outcome.INSUFFICIENT:
            raise InvalidInput(
                nmsg(
                    "{name} has only {n} point.",
                    "{name} has only {n} points.",
                    result.available or 0,
                    name=target.display_name,
                )
            )
        return result

    async def budget_left(self, community: Community, actor: Member) -> int | None:
        """Points the moderator may still award today (None: no budget applies)."""
        if actor.role is not Role.MODERATOR:
            return None
        rules = await self._settings.all(community.id)
        since = self.day_start(community, self._clock.now())
        given = await self.ledger.given_since(community.id, actor.id, Kind.AWARD, since)
        return max(0, rules["award.budget"] - given)

    async def _check_staff_action(
        self, community: Community, actor: Member, target: Member, amount: int, reason: str
    ) -> dict[str, object]:
        rules = await self._settings.all(community.id)
        if not actor.role.is_staff or actor.community_id != community.id:
            raise NotAllowed(msg("Only moderators and creators can award or deduct points."))
        if target.id == actor.id:
            raise NotAllowed(msg("You cannot award or deduct points for yourself."))
        if target.community_id != community.id:
            raise NotAllowed(msg("No such member."))
        if not reason.strip():
            raise InvalidInput(msg("Please give a reason."))
        if not 0 < amount <= rules["award.max"]:
            raise InvalidInput(msg("Choose between 1 and {maximum} points.", maximum=rules["award.max"]))
        return rules

    async def reverse(
        self, community: Community, actor: Member, transfer_id: int, reason: str, key: str | None = None
    ) -> PostingResult:
        """Creators correct a transfer with its reversing transfer (history is never edited);
        ``key``: a dashboard form's ledger key, so the trail says "via dashboard"."""
        if actor.role is not Role.CREATOR or actor.community_id != community.id:
            raise NotAllowed(msg("Only creators can reverse transfers."))
        if not reason.strip():
            raise InvalidInput(msg("Please give a reason."))
        result = await self.ledger.reverse(
            transfer_id,
            community_id=community.id,
            actor_member_id=actor.id,
            reason=reason,
            at=self._clock.now(),
            key=key,
        )
        if result.outcome is Outcome.INVALID:
            if await self.ledger.transfer(community.id, transfer_id) is None:
                raise InvalidInput(msg("There is no transfer #{id}.", id=transfer_id))
            raise InvalidInput(msg("Transfer #{id} has already been reversed.", id=transfer_id))
        if result.outcome is Outcome.INSUFFICIENT:
            raise InvalidInput(
                msg(
                    "Transfer #{id} cannot be reversed: only {points} of its points are left.",
                    id=transfer_id,
                    points=result.available or 0,
                )
            )
        if result.outcome is Outcome.REPLAYED:
            raise InvalidInput(msg("Transfer #{id} has already been reversed.", id=transfer_id))
        return result

    # -- tiers ---------------------------------------------------------------------------

    async def tiers(self, community: Community) -> tuple[Tier, ...]:
        cached = self._tiers.get(community.id, self._read_tiers)
        if cached is not None:
            return cached
        return self._tiers.put(community.id, await self._read_tiers(community.id))

    async def _read_tiers(self, community_id: int) -> tuple[Tier, ...]:
        async with self._db.read() as conn:
            rows = await conn.execute(select(ledger_tiers).where(ledger_tiers.c.community_id == community_id))
            tiers = tuple(Tier(r.name, r.threshold, r.multiplier_pct) for r in rows)
        return tuple(sorted(tiers or DEFAULT_TIERS, key=lambda t: t.threshold))

    async def set_tier(
        self, community: Community, actor: Member, name: str, threshold: int, multiplier_pct: int
    ) -> Tier:
        if actor.role is not Role.CREATOR or actor.community_id != community.id:
            raise NotAllowed(msg("Only creators can change tiers."))
        if not _TIER_NAME.match(name):
            raise InvalidInput(msg("A tier name is one word of up to 40 letters or digits."))
        if not 0 <= threshold <= tier_rules.MAX_THRESHOLD:
            raise InvalidInput(tier_rules.THRESHOLD_RANGE)
        low, high = MULTIPLIER_PCT_RANGE
        if not low <= multiplier_pct <= high:
            raise InvalidInput(
                msg("The multiplier must be between {low} and {high}.", low=low // 100, high=high // 100)
            )
        current = await self.tiers(community)
        tier = Tier(name, threshold, multiplier_pct)
        others = [t for t in current if t.name.casefold() != name.casefold()]
        if threshold > 0 and not any(t.threshold == 0 for t in others):
            raise InvalidInput(msg("One tier must start at 0 points."))
        async with self._db.write() as conn:
            await replace_tiers(
                conn,
                self._db.dialect,
                community_id=community.id,
                tiers=[*others, tier],
                changed=tier,
                actor_member_id=actor.id,
                at=self._clock.now(),
            )
        self.ledger.writer.forget_tiers(community.id)
        self._tiers.drop(community.id)
        return tier

    async def _upgrade(
        self, community: Community, result: PostingResult, granted: tuple[Tier, str] | None
    ) -> Tier | None:
        """The tier this posting's points lifted the member to, if it did (a tier a plan
        already gives them is no news)."""
        if result.earned_before is None or result.earned_after is None:
            return None
        tiers, floor = await self.tiers(community), granted[0] if granted else None
        if not tier_rules.crosses_threshold(tiers, result.earned_before, result.earned_after):
            return None  # the usual case: no tier lies between, so none was reached
        before = effective_tier(tiers, result.earned_before, floor)
        after = effective_tier(tiers, result.earned_after, floor)
        return after if after.threshold > before.threshold else None

    # -- points other packages give (accepted answers, referrals) ---------------------------

    async def issue(
        self,
        community: Community,
        member_id: int,
        amount: int,
        kind: Kind,
        key: str,
        *,
        memo: str = "",
        tiered: bool = False,
        at: datetime | None = None,
    ) -> int:
        """Points from issuance under the source's own daily cap (``cap.<kind>``, clamped to
        what is left); with ``tiered`` the member's tier multiplier applies. Returns the points
        posted (for a replayed ``key``, the first posting's)."""
        at = at or self._clock.now()
        granted = await self.granted_tier(community, member_id) if tiered else None
        cap = await self._settings.get(community.id, f"cap.{kind}")
        result = await self.ledger.post(
            Posting(
                community_id=community.id,
                debit=SystemAccount(SystemCode.ISSUANCE),
                credit=MemberAccount(member_id),
                amount=amount,
                kind=kind,
                key=key,
                at=at,
                memo=memo[:300],
                tiered=tiered,
                tier_floor=granted[0] if granted else None,
                caps=(Cap(CapScope.CREDIT, (kind,), self.day_start(community, at), cap, True),),
            )
        )
        return result.transfer.amount if result.ok and result.transfer is not None else 0

    # -- tiers granted by other packages (plans) -------------------------------------------

    def add_tier_grants(self, source: TierGrants) -> None:
        self._grant_sources.append(source)

    def forget_tier_grants(self, community_id: int) -> None:
        """A grant changed in this process: read them again on next use."""
        self._grants.drop(community_id)

    async def granted_tier(self, community: Community, member_id: int) -> tuple[Tier, str] | None:
        """The highest tier something other than points gives the member, with its source."""
        mine = (await self.tier_grants(community.id)).get(member_id)
        if not mine:
            return None
        by_name = {tier.name.casefold(): tier for tier in await self.tiers(community)}
        known = [(by_name[g.tier.casefold()], g.source) for g in mine if g.tier.casefold() in by_name]
        if not known:
            return None  # the tier was renamed or removed since the plan named it
        return max(known, key=lambda pair: (pair[0].threshold, pair[0].multiplier_pct))

    async def tier_grants(self, community_id: int) -> dict[int, list[TierGrant]]:
        grants = self._grants.get(community_id, self._read_grants)  # member id → grants
        if grants is None:
            grants = self._grants.put(community_id, await self._read_grants(community_id))
        return grants

    async def _read_grants(self, community_id: int) -> dict[int, list[TierGrant]]:
        grants: dict[int, list[TierGrant]] = {}
        for source in self._grant_sources:
            for holder, found in (await source(community_id)).items():
                grants.setdefault(holder, []).extend(found)
        return grants

    async def tier_of(self, community: Community, member_id: int, earned: int) -> Tier:
        """The member's tier now: by lifetime points, or a granted one if higher."""
        granted = await self.granted_tier(community, member_id)
        return effective_tier(await self.tiers(community), earned, granted[0] if granted else None)

    # -- reading -------------------------------------------------------------------------

    async def summary(self, community: Community, member: Member) -> Summary:
        rules = await self._settings.all(community.id)
        now = self._clock.now()
        balance, today = await self.ledger.standing(community.id, member.id, self.day_start(community, now))
        tiers = await self.tiers(community)
        expiring = await self.ledger.expiring_within(
            community.id,
            member.id,
            expiry_days=rules["points.expiry_days"],
            now=now,
            window=timedelta(days=30),
        )
        caps = {kind: rules[f"cap.{kind}"] for kind in ("message", "checkin", "award", "answer", "referral")}
        granted = await self.granted_tier(community, member.id)
        by_points = tier_for(tiers, balance.earned)
        tier = effective_tier(tiers, balance.earned, granted[0] if granted else None)
        return Summary(
            balance,
            tier,
            next_tier(tiers, max(balance.earned, tier.threshold)),
            expiring,
            today,
            caps,
            today.get(Kind.CHECKIN, 0) > 0,
            granted[1] if granted and tier != by_points else None,
        )

    async def leaderboard(
        self, community: Community, window: str, limit: int = 10
    ) -> list[tuple[Member, int]]:
        rules = await self._settings.all(community.id)
        span = WINDOWS[window]
        since = self._clock.now() - span if span else None
        exclude: list[int] = []
        if not rules["top.include_staff"]:
            staff = await self._members.members_by_role(community.id, [Role.MODERATOR, Role.CREATOR])
            exclude = [m.id for m in staff]
        standings = await self.ledger.earned_since(
            community.id, since, exclude_member_ids=exclude, limit=limit
        )
        return [(await self._members.get_member(s.member_id), s.points) for s in standings]


def _streak(days: set[date], today: date) -> int:
    """Consecutive days ending today (or yesterday if today is not in ``days``)."""
    day = today if today in days else today - timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= timedelta(days=1)
    return count
