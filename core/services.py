"""The bundle of core services handed to handlers and jobs (built by bot.app.App)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.access.chat_choices import ChatChoices
from core.access.paid_chats import PaidChatService
from core.access.plans import PlanService
from core.access.subscriptions import SubscriptionService
from core.activity.log import ActivityLog
from core.analytics.service import AnalyticsService
from core.catalog.coupons import CouponService
from core.catalog.learning import LearningService
from core.catalog.mall import MallService
from core.catalog.reviews import ReviewService
from core.catalog.service import CatalogService
from core.channels.service import ChannelService
from core.clock import Clock
from core.delivery.callback_tokens import CallbackTokens
from core.delivery.outside import WindowFallbacks
from core.delivery.service import DeliveryService
from core.delivery.templates import NoticeTemplates
from core.feedback.nps import NpsService
from core.feedback.service import FeedbackService
from core.ledger.points import PointsService
from core.ledger.service import Ledger
from core.members.chat_moves import ChatMoves
from core.members.service import MemberService
from core.metrics import Metrics
from core.notices import Notices
from core.orders.sandbox import SandboxProvider
from core.orders.service import OrderService
from core.privacy.service import PrivacyService
from core.pushes.service import PushService
from core.qa.service import QAService
from core.recommend.service import RecommendService
from core.referrals.commissions import CommissionService
from core.referrals.service import ReferralService
from core.settings.service import SettingsService
from core.storage.batching import GroupCommit
from core.storage.database import Database
from core.web_sessions.service import WebSessionService


@dataclass
class Services:
    db: Database
    clock: Clock
    members: MemberService
    activity: ActivityLog
    settings: SettingsService
    ledger: Ledger
    points: PointsService
    catalog: CatalogService
    learning: LearningService
    coupons: CouponService
    mall: MallService
    reviews: ReviewService
    plans: PlanService
    subscriptions: SubscriptionService
    notices: Notices
    paid_chats: PaidChatService
    chat_choices: ChatChoices  # the chat a creator names to bind: @handle or a forwarded post
    orders: OrderService
    referrals: ReferralService
    commissions: CommissionService
    qa: QAService
    delivery: DeliveryService
    templates: NoticeTemplates  # transactional notices by template outside a send window
    fallbacks: WindowFallbacks  # consents for one message outside it, and what went that way
    callback_tokens: CallbackTokens  # long button data behind short tokens
    analytics: AnalyticsService
    channels: ChannelService  # tagged entry links and first/last-touch attribution
    privacy: PrivacyService
    pushes: PushService
    chat_moves: ChatMoves  # a chat's new id on its platform (a Telegram group become a supergroup)
    recommend: RecommendService  # course recommendations (core/recommend)
    feedback: FeedbackService
    nps: NpsService
    web_sessions: WebSessionService
    metrics: Metrics  # this App's Prometheus registry (core/metrics.py)

    @classmethod
    def build(cls, db: Database, clock: Clock, metrics: Metrics | None = None) -> Services:
        metrics = metrics or Metrics()
        # One writer for the whole database: an event's activity row and its points commit
        # in the same transaction, and first contacts join the batches (SQLite has a single
        # writer anyway: a second connection writing would wait on its lock).
        writer: GroupCommit[Any, Any] = GroupCommit(db, name="writer")
        members = MemberService(db, clock, writer)
        settings = SettingsService(db, clock)
        ledger = Ledger(db, writer, metrics)
        points = PointsService(db, clock, ledger, settings, members)
        catalog = CatalogService(db, clock)
        coupons = CouponService(db, clock)
        # Providers: the sandbox until real ones are configured (Stripe, Stars: issue 5).
        orders = OrderService(db, clock, catalog, coupons, points, members, settings, [SandboxProvider()])
        notices = Notices()
        catalog.review_on = lambda community_id: settings.get(community_id, "content.review")
        catalog.notify = notices.add
        plans = PlanService(db, clock, points)
        subscriptions = SubscriptionService(db, clock, plans, orders, notices, points, settings)
        referrals = ReferralService(db, clock, members, points, settings, orders, notices)
        analytics = AnalyticsService(db, clock, members)
        pushes = PushService(db, clock, members, settings, analytics)
        pushes.metrics = metrics
        recommend = RecommendService(db, clock)
        pushes.recommend = recommend  # the `recommended` segment and its {course}
        chat_moves = ChatMoves(db, clock, notices)
        chat_moves.forget.append(members.forget_chat)
        paid_chats = PaidChatService(db, clock, members, catalog, plans, subscriptions, points, notices)
        return cls(
            db=db,
            clock=clock,
            members=members,
            activity=ActivityLog(db, writer),
            settings=settings,
            ledger=ledger,
            points=points,
            catalog=catalog,
            learning=LearningService(db, clock, catalog, points),
            coupons=coupons,
            mall=MallService(db, clock, ledger, catalog, coupons),
            reviews=ReviewService(db, clock, catalog),
            plans=plans,
            subscriptions=subscriptions,
            notices=notices,
            paid_chats=paid_chats,
            chat_choices=ChatChoices(db, clock, members, paid_chats),
            orders=orders,
            referrals=referrals,
            commissions=CommissionService(
                db, clock, members, catalog, plans, settings, referrals, orders, notices
            ),
            qa=QAService(db, clock, members, points, settings, notices),
            delivery=DeliveryService(db, clock),
            templates=NoticeTemplates(db, clock),
            fallbacks=WindowFallbacks(db, clock),
            callback_tokens=CallbackTokens(db, clock),
            analytics=analytics,
            channels=ChannelService(db, clock, catalog, referrals),
            privacy=PrivacyService(db, clock, members, points),
            pushes=pushes,
            chat_moves=chat_moves,
            recommend=recommend,
            feedback=FeedbackService(db, clock, members, notices),
            nps=NpsService(db, clock, pushes),
            web_sessions=WebSessionService(db, clock, members),
            metrics=metrics,
        )

    async def close(self) -> None:
        """Flush the writers (nothing queued is lost)."""
        await self.activity.close()
        await self.ledger.close()
