"""What a person's decision on a reconciliation mismatch makes the ledger post (recon_svc's
finance queue, docs/adr/0025-finance-queue-bookings.md). Never an edit of an entry: each is a
new, balanced transaction between `psp_receivable`, where every difference with the PSP sits,
and `recon_suspense`.

- A write-off of a difference: when the PSP holds more than our books say, debit
  `psp_receivable`, credit `recon_suspense`; when it holds less, the reverse. Afterwards
  `psp_receivable` agrees with the PSP and the suspense account says by how much, and why (the
  mismatch id in the description).
- A duplicate charge refunded at the PSP: the charge (debit `psp_receivable`, credit
  `recon_suspense`: the PSP holds the buyer's money) and its refund (the reverse), two
  transactions keyed by the PSP's ids, so `psp_receivable` follows the PSP's balance through
  both and nets to zero over the pair. No seller account moves: the seller was never credited.

Each transaction id derives from what it books (the mismatch id, the PSP's charge or refund id),
so a second call, a retry or a second decision books nothing (the transactions' primary key is
the guard, ledger_svc.adapters.tables). Pure: no I/O.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from decimal import Decimal

from ledger_svc.domain.accounts import PSP_RECEIVABLE, RECON_SUSPENSE, Side
from ledger_svc.domain.transaction import InvalidTransaction, Posting, Transaction
from mesh.money import InvalidMoney, format_amount, quantize

# Names the derivation of booking ids; changing it would book every decision again.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://paymesh.invalid/ledger/recon-books/v1")

# The descriptions start with these (paymesh_cli.suspense_invariants reads them back).
WRITE_OFF_PREFIX = "Recon write-off of mismatch"
DUPLICATE_CHARGE_PREFIX = "Duplicate charge"
DUPLICATE_REFUND_PREFIX = "Refund of duplicate charge"


class ReconBookingKind(enum.Enum):
    WRITE_OFF = "write_off"
    DUPLICATE_CHARGE = "duplicate_charge"
    DUPLICATE_CHARGE_REFUND = "duplicate_charge_refund"


def recon_booking_id(kind: ReconBookingKind, key: str) -> str:
    """The ledger transaction id of booking `kind` for `key` (always the same)."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind.value}:{key}"))


@dataclass(frozen=True)
class ReconBooking:
    kind: ReconBookingKind
    amount: Decimal  # positive
    currency: str
    transaction: Transaction


def _exact(amount: Decimal, currency: str, what: str) -> Decimal:
    try:
        exact = quantize(amount, currency)
    except InvalidMoney as err:
        raise InvalidTransaction(f"{what}: {err}") from None
    if exact != amount:
        raise InvalidTransaction(f"{what} {amount} has more decimals than {currency} allows")
    return exact


def _between(
    kind: ReconBookingKind,
    key: str,
    debit: str,
    credit: str,
    amount: Decimal,
    currency: str,
    description: str,
) -> ReconBooking:
    transaction = Transaction(
        transaction_id=recon_booking_id(kind, key),
        description=description,
        postings=(
            Posting(debit, Side.DEBIT, amount, currency),
            Posting(credit, Side.CREDIT, amount, currency),
        ),
    )
    return ReconBooking(kind, amount, currency, transaction)


def write_off(mismatch_id: str, difference: Decimal, currency: str) -> ReconBooking:
    """The write-off of `difference` (positive: the PSP holds more than our books) on the
    mismatch. `InvalidTransaction` for a zero difference or one the currency cannot hold."""
    if not mismatch_id:
        raise InvalidTransaction("the mismatch id is required")
    exact = _exact(difference, currency, "difference")
    if exact == 0:
        raise InvalidTransaction("a write-off of nothing books nothing")
    amount = abs(exact)
    # The PSP holds more: the receivable grows to what it holds; less: it shrinks to it.
    debit, credit = (
        (PSP_RECEIVABLE, RECON_SUSPENSE) if exact > 0 else (RECON_SUSPENSE, PSP_RECEIVABLE)
    )
    way = "the PSP holds more" if exact > 0 else "the PSP holds less"
    return _between(
        ReconBookingKind.WRITE_OFF,
        mismatch_id,
        debit,
        credit,
        amount,
        currency,
        f"{WRITE_OFF_PREFIX} {mismatch_id}: {format_amount(amount, currency)} {currency}"
        f" ({way} than the books)",
    )


def duplicate_charge_refunded(
    mismatch_id: str,
    payment_order_id: str,
    charge_id: str,
    refund_id: str,
    amount: Decimal,
    currency: str,
) -> list[ReconBooking]:
    """The duplicate charge and its refund at the PSP, in that order."""
    if not (mismatch_id and payment_order_id and charge_id and refund_id):
        raise InvalidTransaction("mismatch, order, charge and refund ids are required")
    exact = _exact(amount, currency, "amount")
    if exact <= 0:
        raise InvalidTransaction("a duplicate charge is a positive amount")
    text = f"{format_amount(exact, currency)} {currency}"
    return [
        # The PSP took the buyer's money a second time: it holds it, the buyer is owed it.
        _between(
            ReconBookingKind.DUPLICATE_CHARGE,
            charge_id,
            PSP_RECEIVABLE,
            RECON_SUSPENSE,
            exact,
            currency,
            f"{DUPLICATE_CHARGE_PREFIX} {charge_id} of order {payment_order_id}"
            f" (mismatch {mismatch_id}): {text}",
        ),
        # Given back: neither the PSP nor the books hold it any more.
        _between(
            ReconBookingKind.DUPLICATE_CHARGE_REFUND,
            refund_id,
            RECON_SUSPENSE,
            PSP_RECEIVABLE,
            exact,
            currency,
            f"{DUPLICATE_REFUND_PREFIX} {charge_id} by {refund_id} of order {payment_order_id}"
            f" (mismatch {mismatch_id}): {text}",
        ),
    ]
