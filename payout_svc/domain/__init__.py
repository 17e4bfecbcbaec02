"""The payout service's domain: payouts and their status machine, sellers' payout settings,
the payout provider port. No I/O here."""

from payout_svc.domain.payout import (
    IllegalTransition,
    Payout,
    PayoutStatus,
    StatusChange,
    new_payout,
)
from payout_svc.domain.provider import (
    PayoutProvider,
    ProviderPayout,
    ProviderRefused,
    ProviderStatus,
    ProviderUnavailable,
)
from payout_svc.domain.seller import InvalidSettings, Schedule, Seller

__all__ = [
    "IllegalTransition",
    "InvalidSettings",
    "Payout",
    "PayoutProvider",
    "PayoutStatus",
    "ProviderPayout",
    "ProviderRefused",
    "ProviderStatus",
    "ProviderUnavailable",
    "Schedule",
    "Seller",
    "StatusChange",
    "new_payout",
]
