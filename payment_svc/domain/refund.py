"""A refund of a payment order: how much may be refunded, the fee that goes back with it, and
its state machine.

    PENDING → SUCCEEDED | FAILED     (both terminal)

A refund is PENDING from its creation until the PSP answers. `attempts` counts the calls made
to the PSP: a PENDING refund with attempts > 0 may have been executed already (its answer may
have been lost), so the PSP is asked first before it is sent again.

What may be refunded: the order must be SUCCESS; the amount defaults to what remains, is
positive, in the order's currency precision, and never more than the order's amount less every
refund of it that has not FAILED. The platform fee goes back pro rata, rounded to the minor
unit; the refund that empties the order takes exactly what is left of the fee, so refunds of a
whole order, in one part or several, give back exactly its fee.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from mesh.money import InvalidMoney, parse_amount, quantize


class RefundStatus(enum.Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class RefundNotAllowed(Exception):
    """A refund that the rules forbid; `reason` is the ErrorInfo reason the caller gets."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidRefundAmount(ValueError):
    """The requested amount is not valid money in the order's currency."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class IllegalRefundTransition(Exception):
    """Only a PENDING refund may succeed or fail."""


@dataclass(frozen=True)
class RefundableOrder:
    """What the rules need of an order and its refunds so far (those not FAILED)."""

    payment_order_id: str
    succeeded: bool  # the order is SUCCESS
    amount: Decimal
    fee_amount: Decimal
    currency: str
    refunded: Decimal  # sum of its refunds not FAILED
    fee_refunded: Decimal  # their fee_refunded

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.refunded


@dataclass(frozen=True)
class RefundPlan:
    amount: Decimal
    fee_refunded: Decimal


def plan_refund(order: RefundableOrder, requested: str) -> RefundPlan:
    """The amount and fee of a refund of `order`; `requested` is the wire amount, "" for all
    that remains. Raises InvalidRefundAmount or RefundNotAllowed."""
    if not order.succeeded:
        raise RefundNotAllowed(
            "ORDER_NOT_REFUNDABLE",
            f"payment order {order.payment_order_id} did not succeed; only SUCCESS orders can be "
            "refunded",
        )
    if requested:
        try:
            amount = parse_amount(requested, order.currency)
        except InvalidMoney as err:
            raise InvalidRefundAmount(err.rule, f"{err} ({order.currency})") from None
    else:
        amount = order.remaining
    if amount <= 0 or amount > order.remaining:
        raise RefundNotAllowed(
            "REFUND_EXCEEDS_REMAINING",
            f"refund of {amount} {order.currency} exceeds what remains unrefunded of payment "
            f"order {order.payment_order_id}: {order.remaining} {order.currency}",
        )
    return RefundPlan(amount, fee_to_refund(order, amount))


def fee_to_refund(order: RefundableOrder, amount: Decimal) -> Decimal:
    """The order's fee pro rata to `amount`, rounded to the minor unit; all the fee that is left
    when `amount` empties the order; never more than what is left of it."""
    fee_left = order.fee_amount - order.fee_refunded
    if amount == order.remaining:
        return fee_left
    share = quantize(order.fee_amount * amount / order.amount, order.currency)
    return max(Decimal(0), min(share, fee_left))


@dataclass
class Refund:
    refund_id: str
    payment_order_id: str
    seller_account: str
    amount: Decimal
    fee_refunded: Decimal
    currency: str
    created_at: datetime
    updated_at: datetime
    status: RefundStatus = RefundStatus.PENDING
    psp_reference: str = ""
    failure_reason: str = ""
    attempts: int = 0

    @property
    def seller_debit(self) -> Decimal:
        """What the seller gives back: the amount less the fee the platform gives back."""
        return self.amount - self.fee_refunded

    def succeed(self, psp_reference: str, at: datetime) -> None:
        self._finish(RefundStatus.SUCCEEDED, at)
        self.psp_reference = psp_reference

    def fail(self, reason: str, at: datetime, psp_reference: str = "") -> None:
        self._finish(RefundStatus.FAILED, at)
        self.failure_reason = reason or "failed"
        if psp_reference:
            self.psp_reference = psp_reference

    def _finish(self, target: RefundStatus, at: datetime) -> None:
        if self.status is not RefundStatus.PENDING:
            raise IllegalRefundTransition(
                f"refund {self.refund_id}: {self.status.value} → {target.value} is not allowed"
            )
        self.status = target
        self.updated_at = at
