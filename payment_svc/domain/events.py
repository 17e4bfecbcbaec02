"""Events the payment service emits, as plain dataclasses. The entrypoints map them to the
`paymesh.events.v1` messages; the unit of work writes them to the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from payment_svc.domain.refund_events import RefundCreated, RefundFailed, RefundSucceeded


@dataclass(frozen=True)
class OrderCreated:
    payment_order_id: str
    checkout_id: str


@dataclass(frozen=True)
class OrderSucceeded:
    payment_order_id: str
    checkout_id: str
    seller_account: str
    amount: Decimal
    fee_amount: Decimal
    currency: str
    psp_reference: str


@dataclass(frozen=True)
class OrderFailed:
    payment_order_id: str
    checkout_id: str
    reason: str


@dataclass(frozen=True)
class OrderPending:
    """The PSP left the order PENDING (3-D Secure, review, a hosted page): for the marketplace's
    webhooks; nothing inside the mesh acts on it."""

    payment_order_id: str
    checkout_id: str
    reason: str


@dataclass(frozen=True)
class CheckoutDone:
    """`is_payment_done` became true: every order is finished. `orders` is (payment order id,
    final status) of each. For the marketplace's webhooks."""

    checkout_id: str
    orders: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class OrderReleased:
    """A SUCCESS order's funds may be paid out to its seller (delivery confirmed)."""

    payment_order_id: str
    seller_account: str


DomainEvent = (
    OrderCreated
    | OrderSucceeded
    | OrderFailed
    | OrderPending
    | CheckoutDone
    | OrderReleased
    | RefundCreated
    | RefundSucceeded
    | RefundFailed
)
