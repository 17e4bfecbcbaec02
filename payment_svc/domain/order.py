"""A payment order and its state machine.

    NOT_STARTED → EXECUTING → SUCCESS | FAILED | PENDING
    PENDING → SUCCESS | FAILED
    SUCCESS and FAILED are terminal.

Every transition yields a `StatusChange`, which the repository appends to the order's
history (append-only). Any other transition raises `IllegalTransition`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

# The history reason of NOT_STARTED → EXECUTING.
SENT_TO_PSP = "sent to PSP"


class OrderStatus(enum.Enum):
    NOT_STARTED = "NOT_STARTED"
    EXECUTING = "EXECUTING"
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL: frozenset[OrderStatus] = frozenset({OrderStatus.SUCCESS, OrderStatus.FAILED})

# The order state machine. Its database guard, which refuses any other transition however the
# row is written: the `payment_order_guard` trigger (payment migration 0001_initial); keep the
# two in step (tests/integration/test_payment_db_guards.py).
ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NOT_STARTED: frozenset({OrderStatus.EXECUTING}),
    OrderStatus.EXECUTING: frozenset(
        {OrderStatus.SUCCESS, OrderStatus.FAILED, OrderStatus.PENDING}
    ),
    OrderStatus.PENDING: frozenset({OrderStatus.SUCCESS, OrderStatus.FAILED}),
    OrderStatus.SUCCESS: frozenset(),
    OrderStatus.FAILED: frozenset(),
}


class IllegalTransition(Exception):
    """A transition the state machine does not allow."""

    def __init__(self, payment_order_id: str, current: OrderStatus, target: OrderStatus) -> None:
        super().__init__(
            f"payment order {payment_order_id}: {current.value} → {target.value} is not allowed"
        )
        self.payment_order_id = payment_order_id
        self.current = current
        self.target = target


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return target in ALLOWED[current]


@dataclass(frozen=True)
class StatusChange:
    """One entry of an order's history. `from_status` is None for the order's creation."""

    payment_order_id: str
    from_status: OrderStatus | None
    to_status: OrderStatus
    reason: str
    occurred_at: datetime


@dataclass
class PaymentOrder:
    """One seller's share of a checkout. Amounts are Decimals in the order's currency."""

    payment_order_id: str
    checkout_id: str
    seller_account: str
    amount: Decimal
    currency: str
    fee_amount: Decimal
    created_at: datetime
    updated_at: datetime
    position: int = 0
    status: OrderStatus = OrderStatus.NOT_STARTED
    wallet_updated: bool = False
    ledger_updated: bool = False
    psp_reference: str = ""
    failure_reason: str = ""
    attempts: int = 0
    # Retry state while the order waits (the PSP out of reach, its breaker open): why the last
    # try failed, and the earliest time of the next one. Kept as history once the order is past.
    last_error: str = ""
    next_attempt_at: datetime | None = None
    psp_token: str = ""  # hosted flow: the PSP's id of the order's payment page
    payment_page_url: str = ""  # hosted flow: where the buyer pays this order
    history: list[StatusChange] = field(default_factory=list)

    @classmethod
    def new(
        cls,
        *,
        payment_order_id: str,
        checkout_id: str,
        seller_account: str,
        amount: Decimal,
        currency: str,
        fee_amount: Decimal,
        position: int,
        at: datetime,
    ) -> PaymentOrder:
        """A NOT_STARTED order whose history starts with its creation."""
        order = cls(
            payment_order_id=payment_order_id,
            checkout_id=checkout_id,
            seller_account=seller_account,
            amount=amount,
            currency=currency,
            fee_amount=fee_amount,
            created_at=at,
            updated_at=at,
            position=position,
        )
        order.history.append(
            StatusChange(payment_order_id, None, OrderStatus.NOT_STARTED, "created", at)
        )
        return order

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def is_finished(self) -> bool:
        """Nothing more will happen to it: FAILED, or SUCCESS with wallet and ledger updated."""
        if self.status is OrderStatus.FAILED:
            return True
        return self.status is OrderStatus.SUCCESS and self.wallet_updated and self.ledger_updated

    def transition(self, target: OrderStatus, *, reason: str, at: datetime) -> StatusChange:
        """Move to `target` or raise IllegalTransition; the change is also kept in `history`."""
        if not can_transition(self.status, target):
            raise IllegalTransition(self.payment_order_id, self.status, target)
        change = StatusChange(self.payment_order_id, self.status, target, reason, at)
        self.status = target
        self.updated_at = at
        self.history.append(change)
        return change

    def start_execution(self, at: datetime) -> StatusChange:
        """NOT_STARTED → EXECUTING, just before the PSP is called (for many orders at once:
        PaymentRepository.start_executions, the same change)."""
        change = self.transition(OrderStatus.EXECUTING, reason=SENT_TO_PSP, at=at)
        self.attempts += 1
        return change

    def succeed(self, psp_reference: str, at: datetime) -> StatusChange:
        change = self.transition(OrderStatus.SUCCESS, reason="charged", at=at)
        self.psp_reference = psp_reference
        return change

    def fail(self, reason: str, at: datetime, psp_reference: str = "") -> StatusChange:
        reason = reason or "failed"
        change = self.transition(OrderStatus.FAILED, reason=reason, at=at)
        self.failure_reason = reason
        if psp_reference:
            self.psp_reference = psp_reference
        return change

    def await_buyer(self, psp_token: str, page_url: str, at: datetime) -> list[StatusChange]:
        """Hosted flow: NOT_STARTED → EXECUTING → PENDING once the PSP holds the order's page;
        the buyer pays there and the PSP's webhook (or the sweeper's poll) settles it."""
        self.psp_token, self.payment_page_url = psp_token, page_url
        return [
            self.transition(OrderStatus.EXECUTING, reason="payment page made at PSP", at=at),
            self.transition(
                OrderStatus.PENDING, reason="awaiting the buyer on the PSP page", at=at
            ),
        ]

    def wait_for_psp(self, psp_reference: str, at: datetime, reason: str = "") -> StatusChange:
        """EXECUTING → PENDING: the PSP needs time (3-D Secure, review)."""
        change = self.transition(OrderStatus.PENDING, reason=reason or "PSP pending", at=at)
        if psp_reference:
            self.psp_reference = psp_reference
        return change
