"""Events of refunds, as plain dataclasses (the entrypoints map them to `paymesh.events.v1`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class RefundCreated:
    """A refund to execute at the PSP (subject `payment.refund.created`)."""

    refund_id: str
    payment_order_id: str


@dataclass(frozen=True)
class RefundSucceeded:
    """The PSP refunded the buyer: wallet and ledger reverse it (`payment.refund.succeeded`).
    The fee is computed once, here, so that wallet and ledger cannot disagree on it."""

    refund_id: str
    payment_order_id: str
    seller_account: str
    amount: Decimal
    fee_refunded: Decimal
    currency: str
    psp_reference: str


@dataclass(frozen=True)
class RefundFailed:
    """The PSP refused the refund; nothing moved (`payment.refund.failed`)."""

    refund_id: str
    payment_order_id: str
    reason: str
