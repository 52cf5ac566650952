"""bot/payments/wechatpay_bill.py: WeChat Pay's trade bill read (backticks, the summary left
out, yuan to fen exactly, refunds), fetched from the local fake with its SHA1 checked, and the
daily check in ``payments_reconcile`` against the fake: a matching day says nothing, a payment
only WeChat Pay has or an order only studyhall has is told to the creators, once a day, and not
before 10:00 China time."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from bot.app import App
from bot.payments.wechatpay_bill import (
    CHINA,
    BillError,
    BillRow,
    fetch_bill,
    latest_bill_day,
    parse_bill,
    yuan_to_fen,
)
from bot.payments.wechatpay_client import WeChatPayError
from core.catalog.money import Money
from core.clock import ManualClock
from core.orders.bill_check import BillNotReady
from core.orders.models import Status
from core.storage.state import get_state
from tests.conftest import ConsoleDriver
from tests.wechatpay_peer import (
    BILL_HEADER,
    BILL_SUMMARY_HEADER,
    FakeWeChatPay,
    Merchant,
    open_merchant,
)

DAY = date(2026, 1, 5)  # tests.conftest.START, 09:00 UTC, is 17:00 on this day in China
NEXT_MORNING = datetime(2026, 1, 6, 10, tzinfo=CHINA)  # when WeChat Pay has made DAY's bill
KEY = "bills.checked:wechatpay:2026-01-05"
SETUP = (":as Mei creator", "/course add zh101 99 CNY 数据分析入门", ":as Ana", ":dm")


# -- reading a bill -----------------------------------------------------------------------------


def test_a_bill_of_the_fake_is_read_without_its_summary() -> None:
    fake = FakeWeChatPay()
    fake.add_bill_only("studyhall-7", 1250, DAY)
    fake.add_bill_only("other-shop-1", 9900, DAY, description="课程, 第二期")  # a comma inside
    text = fake.bill_text(DAY)
    assert BILL_SUMMARY_HEADER in text and text.splitlines()[-1].startswith("`2,`")

    rows = parse_bill(text)

    assert [(r.out_trade_no, r.state, r.currency, r.total) for r in rows] == [
        ("studyhall-7", "SUCCESS", "CNY", 1250),
        ("other-shop-1", "SUCCESS", "CNY", 9900),
    ]
    assert rows[0].time == datetime(2026, 1, 5, 12, tzinfo=CHINA)
    assert rows[0].transaction_id == fake.bill_only[0].transaction_id and "`" not in rows[0].transaction_id


def test_a_refund_row_gives_its_refund_and_an_older_bill_its_settled_amount() -> None:
    header = (
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
        "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
        "退款类型,退款状态,商品名称,商户数据包,手续费,费率"
    )
    common = ["2026-01-05 09:15:00", "wx1", "190", "0", "", "4200001", "studyhall-3", "o1", "NATIVE"]
    pay = [*common, "SUCCESS", "OTHERS", "CNY", "19.90", "0.00", "0", "0", "0.00", "0.00", "", ""]
    back = [*common, "REFUND", "OTHERS", "CNY", "0.00", "0.00", "5030001", "studyhall-3-r500", "5.00", "0.00"]
    pay += ["课", "", "0.12", "0.60%"]
    back += ["ORIGINAL", "SUCCESS", "课", "", "-0.03", "0.60%"]
    paid_row, refund_row = (",".join(f"`{field}" for field in fields) for fields in (pay, back))
    summary_header = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额"
    summary = "`2,`19.90,`5.00,`0.00,`0.09"
    text = "\ufeff" + "\r\n".join([header, paid_row, refund_row, summary_header, summary]) + "\r\n"

    rows = parse_bill(text)

    assert rows == [
        BillRow(rows[0].time, "4200001", "studyhall-3", "SUCCESS", "CNY", 1990),
        BillRow(
            rows[0].time, "4200001", "studyhall-3", "REFUND", "CNY", 0, "5030001", "studyhall-3-r500", 500
        ),
    ]


@pytest.mark.parametrize(
    ("yuan", "fen"),
    [("12.50", 1250), ("0.01", 1), ("99", 9900), ("19.9", 1990), ("0.00", 0), ("1234567.89", 123456789)],
)
def test_yuan_become_fen_exactly(yuan: str, fen: int) -> None:
    assert yuan_to_fen(yuan) == fen


@pytest.mark.parametrize("text", ["1.234", "abc", "", "NaN", "Infinity"])
def test_what_is_not_yuan_is_refused(text: str) -> None:
    with pytest.raises(BillError):
        yuan_to_fen(text)


@pytest.mark.parametrize(
    "row",
    [
        "2026-01-05 12:00:00,`wx1",  # no backtick before the first field
        "`2026-01-05 12:00:00,`wx1",  # too few fields
    ],
)
def test_a_row_that_is_not_a_bills_row_is_refused(row: str) -> None:
    with pytest.raises(BillError):
        parse_bill(f"{BILL_HEADER}\r\n{row}\r\n")


def test_an_empty_bill_or_one_with_only_a_summary_has_no_trades() -> None:
    assert parse_bill("") == []
    assert (
        parse_bill(f"{BILL_HEADER}\r\n{BILL_SUMMARY_HEADER}\r\n`0,`0.00,`0.00,`0.00,`0.00,`0.00,`0.00\r\n")
        == []
    )


def test_the_latest_bill_is_yesterdays_from_ten_oclock_china_time() -> None:
    assert latest_bill_day(NEXT_MORNING) == DAY
    assert latest_bill_day(NEXT_MORNING - timedelta(seconds=1)) == DAY - timedelta(days=1)
    assert latest_bill_day(datetime(2026, 1, 6, 2, tzinfo=UTC)) == DAY  # 10:00 in China


# -- fetching -----------------------------------------------------------------------------------


class TamperingWeChatPay(FakeWeChatPay):
    """Serves each bill file with one byte changed: not the file its SHA1 announced."""

    async def _download(self, request: web.Request, body: Any) -> web.Response:
        token = request.query.get("token", "")
        data = bytearray(self._bills[token])
        data[-1] ^= 1
        self._bills[token] = bytes(data)
        return await super()._download(request, body)


@pytest.fixture
async def merchant(app: App) -> AsyncIterator[Merchant]:
    async with open_merchant(app, FakeWeChatPay()) as opened:
        yield opened


def bill_calls(fake: FakeWeChatPay) -> list[str]:
    """The days whose bill was asked for, in order."""
    return [query["bill_date"] for _, path, query, _ in fake.calls if path == "/v3/bill/tradebill"]


@pytest.mark.parametrize("mode", ["public_key", "certificate"])
async def test_a_days_bill_is_fetched_checked_and_read(app: App, mode: str) -> None:
    async with open_merchant(app, FakeWeChatPay(mode)) as m:
        m.fake.add_bill_only("studyhall-1", 9900, DAY)
        m.fake.add_bill_only("studyhall-2", 1, DAY + timedelta(days=1))  # the next day's

        rows = await fetch_bill(m.provider.client, DAY)

        assert [(r.out_trade_no, r.total) for r in rows] == [("studyhall-1", 9900)]
        query = next(q for _, path, q, _ in m.fake.calls if path == "/v3/bill/tradebill")
        assert query == {"bill_date": "2026-01-05", "bill_type": "ALL", "tar_type": "GZIP"}
        assert m.fake.calls[-1][1] == "/v3/billdownload/file"


async def test_the_providers_bill_has_the_payments_with_their_orders(merchant: Merchant) -> None:
    merchant.fake.add_bill_only("studyhall-12-j", 1250, DAY)
    merchant.fake.add_bill_only("mall-88", 500, DAY)

    bill = await merchant.provider.bill_payments(DAY)

    assert (bill.provider, bill.day) == ("wechatpay", DAY)
    assert (bill.start, bill.end) == (
        datetime(2026, 1, 5, tzinfo=CHINA),
        datetime(2026, 1, 6, tzinfo=CHINA),
    )
    assert [(p.order_id, p.trade_no, p.paid) for p in bill.payments] == [
        (12, "studyhall-12-j", Money("CNY", 1250)),
        (None, "mall-88", Money("CNY", 500)),
    ]
    assert bill.payments[0].provider_ref == merchant.fake.bill_only[0].transaction_id


async def test_a_day_without_trades_is_an_empty_bill(merchant: Merchant) -> None:
    assert await fetch_bill(merchant.provider.client, DAY) == []
    assert (await merchant.provider.bill_payments(DAY)).payments == ()


async def test_a_bill_being_made_is_not_ready_and_other_refusals_are_errors(merchant: Merchant) -> None:
    merchant.fake.errors["/v3/bill/tradebill"] = [(400, "STATEMENT_CREATING"), (500, "SYSTEM_ERROR")]

    with pytest.raises(BillNotReady):
        await merchant.provider.bill_payments(DAY)
    with pytest.raises(WeChatPayError) as caught:
        await merchant.provider.bill_payments(DAY)
    assert caught.value.code == "SYSTEM_ERROR"


async def test_a_file_whose_sha1_is_not_the_announced_one_is_refused(app: App) -> None:
    async with open_merchant(app, TamperingWeChatPay()) as m:
        m.fake.add_bill_only("studyhall-1", 9900, DAY)

        with pytest.raises(BillError, match="SHA1"):
            await fetch_bill(m.provider.client, DAY)


async def test_a_file_that_is_not_gzip_is_refused(
    merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant.fake.add_bill_only("studyhall-1", 9900, DAY)
    monkeypatch.setattr(gzip, "compress", lambda data, mtime=0: b"not gzip at all")

    with pytest.raises(BillError):
        await fetch_bill(merchant.provider.client, DAY)


# -- the daily check in payments_reconcile ------------------------------------------------------


async def buy_and_pay(console: ConsoleDriver, merchant: Merchant, clock: ManualClock) -> dict[str, Any]:
    """Ana buys zh101 (order 1) and pays it now; the notification is delivered."""
    await console(*SETUP, "/buy zh101")
    paid = merchant.fake.pay("studyhall-1", when=clock.now())
    assert (
        await merchant.fake.deliver(merchant.notify_url, *merchant.fake.payment_notification("studyhall-1"))
        == 204
    )
    return paid


async def run_reconcile(app: App, console: ConsoleDriver) -> list[str]:
    """Run ``payments_reconcile`` now and send its notices; what the console printed for it."""
    before = len(console.printed())
    assert await app.job_runner.run_job("payments_reconcile") is True
    await app.send(await app.pending_notices())
    return console.printed()[before:]


async def test_a_day_whose_bill_matches_says_nothing_and_is_checked_once(
    app: App, console: ConsoleDriver, merchant: Merchant, clock: ManualClock
) -> None:
    await buy_and_pay(console, merchant, clock)
    assert (await app.services.orders.get(1)).status is Status.FULFILLED
    clock.set(NEXT_MORNING)

    assert await run_reconcile(app, console) == []
    clock.advance(timedelta(minutes=10))
    assert await run_reconcile(app, console) == []

    assert bill_calls(merchant.fake) == ["2026-01-05"]
    assert await get_state(app.db, KEY) is not None


async def test_a_payment_only_wechat_pay_has_is_told_to_the_creators(
    app: App, console: ConsoleDriver, merchant: Merchant, clock: ManualClock
) -> None:
    await buy_and_pay(console, merchant, clock)
    ghost = merchant.fake.add_bill_only("studyhall-1-j", 9900, DAY)  # order 1 paid again, in WeChat
    stray = merchant.fake.add_bill_only("shop2-77", 500, DAY)
    clock.set(NEXT_MORNING)

    printed = await run_reconcile(app, console)

    assert printed == [
        "bot→Mei> WeChat Pay's bill of 2026-01-05 differs from studyhall's orders in 2 places:",
        f"bot→Mei> Order #1: CN¥99.00 paid again (studyhall-1-j, {ghost.transaction_id}); it was paid"
        f" already ({merchant.fake.orders['studyhall-1'].transaction_id}).",
        f"bot→Mei> CN¥5.00 paid for shop2-77 ({stray.transaction_id}), which is no order here.",
        "bot→Mei> Check them against the provider's own records before refunding or delivering by hand.",
    ]
    assert await run_reconcile(app, console) == []


async def test_an_order_paid_here_that_the_bill_lacks_is_told(
    app: App, console: ConsoleDriver, merchant: Merchant, clock: ManualClock
) -> None:
    await console(*SETUP, "/buy zh101")
    await app.services.orders.record_payment(  # as if a forged report had been believed
        1, provider="wechatpay", provider_ref="4200009999", paid=Money("CNY", 9900)
    )
    clock.set(NEXT_MORNING)

    printed = await run_reconcile(app, console)

    assert printed[1:3] == [
        "bot→Mei> Order #1: CN¥99.00 recorded as paid here (4200009999), but the bill does not list it.",
        "bot→Mei> Check them against the provider's own records before refunding or delivering by hand.",
    ]
    assert printed[0].endswith("in 1 place:")


async def test_a_wrong_amount_is_told_and_the_order_stays_unpaid(
    app: App, console: ConsoleDriver, merchant: Merchant, clock: ManualClock
) -> None:
    await console(*SETUP, "/buy zh101")
    row = merchant.fake.add_bill_only("studyhall-1", 100, DAY)
    clock.set(NEXT_MORNING)

    printed = await run_reconcile(app, console)

    assert (
        f"bot→Mei> Order #1: CN¥1.00 paid (studyhall-1, {row.transaction_id}), but the order is CN¥99.00."
        in printed
    )
    assert (await app.services.orders.get(1)).status is not Status.FULFILLED


async def test_before_ten_oclock_yesterdays_bill_is_not_asked_for(
    app: App, console: ConsoleDriver, merchant: Merchant, clock: ManualClock
) -> None:
    await console(*SETUP, "/buy zh101")
    await app.services.orders.record_payment(
        1, provider="wechatpay", provider_ref="42001", paid=Money("CNY", 9900)
    )
    clock.set(NEXT_MORNING - timedelta(minutes=5))

    assert await run_reconcile(app, console) == []
    assert "2026-01-05" not in bill_calls(merchant.fake)

    clock.set(NEXT_MORNING)
    assert len(await run_reconcile(app, console)) == 3
    assert bill_calls(merchant.fake)[-1] == "2026-01-05"


async def test_a_bill_being_made_or_wechat_pay_down_is_tried_again_on_the_next_run(
    app: App, console: ConsoleDriver, merchant: Merchant, clock: ManualClock
) -> None:
    await console(*SETUP, "/buy zh101")
    merchant.fake.add_bill_only("studyhall-9", 500, DAY)
    merchant.fake.errors["/v3/bill/tradebill"] = [(400, "STATEMENT_CREATING"), (500, "SYSTEM_ERROR")]
    clock.set(NEXT_MORNING)

    assert await run_reconcile(app, console) == []
    clock.advance(timedelta(minutes=10))
    assert await run_reconcile(app, console) == []
    assert await get_state(app.db, KEY) is None
    clock.advance(timedelta(minutes=10))
    assert len(await run_reconcile(app, console)) == 3

    assert bill_calls(merchant.fake) == ["2026-01-05"] * 3
