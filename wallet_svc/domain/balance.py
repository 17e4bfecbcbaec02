"""A seller's money in one currency, split by availability, and the buckets money moves
between."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from decimal import Decimal

ZERO = Decimal(0)


class Bucket(enum.Enum):
    """Where a seller's money sits (or went). Each is one ledger account (README, "Pay-out");
    a move debits one bucket's account and credits another's."""

    PENDING = "pending"
    AVAILABLE = "available"
    RESERVED = "reserved"
    DEBT = "debt"  # what the seller owes: an asset of the marketplace
    PAID_OUT = "paid_out"  # left the wallet through a payout the provider paid


@dataclass(frozen=True)
class Balance:
    """`pending`: credited from payments not yet released; `available`: free to be paid out;
    `reserved`: held for pay-outs in flight; `debt`: what refunds took beyond the seller's
    money, settled first by later credits. None is ever negative (the `balances_not_negative`
    constraint guards it). `total` is what the marketplace owes the seller."""

    currency: str
    pending: Decimal = ZERO
    available: Decimal = ZERO
    reserved: Decimal = ZERO
    debt: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.pending + self.available + self.reserved - self.debt

    def credit_pending(self, amount: Decimal) -> Balance:
        if amount < 0:
            raise ValueError("a credit cannot be negative")
        return replace(self, pending=self.pending + amount)

    def moved(self, debit: Bucket, credit: Bucket, amount: Decimal) -> Balance:
        """The balance after a move of `amount`: the debited bucket's liability shrinks (the
        debt, an asset, grows), the credited one's grows (the debt shrinks)."""
        values = {
            Bucket.PENDING: self.pending,
            Bucket.AVAILABLE: self.available,
            Bucket.RESERVED: self.reserved,
            Bucket.DEBT: -self.debt,  # an asset: a debit grows it
            Bucket.PAID_OUT: ZERO,  # outside the wallet
        }
        values[debit] -= amount
        values[credit] += amount
        return replace(
            self,
            pending=values[Bucket.PENDING],
            available=values[Bucket.AVAILABLE],
            reserved=values[Bucket.RESERVED],
            debt=-values[Bucket.DEBT],
        )


def settle_debt(balance: Balance, net: Decimal) -> Decimal:
    """How much of a credit of `net` settles the seller's debt first."""
    return min(balance.debt, net)
