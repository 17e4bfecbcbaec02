"""Events the payout service emits (entrypoints map them to protobuf)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PayoutReserved:
    """The wallet holds the payout's money: the provider may be asked to pay it (subject
    `payout.reserved`, consumed by this service's own executor)."""

    payout_id: str


DomainEvent = PayoutReserved
