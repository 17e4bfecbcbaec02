"""Events the payout service emits (entrypoints map them to protobuf)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class PayoutReserved:
    """The wallet holds the payout's money: the provider may be asked to pay it (subject
    `payout.reserved`, consumed by this service's own executor)."""

    payout_id: str


@dataclass(frozen=True)
class PayoutPaid:
    """The provider paid it; its hold is captured (subject `payout.paid`, for the
    marketplace's webhooks)."""

    payout_id: str
    seller_account: str
    amount: Decimal
    currency: str
    provider_reference: str


@dataclass(frozen=True)
class PayoutFailed:
    """It ended without paying (FAILED, CANCELED, or paid and `returned` by the bank); its money
    is back in available (subject `payout.failed`)."""

    payout_id: str
    seller_account: str
    amount: Decimal | None
    currency: str
    status: str
    reason: str
    returned: bool


DomainEvent = PayoutReserved | PayoutPaid | PayoutFailed
