"""The WeChat Official Account adapter: the callback on the project's HTTP app, the 5-second
rule, and customer-service messages within WeChat's send window.

Inbound. WeChat POSTs each message or event to the callback (``WECHAT_PATH``, default
``/wechat``) and waits 5 seconds for an answer; without one it retries, three times in all.
Each request is checked (callback.py), parsed (inbound.py) and deduplicated: a message id (or,
for events, FromUserName + CreateTime) is handled once. A retry that comes while the first is
still being handled joins it and never runs the handler again; one that comes later, or
reaches another process, finds the key in the database and is answered ``success``. A body
that is not a WeChat message (bad XML, a field not of its type) is answered 400 ``malformed
message`` in one log line; a failure of ours before the message is taken (the database down)
answers 500, so WeChat tries again.

The 5-second rule. When the core answers within ``passive_seconds`` (4 s), the first text
goes back as the passive reply (to the newest request still waiting, since WeChat gave up on
the older ones); otherwise the request is answered ``success`` and the answer follows as
customer-service messages when it is ready. The rest of a long answer (a second text, an
image, a QR code) also goes as customer-service messages.

Outbound. Customer-service messages are counted against the follower's window (core/delivery:
5 in the 48 hours after a message, 3 in the minute after a click, follow or scan, any number
in the 48 hours after a payment); what cannot be sent is recorded as skipped with the reason.
The adapter also delivers what answers no WeChat event (payment notices, job notes) to members
with a WeChat identity, under the same rules.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

from aiohttp import web
from wechatpy.replies import TextReply

from bot.adapters.wechat.api import CREDENTIAL_ERRORS, IP_NOT_WHITELISTED, WeChatApi, WeChatApiError
from bot.adapters.wechat.callback import CallbackVerifier, Refused
from bot.adapters.wechat.inbound import (
    DEFAULT_LANGUAGE,
    PLATFORM,
    Inbound,
    MalformedMessage,
    parse,
    to_event,
    user_ref,
)
from bot.adapters.wechat.outbound import (
    MAX_TEXT_BYTES,
    WxImage,
    WxMessage,
    WxQr,
    WxText,
    consent_links,
    render_reply,
)
from bot.adapters.wechat.outside import WINDOW_REASONS, OutsideWindow
from bot.app import App, Outgoing
from bot.config import Secret
from bot.http import HttpServer
from bot.startup import Rejected, Unavailable
from core.delivery.service import DeliveryService, SkipReason
from core.events import Event, EventKind
from core.i18n import msg, render
from core.links import remember_wechat_qr, wechat_qr
from core.orders.models import Order
from core.pushes.delivery import PACES, Unreachable
from core.replies import Notice, Reply
from core.storage.state import get_state, set_state

log = logging.getLogger(__name__)

DEFAULT_PATH = "/wechat"
PASSIVE_SECONDS = 4.0  # WeChat waits 5 s; leave a second for the network
SUCCESS = "success"  # "received; nothing to say now" (no retry)
MEDIA_REUSE = timedelta(days=2)  # temporary media lives 3 days
WEB_SCENE = "web"  # the scene of the QR code course pages show
QR_STATE = "wechat.qr:"  # app_state: a permanent QR code's ticket, per scene
QR_MEDIA_STATE = "wechat.qr_media:"  # app_state: "media_id uploaded_at" of its image
MAX_QR_DAYS = 30  # WeChat's limit for a temporary QR code
FORGET_EVERY_SECONDS = 3600.0  # old dedup keys and nonces are deleted at most this often
IDLE_WAIT_SECONDS = 30.0  # how long stopping waits for messages being handled


@dataclass
class _InFlight:
    """One inbound message being handled, and the requests (the first and WeChat's retries)
    waiting for its passive reply."""

    waiters: list[asyncio.Future[str]] = field(default_factory=list)

    def newest_waiter(self) -> asyncio.Future[str] | None:
        while self.waiters:
            waiter = self.waiters.pop()
            if not waiter.done():
                return waiter
        return None

    def release(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(SUCCESS)
        self.waiters.clear()


def _reveal(value: str | Secret | None) -> str | None:
    return value.reveal() if isinstance(value, Secret) else value


class WeChatAdapter:
    pace = PACES[PLATFORM]  # for pushes (core/pushes); the 48-hour window is checked per send

    def __init__(
        self,
        app: App,
        settings: Mapping[str, str | Secret],
        *,
        api: WeChatApi | None = None,
        now: Callable[[], float] = time.time,
        passive_seconds: float = PASSIVE_SECONDS,
    ) -> None:
        """``now``: wall-clock seconds for the timestamp check (the App's clock may be a sandbox's)."""
        self.app = app
        app_id = str(settings["app_id"])
        self.verifier = CallbackVerifier(
            _reveal(settings["token"]) or "", app_id, _reveal(settings.get("aes_key")), now
        )
        # The access token is shared with the other processes through the database (tokens.py).
        self.api = api or WeChatApi(
            app_id,
            _reveal(settings["app_secret"]) or "",
            str(settings.get("api_base") or "") or None,
            db=app.db,
            now=now,
        )
        self.path = str(settings.get("path") or DEFAULT_PATH)
        days = str(settings.get("qr_days") or "")
        self.qr_expire_seconds = min(int(days), MAX_QR_DAYS) * 86400 if days.isdigit() and int(days) else None
        self.passive_seconds = passive_seconds
        self._inflight: dict[str, _InFlight] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._followers: dict[str, tuple[asyncio.Lock, int]] = {}
        self._forgot_at = 0.0
        self.outside = OutsideWindow(
            self.api,
            app_id=app_id,
            app_secret=_reveal(settings["app_secret"]) or "",
            consent_path=f"{self.path.rstrip('/')}/consent",
            base_url=app.config.public_url,
            community=app.community,
            locale_of=self._locale_of_openid,
            templates=app.services.templates,
            fallbacks=app.services.fallbacks,
            delivery=app.services.delivery,
            now=now,
        )
        app.register_sender(self.deliver)
        app.services.orders.on_fulfilled(self._on_paid)
        app.services.pushes.channels[PLATFORM] = self  # pushes: see push()

    @property
    def delivery(self) -> DeliveryService:
        return self.app.services.delivery

    # -- lifecycle ------------------------------------------------------------------------

    def install(self, http: HttpServer) -> None:
        http.add_get(self.path, self._on_get)
        http.add_post(self.path, self._on_post)
        http.add_get(self.outside.consent_path, self.outside.on_consent)
        mode = "safe" if self.verifier.safe_mode else "plain"
        log.info("wechat: callback on %s (%s mode)", self.path, mode)

    async def connect(self) -> None:
        """Check the credentials against the API (the callback works without it, the
        customer-service messages do not). Raises Unavailable while WeChat cannot be
        reached or is busy, and Rejected when it refuses the credentials."""
        try:
            await self.api.check_credentials()
        except WeChatApiError as error:
            if error.code == IP_NOT_WHITELISTED:
                raise Rejected(
                    "wechat: WeChat refuses calls from this server's IP address (40164): add it to the"
                    " IP whitelist (WeChat console: Settings and Development → Basic Configuration)"
                ) from None
            if error.code in CREDENTIAL_ERRORS or error.http_status in (401, 403):
                why = CREDENTIAL_ERRORS.get(error.code or 0) or f"HTTP {error.http_status}"
                raise Rejected(
                    f"wechat: WeChat refused the credentials ({error.code or error.http_status}: {why});"
                    " check WECHAT_APP_ID and WECHAT_APP_SECRET"
                ) from None
            raise Unavailable(error.message if error.code is None else str(error)) from None
        log.info("wechat: the API accepted the credentials")
        await self._remember_web_qr()

    async def _remember_web_qr(self) -> None:
        """The Official Account's QR code for web pages (course pages show it to follow the
        account; its scene starts the bot as a scan does), made once. Permanent codes need a
        verified service account: without one the pages show no code, and nothing else fails."""
        if self.qr_expire_seconds or await wechat_qr(self.app.db) is not None:
            return
        try:
            ticket = await self._qr_ticket(WEB_SCENE)
            await remember_wechat_qr(self.app.db, await self.api.qr_image(ticket))
        except WeChatApiError as error:
            log.info("wechat: no QR code for the web pages (%s)", error)

    async def stop(self) -> None:
        """Let messages being handled finish (their answers go out), then close the API."""
        await self.idle()
        self.api.close()

    async def idle(self) -> None:
        """Wait (up to IDLE_WAIT_SECONDS) until no message is being handled."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=IDLE_WAIT_SECONDS)

    # -- the callback ---------------------------------------------------------------------

    async def _on_get(self, request: web.Request) -> web.Response:
        try:
            echo = self.verifier.verify_server(request.query)
        except Refused as error:
            log.warning("wechat: refused a server check from %s: %s", request.remote, error)
            return web.Response(status=403)
        return web.Response(text=echo)

    async def _on_post(self, request: web.Request) -> web.Response:
        deadline = asyncio.get_running_loop().time() + self.passive_seconds
        body = await request.read()
        try:
            checked = self.verifier.open(request.query, body)
            nonce_key = f"nonce:{checked.timestamp}:{checked.nonce}"
            first = await self.delivery.take_inbound(PLATFORM, nonce_key, checked.digest)
            if first is not None and first != checked.digest:
                raise Refused("a nonce seen before with another body")
            inbound = parse(checked.xml)
        except Refused as error:
            log.warning("wechat: refused a callback from %s: %s", request.remote, error)
            return web.Response(status=403)
        except MalformedMessage as error:
            log.warning("wechat: a malformed callback body from %s: %s", request.remote, error)
            return web.Response(status=400, text="malformed message")
        except Exception:  # the database is down: WeChat retries what is not answered
            log.exception("wechat: a callback failed; WeChat will retry")
            return web.Response(status=500)
        answer = await self._answer(inbound, deadline)
        if answer == SUCCESS:
            return web.Response(text=SUCCESS)
        return web.Response(text=self.verifier.seal(answer, checked), content_type="application/xml")

    async def _answer(self, inbound: Inbound, deadline: float) -> str:
        """The passive reply for this request: the answer's first text when it is ready by
        ``deadline``, else ``success`` (the answer then goes as customer-service messages)."""
        entry = self._inflight.get(inbound.dedup_key)
        if entry is None:  # the first time this process sees it (registered before any await)
            entry = _InFlight()
            self._inflight[inbound.dedup_key] = entry
            task = asyncio.create_task(self._run(inbound, entry), name=f"wechat-{inbound.dedup_key}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        entry.waiters.append(waiter)
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), remaining)
        except asyncio.CancelledError:  # the request went away: never answer into it
            if not waiter.done():
                waiter.cancel()
            raise
        except TimeoutError:
            if waiter.done():  # given its answer just as time ran out
                return waiter.result()
            waiter.set_result(SUCCESS)  # the answer will go as customer-service messages
            return SUCCESS

    async def _run(self, inbound: Inbound, entry: _InFlight) -> None:
        lock, users = self._followers.get(inbound.openid, (asyncio.Lock(), 0))
        self._followers[inbound.openid] = (lock, users + 1)
        try:
            # One follower's messages are handled in the order they came (a command, then
            # the number that answers its options); different followers run concurrently.
            async with lock:
                if await self.delivery.take_inbound(PLATFORM, inbound.dedup_key) is not None:
                    log.info("wechat: %s was handled before; answered success", inbound.dedup_key)
                    return
                outgoing = await self._handle(inbound)
                await self._answer_with(inbound, outgoing, entry)
            await self._forget_old_keys()
        except Exception:
            log.exception("wechat: handling %s failed", inbound.dedup_key)
        finally:
            entry.release()
            self._inflight.pop(inbound.dedup_key, None)
            lock, users = self._followers[inbound.openid]
            if users == 1:
                del self._followers[inbound.openid]
            else:
                self._followers[inbound.openid] = (lock, users - 1)

    async def _forget_old_keys(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._forgot_at >= FORGET_EVERY_SECONDS:
            self._forgot_at = now
            await self.delivery.forget_old_inbound()

    async def _handle(self, inbound: Inbound) -> list[Outgoing]:
        if inbound.is_user_message or inbound.interaction:
            await self.delivery.contact(PLATFORM, inbound.openid, interaction=inbound.interaction)
        event = to_event(inbound, self.app.config.community, self.app.router, self.app.clock.now())
        if event is None:
            return []
        if event.kind is EventKind.MESSAGE and event.text.strip().isdigit():
            picked = await self._pick_option(event)
            if isinstance(picked, Event):
                event = picked
            elif picked is not None:
                return picked
        return await self.app.handle(event)

    async def _pick_option(self, event: Event) -> Event | list[Outgoing] | None:
        """A bare number answers the last numbered options: that button pressed."""
        options = await self.delivery.options(PLATFORM, event.sender.external_id)
        if not options:
            return None
        number = int(event.text.strip()[:6])
        by_label = {o.number: o for o in options if o.number is not None}
        if by_label:  # a scale: the number is the label
            picked = by_label.get(number)
            if picked is None:
                low, high = min(by_label), max(by_label)
                notice = msg(
                    "There is no option [{number}]; choose {low} to {high}.",
                    number=number,
                    low=low,
                    high=high,
                )
                return [Outgoing(Reply.text(notice), await self._locale(event), chat=event.chat)]
            option = picked
        elif not 1 <= number <= len(options):
            notice = msg(
                "There is no option [{number}]; choose 1 to {count}.", number=number, count=len(options)
            )
            return [Outgoing(Reply.text(notice), await self._locale(event), chat=event.chat)]
        else:
            option = options[number - 1]
        if option.url:
            return [Outgoing(Reply.text(option.url), await self._locale(event), chat=event.chat)]
        return replace(event, kind=EventKind.BUTTON, data=option.data, text="")

    async def _locale(self, event: Event) -> str:
        return await self._locale_of_openid(event.sender.external_id)

    async def _locale_of_openid(self, openid: str) -> str:
        members = self.app.services.members
        community = await self.app.community()
        member = await members.ensure_member(community, user_ref(openid))
        return await members.effective_locale(member, community, DEFAULT_LANGUAGE)

    async def _answer_with(self, inbound: Inbound, outgoing: list[Outgoing], entry: _InFlight) -> None:
        """Send the core's answer: to this follower passively if a request still waits, the
        rest by customer-service message; what is for others through the App's senders."""
        mine = [item for item in outgoing if self._openid_of(item) == inbound.openid]
        others = [item for item in outgoing if self._openid_of(item) != inbound.openid]
        messages: list[WxMessage] = []
        for item in mine:
            messages.extend(await self._rendered(inbound.openid, item.reply, item.locale))
        messages = _merge_texts(messages)
        if messages and isinstance(messages[0], WxText):
            waiter = entry.newest_waiter()
            if waiter is not None:
                # wechatpy wraps the text in CDATA as it is: a "]]>" in it (user content)
                # would end the section and let the rest be read as XML.
                content = messages[0].text.replace("]]>", "]]]]><![CDATA[>")
                reply = TextReply(source=inbound.account, target=inbound.openid, content=content)
                waiter.set_result(reply.render())
                messages = messages[1:]
        entry.release()
        if messages:
            member_id = next((item.member.id for item in mine if item.member is not None), None)
            await self._push(inbound.openid, member_id or await self._member_id(inbound.openid), messages)
        if others:
            await self.app.send(others)

    async def _rendered(self, openid: str, reply: Reply, locale: str) -> tuple[WxMessage, ...]:
        urls = await self.outside.consent_urls(openid) if consent_links(reply) else None
        rendered = render_reply(reply, locale, urls)
        if rendered.options:
            await self.delivery.set_options(PLATFORM, openid, list(rendered.options))
        return rendered.messages

    async def _member_id(self, openid: str) -> int | None:
        community = await self.app.community()
        member = await self.app.services.members.find_by_identity(community.id, PLATFORM, openid)
        return member.id if member is not None else None

    @staticmethod
    def _openid_of(item: Outgoing) -> str | None:
        if item.chat is not None:
            return item.chat.external_id if item.chat.platform == PLATFORM else None
        account = next((i for i in item.identities if i.platform == PLATFORM), None)
        return account.external_id if account is not None else None

    # -- outbound -------------------------------------------------------------------------

    async def deliver(self, outgoing: Outgoing) -> bool:
        """Deliver a reply that answers no WeChat request (a payment, a job's note) by
        customer-service messages, within the follower's window. Returns whether all of it
        was sent; what was not is recorded as skipped."""
        openid = self._openid_of(outgoing)
        if openid is None:
            return False
        messages = await self._rendered(openid, outgoing.reply, outgoing.locale)
        member_id = outgoing.member.id if outgoing.member is not None else await self._member_id(openid)
        notice = outgoing.reply.notice
        return await self._push(openid, member_id, _merge_texts(list(messages)), notice, outgoing.locale)

    async def push(self, account: str, reply: Reply, locale: str, key: str) -> str:
        """The push channel (core/pushes): customer-service messages to ``account``, each
        taking its allowance of the follower's window (core/delivery) first, so pushes and
        notes share one budget. Outside the window → Unreachable (the push records the skip).
        WeChat takes no idempotency key and returns no message id."""
        messages = _merge_texts(list(await self._rendered(account, reply, locale)))
        for index, message in enumerate(messages):
            reason = await self.delivery.claim_send(PLATFORM, account)
            if reason is not None:
                # Outside the window: the follower's consent for news, if they gave one.
                rest = messages[index:]
                if (
                    reason in WINDOW_REASONS
                    and await self.outside.push(account, await self._member_id(account), str(reason), rest)
                    is None
                ):
                    return ""
                raise Unreachable("wechat_window")
            try:
                await self._send_one(account, message)
            except WeChatApiError as error:
                raise Unreachable(str(error.refusal or SkipReason.FAILED)) from error
        return ""

    async def _push(
        self,
        openid: str,
        member_id: int | None,
        messages: list[WxMessage],
        notice: Notice | None = None,
        locale: str = DEFAULT_LANGUAGE,
    ) -> bool:
        """Send ``messages`` within the window; what it will not take goes by template or
        consent (outside.py) when it can, else is recorded as skipped with why."""
        sent_all = True
        for index, message in enumerate(messages):
            reason: str | None = await self.delivery.claim_send(PLATFORM, openid)
            if reason in WINDOW_REASONS:
                rest = messages[index:]
                why = await self.outside.note(openid, member_id, str(reason), rest, notice, locale)
                if why is None:
                    return sent_all
                for skipped in rest:
                    await self.delivery.skipped(PLATFORM, openid, member_id, why, _preview(skipped))
                log.info("wechat: skipped %d messages to member %s: %s", len(rest), member_id, why)
                return False
            if reason is None:
                try:
                    await self._send_one(openid, message)
                    continue
                except WeChatApiError as error:
                    log.warning("wechat: could not send to a follower: %s", error)
                    reason = error.refusal or SkipReason.FAILED
            sent_all = False
            await self.delivery.skipped(PLATFORM, openid, member_id, str(reason), _preview(message))
            log.info("wechat: skipped a message to member %s: %s", member_id, reason)
        return sent_all

    async def _send_one(self, openid: str, message: WxMessage) -> None:
        if isinstance(message, WxText):
            await self.api.send_text(openid, message.text)
        elif isinstance(message, WxImage):
            await self.api.send_image(openid, message.png)
        elif isinstance(message, WxQr):
            await self._send_qr(openid, message.scene)

    async def _send_qr(self, openid: str, scene: str) -> None:
        """The QR code for ``scene`` as an image; when WeChat will not make or take the image,
        its address (or what to type instead) as text."""
        ticket: str | None = None
        try:
            ticket = await self._qr_ticket(scene)
            media_id = await self._qr_media(scene, ticket)
        except WeChatApiError as error:
            log.warning("wechat: no QR image for %s: %s", scene, error)
            if ticket is not None:
                await self.api.send_text(openid, self.api.qr_url(ticket))
            else:
                locale = await self._locale_of_openid(openid)
                notice = msg("Friends can also send {command} to this account.", command=f"/start {scene}")
                await self.api.send_text(openid, render(notice, locale))
            return
        await self.api.send_image_media(openid, media_id)

    async def _qr_ticket(self, scene: str) -> str:
        if self.qr_expire_seconds:  # temporary codes: a new one each time
            return await self.api.create_qr(scene, self.qr_expire_seconds)
        ticket = await get_state(self.app.db, QR_STATE + scene)
        if ticket is None:  # permanent codes are made once per scene (WeChat allows 100,000)
            ticket = await self.api.create_qr(scene)
            await set_state(self.app.db, QR_STATE + scene, ticket)
        return ticket

    async def _qr_media(self, scene: str, ticket: str) -> str:
        key = QR_MEDIA_STATE + scene
        cached = None if self.qr_expire_seconds else await get_state(self.app.db, key)
        now = self.app.clock.now()
        if cached is not None:
            media_id, _, uploaded = cached.partition(" ")
            fresh = uploaded.replace(".", "").isdigit() and (
                now.timestamp() - float(uploaded) < MEDIA_REUSE.total_seconds()
            )
            if fresh:
                return media_id
        media_id = await self.api.upload_image(await self.api.qr_image(ticket))
        if not self.qr_expire_seconds:
            await set_state(self.app.db, key, f"{media_id} {now.timestamp()}")
        return media_id

    async def _on_paid(self, order: Order) -> None:
        """A payment opens WeChat's unlimited 48 hours for the buyer's WeChat accounts."""
        for identity in await self.app.services.members.identities_of(order.member_id):
            if identity.platform == PLATFORM:
                await self.delivery.paid(PLATFORM, identity.external_id)


def _merge_texts(messages: list[WxMessage]) -> list[WxMessage]:
    """Consecutive texts as one message where they fit: fewer messages from the window."""
    merged: list[WxMessage] = []
    for message in messages:
        last = merged[-1] if merged else None
        if isinstance(message, WxText) and isinstance(last, WxText):
            joined = f"{last.text}\n\n{message.text}"
            if len(joined.encode()) <= MAX_TEXT_BYTES:
                merged[-1] = WxText(joined)
                continue
        merged.append(message)
    return merged


def _preview(message: WxMessage) -> str:
    if isinstance(message, WxText):
        return message.text[:200]
    if isinstance(message, WxImage):
        return "[image]"
    return f"[QR code {message.scene}]"
