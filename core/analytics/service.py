"""Running the analytics for a community and keeping the results (the ``analytics`` job, and
reports on demand), segment look-ups for pushes, cluster names and marketing spend."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select

from core.analytics import data
from core.analytics.engagement import contribution, engagement_scores
from core.analytics.forecast import forecast_next
from core.analytics.incentives import compare
from core.analytics.retention import churn_rate, cohort_matrix, funnel
from core.analytics.revenue import PaidOrder, revenue_report
from core.analytics.segments import RULES, Features, kmeans_segments, rule_segments
from core.analytics.tables import analytics_runs, marketing_spend, member_scores, segment_names
from core.audit.log import record
from core.catalog.money import Money
from core.clock import Clock
from core.errors import InvalidInput
from core.i18n import msg
from core.members.models import Community, Member, require_creator
from core.members.service import MemberService
from core.storage.database import Database
from core.storage.upsert import insert_or_update

FOR_CREATORS = msg("Only creators can see and change the analytics.")
STALE_AFTER = timedelta(hours=24)  # reports run the analysis again when the last run is older
SPEND_WINDOW = timedelta(days=30)  # spend counted toward this month's CAC
HISTORY_WEEKS = 26
INSERT_CHUNK = 5_000


class AnalyticsService:
    def __init__(self, db: Database, clock: Clock, members: MemberService) -> None:
        self._db = db
        self._clock = clock
        self._members = members

    # -- running -------------------------------------------------------------------------

    async def run(
        self, community: Community, now: datetime | None = None, *, asked_by: Member | None = None
    ) -> dict[str, Any]:
        """Compute everything for ``community`` and keep it; returns the summary. A run a
        creator asked for (``asked_by``) is audited; the scheduled ones are not."""
        now = now or self._clock.now()
        async with self._db.read() as conn:
            loaded = await data.load_members(conn, community.id, now)
            act_members, act_weeks = await data.active_weeks(conn, community.id)
            pay_members, pay_weeks = await data.paying_weeks(conn, community.id)
            paid = await data.paid_orders(conn, community.id)
            subs = await data.live_subscriptions(conn, community.id)
            spend = await data.spend_by_channel(conn, community.id, now - SPEND_WINDOW)
            names = dict(
                (
                    await conn.execute(
                        select(segment_names.c.cluster, segment_names.c.name).where(
                            segment_names.c.community_id == community.id
                        )
                    )
                ).all()
            )
        features = _features(loaded, now)
        rules = rule_segments(features)
        clustering = kmeans_segments(features)
        await self._store_scores(
            community, loaded.member_ids, features.engagement, clustering.labels, rules, now
        )
        current = data.week_of(now)
        join_weeks = np.array([data.week_of(j) for j in loaded.joined_at], dtype=np.int64)
        activity_cohorts = cohort_matrix(loaded.member_ids, join_weeks, act_members, act_weeks, current)
        paying_cohorts = cohort_matrix(loaded.member_ids, join_weeks, pay_members, pay_weeks, current)
        last = np.nan_to_num(features.days_since_last, nan=np.inf)
        ids = loaded.member_ids
        active_now = set(ids[last <= 30].tolist())
        active_before = set(ids[(last > 30) & (last <= 60)].tolist()) | active_now
        orders_per_member = {int(m): int(n) for m, n in zip(ids, loaded.orders, strict=True) if n}
        ever_active = set(ids[~np.isnan(features.days_since_last)].tolist())
        summary: dict[str, Any] = {
            "computed_at": now.isoformat(),
            "members": len(ids),
            "active": {"days_7": int((last <= 7).sum()), "days_30": len(active_now)},
            "currency": loaded.currency,
            "engagement": {
                "mean": round(float(features.engagement.mean()), 1) if len(ids) else 0.0,
                "median": round(float(np.median(features.engagement)), 1) if len(ids) else 0.0,
            },
            "segments": {name: int(mask.sum()) for name, mask in rules.items()},
            "k": clustering.k,
            "silhouette": clustering.silhouette,
            "clusters": [{**asdict(c), "name": names.get(c.number)} for c in clustering.clusters],
            "cohorts": {"activity": _cohorts(activity_cohorts), "paying": _cohorts(paying_cohorts)},
            "churn": round(churn_rate(active_before, active_now), 4),
            "funnel": dict(funnel(ids.tolist(), ever_active, orders_per_member).steps()),
            "revenue": self._revenue(paid, subs, spend, now, len(active_now), loaded),
            "channels": _channels(loaded),
            "forecast": _forecasts(loaded, paid, now),
            "incentives": asdict(_incentives(loaded, features)),
        }
        async with self._db.write() as conn:
            await conn.execute(
                insert_or_update(
                    self._db.dialect,
                    analytics_runs,
                    {"community_id": community.id, "computed_at": now, "summary": json.dumps(summary)},
                    keys=("community_id",),
                    update=("computed_at", "summary"),
                )
            )
            if asked_by is not None:
                await record(
                    conn,
                    community_id=community.id,
                    at=now,
                    action="analytics.recompute",
                    actor_member_id=asked_by.id,
                    members=len(ids),
                )
        return summary

    async def _store_scores(
        self,
        community: Community,
        ids: Any,
        engagement: Any,
        clusters: Any,
        rules: dict[str, Any],
        now: datetime,
    ) -> None:
        rows = [
            {
                "community_id": community.id,
                "member_id": int(member_id),
                "engagement_tenths": round(float(engagement[i]) * 10),
                "cluster": int(clusters[i]),
                "segments": ",".join(name for name in RULES if rules[name][i]),
                "computed_at": now,
            }
            for i, member_id in enumerate(ids)
        ]
        async with self._db.write() as conn:  # replaced whole, in one transaction
            await conn.execute(delete(member_scores).where(member_scores.c.community_id == community.id))
            for start in range(0, len(rows), INSERT_CHUNK):
                await conn.execute(insert(member_scores), rows[start : start + INSERT_CHUNK])

    def _revenue(
        self,
        paid: list[Any],
        subs: list[tuple[int, str, str]],
        spend: list[Any],
        now: datetime,
        active_members: int,
        loaded: data.Loaded,
    ) -> list[dict[str, Any]]:
        month = now.strftime("%Y-%m")
        first_order: dict[int, datetime] = {}
        for order in paid:
            first_order.setdefault(order.member_id, order.paid_at)
        month_ago = now - timedelta(days=30)
        new_buyers = sum(1 for at in first_order.values() if at and at >= month_ago)
        recent = {o.member_id for o in paid if o.paid_at >= now - timedelta(days=60)}
        lately = {o.member_id for o in paid if o.paid_at >= month_ago}
        buyer_churn = churn_rate(recent, lately)
        reports = []
        for currency in sorted({o.currency for o in paid} | {c for _, c, _ in subs}):
            report = revenue_report(
                currency,
                [
                    PaidOrder(o.member_id, o.title, o.paid_at.strftime("%Y-%m"), int(o.net))
                    for o in paid
                    if o.currency == currency
                ],
                subscriptions=[(price, period) for price, c, period in subs if c == currency],
                month=month,
                active_members=active_members,
                buyer_churn=buyer_churn,
                spend=sum(int(total) for c, _, total in spend if c == currency),
                new_buyers=new_buyers,
            )
            reports.append(
                {**asdict(report), "spend_channels": {ch: int(t) for c, ch, t in spend if c == currency}}
            )
        return reports

    # -- reading -------------------------------------------------------------------------

    async def latest(self, community: Community, actor: Member) -> dict[str, Any]:
        """The last run's summary (run now when there is none, or it is over a day old)."""
        require_creator(community, actor, FOR_CREATORS)
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(analytics_runs).where(analytics_runs.c.community_id == community.id)
                )
            ).first()
        now = self._clock.now()
        if row is None or row.computed_at < now - STALE_AFTER:
            return await self.run(community, now)
        return json.loads(row.summary)

    async def recompute(self, community: Community, actor: Member) -> dict[str, Any]:
        """Run the analysis now, for a creator who asked (the dashboard's button)."""
        require_creator(community, actor, FOR_CREATORS)
        return await self.run(community, asked_by=actor)

    async def members_in_segment(self, community: Community, segment: str) -> list[int]:
        """Members of a rule segment (``active``…), a cluster (its number or the name a
        creator gave it), or ``all`` (every member but staff), as of the last run."""
        wanted = segment.strip().lower()
        query = select(member_scores.c.member_id).where(member_scores.c.community_id == community.id)
        if wanted == "all":
            pass
        elif wanted in RULES:
            query = query.where(
                (member_scores.c.segments == wanted)
                | member_scores.c.segments.like(f"{wanted},%")
                | member_scores.c.segments.like(f"%,{wanted}")
                | member_scores.c.segments.like(f"%,{wanted},%")
            )
        else:
            cluster = await self._cluster_of(community, wanted)
            if cluster is None:
                raise InvalidInput(
                    msg("There is no segment {name}. /segments lists them.", name=segment[:40])
                )
            query = query.where(member_scores.c.cluster == cluster)
        async with self._db.read() as conn:
            return sorted(int(m) for m in (await conn.execute(query)).scalars())

    async def _cluster_of(self, community: Community, name: str) -> int | None:
        number = name.removeprefix("cluster").strip(" :#")
        if number.isdigit():
            return int(number)
        async with self._db.read() as conn:
            found = (
                await conn.execute(
                    select(segment_names.c.cluster).where(
                        segment_names.c.community_id == community.id, func.lower(segment_names.c.name) == name
                    )
                )
            ).scalar()
        return None if found is None else int(found)

    # -- creators' changes ---------------------------------------------------------------

    async def name_cluster(self, community: Community, actor: Member, cluster: int, name: str) -> None:
        """Name a cluster of the latest run (the name follows the cluster's number to later runs)."""
        require_creator(community, actor, FOR_CREATORS)
        name = " ".join(name.split())
        if not 1 <= len(name) <= 40 or name.lower() in (*RULES, "all") or name.isdigit():
            raise InvalidInput(msg("A segment name is 1 to 40 characters and not a rule's name or a number."))
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(analytics_runs).where(analytics_runs.c.community_id == community.id)
                )
            ).first()
        summary = json.loads(row.summary) if row is not None else {}
        numbers = [item["number"] for item in summary.get("clusters", [])]
        if cluster not in numbers:
            if not numbers:
                raise InvalidInput(msg("There are no clusters yet to name: /segments shows when there are."))
            raise InvalidInput(
                msg(
                    "There is no cluster {number}; the latest run has clusters {first} to {last}.",
                    number=cluster,
                    first=min(numbers),
                    last=max(numbers),
                )
            )
        async with self._db.write() as conn:
            await conn.execute(
                delete(segment_names).where(
                    segment_names.c.community_id == community.id,
                    func.lower(segment_names.c.name) == name.lower(),
                )
            )
            await conn.execute(
                insert_or_update(
                    self._db.dialect,
                    segment_names,
                    {"community_id": community.id, "cluster": cluster, "name": name},
                    keys=("community_id", "cluster"),
                    update=("name",),
                )
            )
            # The stored summary carries the names: refresh them there too.
            for item in summary["clusters"]:
                if item["number"] == cluster:
                    item["name"] = name
                elif item.get("name", "") and item["name"].lower() == name.lower():
                    item["name"] = None
            await conn.execute(
                analytics_runs.update()
                .where(analytics_runs.c.community_id == community.id)
                .values(summary=json.dumps(summary))
            )
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="segment.name",
                actor_member_id=actor.id,
                cluster=cluster,
                name=name,
            )

    async def recent_spend(self, community: Community, actor: Member) -> list[tuple[str, str, int]]:
        """Spend recorded in the last SPEND_WINDOW, (currency, channel, minor units) — what the
        next run counts toward CAC."""
        require_creator(community, actor, FOR_CREATORS)
        async with self._db.read() as conn:
            return await data.spend_by_channel(conn, community.id, self._clock.now() - SPEND_WINDOW)

    async def add_spend(self, community: Community, actor: Member, amount: Money, channel: str) -> None:
        """Record marketing spend on a channel (for CAC and channel reports)."""
        require_creator(community, actor, FOR_CREATORS)
        channel = " ".join(channel.split()).lower()
        if not 1 <= len(channel) <= 40:
            raise InvalidInput(msg("Name the channel in 1 to 40 characters."))
        if amount.minor <= 0:
            raise InvalidInput(msg("Spend is more than zero."))
        now = self._clock.now()
        async with self._db.write() as conn:
            await conn.execute(
                insert(marketing_spend).values(
                    community_id=community.id,
                    amount_minor=amount.minor,
                    currency=amount.currency,
                    channel=channel,
                    actor_member_id=actor.id,
                    spent_at=now,
                )
            )
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="analytics.spend",
                actor_member_id=actor.id,
                amount=amount.minor,
                currency=amount.currency,
                channel=channel,
            )


