"""The PSP's side of the books: the transactions its balance report makes the ledger post.

- A fee the PSP took (a charge's processing fee, a fee of its own): debit `psp_fees` (expense),
  credit `psp_receivable`, since the PSP keeps it out of what it owes the platform. A fee it
  gives back (negative) is the reverse.
- A payout of the PSP to the platform's bank (reporting category `payout`, gross negative):
  debit `platform_cash`, credit `psp_receivable`; a payout reversed (`payout_reversal`, gross
  positive) is the reverse.

So `psp_receivable` (charged - refunded - paid to sellers - fees - paid to the platform) nets to
zero once the PSP has paid out what it held for a day. Everything else (charges, refunds,
transfers) is booked by paymesh's own flows, not from the report.

A booking's transaction id is a UUID derived from the PSP's id and the kind of booking, so a
balance transaction is booked once however often a report is read (the transactions' primary
key is the guard, ledger_svc.adapters.tables). Pure: no I/O.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from decimal import Decimal

from ledger_svc.domain.accounts import PLATFORM_CASH, PSP_FEES, PSP_RECEIVABLE, Side
from ledger_svc.domain.transaction import InvalidTransaction, Posting, Transaction
from mesh.money import InvalidMoney, format_amount, quantize

# Names the derivation of booking ids; changing it would book every row again.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://paymesh.invalid/ledger/psp-books/v1")
PAYOUT_CATEGORIES = frozenset({"payout", "payout_reversal"})


class BookingKind(enum.Enum):
    FEE = "fee"
    PAYOUT = "payout"


@dataclass(frozen=True)
class PspBalanceTransaction:
    """One row of the PSP's balance report: amounts signed, in the currency's major unit."""

    id: str
    reporting_category: str
    source_id: str
    currency: str
    gross: Decimal
    fee: Decimal
    payment_order_id: str = ""


@dataclass(frozen=True)
class Booking:
    """A ledger transaction the row makes, and what it is."""

    balance_transaction_id: str
    kind: BookingKind
    amount: Decimal  # positive
    currency: str
    transaction: Transaction


def booking_id(kind: BookingKind, psp_id: str) -> str:
    """The ledger transaction id of booking `kind` of the PSP's row `psp_id` (always the same)."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind.value}:{psp_id}"))


def _exact(amount: Decimal, currency: str, what: str) -> Decimal:
    try:
        exact = quantize(amount, currency)
    except InvalidMoney as err:
        raise InvalidTransaction(f"{what}: {err}") from None
    if exact != amount:
        raise InvalidTransaction(f"{what} {amount} has more decimals than {currency} allows")
    return exact


def bookings(row: PspBalanceTransaction) -> list[Booking]:
    """The ledger transactions `row` makes: none, a fee, a payout, or both (a payout with a
    fee). `InvalidTransaction` for a row that cannot be booked as stated."""
    if not row.id:
        raise InvalidTransaction("the PSP's balance transaction id is required")
    currency = row.currency
    fee = _exact(row.fee, currency, "fee")
    gross = _exact(row.gross, currency, "gross")
    found: list[Booking] = []
    if fee != 0:
        amount = abs(fee)
        # A fee taken: the expense grows, the PSP owes the platform less; given back: reverse.
        debit, credit = (PSP_FEES, PSP_RECEIVABLE) if fee > 0 else (PSP_RECEIVABLE, PSP_FEES)
        found.append(
            _booking(
                row,
                BookingKind.FEE,
                amount,
                debit,
                credit,
                f"PSP fee of {row.id} ({row.reporting_category} {row.source_id or '-'}"
                f"{', order ' + row.payment_order_id if row.payment_order_id else ''}): "
                f"{format_amount(fee, currency)} {currency}",
            )
        )
    if row.reporting_category in PAYOUT_CATEGORIES and gross != 0:
        amount = abs(gross)
        # Money leaving the PSP's balance for the platform's bank: the receivable turns to cash.
        debit, credit = (
            (PLATFORM_CASH, PSP_RECEIVABLE) if gross < 0 else (PSP_RECEIVABLE, PLATFORM_CASH)
        )
        found.append(
            _booking(
                row,
                BookingKind.PAYOUT,
                amount,
                debit,
                credit,
                f"PSP {row.reporting_category.replace('_', ' ')} {row.id} to the platform's "
                f"bank: {format_amount(amount, currency)} {currency}",
            )
        )
    return found


def _booking(
    row: PspBalanceTransaction,
    kind: BookingKind,
    amount: Decimal,
    debit: str,
    credit: str,
    description: str,
) -> Booking:
    transaction = Transaction(
        transaction_id=booking_id(kind, row.id),
        description=description,
        postings=(
            Posting(debit, Side.DEBIT, amount, row.currency),
            Posting(credit, Side.CREDIT, amount, row.currency),
        ),
    )
    return Booking(row.id, kind, amount, row.currency, transaction)
