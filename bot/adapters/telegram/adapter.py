"""The Telegram adapter: a python-telegram-bot Application feeding the App.

Every update goes through one TypeHandler: translated to an Event (inbound.py), handled by
the core, and the replies sent back (outbound.py). Updates run concurrently so a busy
group's messages share the core's group commits; PTB's AIORateLimiter keeps sends within
Telegram's limits (30/s overall, 20/min per group) and waits out 429 ``retry_after``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web
from telegram import (
    Bot,
    ChatMember,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    Update,
)
from telegram import Chat as TgChat
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, BaseUpdateProcessor, ContextTypes, TypeHandler
from telegram.request import BaseRequest

from bot.adapters.telegram.access import TelegramChatAccess
from bot.adapters.telegram.checkout import StarsCheckout
from bot.adapters.telegram.commands import command_menus
from bot.adapters.telegram.identities import (
    ADMINS,
    ANON_PREFIX,
    anonymous_command,
    not_a_person,
    parse_verify,
    verify_data,
)
from bot.adapters.telegram.inbound import PLATFORM, chat_ref, event_from_update
from bot.adapters.telegram.outbound import (
    CallbackData,
    DocumentMessage,
    InvoiceMessage,
    OutboundMessage,
    PhotoMessage,
    TextMessage,
    quietly,
    render_messages,
)
from bot.adapters.telegram.processes import PollingGate, webhook_registrar
from bot.adapters.telegram.ratelimit import PerChatRateLimiter, retry_seconds
from bot.adapters.telegram.rights import rights_report
from bot.adapters.telegram.stars import TelegramStarsProvider
from bot.adapters.telegram.threads import Thread, TopicGone, is_topic_gone, placed_note, thread_of
from bot.app import App, Outgoing
from bot.config import Secret
from bot.http import HttpServer
from bot.startup import Rejected, StartupError, Unavailable
from core.events import Attachment, ChatKind, Event, EventKind
from core.i18n import msg, normalize_locale, render
from core.links import remember_telegram_username
from core.members.models import Role
from core.pushes.delivery import PACES, RateLimited, Unreachable
from core.replies import Button, Reply, ReplyBuilder

log = logging.getLogger(__name__)


class _OneLineMarkReadFailure(logging.Filter):
    """Stopping, python-telegram-bot's updater asks Telegram once more to mark the fetched
    updates read, and logs a failure of that with a traceback (seen in CI when the peer was
    slow to answer). Nothing is lost: an update delivered again is handled once, by its id.
    One line instead; the updater's other records pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("Error while calling `get_updates` one more time"):
            error = record.exc_info[1]
            record.msg = (
                "telegram: could not mark the last updates read while stopping (%s);"
                " any sent again are handled once"
            )
            record.args = (type(error).__name__,)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


logging.getLogger("telegram.ext.Updater").addFilter(_OneLineMarkReadFailure())

# Updates handled at once. More in flight make fuller shared commits, but every answer then
# waits behind a longer queue: bench/ingest.py runs at this figure, and at 256 the p99 of
# /points rose past 50 ms for no more messages a second than at 128.
CONCURRENT_UPDATES = 128
DEFAULT_API_BASE = "https://api.telegram.org"
RETRIES_AFTER_429 = 3
MAX_DOWNLOAD = 20 * 2**20  # the Bot API's getFile limit
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what setWebhook accepts


