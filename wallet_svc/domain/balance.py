"""A seller's money in one currency, split by availability."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class Balance:
    """`pending`: credited from payments not yet released; `available`: free to be paid out;
    `reserved`: held for pay-outs in flight. `total` is what the marketplace owes the seller."""

    currency: str
    pending: Decimal = ZERO
    available: Decimal = ZERO
    reserved: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.pending + self.available + self.reserved

    def credit_pending(self, amount: Decimal) -> Balance:
        if amount < 0:
            raise ValueError("a credit cannot be negative")
        return replace(self, pending=self.pending + amount)