def _features(loaded: data.Loaded, now: datetime) -> Features:
    days_since_last = np.array(
        [np.nan if at is None else max(0.0, (now - at).total_seconds() / 86400) for at in loaded.last_active]
    )
    days_since_join = np.array([max(0.0, (now - at).total_seconds() / 86400) for at in loaded.joined_at])
    scores = engagement_scores(
        days_since_last,
        loaded.active_days_30,
        contribution(loaded.messages, loaded.checkins, loaded.answers, loaded.accepted),
    )
    return Features(
        loaded.member_ids,
        days_since_join,
        days_since_last,
        loaded.active_days_30,
        loaded.orders,
        loaded.monetary,
        scores,
        loaded.top_tier.astype(bool),
    )


def _cohorts(matrix: Any) -> dict[str, Any]:
    return {
        "weeks": [data.week_start(w).date().isoformat() for w in matrix.weeks],
        "sizes": matrix.sizes,
        "rates": matrix.as_rows(),
    }


def _channels(loaded: data.Loaded) -> list[dict[str, Any]]:
    out = []
    for name, mask in (("referral", loaded.referred.astype(bool)), ("direct", ~loaded.referred.astype(bool))):
        members_n = int(mask.sum())
        buyers = int((loaded.orders[mask] > 0).sum())
        out.append(
            {
                "channel": name,
                "members": members_n,
                "buyers": buyers,
                "conversion": round(buyers / members_n, 4) if members_n else 0.0,
                "revenue": int(loaded.monetary[mask].sum()),
            }
        )
    return out


