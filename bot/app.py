"""The App: everything one running studyhall needs, built from a Config.

No module-level singletons: every test, CLI command and adapter builds or receives an App.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot.adapter_status import AdapterStatus
from bot.config import Config
from bot.handlers import build_router
from core.activity.log import ActivityRecord
from core.catalog.money import Money
from core.clock import Clock, SystemClock
from core.commands.context import Context
from core.commands.router import Router
from core.events import ChatKind, ChatRef, Event, EventKind
from core.i18n import current_locale, msg
from core.members.models import Community, Identity, Member
from core.metrics import Metrics
from core.orders.models import Fulfilment
from core.replies import Reply
from core.services import Services
from core.storage.batching import urgent_writes
from core.storage.database import Database
from core.storage.migrate import ensure_migrated
from core.tracing import mark_error, request_scope
from jobs import build_registry
from jobs.registry import JobRegistry, JobRunner

log = logging.getLogger(__name__)

Sender = Callable[["Outgoing"], Awaitable[bool]]


@dataclass(frozen=True)
class InThread:
    """A thread of a group chat, where a note to a member goes (Reply.place, resolved)."""

    chat: ChatRef
    thread: str
    reply_to: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """One reply with where it goes and in which language to render it.

    ``chat`` set: into that chat.  ``member`` set: privately to that member, through one of
    ``identities`` (the adapter picks one on its own platform, or reports it cannot); with
    ``thread`` set, the adapter of that chat's platform posts it there instead, if it can.
    """

    reply: Reply
    locale: str
    chat: ChatRef | None = None
    member: Member | None = None
    identities: tuple[Identity, ...] = ()
    thread: InThread | None = None


class App:
    def __init__(
        self,
        config: Config,
        db: Database,
        clock: Clock,
        router: Router | None = None,
        jobs: JobRegistry | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self.metrics = Metrics()  # this App's own registry: /metrics serves it
        self.metrics.watch_pool(db.pool_status)
        self.services = Services.build(db, clock, self.metrics)
        self.adapters = AdapterStatus()  # what /readyz reports per adapter
        if config.secret_key is not None:  # the HTTP app serves the dashboard (web/)
            self.services.web_sessions.enable(config.base_url)
        self.router = router or build_router()
        self.jobs = jobs or build_registry()
        self.job_runner = JobRunner(self.jobs, self.services)
        self._senders: list[Sender] = []

    @classmethod
    async def open(cls, config: Config, *, clock: Clock | None = None, check_migrated: bool = True) -> App:
        """Connect to the configured database; refuse an unmigrated one (NotMigrated)."""
        db = Database(config.database_url)
        if check_migrated:
            try:
                await ensure_migrated(db)
            except BaseException:
                await db.dispose()
                raise
        return cls(config, db, clock or SystemClock())

    async def close(self) -> None:
        for provider in list(self.services.orders.providers.values()):
            close = getattr(provider, "close", None)  # a provider's own connections (WeChat Pay)
            if close is not None:
                await close()
        await self.services.close()
        await self.db.dispose()

    async def community(self, name: str | None = None) -> Community:
        return await self.services.members.ensure_community(
            name or self.config.community,
            default_locale=self.config.default_locale,
            timezone=self.config.timezone,
        )

    async def handle(self, event: Event, *, bot_username: str | None = None) -> list[Outgoing]:
        """Handle one inbound event. Never raises: a failure is logged with an id and the
        sender gets a short apology in the same chat."""
        if event.sender.is_bot:
            return []
        if "\x00" in event.text or "\x00" in event.data:
            # No platform sends NUL on purpose, and PostgreSQL cannot store it in text.
            event = replace(event, text=event.text.replace("\x00", ""), data=event.data.replace("\x00", ""))
        # Someone waits for an answer to anything but a plain group message: its writes go first.
        urgent = event.kind is not EventKind.MESSAGE or event.chat.kind is ChatKind.PRIVATE
        token = urgent_writes.set(urgent)
        started = time.perf_counter()
        with request_scope():  # every line logged for this event carries its id
            try:
                return await self._handle(event, bot_username)
            except Exception:
                self.metrics.count_error("event")
                error_id = mark_error()  # the request's id: the operator finds all its lines
                log.exception("event handling failed [error %s] platform=%s", error_id, event.platform)
                apology = msg(
                    "Sorry, something went wrong on our side (error {error_id}). Please try again later.",
                    error_id=error_id,
                )
                return [Outgoing(Reply.text(apology), self.config.default_locale, chat=event.chat)]
            finally:
                urgent_writes.reset(token)
                self.metrics.observe_event(event.platform, event.kind.value, time.perf_counter() - started)

    async def _handle(self, event: Event, bot_username: str | None) -> list[Outgoing]:
        members = self.services.members
        community = await self.community(event.community)
        chat = await members.ensure_chat(community, event.chat)
        member = await members.ensure_member(community, event.sender)
        # The activity row commits with its batch while the command runs.
        # Keyed by the platform's id for the event: one delivered again counts once.
        source = f"{event.platform}:{event.message_id}"[:200] if event.message_id else None
        recorded = self.services.activity.enqueue(
            ActivityRecord(
                community.id, member.id, chat.id, event.timestamp, event.kind, len(event.text), source
            )
        )
        locale = await members.effective_locale(member, community, event.sender.language)
        ctx = Context(event, community, chat, member, locale, self.services, bot_username=bot_username)
        token = current_locale.set(locale)
        try:
            replies = await self.router.dispatch(ctx, bot_username)
        finally:
            current_locale.reset(token)
            await recorded
        notes = await self.pending_notices()  # what the handler's work told others (an /access fix)
        if replies:
            # The handler may have changed the sender's language (/lang): answer in the new one.
            if event.kind in (EventKind.COMMAND, EventKind.MESSAGE, EventKind.BUTTON):
                member = await members.get_member(member.id)
                locale = await members.effective_locale(member, community, event.sender.language)
            notes = [await self._address(reply, event, community, locale) for reply in replies] + notes
        return await self._only_here(notes, event.platform)

    async def _only_here(self, outgoing: list[Outgoing], platform: str) -> list[Outgoing]:
        """What the event's adapter can deliver; a private note to a member with no account on
        ``platform`` (an answer to a question asked on another platform) goes out now through
        the adapters that can reach them, not to an adapter that would drop it."""
        here: list[Outgoing] = []
        elsewhere: list[Outgoing] = []
        for item in outgoing:
            private = item.chat is None and item.member is not None and bool(item.identities)
            if private and all(i.platform != platform for i in item.identities):
                elsewhere.append(item)
            else:
                here.append(item)
        if elsewhere:
            await self.send(elsewhere)
        return here

    async def _address(self, reply: Reply, event: Event, community: Community, locale: str) -> Outgoing:
        if reply.to_member is None:
            return Outgoing(reply, locale, chat=event.chat)
        return await self.deliver_to_member(reply, community)

    async def pay_sandbox(self, community: Community, member: Member) -> list[Outgoing] | None:
        """The console's ``:pay``: complete the member's newest pending sandbox order, or
        else renew their membership that is due (as a member would with their card on file);
        None when nothing is to pay. Returns what the buyer is told."""
        from core.orders.sandbox import NAME as SANDBOX

        order = await self.services.orders.pending(member, SANDBOX)
        if order is None:
            due = await self.services.subscriptions.due_for_renewal(member)
            if not due:
                return None
            order = (await self.services.subscriptions.subscribe(community, member, due[0].plan)).order
            if order is None or order.provider != SANDBOX:
                return None
        return await self.settle_payment(order.id, SANDBOX, f"sandbox:{order.id}", order.amount)

    async def settle_payment(
        self, order_id: int, provider: str, provider_ref: str, paid: Money
    ) -> list[Outgoing]:
        """A provider reports ``order_id`` paid: record it, deliver it, and return what the
        buyer is told (empty when this payment was already handled). Raises PaymentMismatch."""
        fulfilment = await self.services.orders.record_payment(
            order_id, provider=provider, provider_ref=provider_ref, paid=paid
        )
        # With what the delivery told others (a referrer's commission).
        return await self.fulfilment_notices(fulfilment) + await self.pending_notices()

    async def fulfilment_notices(self, fulfilment: Fulfilment) -> list[Outgoing]:
        from bot.handlers.shop import fulfilment_replies

        order = fulfilment.order
        product = await self.services.orders.product_of(order)
        community = await self.services.members.community_by_id(order.community_id)
        return [
            await self.deliver_to_member(reply, community)
            for reply in fulfilment_replies(fulfilment, product)
        ]

    def register_sender(self, send: Sender) -> None:
        """An adapter offers to deliver replies that do not answer one of its own events
        (payments, jobs): ``send`` returns whether it could reach the recipient."""
        self._senders.append(send)

    async def send(self, outgoing: list[Outgoing]) -> None:
        """Deliver each reply through the first adapter that can reach its recipient."""
        for item in outgoing:
            for send in self._senders:
                try:
                    if await send(item):
                        break
                except Exception:
                    log.exception("an adapter failed to deliver a reply")
            else:
                log.warning(
                    "no adapter could deliver a reply to member %s", item.member.id if item.member else "?"
                )

    async def deliver_to_member(self, reply: Reply, community: Community) -> Outgoing:
        """Address a reply with ``to_member`` set, outside any inbound event (jobs, payments)."""
        assert reply.to_member is not None
        members = self.services.members
        target = await members.get_member(reply.to_member)
        identities = tuple(await members.identities_of(target.id))
        thread: InThread | None = None
        via = reply.via
        if reply.place is not None:
            chat = await members.chat_by_id(reply.place.chat_id)
            if any(i.platform == chat.platform for i in identities):  # else privately, anywhere
                where = ChatRef(chat.platform, chat.external_id, chat.kind, chat.title)
                thread = InThread(where, reply.place.thread, reply.place.reply_to)
                via = chat.platform
        chosen = tuple(i for i in identities if i.platform == via)
        return Outgoing(
            reply,
            await members.effective_locale(target, community),
            member=target,
            identities=chosen or identities,  # ``via`` when the member still has an account there
            thread=thread,
        )

    async def run_due_jobs(self) -> list[str]:
        ran = await self.job_runner.run_due(self.clock.now())
        # Orders the jobs delivered (a payment whose webhook never came): tell the buyers.
        for fulfilment in self.services.orders.take_delivered():
            await self.send(await self.fulfilment_notices(fulfilment))
        await self.send(await self.pending_notices())
        return ran

    async def pending_notices(self) -> list[Outgoing]:
        """The notes jobs left for members (reminders, endings), addressed for delivery."""
        outgoing = []
        for community_id, reply in self.services.notices.take():
            community = await self.services.members.community_by_id(community_id)
            outgoing.append(await self.deliver_to_member(reply, community))
        return outgoing
