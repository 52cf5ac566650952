"""WeChat Pay API v3 through ``wechatpayv3``'s async client, wrapped.

The library answers ``(status, text)`` instead of raising, and raises a bare ``Exception`` when
a response's signature does not verify: every call here turns either into WeChatPayError (its
message for a log line or a buyer, never the request, which carries the merchant's signature)
or a parsed JSON answer. Responses and notifications are verified by the platform certificate or
by the WeChat Pay public key, whichever the ``Wechatpay-Serial`` of each names (both may be
configured while a merchant moves from one to the other).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from wechatpayv3.async_ import AsyncWeChatPay
from wechatpayv3.async_.type import RequestType, WeChatPayType
from wechatpayv3.async_.utils import aes_decrypt

log = logging.getLogger(__name__)

SIGN_TEST = "WECHATPAY/SIGNTEST/"  # WeChat Pay's deliberately mis-signed probes start so
TIMEOUT = (5, 15)  # connect, read: a buyer is waiting


class WeChatPayError(Exception):
    """A call WeChat Pay refused or that did not complete; ``code`` is WeChat Pay's (or None)."""

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class MerchantKeys:
    mchid: str
    cert_serial: str
    private_key: str  # PEM
    apiv3_key: str
    app_id: str
    notify_url: str
    public_key: str | None = None  # PEM: the WeChat Pay public key mode
    public_key_id: str | None = None
    api_base: str = "https://api.mch.weixin.qq.com"


class WeChatPayClient:
    def __init__(self, keys: MerchantKeys) -> None:
        self.keys = keys
        self._pay = AsyncWeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=keys.mchid,
            private_key=keys.private_key,
            cert_serial_no=keys.cert_serial,
            appid=keys.app_id,
            apiv3_key=keys.apiv3_key,
            notify_url=keys.notify_url,
            timeout=TIMEOUT,
            public_key=keys.public_key,
            public_key_id=keys.public_key_id,
        )
        # The library's gateway is fixed; a test server (or a proxy) is named here instead.
        self._pay._core._gate_way = keys.api_base.rstrip("/")
        self._open = False

    async def open(self) -> None:
        """The HTTP client, and in certificate mode the platform certificates (fetched once)."""
        if self._open:
            return
        try:
            await self._pay.__aenter__()
        except Exception as error:  # the library raises bare Exceptions (no certificate, network)
            raise WeChatPayError(f"could not start: {error}") from None
        self._open = True

    async def close(self) -> None:
        if self._open:
            await self._pay.__aexit__(None, None, None)
            self._open = False

    async def call(self, method: RequestType, path: str, data: dict[str, Any] | None = None) -> Any:
        """One API call: the JSON answer ({} for 204), else WeChatPayError."""
        await self.open()
        try:
            status, text = await self._pay._core.request(path, method=method, data=data)
        except Exception as error:  # a response whose signature does not verify, or the network
            raise WeChatPayError(f"{path.split('?')[0]}: {error}") from None
        if status == 204:
            return {}
        body = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        try:
            answer = json.loads(body) if body else {}
        except json.JSONDecodeError:
            answer = {}
        if not 200 <= status < 300:
            code = answer.get("code") if isinstance(answer, dict) else None
            message = answer.get("message") if isinstance(answer, dict) else None
            raise WeChatPayError(f"{path.split('?')[0]}: {status} {code}: {message}", code, status)
        return answer

    async def download(self, url: str) -> bytes:
        """A bill's file (not JSON, not signed: its SHA1 comes with the bill's address)."""
        await self.open()
        path = url.split("://", 1)[-1]
        path = path[path.index("/") :] if "/" in path else "/"
        try:
            status, content = await self._pay._core.request(path, skip_verify=True)
        except Exception as error:
            raise WeChatPayError(f"bill download: {error}") from None
        if status != 200:
            raise WeChatPayError(f"bill download: {status}", status=status)
        return content if isinstance(content, bytes) else str(content).encode()

    def sign(self, parts: list[str]) -> str:
        """RSA-SHA256 with the merchant key over the lines WeChat's client expects (JSAPI)."""
        return str(self._pay.sign(parts))

    async def notification(self, headers: dict[str, str], body: str) -> dict[str, Any] | None:
        """A notification's decrypted content with its envelope, or None when its signature is
        not WeChat Pay's (a probe, a forgery) or it cannot be read."""
        if headers.get("Wechatpay-Signature", "").startswith(SIGN_TEST):
            return None
        await self.open()
        try:
            verified = await self._pay._core._verify_signature_async(headers, body)
        except Exception:  # an unknown signature type, a malformed signature
            verified = False
        if not verified:
            return None
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            if resource.get("algorithm") != "AEAD_AES_256_GCM":
                return None
            plain = aes_decrypt(
                nonce=resource["nonce"],
                ciphertext=resource["ciphertext"],
                associated_data=resource.get("associated_data") or "",
                apiv3_key=self.keys.apiv3_key,
            )
            envelope["resource"] = json.loads(plain)
        except Exception:  # not JSON, a field missing, a ciphertext the key does not open
            log.warning("wechatpay: a signed notification could not be read")
            return None
        return envelope if isinstance(envelope, dict) else None
