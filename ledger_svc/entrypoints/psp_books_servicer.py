"""LedgerService's BookPspBalanceTransactions (recon_svc books the PSP's fees and payouts to the
platform from its report), beside the read RPCs of grpc_servicer."""

from __future__ import annotations

from decimal import Decimal

import grpc

from ledger_svc.domain.psp_books import BookingKind, PspBalanceTransaction
from ledger_svc.entrypoints.grpc_servicer import LedgerServicer
from ledger_svc.service_layer.psp_books import BookingOutcome, book_psp_balance_transactions
from mesh.money import format_amount
from paymesh.ledger.v1 import ledger_pb2

_KINDS = {
    BookingKind.FEE: ledger_pb2.PSP_BOOKING_KIND_FEE,
    BookingKind.PAYOUT: ledger_pb2.PSP_BOOKING_KIND_PAYOUT,
}
_OUTCOMES = {
    BookingOutcome.BOOKED: ledger_pb2.PSP_BOOKING_OUTCOME_BOOKED,
    BookingOutcome.ALREADY_BOOKED: ledger_pb2.PSP_BOOKING_OUTCOME_ALREADY_BOOKED,
}


def _row(message: ledger_pb2.PspBalanceTransaction) -> PspBalanceTransaction:
    # The contract's patterns make both amounts signed decimals: Decimal() cannot fail here.
    return PspBalanceTransaction(
        id=message.id,
        reporting_category=message.reporting_category,
        source_id=message.source_id,
        currency=message.currency,
        gross=Decimal(message.gross or "0"),
        fee=Decimal(message.fee or "0"),
        payment_order_id=message.payment_order_id,
    )


class LedgerWithPspBooksServicer(LedgerServicer):
    async def BookPspBalanceTransactions(
        self,
        request: ledger_pb2.BookPspBalanceTransactionsRequest,
        context: grpc.aio.ServicerContext,
    ) -> ledger_pb2.BookPspBalanceTransactionsResponse:
        result = await book_psp_balance_transactions(
            self.uow_factory, [_row(t) for t in request.transactions]
        )
        return ledger_pb2.BookPspBalanceTransactionsResponse(
            bookings=[
                ledger_pb2.PspBooking(
                    balance_transaction_id=b.booking.balance_transaction_id,
                    kind=_KINDS[b.booking.kind],
                    outcome=_OUTCOMES[b.outcome],
                    transaction_id=b.booking.transaction.transaction_id,
                    amount=format_amount(b.booking.amount, b.booking.currency),
                    currency=b.booking.currency,
                )
                for b in result.booked
            ],
            not_booked=result.not_booked,
        )
