"""LedgerService's WriteOffToSuspense and BookDuplicateChargeRefund (recon_svc's finance queue
books a person's decision), beside the PSP's bookings of psp_books_servicer."""

from __future__ import annotations

from decimal import Decimal

import grpc

from ledger_svc.entrypoints.psp_books_servicer import LedgerWithPspBooksServicer
from ledger_svc.service_layer.psp_books import BookingOutcome
from ledger_svc.service_layer.recon_books import (
    BookedRecon,
    book_duplicate_charge_refund,
    write_off_to_suspense,
)
from mesh.money import format_amount
from paymesh.ledger.v1 import ledger_pb2

_OUTCOMES = {
    BookingOutcome.BOOKED: ledger_pb2.PSP_BOOKING_OUTCOME_BOOKED,
    BookingOutcome.ALREADY_BOOKED: ledger_pb2.PSP_BOOKING_OUTCOME_ALREADY_BOOKED,
}


def _booking(booked: BookedRecon) -> ledger_pb2.ReconBooking:
    b = booked.booking
    return ledger_pb2.ReconBooking(
        transaction_id=b.transaction.transaction_id,
        outcome=_OUTCOMES[booked.outcome],
        description=b.transaction.description,
        amount=format_amount(b.amount, b.currency),
        currency=b.currency,
    )


class LedgerWithReconBooksServicer(LedgerWithPspBooksServicer):
    async def WriteOffToSuspense(
        self,
        request: ledger_pb2.WriteOffToSuspenseRequest,
        context: grpc.aio.ServicerContext,
    ) -> ledger_pb2.WriteOffToSuspenseResponse:
        # The contract's pattern makes `difference` a signed decimal: Decimal() cannot fail.
        booked = await write_off_to_suspense(
            self.uow_factory, request.mismatch_id, Decimal(request.difference), request.currency
        )
        return ledger_pb2.WriteOffToSuspenseResponse(booking=_booking(booked))

    async def BookDuplicateChargeRefund(
        self,
        request: ledger_pb2.BookDuplicateChargeRefundRequest,
        context: grpc.aio.ServicerContext,
    ) -> ledger_pb2.BookDuplicateChargeRefundResponse:
        booked = await book_duplicate_charge_refund(
            self.uow_factory,
            request.mismatch_id,
            request.payment_order_id,
            request.psp_charge_id,
            request.psp_refund_id,
            Decimal(request.amount),
            request.currency,
        )
        return ledger_pb2.BookDuplicateChargeRefundResponse(bookings=[_booking(b) for b in booked])
