"""bot/adapters/wechat/inbound.py: WeChat's XML (as its servers send it) → Events."""

from __future__ import annotations

import pytest

from bot.adapters.wechat.inbound import (
    MalformedMessage,
    command_text,
    envelope,
    parse,
    to_event,
)
from bot.handlers import build_router
from core.events import ChatKind, Event, EventKind
from tests.conftest import START
from tests.wechat_peer import ACCOUNT, event_xml, text_xml

ROUTER = build_router()


def event_of(xml: str) -> Event | None:
    return to_event(parse(xml), "hall", ROUTER, START)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("积分", "/积分"),
        ("签到", "/签到"),
        ("课程", "/课程"),
        ("购买 py101", "/购买 py101"),
        ("提问 怎么分组？ 悬赏 5", "/提问 怎么分组？ 悬赏 5"),
        ("推荐", "/推荐"),
        ("帮助", "/帮助"),
        ("  points ", "/points"),
        ("/points", "/points"),
        ("／积分", "／积分"),
        ("hello there", None),
        ("今天天气不错", None),
        ("", None),
    ],
)
def test_a_first_word_that_names_a_command_makes_a_command(text: str, command: str | None) -> None:
    assert command_text(text, ROUTER) == command


def test_a_text_message_is_a_command_in_the_followers_private_chat() -> None:
    event = event_of(text_xml("oAna", "积分", 42, created=1_767_600_000))
    assert event is not None
    assert (event.kind, event.text, event.platform) == (EventKind.COMMAND, "/积分", "wechat")
    assert (event.chat.kind, event.chat.external_id) == (ChatKind.PRIVATE, "oAna")
    assert (event.sender.external_id, event.sender.language) == ("oAna", "zh_CN")
    assert event.message_id == "msg:42"
    plain = event_of(text_xml("oAna", "谢谢老师", 43))
    assert plain is not None and plain.kind is EventKind.MESSAGE


def test_messages_dedup_by_msgid_and_events_by_sender_and_time() -> None:
    message = parse(text_xml("oAna", "hi", 99))
    assert (message.dedup_key, message.is_user_message, message.interaction) == ("msg:99", True, False)
    click = parse(event_xml("oAna", "CLICK", "cmd:/points", created=1_767_600_000))
    assert click.dedup_key == "event:oAna:1767600000:click"
    assert (click.is_user_message, click.interaction, click.account) == (False, True, ACCOUNT)
    gone = parse(event_xml("oAna", "unsubscribe", created=1_767_600_001))
    assert (gone.interaction, gone.is_user_message) == (False, False)


def test_a_menu_click_is_its_commands_button() -> None:
    event = event_of(event_xml("oAna", "CLICK", "cmd:/checkin"))
    assert event is not None and (event.kind, event.data) == (EventKind.BUTTON, "cmd:/checkin")
    assert event_of(event_xml("oAna", "CLICK", "V1001_TODAY_MUSIC")) is None


def test_follows_and_scans_start_with_their_scene() -> None:
    follow = event_of(event_xml("oBen", "subscribe", "qrscene_ref_abcdefgh"))
    assert follow is not None and (follow.kind, follow.text) == (EventKind.COMMAND, "/start ref_abcdefgh")
    scan = event_of(event_xml("oBen", "SCAN", "ref_abcdefgh"))
    assert scan is not None and scan.text == "/start ref_abcdefgh"
    bare = event_of(event_xml("oBen", "subscribe"))
    assert bare is not None and bare.text == "/start"
    odd = event_of(event_xml("oBen", "SCAN", "ref_x extra words"))
    assert odd is not None and odd.text == "/start ref_x"


def test_events_the_core_has_no_use_for_give_none() -> None:
    assert event_of(event_xml("oBen", "unsubscribe")) is None
    assert event_of(event_xml("oBen", "VIEW", "https://example.org")) is None
    assert event_of(text_xml("oBen", "   ", 5)) is None


@pytest.mark.parametrize(
    "xml",
    [
        "<xml><MsgType>text",
        "plain words",
        "<xml><Content>hi</Content></xml>",  # no MsgType
        "<xml><MsgType>text</MsgType><Content>x</Content></xml>",  # no sender
        "<xml><MsgType>text</MsgType><FromUserName>a</FromUserName><ToUserName>b</ToUserName>"
        "<CreateTime>soon</CreateTime></xml>",
    ],
)
def test_malformed_bodies_raise_malformed_message(xml: str) -> None:
    with pytest.raises(MalformedMessage):
        parse(xml)


def _text(**fields: str) -> str:
    """A text message with some elements' inner XML replaced (an empty one is left out)."""
    elements = {
        "ToUserName": "<![CDATA[gh_studyhall01]]>",
        "FromUserName": "<![CDATA[oAna]]>",
        "CreateTime": "1767600000",
        "MsgType": "<![CDATA[text]]>",
        "Content": "<![CDATA[积分]]>",
        "MsgId": "42",
        **fields,
    }
    return "<xml>" + "".join(f"<{tag}>{inner}</{tag}>" for tag, inner in elements.items() if inner) + "</xml>"


def _event(event: str, **fields: str) -> str:
    return _text(MsgType="event", Content="", MsgId="", Event=event, **fields)


@pytest.mark.parametrize(
    "xml",
    [
        _text(MsgId="notanumber"),
        _text(MsgId="<a>1</a>"),
        _text(MsgId="1</MsgId><MsgId>2"),  # repeated
        _text(MsgId="-1"),
        _text(MsgId=str(2**64)),
        _text(MsgId="9" * 5000),  # past Python's limit on digits in an integer
        _text(CreateTime="10" + "0" * 20),  # after the year 9999
        _text(CreateTime="<t>1</t>"),
        _text(CreateTime=""),
        _text(FromUserName="<a>oAna</a>"),
        _text(FromUserName="oAna</FromUserName><FromUserName>oBen"),
        _text(FromUserName="o" * 65),
        _text(FromUserName="o Ana"),
        _text(ToUserName="微信"),
        _text(Content="<b>bold</b>"),
        _text(MsgType="<t>text</t>"),
        _event("CLICK", EventKey="<k>cmd:/points</k>"),
        _event("SCAN", EventKey="ref_x</EventKey><EventKey>ref_y"),
        _event("subscribe", EventKey="<k>qrscene_ref_x</k>"),
        _event("LOCATION", Latitude="north"),
        _event("CLICK", CreateTime="soon"),
    ],
)
def test_a_field_that_is_not_of_its_type_makes_the_message_malformed(xml: str) -> None:
    with pytest.raises(MalformedMessage):
        parse(xml)


def test_the_same_fields_of_the_right_type_parse() -> None:
    assert parse(_text(MsgId=str(2**64 - 1))).dedup_key == f"msg:{2**64 - 1}"
    assert parse(_text(MsgId="")).dedup_key == "msg:oAna:1767600000"  # no MsgId: sender and time
    assert parse(_event("LOCATION", Latitude="23.13")).dedup_key == "event:oAna:1767600000:location"
    click = event_of(_event("CLICK", EventKey="cmd:/points"))
    assert click is not None and click.data == "cmd:/points"


def test_the_safe_mode_envelope_needs_encrypt() -> None:
    assert envelope("<xml><Encrypt>abc</Encrypt></xml>")["Encrypt"] == "abc"
    for body in ("<xml><ToUserName>x</ToUserName></xml>", "<xml", "<xml><Encrypt><a>1</a></Encrypt></xml>"):
        with pytest.raises(MalformedMessage):
            envelope(body)
