"""Checking WeChat callback requests, and sealing passive replies.

Every request carries ``timestamp``, ``nonce`` and ``signature`` = SHA1 of the sorted token,
timestamp and nonce; in safe mode (``encrypt_type=aes``) also ``msg_signature``, which covers
the encrypted body, and the body is AES-encrypted with the account's EncodingAESKey
(wechatpy's WeChatCrypto does both).

A request is refused when its signature is wrong, its timestamp is more than five minutes
from now (a replay of an old request), or its nonce was seen with a different body (in plain
mode the signature does not cover the body, so a captured signature must not carry another
message; the adapter keeps each nonce with its body's digest in the database). The same
body with the same nonce is a retry: it is let through, and deduplication by message id
decides what happens to it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import WeChatSigner

from bot.adapters.wechat.inbound import envelope

MAX_SKEW_SECONDS = 300


class Refused(Exception):
    """The request is not from WeChat, or is a replay: answer 403 and do nothing."""


@dataclass(frozen=True)
class Checked:
    xml: str  # the message, decrypted
    safe_mode: bool
    nonce: str
    timestamp: str
    digest: str  # SHA-256 of the body as received


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


class CallbackVerifier:
    def __init__(
        self, token: str, app_id: str, aes_key: str | None, now: Callable[[], float] = time.time
    ) -> None:
        self._token = token
        self._crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None
        self._now = now

    @property
    def safe_mode(self) -> bool:
        return self._crypto is not None

    def _check_signature(self, query: Mapping[str, str]) -> tuple[str, str]:
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        signature = query.get("signature", "")
        if not (timestamp.isdigit() and nonce and signature):
            raise Refused("missing signature, timestamp or nonce")
        if not hmac.compare_digest(sign(self._token, timestamp, nonce), signature):
            raise Refused("bad signature")
        if abs(self._now() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise Refused("stale timestamp")
        return timestamp, nonce

    def verify_server(self, query: Mapping[str, str]) -> str:
        """The GET WeChat sends when the server URL is set: its ``echostr``, when signed."""
        self._check_signature(query)
        echo = query.get("echostr", "")
        if not echo:
            raise Refused("no echostr")
        return echo

    def open(self, query: Mapping[str, str], body: bytes) -> Checked:
        """Check a POST and return its message (decrypted in safe mode)."""
        timestamp, nonce = self._check_signature(query)
        digest = hashlib.sha256(body).hexdigest()
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise Refused("body is not UTF-8") from None
        encrypted = query.get("encrypt_type", "raw").lower() == "aes"
        if self._crypto is None:
            if encrypted:
                raise Refused("an encrypted message, but no EncodingAESKey is configured")
            return Checked(text, False, nonce, timestamp, digest)
        if not encrypted:
            # Safe mode is configured: a plain body could come from anyone who saw a signature.
            raise Refused("a plain message in safe mode")
        outer = envelope(text)
        try:
            xml = self._crypto.decrypt_message(outer, query.get("msg_signature", ""), timestamp, nonce)
        except (InvalidSignatureException, InvalidAppIdException):
            raise Refused("bad message signature") from None
        except Exception:  # not base64, bad padding: not sealed with our key
            raise Refused("cannot decrypt") from None
        return Checked(str(xml), True, nonce, timestamp, digest)

    def seal(self, reply_xml: str, checked: Checked) -> str:
        """A passive reply as WeChat expects it for the request it answers."""
        if self._crypto is None or not checked.safe_mode:
            return reply_xml
        return str(self._crypto.encrypt_message(reply_xml, checked.nonce, checked.timestamp))
