"""WeChat Pay's daily trade bill (交易账单): fetched, verified and read, for the daily bill check
(core/orders/bill_check.py).

``GET /v3/bill/tradebill?bill_date=…&bill_type=ALL&tar_type=GZIP`` answers the file's address
and its SHA1; the file, downloaded with a signed request, is a gzip of WeChat Pay's CSV: a
header row, one row per payment or refund with every field after a backtick (so that a
spreadsheet keeps long numbers as text), then a summary (``总交易单数,…`` and its row), which
is not a trade. Amounts are in yuan (``12.50``) and become fen exactly (Decimal, never float).

WeChat Pay makes a day's bill (China time) from 9:00 the next morning and asks merchants to
fetch it after 10:00. A day without trades has no bill (``NO_STATEMENT_EXIST``): an empty
day; one not made yet (``STATEMENT_CREATING``) is BillNotReady, tried again later.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import logging
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from wechatpayv3.async_.type import RequestType

from bot.payments.wechatpay_client import WeChatPayClient, WeChatPayError
from core.orders.bill_check import BillNotReady

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
READY = time(10)  # China time, the day after: when WeChat Pay asks merchants to fetch a bill
PATH = "/v3/bill/tradebill"
NO_BILL = "NO_STATEMENT_EXIST"
NOT_MADE_YET = "STATEMENT_CREATING"
SUMMARY_START = "总交易单数"
PAID, REFUND = "SUCCESS", "REFUND"
# The columns read, by the names WeChat Pay's header gives them.
TIME, TRANSACTION_ID, OUT_TRADE_NO, STATE = "交易时间", "微信订单号", "商户订单号", "交易状态"
CURRENCY, TOTAL, SETTLED = "货币种类", "订单金额", "应结订单金额"
REFUND_ID, OUT_REFUND_NO, REFUNDED = "微信退款单号", "商户退款单号", "退款金额"
REQUIRED = (TIME, TRANSACTION_ID, OUT_TRADE_NO, STATE, SETTLED)


class BillError(WeChatPayError):
    """A bill that is not what WeChat Pay announced (its SHA1) or that cannot be read."""


@dataclass(frozen=True)
class BillRow:
    """One trade of a bill: a payment (state SUCCESS) or a refund (REFUND), amounts in fen."""

    time: datetime
    transaction_id: str  # 微信订单号
    out_trade_no: str  # 商户订单号
    state: str  # 交易状态: SUCCESS, REFUND, REVOKED…
    currency: str
    total: int  # 订单金额 (the order's total, as ``amount.total`` of the API), else 应结订单金额
    refund_id: str = ""
    out_refund_no: str = ""
    refund: int = 0


def yuan_to_fen(text: str) -> int:
    """``12.50`` → 1250, exactly; BillError for anything that is not yuan with at most 2 decimals."""
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise BillError(f"trade bill: {text!r} is not an amount") from None
    fen = amount * 100
    if not amount.is_finite() or fen != fen.to_integral_value():
        raise BillError(f"trade bill: {text!r} is not an amount in yuan")
    return int(fen)


def _fields(line: str) -> list[str]:
    """A row's fields: each starts with a backtick. Split where a comma is followed by a
    backtick rather than at every comma, since a product name may hold one."""
    if not line.startswith("`"):
        raise BillError("trade bill: a row whose fields do not start with a backtick")
    return line[1:].split(",`")


def parse_bill(text: str) -> list[BillRow]:
    """The trades of a bill's CSV text, in its order; the summary section is left out."""
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    if not lines:
        return []
    header = [name.strip() for name in lines[0].split(",")]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise BillError(f"trade bill: no column {', '.join(missing)}")
    amount_column = TOTAL if TOTAL in header else SETTLED
    rows = []
    for line in lines[1:]:
        if line.startswith(SUMMARY_START):
            break
        fields = _fields(line)
        if len(fields) != len(header):
            raise BillError(f"trade bill: a row of {len(fields)} fields under {len(header)} columns")
        row = dict(zip(header, (field.strip() for field in fields), strict=True))
        try:
            moment = datetime.strptime(row[TIME], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
        except ValueError:
            raise BillError(f"trade bill: {row[TIME]!r} is not a time") from None
        refund = row[STATE] == REFUND
        rows.append(
            BillRow(
                time=moment,
                transaction_id=row[TRANSACTION_ID],
                out_trade_no=row[OUT_TRADE_NO],
                state=row[STATE],
                currency=row.get(CURRENCY) or "CNY",
                total=yuan_to_fen(row[amount_column] or "0"),
                refund_id=row.get(REFUND_ID, "") if refund else "",
                out_refund_no=row.get(OUT_REFUND_NO, "") if refund else "",
                refund=yuan_to_fen(row.get(REFUNDED) or "0") if refund else 0,
            )
        )
    return rows


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:  # bills made long ago may be GBK
        return data.decode("gb18030")


async def fetch_bill(client: WeChatPayClient, day: date) -> list[BillRow]:
    """The trades of ``day`` (China time): [] for a day without any; BillNotReady when WeChat Pay
    has not made the bill yet; BillError when the file's SHA1 is not the announced one (no
    row is read from it); WeChatPayError when WeChat Pay could not be reached."""
    path = f"{PATH}?bill_date={day.isoformat()}&bill_type=ALL&tar_type=GZIP"
    try:
        answer = await client.call(RequestType.GET, path)
    except WeChatPayError as error:
        if error.code == NO_BILL:
            return []
        if error.code == NOT_MADE_YET:
            raise BillNotReady(str(error)) from None
        raise
    try:
        url, hash_type, hash_value = answer["download_url"], answer["hash_type"], answer["hash_value"]
    except (KeyError, TypeError):
        raise BillError("trade bill: the answer has no download_url or hash") from None
    if str(hash_type).upper() != "SHA1":
        raise BillError(f"trade bill: unknown hash type {hash_type!r}")
    data = await client.download(str(url))
    if not hmac.compare_digest(hashlib.sha1(data).hexdigest().encode(), str(hash_value).lower().encode()):
        raise BillError(f"trade bill of {day}: the file's SHA1 is not the one WeChat Pay announced")
    try:
        text = _text(gzip.decompress(data))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise BillError(f"trade bill of {day}: {error}") from None
    return parse_bill(text)


def latest_bill_day(now: datetime) -> date:
    """The last China day whose bill WeChat Pay has made by ``now`` (yesterday's from 10:00)."""
    return (now.astimezone(CHINA) - timedelta(hours=READY.hour, minutes=READY.minute)).date() - timedelta(
        days=1
    )


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Where the China day ``day`` starts and ends."""
    start = datetime.combine(day, time(), CHINA)
    return start, datetime.combine(day + timedelta(days=1), time(), CHINA)
