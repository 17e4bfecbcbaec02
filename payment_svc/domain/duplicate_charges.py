"""A duplicate charge given back: the PSP took a SUCCESS order's money a second time, and
reconciliation's finance queue decided to refund that second charge. The rules of which charge
may be given back this way, and the PSP port that does it.

The order keeps its one good charge: only a charge that belongs to the order (by the metadata
paymesh sent or by the order's PaymentIntent) and is not the order's settled charge may be
refunded, in full. Nothing of paymesh's own records changes (no refund row, no wallet or ledger
reversal of the order): the seller was never credited for the duplicate. The PSP idempotency
key is the caller's request id (recon_svc derives it from the mismatch), and a charge already
given back answers its refund, so it is refunded once however often it is asked.

Amounts are `Decimal` in major units; the adapter converts from the PSP's wire format."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from payment_svc.domain.order import OrderStatus, PaymentOrder
from payment_svc.domain.psp_refunds import RefundOutcome


@dataclass(frozen=True)
class ChargeAtPsp:
    """One charge as the PSP holds it."""

    charge_id: str
    payment_intent: str  # "" when none
    payment_order_id: str  # from the metadata paymesh sent; "" when none
    amount: Decimal  # captured, major units
    amount_refunded: Decimal
    currency: str  # upper case
    paid: bool


class NotADuplicate(ValueError):
    """The charge may not be given back as a duplicate; `reason` is the API's error reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_duplicate(order: PaymentOrder, charge: ChargeAtPsp, settled_charge_id: str) -> None:
    """Raise NotADuplicate unless `charge` is a second charge of `order` that may be given
    back: the order is SUCCESS (it keeps a good charge), the charge is the order's (metadata or
    PaymentIntent) but not the one it settled on (`settled_charge_id`), and it was paid."""
    if order.status is not OrderStatus.SUCCESS:
        raise NotADuplicate(
            "NOT_A_DUPLICATE_CHARGE",
            f"order {order.payment_order_id} is {order.status.value}: it has no good charge to"
            " keep, so none of its charges is a duplicate",
        )
    ours = charge.payment_order_id == order.payment_order_id or (
        bool(charge.payment_intent) and charge.payment_intent == order.psp_reference
    )
    if not ours:
        raise NotADuplicate(
            "NOT_A_DUPLICATE_CHARGE",
            f"charge {charge.charge_id} is not a charge of order {order.payment_order_id}",
        )
    if charge.charge_id == settled_charge_id:
        raise NotADuplicate(
            "NOT_A_DUPLICATE_CHARGE",
            f"charge {charge.charge_id} is the one order {order.payment_order_id} settled on;"
            " refund the order instead",
        )
    if not charge.paid or charge.amount <= 0:
        raise NotADuplicate("NOT_A_DUPLICATE_CHARGE", f"charge {charge.charge_id} took nothing")


@dataclass(frozen=True)
class ChargeRefund:
    """A refund of one charge at the PSP."""

    outcome: RefundOutcome
    amount: Decimal
    currency: str


class ChargeRefunds(Protocol):
    """The PSP's side of giving back one charge. Each method raises PspUnavailable when the PSP
    cannot be reached, PspRejected for a request it refuses."""

    async def charge(self, charge_id: str) -> ChargeAtPsp | None:
        """The charge, None when the PSP has no such charge."""
        ...

    async def settled_charge(self, psp_reference: str) -> str:
        """The charge the order's PaymentIntent settled on ("" when none)."""
        ...

    async def refunds_of_charge(self, charge_id: str) -> list[ChargeRefund]:
        """Every refund of the charge, oldest first."""
        ...

    async def refund_charge(
        self, charge: ChargeAtPsp, amount: Decimal, idempotency_key: str
    ) -> ChargeRefund:
        """Refund `amount` of the charge, once per `idempotency_key`."""
        ...
