"""bot/adapters/wechat/adapter.py: callback traffic built with wechatpy's own crypto, POSTed
over HTTP to the running server; customer-service messages and QR codes against a local fake
of the WeChat API base that records every request; any XML a signed sender could send
(hypothesis), and the database down."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from xml.sax.saxutils import escape as xml_escape

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from bot.adapters.wechat.adapter import WeChatAdapter
from bot.app import App
from bot.config import Secret
from bot.http import HttpServer
from core.catalog.money import Money
from core.clock import ManualClock
from core.commands.context import Context
from core.commands.params import Rest
from core.commands.router import CommandSpec
from core.events import UserRef
from core.i18n import msg
from core.links import wechat_qr
from core.members.models import Role
from core.replies import Reply
from tests.shop_fixtures import Shop
from tests.telegram_peer import free_port
from tests.wechat_peer import (
    AES_KEY,
    APP_ID,
    APP_SECRET,
    PNG,
    TOKEN,
    FakeWeChat,
    Signed,
    cdata,
    event_xml,
    open_reply,
    plain_request,
    post,
    running_wechat,
    safe_request,
    text_xml,
)

ANA = "oAnaOpenid000000000000000001"
BEN = "oBenOpenid000000000000000002"


@dataclass
class Server:
    adapter: WeChatAdapter
    base: str
    fake: FakeWeChat
    safe: bool
    _ids: int = 1000

    def request(self, xml: str, **kwargs: object) -> Signed:
        return (safe_request if self.safe else plain_request)(xml, **kwargs)  # type: ignore[arg-type]

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    async def send(self, openid: str, text: str) -> tuple[int, str]:
        return await post(self.base, self.request(text_xml(openid, text, self.next_id())))

    async def say(self, openid: str, text: str, *, wait: bool = True) -> str:
        """Send a text; return the answer's first text: the passive reply's, or, when the answer
        missed the passive reply's 4 seconds (a loaded machine) and followed as a customer-service
        message, that one ('' for no answer; ``wait`` False: '' for ``success`` at once)."""
        before = len(self.fake.texts(openid))
        status, body = await self.send(openid, text)
        assert status == 200, body
        passive = self.content(body)
        if passive or not wait:
            return passive
        for _ in range(100):
            later = self.fake.texts(openid)
            if len(later) > before:
                return later[before]
            await asyncio.sleep(0.05)
        return ""

    def content(self, body: str) -> str:
        if body == "success":
            return ""
        fields = open_reply(body, signed=Signed({}, b"") if self.safe else None)
        assert fields["MsgType"] == "text"
        return fields["Content"]


async def _server(app: App, safe: bool) -> AsyncIterator[Server]:
    fake = FakeWeChat()
    async with running_wechat(fake) as api_base:
        settings: dict[str, str | Secret] = {
            "app_id": APP_ID,
            "app_secret": Secret(APP_SECRET),
            "token": Secret(TOKEN),
            "api_base": api_base,
        }
        if safe:
            settings["aes_key"] = Secret(AES_KEY)
        adapter = WeChatAdapter(app, settings)
        port = free_port()
        http = HttpServer("127.0.0.1", port)
        adapter.install(http)
        await http.start()
        try:
            yield Server(adapter, f"http://127.0.0.1:{port}", fake, safe)
        finally:
            await http.stop()
            await adapter.stop()


@pytest.fixture(params=["plain", "safe"])
async def server(app: App, request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    async for running in _server(app, request.param == "safe"):
        yield running


@pytest.fixture
async def plain(app: App) -> AsyncIterator[Server]:
    async for running in _server(app, False):
        yield running


# -- server verification, signatures, malformed bodies --------------------------------------


async def test_server_verification_echoes_echostr_only_when_signed(plain: Server) -> None:
    signed = plain_request("")
    async with aiohttp.ClientSession() as session:
        query = {**signed.query, "echostr": "4711abc"}
        async with session.get(f"{plain.base}/wechat", params=query) as response:
            assert (response.status, await response.text()) == (200, "4711abc")
        forged = {**query, "signature": "0" * 40}
        async with session.get(f"{plain.base}/wechat", params=forged) as response:
            assert response.status == 403


async def test_commands_in_chinese_get_a_passive_reply_in_chinese(server: Server) -> None:
    reply = await server.say(ANA, "积分")
    assert "积分" in reply
    assert "签到" in await server.say(ANA, "签到") or "+5" in await server.say(ANA, "/points")
    assert server.fake.sent() == []  # everything went back passively


async def test_a_forged_signature_is_refused_and_changes_nothing(server: Server, app: App) -> None:
    signed = server.request(text_xml(ANA, "签到", 1))
    forged = Signed({**signed.query, "signature": "f" * 40}, signed.body)
    assert (await post(server.base, forged))[0] == 403
    wrong_token = plain_request(text_xml(ANA, "签到", 2), token="notTheToken")
    assert (await post(server.base, wrong_token))[0] == 403
    community = await app.community()
    assert await app.services.members.find_by_identity(community.id, "wechat", ANA) is None


async def test_a_stale_request_is_refused(server: Server) -> None:
    old = server.request(text_xml(ANA, "签到", 3), at=int(time.time()) - 600)
    assert (await post(server.base, old))[0] == 403


async def test_a_replayed_nonce_with_another_body_is_refused(plain: Server) -> None:
    first = plain_request(text_xml(ANA, "帮助", 10), nonce="n-replay")
    assert (await post(plain.base, first))[0] == 200
    # Plain mode signs only token, timestamp and nonce: the captured signature with a new body.
    replay = Signed(first.query, text_xml(ANA, "签到", 11).encode())
    assert (await post(plain.base, replay))[0] == 403


async def test_safe_mode_refuses_a_plain_body_and_a_tampered_one(app: App) -> None:
    async for server in _server(app, True):
        plain_body = plain_request(text_xml(ANA, "签到", 20))
        assert (await post(server.base, plain_body))[0] == 403
        sealed = safe_request(text_xml(ANA, "签到", 21))
        tampered = Signed({**sealed.query, "msg_signature": "0" * 40}, sealed.body)
        assert (await post(server.base, tampered))[0] == 403
        other_key = safe_request(text_xml(ANA, "签到", 22), aes_key="Z" * 43)
        assert (await post(server.base, other_key))[0] == 403


async def test_malformed_xml_is_answered_400_and_the_server_goes_on(server: Server) -> None:
    for body in ("<xml><MsgType>text", "not xml at all", "<xml><Content>hi</Content></xml>"):
        signed = plain_request(body) if not server.safe else safe_request(body)
        assert (await post(server.base, signed))[0] == 400
    if server.safe:
        no_envelope = Signed(safe_request("<xml/>").query, b"<xml><Nothing/></xml>")
        assert (await post(server.base, no_envelope))[0] == 400
    assert "积分" in await server.say(ANA, "积分")


def tracebacks(caplog: pytest.LogCaptureFixture, since: int = 0) -> list[logging.LogRecord]:
    return [r for r in caplog.records[since:] if r.levelno >= logging.ERROR and r.exc_info]


async def test_a_field_not_of_its_type_is_answered_400_in_one_line(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = [
        text_xml(ANA, "积分", 1).replace("<MsgId>1</MsgId>", "<MsgId>notanumber</MsgId>"),
        text_xml(ANA, "积分", 2, created=10**20),
        text_xml(ANA, "积分", 3).replace("<MsgId>3</MsgId>", "<MsgId>3</MsgId><MsgId>4</MsgId>"),
        event_xml(ANA, "CLICK", "cmd:/points").replace("<EventKey>", "<EventKey><k/>"),
    ]
    for body in bodies:
        start = len(caplog.records)
        with caplog.at_level(logging.INFO):
            assert await post(server.base, server.request(body)) == (400, "malformed message")
        lines = [r.getMessage() for r in caplog.records[start:] if r.name.startswith("bot.adapters.wechat")]
        assert len(lines) == 1 and "malformed callback body" in lines[0], lines
    assert tracebacks(caplog) == []
    assert server.fake.calls == []  # nothing was answered, nothing sent
    assert "积分" in await server.say(ANA, "积分")


async def test_with_the_database_down_a_callback_is_answered_500_and_handled_when_retried(
    plain: Server, app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    xml = text_xml(ANA, "积分", 77)
    working = app.db.engine
    down = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:9/nothing_listens_here")
    monkeypatch.setattr(app.db, "engine", down)
    try:
        with caplog.at_level(logging.ERROR):
            assert (await post(plain.base, plain.request(xml)))[0] == 500  # WeChat tries again
    finally:
        monkeypatch.setattr(app.db, "engine", working)
        await down.dispose()
    assert any("WeChat will retry" in r.getMessage() for r in caplog.records)
    status, body = await post(plain.base, plain.request(xml))  # the retry, the database back
    assert status == 200 and "积分" in plain.content(body)


# -- any XML a signed sender could send (hypothesis) -----------------------------------------

TAGS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "EventKey"]
TAGS += ["Ticket", "Latitude", "Longitude", "Precision", "PicUrl", "MediaId", "Format", "Recognition"]
TAGS += ["Location_X", "Location_Y", "Scale", "Label", "Title", "Description", "Url", "MsgID", "Status"]
WORDS = ["text", "event", "image", "location", "subscribe", "unsubscribe", "SCAN", "CLICK", "VIEW"]
WORDS += ["LOCATION", "cmd:/points", "cmd:/checkin", "qrscene_ref_x", "ref_x", "积分", "签到", "/points"]
WORDS += ["1", "0", "-1", "1767600000", str(2**64), "1e3", "23.1", ANA, BEN, "gh_studyhall01"]
# Characters XML 1.0 can carry (no controls, surrogates or non-characters), then escaped.
xml_chars = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn")) | st.sampled_from("\n\t")
xml_texts = st.text(xml_chars, max_size=16)
leaves = st.one_of(
    st.sampled_from(WORDS),
    xml_texts.map(xml_escape),
    xml_texts.map(cdata),
    st.integers().map(str),
)
tags = st.sampled_from(TAGS) | st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)


def elements(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<{tag}>{inner}</{tag}>" for tag, inner in pairs)


inners = st.recursive(leaves, lambda inner: st.lists(st.tuples(tags, inner), max_size=4).map(elements))
random_xml = st.one_of(
    st.text(max_size=60),
    st.lists(st.tuples(tags, inners), max_size=10).map(lambda pairs: f"<xml>{elements(pairs)}</xml>"),
)
_ids = itertools.count(10_000)


def valid_messages() -> list[list[tuple[str, str]]]:
    """One of every message and event the adapter acts on or lets by, as (tag, inner XML) pairs,
    each with its own MsgId and CreateTime, so none is a duplicate of another."""
    number = next(_ids)
    head = [
        ("ToUserName", cdata("gh_studyhall01")),
        ("FromUserName", cdata(ANA if number % 2 else BEN)),
        ("CreateTime", str(1_767_600_000 + number)),
    ]

    def text(content: str) -> list[tuple[str, str]]:
        return [*head, ("MsgType", cdata("text")), ("Content", cdata(content)), ("MsgId", str(number))]

    def event(name: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
        return [*head, ("MsgType", cdata("event")), ("Event", cdata(name)), *extra]

    return [
        text("积分"),
        text("签到"),
        text("1"),
        text("/points"),
        text("hello"),
        [
            *head,
            ("MsgType", cdata("image")),
            ("PicUrl", cdata("http://x/p.png")),
            ("MediaId", "m1"),
            ("MsgId", str(number)),
        ],
        event("CLICK", ("EventKey", cdata("cmd:/points"))),
        event("subscribe"),
        event("subscribe", ("EventKey", cdata("qrscene_ref_x")), ("Ticket", cdata("t"))),
        event("SCAN", ("EventKey", cdata("ref_x")), ("Ticket", cdata("t"))),
        event("unsubscribe"),
        event("VIEW", ("EventKey", cdata("https://example.org"))),
        event("LOCATION", ("Latitude", "23.1"), ("Longitude", "113.3"), ("Precision", "10")),
    ]


@st.composite
def almost_valid_xml(draw: st.DrawFn) -> str:
    """A valid message or event with one element removed, replaced, nested, repeated or added."""
    pairs = list(draw(st.sampled_from(valid_messages())))
    # Mostly past the head (ToUserName, FromUserName, CreateTime), so that more reach a handler.
    where = draw(st.integers(3, len(pairs) - 1) | st.integers(0, len(pairs) - 1))
    tag, inner = pairs[where]
    change = draw(st.sampled_from(["remove", "replace", "nest", "repeat", "add"]))
    if change == "remove":
        del pairs[where]
    elif change == "replace":
        pairs[where] = (tag, draw(inners))
    elif change == "nest":
        pairs[where] = (tag, elements([(draw(tags), inner)]))
    elif change == "repeat":
        pairs.insert(where, (tag, draw(leaves)))
    else:
        pairs.insert(where, (draw(tags), draw(inners)))
    return f"<xml>{elements(pairs)}</xml>"


async def _post_any(server: Server, caplog: pytest.LogCaptureFixture, xml: str) -> None:
    start = len(caplog.records)
    with caplog.at_level(logging.INFO):
        status, body = await post(server.base, server.request(xml))
        await server.adapter.idle()  # what the message set off has run
    assert status in (200, 400), status
    assert tracebacks(caplog, start) == []
    note(f"{status} {'success' if body == 'success' else 'reply' if status == 200 else body}")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(xml=random_xml)
async def test_any_signed_body_is_answered_2xx_or_4xx_without_a_traceback(
    server: Server, caplog: pytest.LogCaptureFixture, xml: str
) -> None:
    await _post_any(server, caplog, xml)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(xml=almost_valid_xml())
async def test_any_almost_valid_message_is_answered_2xx_or_4xx_without_a_traceback(
    server: Server, caplog: pytest.LogCaptureFixture, xml: str
) -> None:
    await _post_any(server, caplog, xml)


# -- duplicates -----------------------------------------------------------------------------


async def test_a_duplicate_message_id_is_handled_once(server: Server, app: App) -> None:
    xml = text_xml(ANA, "签到", 555)
    first = await post(server.base, server.request(xml))
    again = await post(server.base, server.request(xml))  # WeChat's retry: new nonce, same message
    assert "+" in server.content(first[1])
    assert again == (200, "success")
    assert "今天" in await server.say(ANA, "签到")  # the second check-in of the day is refused
    community = await app.community()
    member = await app.services.members.find_by_identity(community.id, "wechat", ANA)
    assert member is not None
    assert (await app.services.ledger.balance(community.id, member.id)).balance == 5


async def test_retries_while_the_first_is_being_handled_wait_for_the_same_answer(
    plain: Server, app: App
) -> None:
    calls: list[str] = []

    async def slowish(ctx: Context) -> Reply:
        calls.append(ctx.event.message_id or "")
        await asyncio.sleep(1.0)
        return Reply.text(msg("Done."))

    app.router.add(CommandSpec("slowish", msg("Done."), slowish))
    xml = text_xml(ANA, "/slowish", 777)
    first = asyncio.create_task(post(plain.base, plain_request(xml)))
    await asyncio.sleep(0.3)
    retries = [asyncio.create_task(post(plain.base, plain_request(xml))) for _ in range(2)]
    answers = [await first] + [await task for task in retries]
    assert len(calls) == 1
    texts = [plain.content(body) for _, body in answers]
    assert sorted(texts) == ["", "", "Done."]  # (no translation: a test's own message)
    assert texts[-1] == "Done." or texts[1] == "Done."  # one of the retries: the newest waiting
    assert plain.fake.sent() == []  # answered once, passively, to the newest request


async def test_an_event_is_deduplicated_by_sender_and_create_time(server: Server) -> None:
    xml = event_xml(ANA, "CLICK", "cmd:/points", created=1_767_600_000)
    assert "积分" in server.content((await post(server.base, server.request(xml)))[1])
    assert (await post(server.base, server.request(xml)))[1] == "success"


# -- the 5-second rule ----------------------------------------------------------------------


async def test_a_slow_answer_ends_in_one_customer_service_message(plain: Server, app: App) -> None:
    calls = 0

    async def slow(ctx: Context) -> Reply:
        nonlocal calls
        calls += 1
        await asyncio.sleep(5.5)
        return Reply.text(msg("Done."))

    app.router.add(CommandSpec("slow", msg("Done."), slow))
    xml = text_xml(ANA, "/slow", 888)

    async def timed() -> tuple[float, tuple[int, str]]:
        started = time.monotonic()
        answer = await post(plain.base, plain_request(xml))
        return time.monotonic() - started, answer

    first = asyncio.create_task(timed())
    await asyncio.sleep(1.0)
    retry = await timed()  # WeChat retrying meanwhile
    for took, answer in (await first, retry):
        assert answer == (200, "success")
        assert took < 5.0  # answered within WeChat's 5 seconds
    for _ in range(100):
        if plain.fake.sent():
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    assert plain.fake.texts(ANA) == ["Done."]  # one customer-service message, no duplicate
    assert calls == 1
    assert (await post(plain.base, plain_request(xml))) == (200, "success")  # a retry after it all
    assert calls == 1 and len(plain.fake.sent()) == 1


async def test_the_synchronous_client_never_blocks_the_event_loop(plain: Server, app: App) -> None:
    """While a customer-service send is slow (the fake's answers are delayed), the server
    still answers other followers at once."""
    original = plain.adapter.api._client.message.send_text

    def slow_send(*args: object) -> object:
        time.sleep(1.5)
        return original(*args)

    plain.adapter.api._client.message.send_text = slow_send  # type: ignore[method-assign]
    await plain.say(ANA, "积分")  # opens Ana's window
    community = await app.community()
    ana = await app.services.members.find_by_identity(community.id, "wechat", ANA)
    assert ana is not None
    push = asyncio.create_task(
        app.send([await app.deliver_to_member(Reply.text("hi", to_member=ana.id), community)])
    )
    await asyncio.sleep(0.1)
    started = time.monotonic()
    assert "积分" in await plain.say(BEN, "积分")
    assert time.monotonic() - started < 1.0
    await push
    assert plain.fake.texts(ANA) == ["hi"]


# -- menu clicks, follows, QR referrals ---------------------------------------------------


async def test_a_menu_click_runs_its_command(server: Server) -> None:
    status, body = await post(server.base, server.request(event_xml(ANA, "CLICK", "cmd:/checkin")))
    assert status == 200
    assert "+5" in server.content(body)
    unknown = await post(server.base, server.request(event_xml(ANA, "CLICK", "something-else")))
    assert unknown == (200, "success")


async def test_following_with_a_referral_scene_attributes_the_referral(server: Server, app: App) -> None:
    await server.say(ANA, "积分")
    community = await app.community()
    ana = await app.services.members.find_by_identity(community.id, "wechat", ANA)
    assert ana is not None
    code = await app.services.referrals.code_of(ana)
    follow = event_xml(BEN, "subscribe", f"qrscene_ref_{code}", ticket=f"ticket-ref_{code}")
    welcome = server.content((await post(server.base, server.request(follow)))[1])
    assert "欢迎" in welcome and "邀请了你" in welcome
    assert "[1]" in welcome and "回复数字" in welcome  # the welcome's buttons, numbered
    ben = await app.services.members.find_by_identity(community.id, "wechat", BEN)
    assert ben is not None
    assert (await app.services.referrals.stats(ana)).invited == 1
    # The same scan again by now a follower: nothing more.
    scan = event_xml(BEN, "SCAN", f"ref_{code}", ticket=f"ticket-ref_{code}")
    assert "邀请了你" not in server.content((await post(server.base, server.request(scan)))[1])
    assert (await app.services.referrals.stats(ana)).invited == 1


async def test_a_plain_follow_is_welcomed(server: Server) -> None:
    welcome = server.content((await post(server.base, server.request(event_xml(ANA, "subscribe"))))[1])
    assert "欢迎" in welcome
    assert (await post(server.base, server.request(event_xml(ANA, "unsubscribe")))) == (200, "success")


async def test_ref_sends_a_qr_code_image_made_once(plain: Server) -> None:
    text = await plain.say(ANA, "推荐")
    assert "邀请" in text
    for _ in range(50):
        if plain.fake.sent("image"):
            break
        await asyncio.sleep(0.05)
    [image] = plain.fake.sent("image")
    assert image["touser"] == ANA
    [create] = [body for _, path, _, body in plain.fake.calls if path.endswith("qrcode/create")]
    assert create["action_name"] == "QR_LIMIT_STR_SCENE"
    scene = create["action_info"]["scene"]["scene_str"]
    assert scene.startswith("ref_")
    [upload] = [body for _, path, _, body in plain.fake.calls if path.endswith("media/upload")]
    assert upload["bytes"] == PNG
    assert image["image"]["media_id"].startswith("media-")
    # Asked again: the same code's image is reused (no new QR code, no new upload).
    await plain.say(ANA, "/ref")
    for _ in range(50):
        if len(plain.fake.sent("image")) == 2:
            break
        await asyncio.sleep(0.05)
    assert plain.fake.paths().count("qrcode/create") == 1
    assert plain.fake.paths().count("media/upload") == 1
    assert len(plain.fake.sent("image")) == 2


async def test_when_wechat_makes_no_qr_code_the_follower_gets_what_to_type(plain: Server) -> None:
    plain.fake.errors["qrcode/create"] = [48001]  # api unauthorized (a subscription account)
    await plain.say(ANA, "推荐")
    for _ in range(50):
        if plain.fake.texts(ANA):
            break
        await asyncio.sleep(0.05)
    [fallback] = plain.fake.texts(ANA)
    assert "/start ref_" in fallback


# -- numbered options -----------------------------------------------------------------------


async def test_a_bare_number_presses_the_numbered_button(server: Server) -> None:
    options = await server.say(ANA, "/lang")
    assert "[1] English" in options and "[2] 中文" in options
    assert "English" in await server.say(ANA, "1")  # now in English
    assert "Reply with a number" in await server.say(ANA, "/lang")
    assert "no option [7]" in await server.say(ANA, "7")
    assert "中文" in await server.say(ANA, "2")


async def test_a_bare_number_without_options_is_a_plain_message(server: Server) -> None:
    assert await server.say(ANA, "42", wait=False) == ""
    await asyncio.sleep(0.3)
    assert server.fake.texts(ANA) == []  # nothing followed either


# -- the 48-hour window --------------------------------------------------------------------


async def _member(app: App, openid: str) -> int:
    community = await app.community()
    member = await app.services.members.find_by_identity(community.id, "wechat", openid)
    assert member is not None
    return member.id


async def test_pushes_respect_the_window_and_skipped_ones_are_recorded(
    plain: Server, app: App, clock: ManualClock
) -> None:
    await plain.say(ANA, "积分")
    community = await app.community()
    ana = await _member(app, ANA)

    async def push(text: str) -> None:
        await app.send([await app.deliver_to_member(Reply.text(text, to_member=ana), community)])

    for n in range(6):
        await push(f"note {n}")
    assert plain.fake.texts(ANA) == [f"note {n}" for n in range(5)]  # 5 after a message
    await plain.say(ANA, "积分")  # a new message: 5 more
    await push("note 6")
    clock.advance(timedelta(hours=48, minutes=1))
    await push("note 7")  # the window has closed
    assert plain.fake.texts(ANA)[-1] == "note 6"
    skipped = await app.services.delivery.latest_skipped("wechat")
    assert [(s.reason, s.preview, s.member_id) for s in skipped] == [
        ("window_closed", "note 7", ana),
        ("quota_used", "note 5", ana),
    ]


async def test_a_click_allows_three_messages_within_a_minute(
    plain: Server, app: App, clock: ManualClock
) -> None:
    await post(plain.base, plain_request(event_xml(BEN, "subscribe")))
    community = await app.community()
    ben = await _member(app, BEN)
    for n in range(4):
        await app.send([await app.deliver_to_member(Reply.text(f"n{n}", to_member=ben), community)])
    assert plain.fake.texts(BEN) == ["n0", "n1", "n2"]
    clock.advance(timedelta(minutes=2))
    await app.send([await app.deliver_to_member(Reply.text("later", to_member=ben), community)])
    assert plain.fake.texts(BEN) == ["n0", "n1", "n2"]
    reasons = [s.reason for s in await app.services.delivery.latest_skipped("wechat")]
    assert reasons == ["window_closed", "quota_used"]


async def test_a_payment_opens_unlimited_messages_for_48_hours(
    plain: Server, app: App, shop: Shop, clock: ManualClock
) -> None:
    await plain.say(ANA, "积分")
    community = await app.community()
    ana_id = await _member(app, ANA)
    ana = await app.services.members.get_member(ana_id)
    course = await app.services.catalog.add_course(
        community, shop.mei, "zh101", Money("CNY", 9900), "数据分析入门"
    )
    order = await app.services.orders.order_course(community, ana, course)
    await app.send(await app.settle_payment(order.id, "sandbox", "sandbox:paid", order.amount))
    assert any("数据分析入门" in text for text in plain.fake.texts(ANA))
    for n in range(8):
        await app.send([await app.deliver_to_member(Reply.text(f"p{n}", to_member=ana_id), community)])
    assert plain.fake.texts(ANA)[-8:] == [f"p{n}" for n in range(8)]
    clock.advance(timedelta(hours=49))
    await app.send([await app.deliver_to_member(Reply.text("too late", to_member=ana_id), community)])
    assert "too late" not in plain.fake.texts(ANA)


async def test_a_follower_wechat_refuses_is_recorded_with_wechats_reason(plain: Server, app: App) -> None:
    await plain.say(ANA, "积分")
    plain.fake.errors["message/custom/send"] = [43004]  # the follower unfollowed meanwhile
    community = await app.community()
    ana = await _member(app, ANA)
    await app.send([await app.deliver_to_member(Reply.text("bye", to_member=ana), community)])
    [skipped] = await app.services.delivery.latest_skipped("wechat")
    assert (skipped.reason, skipped.preview) == ("unfollowed", "bye")


async def test_members_without_wechat_are_left_to_other_adapters(plain: Server, app: App) -> None:
    community = await app.community()
    member = await app.services.members.ensure_member(community, UserRef("console", "li", "Li"))
    outgoing = await app.deliver_to_member(Reply.text("hello", to_member=member.id), community)
    assert await plain.adapter.deliver(outgoing) is False
    assert plain.fake.calls == []


async def test_creators_commands_are_refused_to_followers_in_their_language(server: Server, app: App) -> None:
    await server.say(ANA, "积分")
    refusal = await server.say(ANA, "/role @微信用户0001 moderator")
    assert "只有创作者" in refusal
    community = await app.community()
    ana = await app.services.members.get_member(await _member(app, ANA))
    assert ana.role is Role.LEARNER
    assert community.name == app.config.community


async def test_one_followers_messages_are_handled_in_the_order_they_came(plain: Server, app: App) -> None:
    order: list[str] = []

    async def first(ctx: Context) -> Reply:
        order.append("first starts")
        await asyncio.sleep(0.5)
        order.append("first ends")
        return Reply.text("one")

    async def second(ctx: Context) -> Reply:
        order.append(f"second from {ctx.event.sender.external_id[:4]}")
        return Reply.text("two")

    app.router.add(CommandSpec("first", msg("Done."), first))
    app.router.add(CommandSpec("second", msg("Done."), second))
    one = asyncio.create_task(plain.say(ANA, "/first"))
    await asyncio.sleep(0.1)
    two = asyncio.create_task(plain.say(ANA, "/second"))
    other = asyncio.create_task(plain.say(BEN, "/second"))  # another follower is not held up
    assert await other == "two"
    assert (await one, await two) == ("one", "two")
    assert order == ["first starts", "second from oBen", "first ends", "second from oAna"]


async def test_user_content_cannot_break_out_of_the_passive_replys_xml(server: Server, app: App) -> None:
    async def echo(ctx: Context) -> Reply:
        return Reply.text(ctx.args["text"])

    app.router.add(CommandSpec("echo", msg("Done."), echo, params=(Rest("text"),)))
    sneaky = "a]]></Content><MsgType><![CDATA[image]]></MsgType><Content><![CDATA[b"
    assert await server.say(ANA, f"/echo {sneaky}") == sneaky


async def test_a_long_answer_goes_passively_then_by_customer_service(plain: Server) -> None:
    first = await plain.say(ANA, "帮助")  # the whole command list: more than one message holds
    assert first.startswith("你在这里可以使用的命令")
    for _ in range(50):
        if plain.fake.texts(ANA):
            break
        await asyncio.sleep(0.05)
    rest = plain.fake.texts(ANA)
    assert rest and "/whoami" in rest[-1]
    assert all(len(text.encode()) <= 2000 for text in [first, *rest])


async def test_the_push_channel_shares_the_followers_window(
    plain: Server, app: App, clock: ManualClock
) -> None:
    from core.pushes.delivery import Unreachable

    assert app.services.pushes.channels["wechat"] is plain.adapter
    await plain.say(ANA, "积分")
    for n in range(5):
        assert await plain.adapter.push(ANA, Reply.text(f"push {n}"), "zh_CN", f"push:1:{n}") == ""
    assert plain.fake.texts(ANA)[-5:] == [f"push {n}" for n in range(5)]
    with pytest.raises(Unreachable) as closed:  # 5 after a message: the sixth waits for the next
        await plain.adapter.push(ANA, Reply.text("push 5"), "zh_CN", "push:1:5")
    assert closed.value.reason == "wechat_window"
    assert plain.fake.texts(ANA)[-1] == "push 4"


# -- connecting at start ------------------------------------------------------------------------


async def test_connect_checks_the_credentials_and_tells_unreachable_from_refused(app: App) -> None:
    from bot.startup import Rejected, Unavailable

    def adapter(secret: str, api_base: str) -> WeChatAdapter:
        settings = {
            "app_id": APP_ID,
            "app_secret": Secret(secret),
            "token": Secret(TOKEN),
            "api_base": api_base,
        }
        return WeChatAdapter(app, settings)  # type: ignore[arg-type]

    closed = adapter(APP_SECRET, f"http://127.0.0.1:{free_port()}/cgi-bin/")
    with pytest.raises(Unavailable, match="token: ConnectionError"):
        await closed.connect()
    await closed.stop()
    fake = FakeWeChat()
    async with running_wechat(fake) as api_base:
        wrong = adapter("not-the-app-secret", api_base)
        with pytest.raises(Rejected) as refused:
            await wrong.connect()
        await wrong.stop()
        right = adapter(APP_SECRET, api_base)
        await right.connect()
        await right.stop()
    assert str(refused.value) == (
        "wechat: WeChat refused the credentials (40125: invalid AppSecret); check WECHAT_APP_ID and"
        " WECHAT_APP_SECRET"
    )
    assert "not-the-app-secret" not in str(refused.value)
    # The right credentials: a token, then the account's QR code for web pages, made once.
    assert fake.paths() == ["token", "token", "qrcode/create", "showqrcode"] and fake.tokens_issued == 1
    assert await wechat_qr(app.db) == PNG
    async with running_wechat(fake) as api_base:
        again = adapter(APP_SECRET, api_base)
        await again.connect()
        await again.stop()
    assert fake.paths()[4:] == []  # the token is fresh and the code is kept


async def test_courses_on_wechat_link_to_the_learner_pages_as_an_h5_page(
    plain: Server, app: App, shop: Shop
) -> None:
    app.services.web_sessions.enable("https://learn.example.org")  # the web, over HTTPS

    reply = await plain.say(ANA, "/courses")

    assert "https://learn.example.org/learn/wechat?next=/me" in reply


async def test_a_cny_order_on_wechat_comes_with_its_qr_code_and_a_link_to_pay_in_place(
    plain: Server, app: App, shop: Shop
) -> None:
    from bot.payments.wechatpay_setup import wechatpay_provider
    from tests.wechatpay_peer import FakeWeChatPay, merchant_keys_for, running_wechatpay

    app.services.web_sessions.enable("https://learn.example.org")
    await app.services.catalog.add_course(
        shop.community, shop.mei, "zh101", Money("CNY", 9900), "数据分析入门"
    )
    fake = FakeWeChatPay()
    async with running_wechatpay(fake) as base:
        provider = wechatpay_provider(
            app, merchant_keys_for(fake, base, "https://learn.example.org/wechatpay/notify")
        )
        app.services.orders.register(provider, first=True)
        try:
            reply = await plain.say(ANA, "/buy zh101")
            await plain.adapter.idle()
        finally:
            await provider.client.close()

    member = await app.services.members.find_by_identity(shop.community.id, "wechat", ANA)
    assert member is not None
    order = (await app.services.orders.of_member(member))[0]
    assert "请用微信扫码支付 ¥99.00。" in reply
    assert f"https://learn.example.org/learn/wechat?next=/me/orders/{order.id}" in reply
    assert "media/upload" in plain.fake.paths()  # the code, uploaded as an image and sent


async def test_a_bare_number_answers_a_scale_by_its_label(plain: Server, app: App) -> None:
    from core.replies import Button, Buttons

    picked: list[str] = []

    async def scale(ctx: Context) -> Reply:
        row = tuple(Button(str(n), data=f"cmd:/pick {n}") for n in range(11))
        return Reply((Buttons((row,)),))

    async def pick(ctx: Context) -> Reply:
        picked.append(ctx.args["n"])
        return Reply.text("ok")

    app.router.add(CommandSpec("scale", msg("Done."), scale))
    app.router.add(CommandSpec("pick", msg("Done."), pick, params=(Rest("n"),)))
    assert "0 · 1 · 2" in await plain.say(ANA, "/scale")
    assert await plain.say(ANA, "10") == "ok"
    assert picked == ["10"]
    await plain.say(ANA, "/scale")
    assert await plain.say(ANA, "11") == "没有选项 [11]；请选择 0 到 10。"
    assert picked == ["10"]
