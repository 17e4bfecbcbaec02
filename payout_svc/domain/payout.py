"""A payout and its statuses, which follow the provider's:

    REQUESTED → RESERVED → SUBMITTED → IN_TRANSIT → PAID
    REQUESTED | RESERVED | SUBMITTED | IN_TRANSIT → FAILED | CANCELED (with the reason)
    PAID → FAILED (the bank returned it: the money goes back to the seller)

Every transition is appended to the payout's history; FAILED and CANCELED are terminal."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal


class PayoutStatus(enum.Enum):
    REQUESTED = "REQUESTED"
    RESERVED = "RESERVED"
    SUBMITTED = "SUBMITTED"
    IN_TRANSIT = "IN_TRANSIT"
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def in_flight(self) -> bool:
        """Money is held for it and the provider's final answer is still to come."""
        return self in (PayoutStatus.RESERVED, PayoutStatus.SUBMITTED, PayoutStatus.IN_TRANSIT)


_ALLOWED: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    PayoutStatus.REQUESTED: frozenset(
        {PayoutStatus.RESERVED, PayoutStatus.FAILED, PayoutStatus.CANCELED}
    ),
    PayoutStatus.RESERVED: frozenset(
        {
            PayoutStatus.SUBMITTED,
            PayoutStatus.IN_TRANSIT,
            PayoutStatus.PAID,
            PayoutStatus.FAILED,
            PayoutStatus.CANCELED,
        }
    ),
    PayoutStatus.SUBMITTED: frozenset(
        {PayoutStatus.IN_TRANSIT, PayoutStatus.PAID, PayoutStatus.FAILED, PayoutStatus.CANCELED}
    ),
    PayoutStatus.IN_TRANSIT: frozenset(
        {PayoutStatus.PAID, PayoutStatus.FAILED, PayoutStatus.CANCELED}
    ),
    PayoutStatus.PAID: frozenset({PayoutStatus.FAILED}),
    PayoutStatus.FAILED: frozenset(),
    PayoutStatus.CANCELED: frozenset(),
}


class IllegalTransition(ValueError):
    pass


@dataclass(frozen=True)
class StatusChange:
    from_status: PayoutStatus | None
    to_status: PayoutStatus
    reason: str
    occurred_at: datetime


@dataclass(frozen=True)
class Payout:
    """`amount` is None until the wallet held it (a payout of "everything available" learns
    its amount from the hold)."""

    payout_id: str
    seller_account: str
    currency: str
    amount: Decimal | None
    destination: str
    status: PayoutStatus
    created_at: datetime
    updated_at: datetime
    provider_reference: str = ""
    failure_reason: str = ""
    returned: bool = False  # PAID, then FAILED: the bank gave it back
    history: tuple[StatusChange, ...] = field(default_factory=tuple)

    def can_move_to(self, status: PayoutStatus) -> bool:
        """Whether the machine allows `status` next (a late or reordered report of the
        provider, `in_transit` after `paid`, does not)."""
        return status in _ALLOWED[self.status]

    def moved_to(
        self, status: PayoutStatus, at: datetime, reason: str = "", **changes: object
    ) -> Payout:
        """The payout in `status`; IllegalTransition when the machine does not allow it."""
        if not self.can_move_to(status):
            raise IllegalTransition(
                f"payout {self.payout_id}: {self.status.value} → {status.value}"
            )
        failed = status in (PayoutStatus.FAILED, PayoutStatus.CANCELED)
        return replace(
            self,
            status=status,
            updated_at=at,
            failure_reason=reason if failed else self.failure_reason,
            returned=self.returned or (self.status is PayoutStatus.PAID and failed),
            history=(*self.history, StatusChange(self.status, status, reason, at)),
            **changes,  # type: ignore[arg-type]
        )


def new_payout(
    payout_id: str,
    seller_account: str,
    currency: str,
    amount: Decimal | None,
    destination: str,
    at: datetime,
) -> Payout:
    return Payout(
        payout_id,
        seller_account,
        currency,
        amount,
        destination,
        PayoutStatus.REQUESTED,
        at,
        at,
        history=(StatusChange(None, PayoutStatus.REQUESTED, "", at),),
    )