def _forecasts(loaded: data.Loaded, paid: list[Any], now: datetime) -> dict[str, Any]:
    current = data.week_of(now)
    weeks = list(range(current - HISTORY_WEEKS, current))  # complete weeks only
    signups = {w: 0 for w in weeks}
    for joined in loaded.joined_at:
        week = data.week_of(joined)
        if week in signups:
            signups[week] += 1
    sales = {w: 0 for w in weeks}
    for order in paid:
        week = data.week_of(order.paid_at)
        if week in sales:
            sales[week] += 1
    return {
        name: {**asdict(forecast_next([float(v) for v in series.values()])), "history": list(series.values())}
        for name, series in (("signups", signups), ("sales", sales))
    }


def _incentives(loaded: data.Loaded, features: Features) -> Any:
    """Coupon buyers against buyers who paid full price, in the same engagement quartile."""
    buyers = loaded.orders > 0
    if not buyers.any():
        return compare([])
    edges = np.quantile(features.engagement[buyers], [0.25, 0.5, 0.75])
    rows = []
    for i in np.flatnonzero(buyers):
        band = int(np.searchsorted(edges, features.engagement[i], side="right"))
        rows.append((bool(loaded.coupon_orders[i] > 0), str(band), bool(loaded.orders[i] >= 2)))
    return compare(rows)
