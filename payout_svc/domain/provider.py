"""The payout provider port: pay a payout to a destination account, idempotently on the payout
id, and tell what became of it. Adapters: Stripe Connect (payout_svc.adapters.stripe_payouts)
and a fake for unit tests (payout_svc.service_layer.fakes)."""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from decimal import Decimal


class ProviderStatus(enum.Enum):
    PENDING = "pending"  # accepted, not yet on its way
    IN_TRANSIT = "in_transit"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True)
class ProviderPayout:
    reference: str
    status: ProviderStatus
    failure: str = ""


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered with a 5xx: the outcome is unknown; ask it
    (`find`) before trying again."""


class ProviderRefused(Exception):
    """The provider refused the payout for good (e.g. insufficient platform balance, an invalid
    account): nothing was paid."""


class PayoutProvider(abc.ABC):
    @abc.abstractmethod
    async def pay(
        self, payout_id: str, destination: str, amount: Decimal, currency: str
    ) -> ProviderPayout:
        """Pay `amount` to `destination`, with `payout_id` as the idempotency key (a second call
        is the same payout). ProviderUnavailable / ProviderRefused."""

    @abc.abstractmethod
    async def find(self, payout_id: str, destination: str) -> ProviderPayout | None:
        """The provider's payout for `payout_id` (by its metadata), None when it has none.
        ProviderUnavailable."""
