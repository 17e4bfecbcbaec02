"""The PSP report's columns: Stripe's `balance_change_from_activity.itemized` names (and the
payouts report's rows in them, recon_svc.adapters.stripe_reports), the Balance
Transactions API's field names and the sandbox's settlement CSV all map onto one set of names.

Amounts are decimal strings in the currency's major unit (as in Stripe's reports), signed: a
refund's gross is negative. Currencies may be lower case (Stripe's habit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# canonical name -> the names it goes by, most preferred first
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("balance_transaction_id", "id"),
    "category": ("reporting_category", "type"),
    "source": ("source_id", "source"),
    "payment_intent": ("payment_intent_id", "payment_intent"),
    "payment_order_id": ("payment_metadata[payment_order_id]", "payment_order_id"),
    "refund_id": ("refund_metadata[refund_id]", "refund_id"),
    "gross": ("gross", "amount"),
    "fee": ("fee",),
    "net": ("net",),
    "currency": ("currency",),
    "created": ("created_utc", "created"),
    "available_on": ("available_on_utc", "available_on"),
}
REQUIRED = ("id", "category", "gross", "currency", "created")

# Stripe's reporting categories, as reconciliation treats them.
CHARGE_CATEGORIES = frozenset({"charge", "payment"})
REFUND_CATEGORIES = frozenset({"refund", "payment_refund"})
# Compared with payouts later: the PSP's payouts to the platform, and transfers to connected
# accounts (what seller payouts are paid from, on Stripe Connect).
PAYOUT_CATEGORIES = frozenset({"payout", "payout_reversal", "transfer", "transfer_reversal"})


class UnknownReportFormat(ValueError):
    """The report lacks a column reconciliation cannot do without."""


@dataclass(frozen=True)
class ColumnMap:
    """Which of the file's columns holds each canonical field (None: the file has none)."""

    columns: dict[str, str | None]

    def __getitem__(self, canonical: str) -> str | None:
        return self.columns[canonical]


def map_columns(header: Sequence[str]) -> ColumnMap:
    """Map a report's header onto the canonical names; refuse one without the required ones."""
    present = {name.strip() for name in header}
    found: dict[str, str | None] = {}
    for canonical, names in ALIASES.items():
        found[canonical] = next((name for name in names if name in present), None)
    missing = [name for name in REQUIRED if found[name] is None]
    if missing:
        wanted = ", ".join(" or ".join(ALIASES[name]) for name in missing)
        raise UnknownReportFormat(f"the PSP report has no column for: {wanted}")
    return ColumnMap(found)
