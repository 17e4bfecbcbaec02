"""The PSP port for refunds, in domain terms: refund part or all of a charge at most once per
refund id, and find a refund whose answer was lost.

Amounts are `Decimal` in major units; the adapter converts them to the PSP's wire format."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class RefundRequest:
    """One refund to make once, whatever the number of attempts."""

    refund_id: str  # also the PSP idempotency key, the same on every attempt
    payment_order_id: str
    charge_reference: str  # the PSP's id of the charge refunded (the order's psp_reference)
    amount: Decimal  # major units
    currency: str  # ISO 4217 upper case


class RefundOutcomeStatus(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"  # the PSP needs time: ask again later


@dataclass(frozen=True)
class RefundOutcome:
    """What the PSP answered about one refund."""

    status: RefundOutcomeStatus
    psp_reference: str  # the PSP's refund id ("" if none)
    failure_reason: str = ""


class RefundProvider(Protocol):
    """A PSP that refunds at most once per `refund_id`. Both methods raise PspUnavailable when
    the PSP cannot be reached or its answer is unknown, PspRejected for a request it refuses."""

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        """Refund `request`; a retry with the same `refund_id` never refunds twice (within the
        PSP's idempotency window: ask with `find_refund` first after an unknown outcome)."""
        ...

    async def find_refund(self, charge_reference: str, refund_id: str) -> RefundOutcome | None:
        """The PSP's view of the refund made for `refund_id` on the charge, found without its
        reference; None when the PSP has none."""
        ...
