"""Booking the PSP's side of a report in the ledger: every row with a fee, and every payout of
the PSP to the platform, sent to LedgerService.BookPspBalanceTransactions in batches. The ledger
books each balance transaction once (its id derives the ledger transaction's), so booking a
report again, or a later report that repeats rows of its margin, books nothing twice.

The report is streamed (a batch at a time), so memory stays flat however long it is."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import grpc

from paymesh.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from recon_svc.domain import psp_columns
from recon_svc.service_layer.ports import BookedReport, PspBooks

BATCH_SIZE = 500  # the contract allows 1000 rows a call
_BOOKED_CATEGORIES = frozenset({"payout", "payout_reversal"})
# Derives each batch's request_id from its rows: a retried batch carries the same key.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://paymesh.invalid/recon/psp-books/v1")


_KIND_NAMES = {
    ledger_pb2.PSP_BOOKING_KIND_FEE: "fee",
    ledger_pb2.PSP_BOOKING_KIND_PAYOUT: "payout",
}


def rows_to_book(report: Path) -> Iterator[ledger_pb2.PspBalanceTransaction]:
    """The report's rows the ledger books (a non-zero fee, or a payout to the platform), in
    the contract's shape: currency upper case, amounts as the report states them."""
    with report.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        names = psp_columns.map_columns(header)
        index = {name.strip(): i for i, name in enumerate(header)}

        def value(row: list[str], canonical: str) -> str:
            column = names[canonical]
            return row[index[column]].strip() if column is not None else ""

        for row in reader:
            if not row:
                continue
            category = value(row, "category").lower()
            fee = value(row, "fee") or "0"
            if Decimal(fee) == 0 and category not in _BOOKED_CATEGORIES:
                continue
            yield ledger_pb2.PspBalanceTransaction(
                id=value(row, "id"),
                reporting_category=category,
                source_id=value(row, "source"),
                currency=value(row, "currency").upper(),
                gross=value(row, "gross"),
                fee=fee,
                payment_order_id=value(row, "payment_order_id"),
            )


async def book_psp_report(
    stub: ledger_pb2_grpc.LedgerServiceStub,
    report: Path,
    batch_size: int = BATCH_SIZE,
    timeout_s: float = 30.0,
) -> BookedReport:
    """Book the report's fees and payouts; what was booked now and what was booked before."""
    result = BookedReport()
    batch: list[ledger_pb2.PspBalanceTransaction] = []

    async def send() -> None:
        key = uuid.uuid5(_NAMESPACE, "|".join(row.id for row in batch))
        response = await stub.BookPspBalanceTransactions(
            ledger_pb2.BookPspBalanceTransactionsRequest(request_id=str(key), transactions=batch),
            timeout=timeout_s,
        )
        for booking in response.bookings:
            kind = _KIND_NAMES[booking.kind]
            counts = (
                result.booked
                if booking.outcome == ledger_pb2.PSP_BOOKING_OUTCOME_BOOKED
                else result.already_booked
            )
            counts[kind] = counts.get(kind, 0) + 1
            total = (kind, booking.currency)
            result.amounts[total] = result.amounts.get(total, Decimal(0)) + Decimal(booking.amount)
            if booking.outcome == ledger_pb2.PSP_BOOKING_OUTCOME_BOOKED:
                now = result.booked_amounts
                now[total] = now.get(total, Decimal(0)) + Decimal(booking.amount)
        batch.clear()

    for row in rows_to_book(report):
        batch.append(row)
        if len(batch) >= batch_size:
            await send()
    if batch:
        await send()
    return result


class GrpcPspBooks(PspBooks):
    """The `PspBooks` port over the ledger's BookPspBalanceTransactions."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = ledger_pb2_grpc.LedgerServiceStub(channel)

    async def book(self, report: Path) -> BookedReport:
        return await book_psp_report(self._stub, report)
