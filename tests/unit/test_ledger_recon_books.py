"""The finance queue's bookings in the ledger's domain and use cases (fakes): a write-off moves
the difference between `psp_receivable` and `recon_suspense` the right way, a duplicate charge
and its refund net to zero on both, no seller account moves, and nothing is booked twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger_svc.domain import InvalidTransaction, Side
from ledger_svc.domain.accounts import PSP_RECEIVABLE, RECON_SUSPENSE, AccountType, is_shared
from ledger_svc.domain.accounts import account_type as type_of
from ledger_svc.domain.recon_books import (
    ReconBookingKind,
    duplicate_charge_refunded,
    recon_booking_id,
    write_off,
)
from ledger_svc.service_layer.fakes import FakeLedgerStore
from ledger_svc.service_layer.psp_books import BookingOutcome
from ledger_svc.service_layer.recon_books import (
    book_duplicate_charge_refund,
    write_off_to_suspense,
)
from mesh.errors import ServiceError

pytestmark = pytest.mark.unit

D = Decimal


def lines(booking) -> list[tuple[str, Side, Decimal]]:  # type: ignore[no-untyped-def]
    return [(p.account, p.side, p.amount) for p in booking.transaction.postings]


def test_the_suspense_account_is_a_liability_off_the_hot_path() -> None:
    assert type_of(RECON_SUSPENSE) is AccountType.LIABILITY
    assert not is_shared(RECON_SUSPENSE) and is_shared(PSP_RECEIVABLE)


def test_a_write_off_follows_the_psp_whichever_way_the_difference_goes() -> None:
    more = write_off("mm_1", D("0.05"), "USD")
    assert lines(more) == [
        (PSP_RECEIVABLE, Side.DEBIT, D("0.05")),
        (RECON_SUSPENSE, Side.CREDIT, D("0.05")),
    ]
    less = write_off("mm_2", D("-3"), "JPY")
    assert lines(less) == [(RECON_SUSPENSE, Side.DEBIT, D(3)), (PSP_RECEIVABLE, Side.CREDIT, D(3))]
    assert more.transaction.transaction_id == recon_booking_id(ReconBookingKind.WRITE_OFF, "mm_1")
    assert more.transaction.description.startswith("Recon write-off of mismatch mm_1: 0.05 USD")
    assert more.transaction.payment_order_id is None and more.transaction.refund_id is None


@pytest.mark.parametrize(
    ("difference", "currency"), [("0", "USD"), ("0.001", "USD"), ("1.5", "JPY"), ("1", "XXQ")]
)
def test_a_write_off_of_nothing_or_of_what_the_currency_cannot_hold_is_refused(
    difference: str, currency: str
) -> None:
    with pytest.raises(InvalidTransaction):
        write_off("mm_1", D(difference), currency)


def test_a_duplicate_charge_and_its_refund_net_to_zero_and_touch_no_seller() -> None:
    charge, refund = duplicate_charge_refunded("mm_1", "po-1", "ch_2", "re_1", D("25.00"), "USD")
    assert lines(charge) == [
        (PSP_RECEIVABLE, Side.DEBIT, D("25.00")),
        (RECON_SUSPENSE, Side.CREDIT, D("25.00")),
    ]
    assert lines(refund) == [
        (RECON_SUSPENSE, Side.DEBIT, D("25.00")),
        (PSP_RECEIVABLE, Side.CREDIT, D("25.00")),
    ]
    assert charge.transaction.transaction_id != refund.transaction.transaction_id
    assert "ch_2 of order po-1 (mismatch mm_1)" in charge.transaction.description
    assert refund.transaction.description.startswith("Refund of duplicate charge ch_2 by re_1")
    with pytest.raises(InvalidTransaction):
        duplicate_charge_refunded("mm_1", "po-1", "ch_2", "re_1", D("-1"), "USD")
    with pytest.raises(InvalidTransaction):
        duplicate_charge_refunded("mm_1", "po-1", "", "re_1", D("1"), "USD")


async def test_each_decision_is_booked_once_however_often_it_is_asked() -> None:
    store = FakeLedgerStore()
    first = await write_off_to_suspense(store.uow, "mm_1", D("0.05"), "USD")
    again = await write_off_to_suspense(store.uow, "mm_1", D("0.05"), "USD")
    assert (first.outcome, again.outcome) == (BookingOutcome.BOOKED, BookingOutcome.ALREADY_BOOKED)
    booked = await book_duplicate_charge_refund(
        store.uow, "mm_2", "po-1", "ch_2", "re_1", D("25.00"), "USD"
    )
    twice = await book_duplicate_charge_refund(
        store.uow, "mm_2", "po-1", "ch_2", "re_1", D("25.00"), "USD"
    )
    assert [b.outcome for b in booked] == [BookingOutcome.BOOKED] * 2
    assert [b.outcome for b in twice] == [BookingOutcome.ALREADY_BOOKED] * 2
    assert len(store.state.transactions) == 3
    balances = store.state.balances
    assert balances[(RECON_SUSPENSE, "USD")] == (D("25.00"), D("25.05"))
    assert balances[(PSP_RECEIVABLE, "USD")] == (D("25.05"), D("25.00"))
    assert not any(account.startswith("seller") for account, _ in balances)


async def test_a_booking_that_cannot_be_made_is_invalid_argument_and_books_nothing() -> None:
    store = FakeLedgerStore()
    with pytest.raises(ServiceError) as refused:
        await write_off_to_suspense(store.uow, "mm_1", D("0"), "USD")
    assert refused.value.reason == "INVALID_ARGUMENT"
    assert store.state.transactions == {}
