"""A checkout (the payment event): what a buyer paid in one go, one order per seller."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from payment_svc.domain.order import PaymentOrder


def is_payment_done(orders: Iterable[PaymentOrder]) -> bool:
    """Every order is terminal, and every SUCCESS order has its wallet and ledger updated.

    A checkout without orders is never done (it cannot exist; do not call it finished)."""
    seen = False
    for order in orders:
        seen = True
        if not order.is_finished:
            return False
    return seen


class Flow(enum.Enum):
    DIRECT = "direct"  # paymesh charges the caller's payment-method token
    HOSTED = "hosted"  # the buyer pays on the PSP's hosted page


@dataclass
class Checkout:
    checkout_id: str
    buyer_id: str
    payment_method: str
    created_at: datetime
    buyer_email: str = ""
    buyer_name: str = ""
    pii_erased: bool = False  # the buyer's e-mail and name were erased on request
    is_payment_done: bool = False
    flow: Flow = Flow.DIRECT
    redirect_url: str = ""  # hosted flow: where the PSP's page sends the buyer when done
    orders: list[PaymentOrder] = field(default_factory=list)

    def refresh_done(self) -> bool:
        """Recompute `is_payment_done` from the orders; True when it changed."""
        done = is_payment_done(self.orders)
        changed = done != self.is_payment_done
        self.is_payment_done = done
        return changed
