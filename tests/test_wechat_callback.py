"""bot/adapters/wechat/callback.py: signatures, freshness and safe-mode crypto, checked with
requests built by wechatpy's own crypto."""

from __future__ import annotations

import hashlib

import pytest

from bot.adapters.wechat.callback import MAX_SKEW_SECONDS, CallbackVerifier, Refused, sign
from bot.adapters.wechat.inbound import MalformedMessage
from tests.wechat_peer import AES_KEY, APP_ID, TOKEN, open_reply, plain_request, safe_request, text_xml

NOW = 1_767_600_000.0
XML = text_xml("o1", "积分", 1, created=int(NOW))


def verifier(aes_key: str | None = None) -> CallbackVerifier:
    return CallbackVerifier(TOKEN, APP_ID, aes_key, now=lambda: NOW)


def test_the_signature_is_sha1_of_the_sorted_parts() -> None:
    expected = hashlib.sha1("".join(sorted([TOKEN, "1700000000", "abc"])).encode()).hexdigest()
    assert sign(TOKEN, "1700000000", "abc") == expected


def test_a_signed_plain_message_opens_as_it_was_sent() -> None:
    signed = plain_request(XML, at=int(NOW))
    checked = verifier().open(signed.query, signed.body)
    assert (checked.xml, checked.safe_mode) == (XML, False)
    assert checked.digest == hashlib.sha256(signed.body).hexdigest()


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "0" * 40},
        {"timestamp": "abc"},
        {"nonce": ""},
        {"signature": ""},
    ],
)
def test_a_bad_or_missing_signature_is_refused(change: dict[str, str]) -> None:
    signed = plain_request(XML, at=int(NOW))
    with pytest.raises(Refused):
        verifier().open({**signed.query, **change}, signed.body)


def test_timestamps_more_than_five_minutes_away_are_refused() -> None:
    for offset in (MAX_SKEW_SECONDS + 1, -MAX_SKEW_SECONDS - 1):
        signed = plain_request(XML, at=int(NOW) + offset)
        with pytest.raises(Refused, match="stale"):
            verifier().open(signed.query, signed.body)
    within = plain_request(XML, at=int(NOW) - MAX_SKEW_SECONDS)
    assert verifier().open(within.query, within.body).xml == XML


def test_server_verification_returns_echostr() -> None:
    signed = plain_request("", at=int(NOW))
    assert verifier(AES_KEY).verify_server({**signed.query, "echostr": "e1"}) == "e1"
    with pytest.raises(Refused):
        verifier().verify_server(signed.query)  # no echostr
    with pytest.raises(Refused):
        verifier().verify_server({**signed.query, "echostr": "e1", "signature": "1" * 40})


def test_a_safe_mode_message_is_decrypted_and_the_reply_sealed() -> None:
    signed = safe_request(XML, at=int(NOW), nonce="n1")
    check = verifier(AES_KEY)
    checked = check.open(signed.query, signed.body)
    assert (checked.xml, checked.safe_mode, checked.nonce) == (XML, True, "n1")
    reply = "<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[好]]></Content></xml>"
    sealed = check.seal(reply, checked)
    assert "Encrypt" in sealed and "好" not in sealed
    assert open_reply(sealed, signed)["Content"] == "好"


def test_safe_mode_refuses_plain_bodies_wrong_keys_and_bad_message_signatures() -> None:
    plain = plain_request(XML, at=int(NOW))
    with pytest.raises(Refused, match="plain"):
        verifier(AES_KEY).open(plain.query, plain.body)
    other_key = safe_request(XML, at=int(NOW), aes_key="Q" * 43)
    with pytest.raises(Refused):
        verifier(AES_KEY).open(other_key.query, other_key.body)
    signed = safe_request(XML, at=int(NOW))
    with pytest.raises(Refused):
        verifier(AES_KEY).open({**signed.query, "msg_signature": "2" * 40}, signed.body)


def test_plain_mode_refuses_an_encrypted_message_it_cannot_read() -> None:
    signed = safe_request(XML, at=int(NOW))
    with pytest.raises(Refused, match="EncodingAESKey"):
        verifier().open(signed.query, signed.body)


def test_a_safe_mode_body_without_its_envelope_is_malformed() -> None:
    signed = safe_request(XML, at=int(NOW))
    with pytest.raises(MalformedMessage):
        verifier(AES_KEY).open(signed.query, b"<xml><ToUserName>x</ToUserName></xml>")
    with pytest.raises(Refused):
        verifier(AES_KEY).open(signed.query, b"\xff\xfe")


def test_a_plain_reply_is_sent_as_it_is() -> None:
    signed = plain_request(XML, at=int(NOW))
    checked = verifier().open(signed.query, signed.body)
    assert verifier().seal("<xml/>", checked) == "<xml/>"
