"""The PSP's side of the books in the ledger's domain and use case (fakes): which rows book
what, in which accounts, with ids that make a second booking impossible."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger_svc.domain import InvalidTransaction, Side
from ledger_svc.domain.accounts import PLATFORM_CASH, PSP_FEES, PSP_RECEIVABLE, AccountType
from ledger_svc.domain.accounts import account_type as type_of
from ledger_svc.domain.psp_books import BookingKind, PspBalanceTransaction, booking_id, bookings
from ledger_svc.service_layer.fakes import FakeLedgerStore
from ledger_svc.service_layer.psp_books import BookingOutcome, book_psp_balance_transactions
from mesh.errors import ServiceError

pytestmark = pytest.mark.unit

D = Decimal


def row(category: str, gross: str, fee: str, psp_id: str = "txn_1") -> PspBalanceTransaction:
    return PspBalanceTransaction(psp_id, category, "ch_1", "USD", D(gross), D(fee), "po-1")


def lines(found: list) -> list[tuple[str, Side, Decimal]]:  # type: ignore[type-arg]
    return [(p.account, p.side, p.amount) for b in found for p in b.transaction.postings]


def test_the_new_accounts_sit_on_their_normal_sides() -> None:
    assert type_of(PSP_FEES) is AccountType.EXPENSE
    assert AccountType.EXPENSE.normal_side is Side.DEBIT
    assert type_of(PLATFORM_CASH) is AccountType.ASSET


def test_a_charge_fee_is_an_expense_taken_out_of_the_receivable() -> None:
    found = bookings(row("charge", "100.00", "3.20"))
    assert [b.kind for b in found] == [BookingKind.FEE]
    assert lines(found) == [
        (PSP_FEES, Side.DEBIT, D("3.20")),
        (PSP_RECEIVABLE, Side.CREDIT, D("3.20")),
    ]


def test_a_fee_given_back_reverses_it() -> None:
    assert lines(bookings(row("fee", "0.50", "-0.50"))) == [
        (PSP_RECEIVABLE, Side.DEBIT, D("0.50")),
        (PSP_FEES, Side.CREDIT, D("0.50")),
    ]


def test_a_payout_turns_the_receivable_into_cash_and_a_reversal_turns_it_back() -> None:
    assert lines(bookings(row("payout", "-96.80", "0", "po_1"))) == [
        (PLATFORM_CASH, Side.DEBIT, D("96.80")),
        (PSP_RECEIVABLE, Side.CREDIT, D("96.80")),
    ]
    assert lines(bookings(row("payout_reversal", "96.80", "0", "po_1"))) == [
        (PSP_RECEIVABLE, Side.DEBIT, D("96.80")),
        (PLATFORM_CASH, Side.CREDIT, D("96.80")),
    ]


def test_refunds_and_transfers_without_fee_book_nothing() -> None:
    assert bookings(row("refund", "-10.00", "0")) == []
    assert bookings(row("transfer", "-50.00", "0")) == []
    # A charge's gross is booked by the order's own transaction, never from the report.
    assert [b.kind for b in bookings(row("charge", "10.00", "0.59"))] == [BookingKind.FEE]


def test_more_decimals_than_the_currency_has_is_refused() -> None:
    with pytest.raises(InvalidTransaction):
        bookings(row("charge", "10.00", "0.305"))
    with pytest.raises(InvalidTransaction):
        bookings(PspBalanceTransaction("txn_1", "charge", "", "XXQ", D(1), D("0.1")))


def test_a_booking_id_is_the_same_for_the_same_row_and_kind_only() -> None:
    assert booking_id(BookingKind.FEE, "txn_1") == booking_id(BookingKind.FEE, "txn_1")
    assert booking_id(BookingKind.FEE, "txn_1") != booking_id(BookingKind.PAYOUT, "txn_1")
    assert booking_id(BookingKind.FEE, "txn_1") != booking_id(BookingKind.FEE, "txn_2")
    [booking] = bookings(row("charge", "1.00", "0.33"))
    assert booking.transaction.transaction_id == booking_id(BookingKind.FEE, "txn_1")


async def test_booking_a_report_twice_books_it_once() -> None:
    store = FakeLedgerStore()
    rows = [
        row("charge", "100.00", "3.20", "txn_1"),
        row("refund", "-10.00", "0", "txn_2"),
        row("payout", "-86.80", "0", "po_1"),
    ]
    first = await book_psp_balance_transactions(store.uow, rows)
    again = await book_psp_balance_transactions(store.uow, rows)

    assert [b.outcome for b in first.booked] == [BookingOutcome.BOOKED] * 2
    assert [b.outcome for b in again.booked] == [BookingOutcome.ALREADY_BOOKED] * 2
    assert first.not_booked == again.not_booked == ["txn_2"]
    assert len(store.state.transactions) == 2
    balances = store.state.balances
    assert balances[(PSP_FEES, "USD")] == (D("3.20"), D(0))
    assert balances[(PLATFORM_CASH, "USD")] == (D("86.80"), D(0))
    assert balances[(PSP_RECEIVABLE, "USD")] == (D(0), D("90.00"))


async def test_one_bad_row_books_nothing_of_the_call() -> None:
    store = FakeLedgerStore()
    with pytest.raises(ServiceError):
        await book_psp_balance_transactions(
            store.uow,
            [row("charge", "100.00", "3.20", "txn_1"), row("charge", "1.00", "0.001", "txn_2")],
        )
    assert store.state.transactions == {}
