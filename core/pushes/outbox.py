"""The push outbox: claiming due rows and sending them at the platforms' pace.

The outbox has one row per recipient (unique per campaign and member), made when the push is
confirmed; a recipient who is muted or has no account anywhere gets a ``skipped`` row with the
reason. Sending claims rows under a lease (``sending``, ``claim_token``, ``claimed_at``) — on
PostgreSQL with ``FOR UPDATE SKIP LOCKED`` so several workers take disjoint rows, on SQLite
inside the single writer's ``BEGIN IMMEDIATE`` — and marks a row ``sent`` (with the
platform's message id) only after the platform accepted the message, by a conditional update
that only the lease holder can make.

The delivery guarantee: every recipient is sent to, and no row is held by two workers at once
(unless one stalls past its lease, ``lease``, 2 minutes; its late result is then ignored and
counted in ``lost_leases``). A worker that dies leaves its claimed rows ``sending``; once the
lease expires another worker claims them again — on PostgreSQL at once: each worker holds an
advisory lock named after its claim token while it runs, the lock goes with a dead process's
connection, and a claimer takes over the rows of any token whose lock nobody holds. Rows
claimed but not yet handed to the platform cost nothing; the only messages a crash can repeat
are those the platform accepted while their result was not yet recorded: sends in flight and
results waiting for their group commit together never exceed ``window`` (32) per worker.
Each send carries a key unique per campaign and member, so a platform or gateway that
deduplicates by it makes the repeat harmless: exactly once per member. Telegram, Discord and
WeChat take no such key, so there a crash may repeat up to ``window`` messages, never more,
and never loses one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.activity.tables import activity
from core.clock import Clock
from core.feedback.survey import SURVEY_KIND, survey_reply
from core.i18n import Msg
from core.members.service import MemberService
from core.members.tables import chats
from core.metrics import Metrics
from core.pushes.automations import AUTOMATIONS, DEFAULT_TEXTS, WELCOME_STEPS
from core.pushes.campaigns import LIVE, Campaign, _campaign
from core.pushes.delivery import DEFAULT_PACE, PACES, PushChannel, RateLimited, Unreachable
from core.pushes.pacing import Pacer, Pacing
from core.pushes.recommended import Recommender, pick_courses, with_course
from core.pushes.schedule import is_quiet
from core.pushes.shared_pacing import SharedPacer
from core.pushes.tables import push_automation_texts, push_campaigns, push_mutes, push_outbox
from core.replies import Reply
from core.settings.service import SettingsService
from core.storage.database import Database
from core.storage.types import UTCDateTime

if TYPE_CHECKING:
    from core.catalog.models import Course

log = logging.getLogger(__name__)

WECHAT_WINDOW = timedelta(hours=48)  # customer-service messages only this long after a message
WECHAT_MAX_IN_WINDOW = 5
MAX_ATTEMPTS = 3  # failed sends (errors, not 429s) before a row is given up
MAX_RATE_RETRIES = 20  # 429s in a row for one message before it waits for a later run
WORKER_LOCKS = 0x5055_5348  # "PUSH": the advisory-lock space (first key) of live push workers


def worker_lock_key(token: str) -> int:
    """The second key of the advisory lock a worker holding ``token`` keeps (a signed int4)."""
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "big", signed=True)


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0  # errors that will be tried again
    throttled: int = 0  # 429s answered
    lost_leases: int = 0  # results another worker had already taken over

    def add(self, other: SendReport) -> None:
        for name in ("sent", "skipped", "failed", "retried", "throttled", "lost_leases"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class _Row:
    id: int
    campaign_id: int
    community_id: int
    member_id: int
    variant: str
    platform: str
    account: str
    locale: str
    attempts: int


@dataclass(frozen=True)
class _Result:
    row: _Row
    status: str  # sent, skipped, retry, failed, release
    reason: str | None = None
    message_id: str = ""
    held: bool = False  # counted against the send window until recorded


@dataclass
class _Pipeline:
    """One platform's sending within one ``send_due`` call."""

    platform: str
    channel: PushChannel
    pacer: Pacing
    token: str
    campaigns: dict[int, Campaign]
    texts: dict[tuple[int, str], str]
    names: dict[int, str]  # community names, for the automations' default texts
    deadline: float | None
    report: SendReport = field(default_factory=SendReport)
    results: list[_Result] = field(default_factory=list)
    picks: dict[tuple[int, int], Course] = field(default_factory=dict)  # `recommended`: the course


