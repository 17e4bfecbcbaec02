"""The ledger learns the PSP's side: a charge made at the sandbox and posted by the ledger's
consumer, the sandbox's report of it (through the stripe SDK and the reports adapter), its fee
and the PSP's payout to the platform booked over gRPC, once however often the report is
booked; `psp_receivable` nets to zero and `paymesh check` passes, hash chains included."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import grpc
import httpx
import pytest
from harness import eventually, running_sandbox, started_ledger, succeeded

from ledger_svc.adapters.sql import SqlLedgerUnitOfWork
from ledger_svc.domain import Posting, Side, Transaction
from ledger_svc.domain.psp_books import PspBalanceTransaction, bookings
from ledger_svc.entrypoints.outgoing import encode_event
from ledger_svc.service_layer.use_cases import PostOutcome, post_transaction
from paymesh.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from paymesh_cli.invariants import run_checks
from recon_svc.adapters.stripe_reports import (
    PspBalanceFigures,
    StripeReportSettings,
    StripeReportTransactions,
    balance_figures,
)
from recon_svc.domain.period import Period
from recon_svc.entrypoints.ledger_books import book_psp_report

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

API_KEY = "sk_test_books"


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[str]:
    async with running_sandbox(tmp_path / "psp.jsonl") as base:
        yield base


async def _balance(stub: ledger_pb2_grpc.LedgerServiceStub, account: str) -> str:
    try:
        response = await stub.GetAccountBalance(
            ledger_pb2.GetAccountBalanceRequest(account=account, currency="USD"), timeout=5
        )
    except grpc.aio.AioRpcError as err:
        if err.code() is grpc.StatusCode.NOT_FOUND:
            return "none"
        raise
    return response.balances[0].balance


async def test_fees_and_the_psp_payout_are_booked_once_and_the_receivable_nets_to_zero(
    sandbox: str, database_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(
        base_url=sandbox, headers={"Authorization": f"Bearer {API_KEY}"}
    ) as psp:
        for order, cents in (("po-1", "10000"), ("po-2", "2500")):
            charged = await psp.post(
                "/v1/payment_intents",
                data={"amount": cents, "currency": "usd", "payment_method": "pm_card_visa",
                      "confirm": "true", "metadata[payment_order_id]": order},
            )  # fmt: skip
            assert charged.status_code == 200, charged.text
        payout = await psp.post(
            "/_sandbox/platform_payouts",
            json={"currency": "usd", "available_before": int(time.time()) + 10 * 86_400},
        )
        assert payout.status_code == 200, payout.text
    # 100.00 - (2.90 + 0.30) + 25.00 - (0.725 -> 0.73 + 0.30)
    assert payout.json()["amount"] == 9_680 + 2_397

    async with started_ledger(database_url, nats_url) as ledger:
        stub = ledger_pb2_grpc.LedgerServiceStub(ledger.channel)
        for order, amount in (("po-1", "100.00"), ("po-2", "25.00")):
            env = succeeded(order, "seller-1", amount, "1.00")
            await ledger.js.publish(env.event_type, env.SerializeToString())

        async def posted() -> bool:
            return await _balance(stub, "psp_receivable") == "125.00"

        await eventually(posted)
        settings = StripeReportSettings(API_KEY, sandbox, poll_interval_s=0.1)
        report = await asyncio.to_thread(
            StripeReportTransactions(settings).spool,
            Period.day(datetime.now(UTC).date()),
            tmp_path,
        )

        first = await book_psp_report(stub, report)
        again = await book_psp_report(stub, report, batch_size=1)

        assert first.booked == {"fee": 2, "payout": 1} and first.already_booked == {}
        assert again.booked == {} and again.already_booked == {"fee": 2, "payout": 1}
        assert await _balance(stub, "psp_fees") == "4.23"
        assert await _balance(stub, "platform_cash") == "120.77"
        assert await _balance(stub, "psp_receivable") == "0.00"

        # A row the ledger cannot book (more decimals than USD has) is refused, nothing booked.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.BookPspBalanceTransactions(
                ledger_pb2.BookPspBalanceTransactionsRequest(
                    request_id=str(uuid.uuid4()),
                    transactions=[
                        ledger_pb2.PspBalanceTransaction(
                            id="txn_new", reporting_category="charge", currency="USD",
                            gross="10.00", fee="0.305",
                        ),
                        ledger_pb2.PspBalanceTransaction(
                            id="txn_fine", reporting_category="charge", currency="USD",
                            gross="10.00", fee="0.59",
                        ),
                    ],
                ),
                timeout=5,
            )  # fmt: skip
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        # The contract's rules: a request_id, and signed decimal amounts.
        for request in (
            ledger_pb2.BookPspBalanceTransactionsRequest(
                transactions=[ledger_pb2.PspBalanceTransaction(
                    id="txn_x", reporting_category="charge", currency="USD", gross="1", fee="1")],
            ),
            ledger_pb2.BookPspBalanceTransactionsRequest(
                request_id=str(uuid.uuid4()),
                transactions=[ledger_pb2.PspBalanceTransaction(
                    id="txn_x", reporting_category="charge", currency="USD", gross="1e3",
                    fee="1")],
            ),
        ):  # fmt: skip
            with pytest.raises(grpc.aio.AioRpcError) as invalid:
                await stub.BookPspBalanceTransactions(request, timeout=5)
            assert invalid.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert await _balance(stub, "psp_fees") == "4.23"

    async def figures() -> PspBalanceFigures:
        return await asyncio.to_thread(balance_figures, settings)

    report_check = await run_checks(database_url, psp_figures=figures)
    assert report_check.ok, report_check.violations
    assert report_check.stats["psp_receivable"] == {"USD": "0.00"}
    assert report_check.stats["psp_bookings_checked_at_psp"] == 3

    # The PSP's books now say another fee for po-1's charge than the one booked.
    async with httpx.AsyncClient(
        base_url=sandbox, headers={"Authorization": f"Bearer {API_KEY}"}
    ) as psp:
        seeded = await psp.post(
            "/_sandbox/discrepancies",
            json={"kind": "fee_differs", "payment_order_id": "po-1", "fee_delta": 1},
        )
        assert seeded.status_code == 200, seeded.text
    report_check = await run_checks(database_url, psp_figures=figures)
    [violation] = report_check.violations
    assert violation.invariant == "psp_booking_matches_psp"
    assert "booked 3.20 USD, the PSP says 3.21 USD" in violation.detail


@pytest.mark.breaks_invariants
async def test_paymesh_check_refuses_a_malformed_or_doubled_psp_booking(
    database_url: str, nats_url: str
) -> None:
    row = PspBalanceTransaction("txn_1", "charge", "ch_1", "USD", Decimal("10.00"), Decimal("0.59"))
    [booking] = bookings(row)
    doubled = Transaction(str(uuid.uuid4()), booking.transaction.description,
                          booking.transaction.postings)  # fmt: skip
    misbooked = Transaction(
        str(uuid.uuid4()),
        "a fee charged to revenue",
        (
            Posting("psp_fees", Side.DEBIT, Decimal("1.00"), "USD"),
            Posting("platform_fee_revenue", Side.CREDIT, Decimal("1.00"), "USD"),
        ),
    )
    async with started_ledger(database_url, nats_url) as ledger:
        for txn in (booking.transaction, doubled, misbooked):
            uow = SqlLedgerUnitOfWork(ledger.engine, encode_event)
            assert await post_transaction(uow, "test", str(uuid.uuid4()), txn) is PostOutcome.POSTED

    report = await run_checks(database_url)

    found = {v.invariant for v in report.violations}
    assert found == {"psp_booking_shape", "psp_booked_once"}, report.violations
    # The ledger itself still balances, and its chains hold: only the PSP rules are broken.
    assert report.stats["psp_receivable"] == {"USD": "-1.18"}