class InOrderPerSender(BaseUpdateProcessor):
    """Updates run concurrently, except that one person's updates in one chat run in the
    order they came: a command and the next one, or two messages against a cooldown, are
    never swapped; different people in a busy group still share the core's commits."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[tuple[int, int], tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[object]) -> None:
        key = _sender_key(update)
        if key is None:
            await coroutine
            return
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def _sender_key(update: object) -> tuple[int, int] | None:
    if not isinstance(update, Update) or update.effective_user is None:
        return None
    chat = update.effective_chat
    return (chat.id if chat is not None else 0, update.effective_user.id)


class TelegramAdapter:
    pace = PACES[PLATFORM]  # for pushes (core/pushes): 25/s, 1/s per chat

    def __init__(
        self,
        app: App,
        settings: Mapping[str, str | Secret],
        *,
        request: BaseRequest | None = None,
        updates_request: BaseRequest | None = None,
    ) -> None:
        """``request``/``updates_request``: PTB request objects (tests pass their own)."""
        self.app = app
        self.callbacks = CallbackData(app.services.callback_tokens)
        self._secret = ""
        # Webhook calls waiting for their update to be handled, by the Update object's id.
        self._handled: dict[int, asyncio.Future[None]] = {}
        self._registrar = webhook_registrar(app.db)
        self._gate: PollingGate | None = None
        self._poll_interval = 0.0
        token = settings["token"]
        # Pushes from every process on this bot share one pace (a hash: never the token itself).
        self.pace_key = _pace_key(token.reveal() if isinstance(token, Secret) else token)
        api_base = str(settings.get("api_base") or DEFAULT_API_BASE).rstrip("/")
        builder = (
            Application.builder()
            .token(token.reveal() if isinstance(token, Secret) else token)
            .base_url(f"{api_base}/bot")
            .base_file_url(f"{api_base}/file/bot")
            .concurrent_updates(InOrderPerSender(CONCURRENT_UPDATES))
            # A 429 pauses sending in its chat for its retry_after, then the request is tried again.
            .rate_limiter(
                PerChatRateLimiter(
                    max_retries=RETRIES_AFTER_429,
                    on_rate_limited=lambda: app.metrics.count_rate_limited("telegram"),
                )
            )
        )
        if request is not None:
            builder = builder.request(request)
        if updates_request is not None:
            builder = builder.get_updates_request(updates_request)
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        # What the core asks of Telegram: Stars payments, paid-chat operations, and delivering
        # replies that answer no Telegram update (payments, reminders).
        services = app.services
        stars = TelegramStarsProvider(self.bot, services.members, services.plans, services.orders)
        services.orders.register(stars, first=True)
        self.checkout = StarsCheckout(app, self.bot)  # the Stars' pre-checkout and payment updates
        app.services.paid_chats.ports[PLATFORM] = TelegramChatAccess(self.bot, self._chat_moved)
        app.register_sender(self.deliver)
        app.services.pushes.channels[PLATFORM] = self  # pushes: see push()

    @property
    def bot(self) -> Bot:
        return self.application.bot

    # -- lifecycle ------------------------------------------------------------------------

    async def start_polling(self, poll_interval: float = 0.0) -> None:
        """Connect and poll for updates — if no other process on this database polls this bot
        (processes.py): else stand by, still sending. Raises Unavailable while Telegram cannot
        be reached (safe to call again) and Rejected when it refuses the token."""
        async with _connecting():
            await self._open()
        self._poll_interval = poll_interval
        if self._gate is None:
            self._gate = PollingGate(self.app.db, self._begin_polling, self._end_polling)
        await self._gate.open()

    async def _begin_polling(self) -> None:
        assert self.application.updater is not None
        async with _connecting():
            if not self.application.updater.running:
                await self.application.updater.start_polling(
                    poll_interval=self._poll_interval,
                    allowed_updates=Update.ALL_TYPES,
                    drop_pending_updates=False,
                )
        log.info("telegram: polling as @%s", self.bot.username)
        await self.publish_commands()

    async def _end_polling(self) -> None:
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()

    async def _open(self) -> None:
        await self.application.initialize()  # getMe: the token is checked here; a no-op once done
        if not self.application.running:
            await self.application.start()
        if self.bot.username:  # for the web pages' "Open in Telegram" links, in every process
            await remember_telegram_username(self.app.db, self.bot.username)

    async def publish_commands(self) -> None:
        """Set the command menus (best effort: a failure is logged, the bot still runs)."""
        for menu in command_menus(self.app.router):
            try:
                await self.bot.set_my_commands(
                    menu.commands, scope=menu.scope, language_code=menu.language_code or None
                )
            except TelegramError as error:
                log.warning("telegram: setMyCommands failed (%s); the command menu may be stale", error)
                return

    async def start_webhook(self, http: HttpServer, url: str, secret: str) -> None:
        """Receive updates on ``url`` (its path is a route on the project's HTTP app); Telegram
        sends ``secret`` in a header with every update and anything without it is refused."""
        self.install_webhook(http, url, secret)
        await self.connect_webhook(url)

    def install_webhook(self, http: HttpServer, url: str, secret: str) -> None:
        """The webhook's route on ``http``, before the HTTP app starts."""
        if not _SECRET_TOKEN.match(secret):
            raise StartupError("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        self._secret = secret
        http.add_post(urlsplit(url).path or "/", self._on_webhook)

    async def connect_webhook(self, url: str) -> None:
        """Connect and point Telegram's webhook at ``url``: Unavailable or Rejected as
        ``start_polling``."""
        async with _connecting():
            await self._open()
        # One process registers (processes.py); every process serves the route with the same secret.
        if not await self._registrar.try_lead():
            log.info("telegram: another process registered the webhook; this one serves its route")
            return
        async with _connecting():
            await self.bot.set_webhook(url, secret_token=self._secret, allowed_updates=Update.ALL_TYPES)
        log.info("telegram: webhook set for @%s", self.bot.username)
        await self.publish_commands()

    async def _on_webhook(self, request: web.Request) -> web.Response:
        sent = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not self._secret or not hmac.compare_digest(sent.encode(), self._secret.encode()):
            log.warning("telegram: refused a webhook call without the right secret from %s", request.remote)
            return web.Response(status=403)
        if not self.application.running:  # not connected yet: Telegram delivers it again later
            return web.Response(status=503)
        try:
            update = Update.de_json(await request.json(), self.bot)
        except Exception:  # a malformed body: say so, and never let Telegram retry it forever
            log.warning("telegram: skipped a malformed webhook update", exc_info=True)
            return web.Response(status=200)
        # Acknowledged once the core has handled it (its writes committed), not when queued: a
        # process that dies first leaves it unanswered, so Telegram delivers it again (to any
        # process), and its effects are keyed by the message, so they happen once. The replies
        # go out after the answer, so a slow chat never holds up Telegram's connection.
        handled = self._handled[id(update)] = asyncio.get_running_loop().create_future()
        try:
            await self.application.update_queue.put(update)
            await handled
        finally:
            self._handled.pop(id(update), None)
        return web.Response(status=200)

    def _acknowledge(self, update: Update) -> None:
        """The core is done with ``update``: its webhook call may be answered."""
        handled = self._handled.get(id(update))
        if handled is not None and not handled.done():
            handled.set_result(None)

    async def stop(self) -> None:
        if self._gate is not None:
            await self._gate.close()  # stops polling first, then lets another process poll
        await self._registrar.release()
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    # -- inbound ----------------------------------------------------------------------------

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await self._handle_update(update)
        finally:
            self._acknowledge(update)  # also when it failed: a retry would fail the same way

    async def _handle_update(self, update: Update) -> None:
        if update.my_chat_member is not None:
            await self._on_bot_rights(update)
            return
        if update.pre_checkout_query is not None:
            await self.checkout.pre_checkout(update)
            return
        if update.message is not None and update.message.successful_payment is not None:
            await self.checkout.paid(update)
            return
        message = update.message
        if message is not None and (message.migrate_to_chat_id or message.migrate_from_chat_id):
            # Sent in both: the old group (migrate_to) and the new supergroup (migrate_from).
            old = message.migrate_from_chat_id or message.chat.id
            await self._chat_moved(str(old), str(message.migrate_to_chat_id or message.chat.id))
            return
        if message is not None and not_a_person(message):  # a channel's, or an anonymous admin's
            command = anonymous_command(message)
            if command is not None:
                await self._ask_to_verify(message, command)
            return
        event = event_from_update(update, self.app.config.community, self.app.clock.now())
        if event is None:
            return
        if event.kind is EventKind.BUTTON:
            event = await self._unpack_button(update, event)
            if event is None:
                return
            if event.data.startswith(ANON_PREFIX):
                await self._verify(update, event)
                return
        message = update.message
        if event.kind is EventKind.COMMAND and message is not None and message.document is not None:
            event = await self._with_document(message.document, event)
        replies = await self.app.handle(event, bot_username=self.bot.username)
        self._acknowledge(update)
        for outgoing in replies:
            await self.deliver(outgoing, event)

    async def _with_document(self, document: Document, event: Event) -> Event:
        """A file sent with a command (a lesson's slides): downloaded and attached to the event.
        Bots can download up to 20 MB; a failure leaves the command without it."""
        if document.file_size is not None and document.file_size > MAX_DOWNLOAD:
            return event
        try:
            file = await self.bot.get_file(document.file_id)
            data = bytes(await file.download_as_bytearray())
        except TelegramError as error:
            log.warning("telegram: could not download %s: %s", document.file_name, error)
            return event
        return replace(event, attachments=(Attachment(document.file_name or "file", data),))

    async def _on_bot_rights(self, update: Update) -> None:
        """The bot's rights in a group changed: tell every creator what (if anything) to fix."""
        assert update.my_chat_member is not None
        change = update.my_chat_member
        members = self.app.services.members
        community = await self.app.community()
        if change.chat.type in (TgChat.GROUP, TgChat.SUPERGROUP, TgChat.CHANNEL):
            # A channel's posts never reach the bot: this is how it learns of one to bind.
            chat = await members.ensure_chat(community, chat_ref(change.chat))
            gone = change.new_chat_member.status in (ChatMember.LEFT, ChatMember.BANNED)
            await self.app.services.paid_chats.bot_present(chat, not gone)
        lines = rights_report(change)
        if lines is None:
            return
        for creator in await members.members_by_role(community.id, [Role.CREATOR]):
            outgoing = Outgoing(
                Reply.text(*lines),
                await members.effective_locale(creator, community),
                member=creator,
                identities=tuple(await members.identities_of(creator.id)),
            )
            await self.deliver(outgoing)

    async def _unpack_button(self, update: Update, event: Event) -> Event | None:
        query = update.callback_query
        assert query is not None
        data = await self.callbacks.unpack(event.data)
        if data is None:
            notice = msg("This button has expired. Please send the command again.")
            await quietly(query.answer(render(notice, _locale_of(event)), show_alert=True))
            return None
        if not data.startswith(ANON_PREFIX):  # a Verify press is answered once it is checked
            await quietly(query.answer())  # stops the button's spinner
        return replace(event, data=data)

    async def _ask_to_verify(self, message: Message, command: str) -> None:
        """An anonymous admin's command: a Verify button a real admin presses to run it."""
        community = await self.app.community()
        asked = msg(
            "An anonymous admin sent {command}. An admin of this chat can press Verify within a"
            " minute to run it as themselves.",
            command=command.split()[0],
        )
        verify = Button(msg("Verify"), data=verify_data(command, self.app.clock.now()))
        reply = ReplyBuilder().text(asked).buttons((verify,)).build()
        topic = message.message_thread_id if message.is_topic_message else None
        with suppress(TopicGone):
            await self._send(
                str(message.chat.id), reply, community.default_locale, Thread(topic, message.message_id)
            )

    async def _verify(self, update: Update, event: Event) -> None:
        """A Verify press: the command runs as the presser if they are an admin of the chat."""
        query = update.callback_query
        assert query is not None
        locale = _locale_of(event)
        command = parse_verify(event.data, self.app.clock.now())
        if command is None:
            over = msg("This request is over a minute old: send the command again.")
            await quietly(query.answer(render(over, locale), show_alert=True))
            return
        try:
            member = await self.bot.get_chat_member(event.chat.external_id, int(event.sender.external_id))
        except TelegramError:
            member = None
        if member is None or member.status not in ADMINS:
            await quietly(
                query.answer(render(msg("Only an admin of this chat can verify."), locale), show_alert=True)
            )
            return
        await quietly(query.answer())
        run = replace(event, kind=EventKind.COMMAND, text=command, data="", message_id=f"anon:{query.id}")
        for outgoing in await self.app.handle(run, bot_username=self.bot.username):
            await self.deliver(outgoing, run)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: update %s failed", getattr(update, "update_id", "?"), exc_info=context.error)

    # -- outbound ---------------------------------------------------------------------------

    async def deliver(self, outgoing: Outgoing, event: Event | None = None) -> bool:
        """Send one reply; a private one goes to the member's Telegram account. When that is
        impossible (no Telegram account, or they never started the bot) the member is told
        in the chat the event came from, if it was a group. Returns whether it was sent."""
        if outgoing.chat is not None:
            thread = thread_of(event, outgoing.chat.external_id)
            try:
                return await self._send(outgoing.chat.external_id, outgoing.reply, outgoing.locale, thread)
            except TopicGone:  # a closed or deleted topic: the asker gets it privately instead
                assert event is not None
                return await self._send(event.sender.external_id, outgoing.reply, outgoing.locale)
        account = next((i for i in outgoing.identities if i.platform == PLATFORM), None)
        placed = placed_note(outgoing, account.external_id) if account is not None else None
        if placed is not None:  # into the topic it is about; privately when that topic is gone
            with suppress(TopicGone):
                if await self._send(*placed[:2], outgoing.locale, placed[2]):
                    return True
        if account is not None and await self._send(account.external_id, outgoing.reply, outgoing.locale):
            return True
        if event is not None and event.chat.kind is ChatKind.GROUP and outgoing.member is not None:
            notice = msg(
                "{name}, I could not message you privately. Open a chat with @{bot} and press Start.",
                name=outgoing.member.display_name,
                bot=self.bot.username,
            )
            await self._send(event.chat.external_id, Reply.text(notice), outgoing.locale)
        return False

    async def _chat_moved(self, old: str, new: str, *, tell: bool = True) -> None:
        """The group ``old`` is the supergroup ``new`` now: everything of it moves (core), and
        the creators are told (``tell``: now; else the caller sends the notices)."""
        community = await self.app.community()
        moved = await self.app.services.chat_moves.move(community, PLATFORM, old, new)
        if moved is not None:
            log.info("telegram: chat %s became %s (merged: %s)", old, new, moved.merged)
        if tell:
            await self.app.send(await self.app.pending_notices())

    async def _send(self, chat_id: str, reply: Reply, locale: str, thread: Thread | None = None) -> bool:
        """Send ``reply`` to ``chat_id`` (in a group, into ``thread``: the topic, replying to the
        command). Raises TopicGone when that topic is closed or deleted."""
        messages = await self._render(reply, locale)
        try:
            for index, message in enumerate(messages):
                try:
                    await self._send_one(
                        chat_id, message, thread if index == 0 else thread and thread.later()
                    )
                except ChatMigrated as error:  # the group became a supergroup: move, then send there
                    await self._chat_moved(chat_id, str(error.new_chat_id), tell=False)
                    chat_id = str(error.new_chat_id)
                    for rest in messages[index:]:
                        await self._send_one(chat_id, rest)
                    await self.app.send(await self.app.pending_notices())  # after the answer
                    break
        except BadRequest as error:
            if thread is not None and thread.topic_id is not None and is_topic_gone(error):
                raise TopicGone(error.message) from error
            log.info("telegram: cannot send to %s: %s", chat_id, error.message)
            return False
        except Forbidden as error:
            # Blocked, never started, or the chat is gone: the caller decides what to tell.
            log.info("telegram: cannot send to %s: %s", chat_id, error.message)
            return False
        return True

    async def push(self, account: str, reply: Reply, locale: str, key: str) -> str:
        """The push channel (core/pushes): the reply to ``account``'s private chat; returns
        the last message's id. A 429 the rate limiter could not wait out → RateLimited;
        blocked or never started → Unreachable. (Telegram takes no idempotency key.)"""
        last: Message | None = None
        messages = await self._render(reply, locale)
        try:
            for message in messages:
                last = await self._send_one(account, message) or last
        except RetryAfter as error:
            raise RateLimited(retry_seconds(error)) from error
        except Forbidden as error:
            raise Unreachable("blocked") from error
        except BadRequest as error:
            log.info("telegram: cannot push to %s: %s", account, error.message)
            raise Unreachable("dms_closed") from error
        return str(last.message_id) if last is not None else ""

    async def _render(self, reply: Reply, locale: str) -> list[OutboundMessage]:
        """The reply's messages, with their buttons' long data stored for every process."""
        messages = render_messages(reply, locale, self.callbacks)
        await self.callbacks.save()
        return messages

    async def _send_one(
        self, chat_id: str, message: OutboundMessage, thread: Thread | None = None
    ) -> Message | None:
        where = thread.send_options() if thread is not None else {}
        if isinstance(message, TextMessage):
            return await self.bot.send_message(
                chat_id,
                message.html,
                parse_mode=ParseMode.HTML,
                reply_markup=message.keyboard,
                disable_web_page_preview=True,
                **where,
            )
        elif isinstance(message, PhotoMessage):
            return await self.bot.send_photo(
                chat_id, message.png, caption=message.caption_html or None, parse_mode=ParseMode.HTML, **where
            )
        elif isinstance(message, InvoiceMessage) and message.every_days:
            link = await self.bot.create_invoice_link(
                title=message.title,
                description=message.description,
                payload=message.payload,
                currency=message.currency,
                prices=[LabeledPrice(message.title, message.amount)],
                subscription_period=timedelta(days=message.every_days),
            )
            return await self.bot.send_message(
                chat_id,
                message.button_html,
                parse_mode=ParseMode.HTML,
                reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton(message.button_label, url=link)]]),
                **where,
            )
        elif isinstance(message, InvoiceMessage):
            return await self.bot.send_invoice(
                chat_id,
                title=message.title,
                description=message.description,
                payload=message.payload,
                currency=message.currency,
                prices=[LabeledPrice(message.title, message.amount)],
                provider_token="",
                **where,
            )
        elif isinstance(message, DocumentMessage):
            return await self.bot.send_document(
                chat_id,
                message.data,
                filename=message.name,
                caption=message.caption_html or None,
                parse_mode=ParseMode.HTML,
                **where,
            )
        return None


def _pace_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _locale_of(event: Event) -> str:
    return normalize_locale(event.sender.language or "en")


@asynccontextmanager
async def _connecting() -> AsyncIterator[None]:
    """Telegram's errors while connecting, as the two kinds the start-up retry knows."""
    try:
        yield
    except (InvalidToken, Forbidden) as error:  # 401/404 on getMe: the token; 403
        # Bot.initialize re-raises InvalidToken with the token in its text: say only what
        # Telegram answered (the error it wraps).
        answer = error.__cause__ if isinstance(error.__cause__, TelegramError) else error
        raise Rejected(
            f"telegram: Telegram rejected the token ({answer.message}); check TELEGRAM_TOKEN"
            " (and TELEGRAM_API_BASE, if set)"
        ) from None
    except BadRequest as error:  # a setting Telegram refuses, e.g. setWebhook without https
        raise Rejected(f"telegram: Telegram refused the set-up: {error.message}") from None
    except TelegramError as error:  # NetworkError (DNS, refused, timeout, 5xx), RetryAfter, …
        raise Unavailable(error.message) from None
