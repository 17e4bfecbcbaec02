"""The ledger books the finance queue's decisions over gRPC, on PostgreSQL: a write-off each
way and a duplicate charge with its refund, each once however often asked; `paymesh check`
explains `recon_suspense`. And `paymesh check` refuses a suspense booking of another shape, a
doubled one, and a duplicate charge booked without its refund."""

from __future__ import annotations

import uuid
from decimal import Decimal

import grpc
import pytest
from harness import started_ledger

from ledger_svc.adapters.sql import SqlLedgerUnitOfWork
from ledger_svc.domain import Posting, Side, Transaction
from ledger_svc.domain.recon_books import duplicate_charge_refunded, write_off
from ledger_svc.entrypoints.outgoing import encode_event
from ledger_svc.service_layer.use_cases import PostOutcome, post_transaction
from paymesh.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from paymesh_cli.invariants import run_checks

pytestmark = pytest.mark.integration

BOOKED = ledger_pb2.PSP_BOOKING_OUTCOME_BOOKED
ALREADY = ledger_pb2.PSP_BOOKING_OUTCOME_ALREADY_BOOKED


def key() -> str:
    return str(uuid.uuid4())


async def test_decisions_are_booked_once_and_the_suspense_account_is_explained(
    database_url: str, nats_url: str
) -> None:
    async with started_ledger(database_url, nats_url) as ledger:
        stub = ledger_pb2_grpc.LedgerServiceStub(ledger.channel)

        async def write_off_(mismatch: str, difference: str):  # type: ignore[no-untyped-def]
            request = ledger_pb2.WriteOffToSuspenseRequest(
                request_id=key(), mismatch_id=mismatch, difference=difference, currency="USD"
            )
            return (await stub.WriteOffToSuspense(request, timeout=10)).booking

        first = await write_off_("mm_more", "0.05")
        again = await write_off_("mm_more", "0.05")
        assert (first.outcome, again.outcome) == (BOOKED, ALREADY)
        assert first.transaction_id == again.transaction_id
        assert (await write_off_("mm_less", "-0.02")).outcome == BOOKED
        duplicate = ledger_pb2.BookDuplicateChargeRefundRequest(
            request_id=key(), mismatch_id="mm_dup", payment_order_id="po-1",
            psp_charge_id="ch_2", psp_refund_id="re_1", amount="25.00", currency="USD",
        )  # fmt: skip
        booked = await stub.BookDuplicateChargeRefund(duplicate, timeout=10)
        twice = await stub.BookDuplicateChargeRefund(duplicate, timeout=10)
        assert [b.outcome for b in booked.bookings] == [BOOKED, BOOKED]
        assert [b.outcome for b in twice.bookings] == [ALREADY, ALREADY]
        with pytest.raises(grpc.aio.AioRpcError) as nothing:
            await write_off_("mm_zero", "0.00")
        assert nothing.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as too_fine:
            await write_off_("mm_fine", "0.001")
        assert too_fine.value.code() is grpc.StatusCode.INVALID_ARGUMENT

    report = await run_checks(database_url)
    assert report.ok, report.violations
    assert report.stats["recon_suspense"] == {"USD": "0.03"}
    assert report.stats["recon_suspense_explained"] == {
        "USD": {"duplicate_charges_not_given_back": "0.00", "write_offs": "0.03"}
    }
    # The duplicate charge and its refund net to zero on the receivable.
    explained = report.stats["psp_receivable_explained"]["USD"]  # type: ignore[index]
    assert explained == {"duplicate_charges": "0.00", "write_offs": "0.03"}
    assert "suspense_decisions" in report.skipped  # no recon schema in this database


@pytest.mark.breaks_invariants
async def test_paymesh_check_refuses_a_stray_doubled_or_half_suspense_booking(
    database_url: str, nats_url: str
) -> None:
    booked = write_off("mm_1", Decimal("0.05"), "USD").transaction
    doubled = Transaction(key(), booked.description, booked.postings)
    stray = Transaction(
        key(),
        "suspense moved to revenue",
        (
            Posting("recon_suspense", Side.DEBIT, Decimal("1.00"), "USD"),
            Posting("platform_fee_revenue", Side.CREDIT, Decimal("1.00"), "USD"),
        ),
    )
    charge, _refund = duplicate_charge_refunded(
        "mm_2", "po-1", "ch_2", "re_1", Decimal("25.00"), "USD"
    )
    async with started_ledger(database_url, nats_url) as ledger:
        for txn in (booked, doubled, stray, charge.transaction):
            uow = SqlLedgerUnitOfWork(ledger.engine, encode_event)
            assert await post_transaction(uow, "test", key(), txn) is PostOutcome.POSTED

    report = await run_checks(database_url)

    found = {v.invariant for v in report.violations}
    assert found == {
        "suspense_booking_shape",
        "suspense_booked_once",
        "duplicate_charge_given_back",
    }, report.violations
