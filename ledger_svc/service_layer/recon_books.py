"""The ledger's use cases for reconciliation's finance queue: post a write-off to suspense, and
a duplicate charge with its refund, each once (ledger_svc.domain.recon_books)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ledger_svc.domain.recon_books import ReconBooking, duplicate_charge_refunded, write_off
from ledger_svc.domain.transaction import InvalidTransaction
from ledger_svc.service_layer.ports import LedgerUnitOfWork
from ledger_svc.service_layer.psp_books import BookingOutcome
from ledger_svc.service_layer.use_cases import PostOutcome, post_transaction
from mesh.errors import FieldViolation, invalid_argument

RECON_BOOK_CONSUMER = "ledger-recon-book"


@dataclass(frozen=True)
class BookedRecon:
    booking: ReconBooking
    outcome: BookingOutcome


async def _post(uow_factory: Callable[[], LedgerUnitOfWork], booking: ReconBooking) -> BookedRecon:
    txn = booking.transaction
    # The booking's own id is the inbox key too: a retry finds it claimed or posted.
    outcome = await post_transaction(uow_factory(), RECON_BOOK_CONSUMER, txn.transaction_id, txn)
    return BookedRecon(
        booking,
        BookingOutcome.BOOKED if outcome is PostOutcome.POSTED else BookingOutcome.ALREADY_BOOKED,
    )


def _refused(field: str, err: InvalidTransaction) -> Exception:
    return invalid_argument([FieldViolation(field, "recon_books.invalid", str(err))])


async def write_off_to_suspense(
    uow_factory: Callable[[], LedgerUnitOfWork],
    mismatch_id: str,
    difference: Decimal,
    currency: str,
) -> BookedRecon:
    """Post the mismatch's write-off once; INVALID_ARGUMENT for one that cannot be booked."""
    try:
        booking = write_off(mismatch_id, difference, currency)
    except InvalidTransaction as err:
        raise _refused("difference", err) from None
    return await _post(uow_factory, booking)


async def book_duplicate_charge_refund(
    uow_factory: Callable[[], LedgerUnitOfWork],
    mismatch_id: str,
    payment_order_id: str,
    charge_id: str,
    refund_id: str,
    amount: Decimal,
    currency: str,
) -> list[BookedRecon]:
    """Post the duplicate charge and its refund, each once and in its own database
    transaction (the charge first: a crash between them leaves the buyer's money in suspense,
    where the next call, or `paymesh check`, finds it)."""
    try:
        bookings = duplicate_charge_refunded(
            mismatch_id, payment_order_id, charge_id, refund_id, amount, currency
        )
    except InvalidTransaction as err:
        raise _refused("amount", err) from None
    return [await _post(uow_factory, booking) for booking in bookings]
