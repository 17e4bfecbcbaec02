"""Holds: money of a seller's available balance set aside for one payout (the hold id is the
payout id), then captured (paid out), released (back to available) or, once captured,
returned (the bank gave it back: available again)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from decimal import Decimal

from wallet_svc.domain.balance import Bucket


class HoldStatus(enum.Enum):
    RESERVED = "RESERVED"
    CAPTURED = "CAPTURED"
    RELEASED = "RELEASED"
    RETURNED = "RETURNED"


class HoldNotInState(ValueError):
    """The hold is not where the step needs it (e.g. capturing a released hold)."""


# step → (the status it needs, the status it leaves, the move it makes)
_STEPS: dict[str, tuple[HoldStatus, HoldStatus, Bucket, Bucket]] = {
    "capture": (HoldStatus.RESERVED, HoldStatus.CAPTURED, Bucket.RESERVED, Bucket.PAID_OUT),
    "release_hold": (HoldStatus.RESERVED, HoldStatus.RELEASED, Bucket.RESERVED, Bucket.AVAILABLE),
    "return": (HoldStatus.CAPTURED, HoldStatus.RETURNED, Bucket.PAID_OUT, Bucket.AVAILABLE),
}


@dataclass(frozen=True)
class Hold:
    hold_id: str
    seller_account: str
    currency: str
    amount: Decimal
    status: HoldStatus = HoldStatus.RESERVED

    def step(self, name: str) -> tuple[Hold, Bucket, Bucket] | None:
        """The hold after step `name` and the move it makes; None when the step was taken
        before (idempotent); `HoldNotInState` when it cannot be taken."""
        needs, leaves, debit, credit = _STEPS[name]
        if self.status is leaves:
            return None
        if self.status is not needs:
            raise HoldNotInState(
                f"hold {self.hold_id} is {self.status.value}; {name} needs {needs.value}"
            )
        return replace(self, status=leaves), debit, credit
