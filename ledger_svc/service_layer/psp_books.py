"""The ledger's use case for the PSP's side of the books: post what the PSP's balance report
says about fees and about its payouts to the platform, each booking once."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ledger_svc.domain.psp_books import Booking, PspBalanceTransaction, bookings
from ledger_svc.domain.transaction import InvalidTransaction
from ledger_svc.service_layer.ports import LedgerUnitOfWork
from ledger_svc.service_layer.use_cases import PostOutcome, post_transaction
from mesh.errors import FieldViolation, invalid_argument

PSP_BOOK_CONSUMER = "ledger-psp-book"


class BookingOutcome(enum.Enum):
    BOOKED = "booked"
    ALREADY_BOOKED = "already_booked"


@dataclass(frozen=True)
class BookedPsp:
    booking: Booking
    outcome: BookingOutcome


@dataclass(frozen=True)
class PspBooksResult:
    booked: list[BookedPsp]
    not_booked: list[str]  # ids of the rows with nothing to book


async def book_psp_balance_transactions(
    uow_factory: Callable[[], LedgerUnitOfWork], rows: Sequence[PspBalanceTransaction]
) -> PspBooksResult:
    """Book every row's fee and payout (ledger_svc.domain.psp_books), each in its own database
    transaction: a booking already made is ALREADY_BOOKED and changes nothing. Every row is
    checked before anything is posted: INVALID_ARGUMENT, nothing booked, for one that cannot be."""
    planned: list[Booking] = []
    not_booked: list[str] = []
    for index, row in enumerate(rows):
        try:
            found = bookings(row)
        except InvalidTransaction as err:
            raise invalid_argument(
                [FieldViolation(f"transactions[{index}]", "psp_books.invalid", str(err))]
            ) from None
        if not found:
            not_booked.append(row.id)
        planned += found
    booked = []
    for booking in planned:
        txn = booking.transaction
        # The booking's own id is the inbox key too: a retry finds it claimed or posted.
        outcome = await post_transaction(uow_factory(), PSP_BOOK_CONSUMER, txn.transaction_id, txn)
        booked.append(
            BookedPsp(
                booking,
                BookingOutcome.BOOKED
                if outcome is PostOutcome.POSTED
                else BookingOutcome.ALREADY_BOOKED,
            )
        )
    return PspBooksResult(booked, not_booked)