class PushOutbox:
    """PushService's sending (core/pushes/service.py puts the parts together)."""

    _db: Database
    _clock: Clock
    _members: MemberService
    _settings: SettingsService
    _pacers: dict[str, Pacing]
    channels: dict[str, PushChannel]
    lease: timedelta
    batch: int
    concurrency: int
    window: int
    metrics: Metrics | None = None  # set by Services.build
    recommend: Recommender | None

    # -- sending -------------------------------------------------------------------------------

    async def send_due(self, now: datetime | None = None, *, budget: float | None = None) -> SendReport:
        """Send what is due (campaigns whose time has come, outside their community's quiet
        hours) through the registered channels, each platform at its own pace, until nothing
        is left or ``budget`` seconds have passed. Safe to run in several processes at once."""
        now = now or self._clock.now()
        report = SendReport()
        campaigns = await self._due_campaigns(now)
        if not campaigns:
            return report
        loop = asyncio.get_running_loop()
        deadline = None if budget is None else loop.time() + budget
        texts = await self._texts(campaigns.values())
        names = {
            c.community_id: (await self._members.community_by_id(c.community_id)).name
            for c in campaigns.values()
        }
        pipelines = [
            _Pipeline(
                platform,
                channel,
                self._pacer(platform, channel),
                uuid.uuid4().hex,
                campaigns,
                texts,
                names,
                deadline,
            )
            for platform, channel in self.channels.items()
        ]
        await asyncio.gather(*(self._run(p) for p in pipelines))
        for pipeline in pipelines:
            report.add(pipeline.report)
            self._count(pipeline)
        await self._finish(campaigns)
        return report

    def _count(self, p: _Pipeline) -> None:
        if self.metrics is not None:
            r = p.report
            self.metrics.observe_pushes(p.platform, r.sent, r.skipped, r.failed, r.retried)
            self.metrics.count_rate_limited(p.platform, r.throttled)

    async def outbox_depth(self) -> dict[str, int]:
        """Messages waiting to go out (pending or being sent), by platform."""
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(push_outbox.c.platform, func.count())
                .where(push_outbox.c.status.in_(("pending", "sending")))
                .group_by(push_outbox.c.platform)
            )
            return {platform: count for platform, count in rows.all()}

    def _pacer(self, platform: str, channel: PushChannel) -> Pacing:
        """The platform's pacer: in memory on SQLite (one process sends); on PostgreSQL one
        whose bucket every process sending on this bot shares, keyed by the channel's
        ``pace_key`` (a hash of the bot's token)."""
        pacer = self._pacers.get(platform)
        pace = getattr(channel, "pace", None) or PACES.get(platform, DEFAULT_PACE)
        if pacer is None or pacer.pace != pace:
            if self._db.dialect == "postgresql":
                bot = getattr(channel, "pace_key", "") or "default"
                pacer = SharedPacer(self._db, platform, bot, pace)
            else:
                pacer = Pacer(pace)
            self._pacers[platform] = pacer
        return pacer

    async def _due_campaigns(self, now: datetime) -> dict[int, Campaign]:
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    select(push_campaigns).where(
                        push_campaigns.c.status.in_(LIVE), push_campaigns.c.send_at <= now
                    )
                )
            ).all()
        due: dict[int, Campaign] = {}
        quiet: dict[int, bool] = {}
        for row in rows:
            if row.community_id not in quiet:
                community = await self._members.community_by_id(row.community_id)
                settings = await self._settings.all(community.id)
                quiet[row.community_id] = is_quiet(
                    now, community.timezone, settings["push.quiet_start"], settings["push.quiet_end"]
                )
            if not quiet[row.community_id]:
                due[row.id] = _campaign(row)
        return due

    async def _texts(self, campaigns: Iterable[Campaign]) -> dict[tuple[int, str], str]:
        """Creators' own automation texts, by (community, kind)."""
        wanted = {c.community_id for c in campaigns if c.kind in AUTOMATIONS}
        if not wanted:
            return {}
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(push_automation_texts).where(push_automation_texts.c.community_id.in_(wanted))
            )
            return {(r.community_id, r.kind): r.text for r in rows}

    async def _run(self, p: _Pipeline) -> None:
        """Claim, send, record: a claimer keeps a queue of leased rows, ``concurrency`` senders
        pace them out, a recorder commits results as they come (group commit)."""
        queue: asyncio.Queue[_Row | None] = asyncio.Queue(maxsize=self.batch)
        wake = asyncio.Event()
        sending_done = asyncio.Event()
        window = asyncio.Semaphore(self.window)
        loop = asyncio.get_running_loop()

        def expired() -> bool:
            return p.deadline is not None and loop.time() >= p.deadline

        async def claimer() -> None:
            try:
                while not expired():
                    rows, early = await self._claim(p, self.batch)
                    p.results.extend(early)
                    if early:
                        wake.set()
                    if not rows and not early:
                        break
                    for row in rows:
                        await queue.put(row)
            finally:
                for _ in range(self.concurrency):
                    await queue.put(None)

        async def sender() -> None:
            while (row := await queue.get()) is not None:
                if expired():
                    p.results.append(_Result(row, "release"))
                else:
                    p.results.append(await self._deliver(p, row, window))
                wake.set()

        async def recorder() -> None:
            while True:
                await wake.wait()
                wake.clear()
                while p.results:
                    taken, p.results[:] = p.results[: self.window], p.results[self.window :]
                    try:
                        await self._record(p, taken)
                    finally:
                        for result in taken:
                            if result.held:
                                window.release()
                if sending_done.is_set() and not p.results:
                    return

        async with self._alive(p.token):
            recording = asyncio.create_task(recorder())
            try:
                await asyncio.gather(claimer(), *(sender() for _ in range(self.concurrency)))
            finally:
                sending_done.set()
                wake.set()
                await recording

    @asynccontextmanager
    async def _alive(self, token: str) -> AsyncIterator[None]:
        """On PostgreSQL: hold the advisory lock named after ``token`` while this worker runs,
        on a connection of its own. If the process dies the connection closes and the lock
        goes with it: other workers then take its rows over without waiting for the lease."""
        if self._db.dialect != "postgresql":
            yield
            return
        keys = {"space": WORKER_LOCKS, "key": worker_lock_key(token)}
        conn = await self._db.engine.connect()
        try:
            await conn.execute(text("SELECT pg_advisory_lock(:space, :key)"), keys)
            await conn.commit()
            yield
        finally:
            with suppress(Exception):  # a broken connection has lost the lock anyway
                await conn.execute(text("SELECT pg_advisory_unlock(:space, :key)"), keys)
                await conn.commit()
            await conn.close()

    async def _orphaned(self, conn: AsyncConnection, p: _Pipeline) -> list[str]:
        """Claim tokens of rows being sent whose worker is gone (PostgreSQL): nobody holds
        their lock (tried for this transaction only)."""
        t = push_outbox.c
        tokens = (
            await conn.execute(
                select(t.claim_token)
                .where(
                    t.campaign_id.in_(list(p.campaigns)),
                    t.platform == p.platform,
                    t.status == "sending",
                    t.claim_token != p.token,
                )
                .distinct()
            )
        ).scalars()
        candidates = list(tokens)
        if not candidates:
            return []
        free = await conn.execute(  # every token's lock tried in one round trip
            text(
                "SELECT t FROM unnest(CAST(:tokens AS TEXT[]), CAST(:keys AS INTEGER[])) AS u(t, k)"
                " WHERE pg_try_advisory_xact_lock(:space, k)"
            ),
            {"tokens": candidates, "keys": [worker_lock_key(t) for t in candidates], "space": WORKER_LOCKS},
        )
        return list(free.scalars())

    async def _claim(self, p: _Pipeline, limit: int) -> tuple[list[_Row], list[_Result]]:
        """Lease up to ``limit`` due rows of this platform: pending ones, and ones whose lease
        ran out (their worker died). Returns the rows to send and those decided at once
        (muted since, outside WeChat's window)."""
        now = self._clock.now()
        t = push_outbox.c
        async with self._db.write() as conn:
            orphaned = await self._orphaned(conn, p) if self._db.dialect == "postgresql" else []
            claimable = and_(
                t.campaign_id.in_(list(p.campaigns)),
                t.platform == p.platform,
                or_(
                    and_(t.status == "pending", or_(t.not_before.is_(None), t.not_before <= now)),
                    and_(
                        t.status == "sending",
                        or_(t.claimed_at < now - self.lease, t.claim_token.in_(orphaned)),
                    ),
                ),
            )
            ids = select(t.id).where(claimable).order_by(t.id).limit(limit)
            if self._db.dialect == "postgresql":
                # Several workers: each takes rows no other holds, without waiting for them.
                ids = ids.with_for_update(skip_locked=True)
            chosen = list((await conn.execute(ids)).scalars())
            if not chosen:
                return [], []
            claimed = (
                await conn.execute(
                    update(push_outbox)
                    .where(t.id.in_(chosen), claimable)
                    .values(status="sending", claim_token=p.token, claimed_at=now, attempts=t.attempts + 1)
                    .returning(
                        t.id,
                        t.campaign_id,
                        t.community_id,
                        t.member_id,
                        t.variant,
                        t.platform,
                        t.account,
                        t.locale,
                        t.attempts,
                    )
                )
            ).all()
            rows = sorted((_Row(*r) for r in claimed), key=lambda r: r.id)
            member_ids = [r.member_id for r in rows]
            muted = set(
                (
                    await conn.execute(
                        select(push_mutes.c.member_id).where(push_mutes.c.member_id.in_(member_ids))
                    )
                ).scalars()
            )
            closed = await self._outside_wechat_window(conn, rows, now) if p.platform == "wechat" else set()
        early = [_Result(r, "skipped", "muted") for r in rows if r.member_id in muted]
        early += [_Result(r, "skipped", "wechat_window") for r in rows if r.member_id in closed - muted]
        decided = {result.row.id for result in early}
        undecided = [r for r in rows if r.id not in decided]
        missing = await pick_courses(
            self.recommend, self._members.community_by_id, p.campaigns, undecided, p.picks
        )
        early += [_Result(r, "skipped", "no_pick") for r in missing]
        decided |= {r.id for r in missing}
        return [r for r in rows if r.id not in decided], early

    async def _outside_wechat_window(
        self, conn: AsyncConnection, rows: Sequence[_Row], now: datetime
    ) -> set[int]:
        """Members WeChat will not let us message now: no message from them in 48 hours, or
        already 5 messages since their last one."""
        member_ids = [r.member_id for r in rows]
        last = dict(
            (
                await conn.execute(
                    select(activity.c.member_id, func.max(activity.c.at))
                    .join(chats, chats.c.id == activity.c.chat_id)
                    .where(activity.c.member_id.in_(member_ids), chats.c.platform == "wechat")
                    .group_by(activity.c.member_id)
                )
            ).all()
        )
        closed = set()
        for member_id in member_ids:
            spoke = last.get(member_id)
            if spoke is None or spoke < now - WECHAT_WINDOW:
                closed.add(member_id)
                continue
            since = (
                await conn.execute(
                    select(func.count()).where(
                        push_outbox.c.member_id == member_id,
                        push_outbox.c.platform == "wechat",
                        push_outbox.c.status == "sent",
                        push_outbox.c.sent_at > spoke,
                    )
                )
            ).scalar_one()
            if since >= WECHAT_MAX_IN_WINDOW:
                closed.add(member_id)
        return closed

    async def _deliver(self, p: _Pipeline, row: _Row, window: asyncio.Semaphore) -> _Result:
        """Send one row. Its result holds a slot of ``window`` (taken once it may go out) until
        it is committed: after a crash at most ``window`` messages went out unrecorded."""
        campaign = p.campaigns[row.campaign_id]
        if campaign.kind == SURVEY_KIND:  # an NPS survey: its question with 0-10 buttons
            reply = survey_reply(campaign.id, p.names.get(campaign.community_id, ""), campaign.text_a)
        else:
            reply = Reply.text(self._text(p, campaign, row))
        key = f"push:{row.campaign_id}:{row.member_id}"
        await p.pacer.wait(row.account)
        await window.acquire()
        result = await self._attempt(p, row, reply, key)
        return replace(result, held=True)

    async def _attempt(self, p: _Pipeline, row: _Row, reply: Reply, key: str) -> _Result:
        for attempt in range(MAX_RATE_RETRIES):
            if attempt:
                await p.pacer.wait(row.account)
            try:
                message_id = await p.channel.push(row.account, reply, row.locale, key)
            except RateLimited as error:
                p.pacer.pause(error.retry_after)
                p.report.throttled += 1
                continue
            except Unreachable as error:
                return _Result(row, "skipped", error.reason)
            except Exception as error:
                log.warning("push %s to member %s failed: %r", row.campaign_id, row.member_id, error)
                return _Result(row, "retry" if row.attempts < MAX_ATTEMPTS else "failed", "error")
            return _Result(row, "sent", message_id=str(message_id or "")[:100])
        return _Result(row, "release")  # still rate-limited: a later run takes it

    def _text(self, p: _Pipeline, campaign: Campaign, row: _Row) -> str | Msg:
        course = p.picks.get((row.campaign_id, row.member_id))
        pick = course.title if course is not None else None
        if row.variant == "b" and campaign.text_b is not None:
            return with_course(campaign.text_b, pick)
        if campaign.text_a is not None:
            return with_course(campaign.text_a, pick)
        own = p.texts.get((campaign.community_id, campaign.kind))
        if own is not None:
            return own
        default = DEFAULT_TEXTS[campaign.kind]
        return Msg(default.text, {**default.params, "community": p.names.get(campaign.community_id, "")})

    async def _record(self, p: _Pipeline, results: list[_Result]) -> None:
        """Commit results; each only while this worker still holds the row's lease."""
        now = self._clock.now()
        t = push_outbox.c
        mine = and_(t.id == bindparam("rid"), t.claim_token == p.token, t.status == "sending")
        by_status: dict[str, list[dict[str, Any]]] = {}
        for result in results:
            course = p.picks.get((result.row.campaign_id, result.row.member_id))
            by_status.setdefault(result.status, []).append(
                {
                    "rid": result.row.id,
                    "why": result.reason,
                    "mid": result.message_id or None,
                    "sub": course.id if course is not None else None,
                }
            )
        statements = {
            "sent": update(push_outbox)
            .where(mine)
            .values(
                status="sent",
                sent_at=bindparam("at", type_=UTCDateTime),
                message_id=bindparam("mid"),
                subject=bindparam("sub"),
                reason=None,
            ),
            "skipped": update(push_outbox).where(mine).values(status="skipped", reason=bindparam("why")),
            "failed": update(push_outbox).where(mine).values(status="failed", reason=bindparam("why")),
            "retry": update(push_outbox)
            .where(mine)
            .values(
                status="pending",
                claim_token=None,
                reason=bindparam("why"),
                not_before=bindparam("at", type_=UTCDateTime),
            ),
            "release": update(push_outbox)
            .where(mine)
            .values(status="pending", claim_token=None, attempts=t.attempts - 1),
        }
        async with self._db.write() as conn:
            for status, params in by_status.items():
                at = now if status == "sent" else now + timedelta(minutes=1)
                for item in params:
                    item["at"] = at
                done = await conn.execute(statements[status], params)
                if done.rowcount is not None and 0 <= done.rowcount < len(params):
                    p.report.lost_leases += len(params) - done.rowcount
                    log.warning(
                        "push: %d results came after their lease ran out", len(params) - done.rowcount
                    )
        counted = Counter(r.status for r in results)
        p.report.sent += counted["sent"]
        p.report.skipped += counted["skipped"]
        p.report.failed += counted["failed"]
        p.report.retried += counted["retry"]

    async def _finish(self, campaigns: dict[int, Campaign]) -> None:
        """Pushes with nothing left to send are done (welcome steps stand open)."""
        ids = [c.id for c in campaigns.values() if c.kind not in WELCOME_STEPS]
        if not ids:
            return
        async with self._db.write() as conn:
            open_ids = set(
                (
                    await conn.execute(
                        select(push_outbox.c.campaign_id)
                        .where(
                            push_outbox.c.campaign_id.in_(ids),
                            push_outbox.c.status.in_(("pending", "sending")),
                        )
                        .distinct()
                    )
                ).scalars()
            )
            finished = [i for i in ids if i not in open_ids]
            if finished:
                await conn.execute(
                    update(push_campaigns)
                    .where(push_campaigns.c.id.in_(finished), push_campaigns.c.status.in_(LIVE))
                    .values(status="done", finished_at=self._clock.now())
                )
            started = [i for i in ids if i in open_ids and campaigns[i].status == "scheduled"]
            if started:
                await conn.execute(
                    update(push_campaigns)
                    .where(push_campaigns.c.id.in_(started), push_campaigns.c.status == "scheduled")
                    .values(status="sending")
                )
