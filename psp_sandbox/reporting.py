"""The Reporting API's report types and the CSV a report run produces, in Stripe's shapes.

Two report types, as Stripe's Balance report splits the account's history:
- `balance_change_from_activity.itemized.3`: one row per balance transaction created in
  [interval_start, interval_end) except payouts (charges, refunds, transfers, adjustments);
- `payouts.itemized.3`: one row per payout of the platform to its bank in the interval.

Column names are Stripe's; `columns` picks and orders them, the default set is Stripe's default.
Metadata columns are named `payment_metadata[key]` (the charge's PaymentIntent metadata, also on
its refunds' rows), `refund_metadata[key]` and `transfer_metadata[key]`, and exist only when
asked for, as on Stripe. Amounts are decimal strings in the currency's major unit, signed (a
refund's gross is negative), from integer minor units without floats; times are UTC
`YYYY-MM-DD HH:MM:SS`. Pure: no I/O.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from psp_sandbox.currencies import to_decimal_string

StripeObject = dict[str, Any]
Lookup = Callable[[str, str], StripeObject | None]  # (id, object type) -> object

ACTIVITY = "balance_change_from_activity.itemized.3"
PAYOUTS = "payouts.itemized.3"
_METADATA_COLUMN = re.compile(r"^(payment|refund|transfer)_metadata\[([^\[\]]{1,40})\]$")


@dataclass(frozen=True)
class ReportType:
    id: str
    name: str
    version: int
    columns: tuple[str, ...]  # every column it has (metadata columns aside)
    default_columns: tuple[str, ...]

    def to_json(self, data_available_start: int, data_available_end: int, now: int) -> StripeObject:
        return {
            "id": self.id,
            "object": "reporting.report_type",
            "data_available_end": data_available_end,
            "data_available_start": data_available_start,
            "default_columns": list(self.default_columns),
            "livemode": False,
            "name": self.name,
            "updated": now,
            "version": self.version,
        }

    def check_columns(self, columns: list[str]) -> str | None:
        """The first column this type does not have; None when it has them all."""
        for column in columns:
            if column not in self.columns and not _METADATA_COLUMN.match(column):
                return column
        return None


_ACTIVITY_DEFAULT = (
    "balance_transaction_id",
    "created_utc",
    "available_on_utc",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "source_id",
    "description",
    "customer_facing_amount",
    "customer_facing_currency",
)
_PAYOUTS_DEFAULT = (
    "payout_id",
    "effective_at_utc",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "description",
)
REPORT_TYPES: dict[str, ReportType] = {
    ACTIVITY: ReportType(
        ACTIVITY,
        "Itemized balance change from activity",
        3,
        (
            *_ACTIVITY_DEFAULT,
            "created",
            "available_on",
            "charge_id",
            "payment_intent_id",
            "charge_created_utc",
        ),
        _ACTIVITY_DEFAULT,
    ),
    PAYOUTS: ReportType(
        PAYOUTS,
        "Itemized payouts",
        3,
        (
            *_PAYOUTS_DEFAULT,
            "effective_at",
            "payout_expected_arrival_date",
            "payout_status",
            "payout_type",
            "payout_description",
            "payout_destination_id",
        ),
        _PAYOUTS_DEFAULT,
    ),
}


def utc_text(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S")


def rows(
    report_type: str,
    transactions: Iterable[StripeObject],
    lookup: Lookup,
    start: int,
    end: int,
    currency: str | None = None,
) -> Iterator[dict[str, str]]:
    """Every column's value for each balance transaction the report covers, oldest first."""
    for txn in transactions:
        if not start <= txn["created"] < end:
            continue
        if currency is not None and txn["currency"] != currency:
            continue
        is_payout = txn["type"] == "payout"
        if (report_type == PAYOUTS) != is_payout:
            continue
        yield _payout_row(txn, lookup) if is_payout else _activity_row(txn, lookup)


def _money(amount: int | None, currency: str) -> str:
    return "" if amount is None else to_decimal_string(amount, currency)


def _activity_row(txn: StripeObject, lookup: Lookup) -> dict[str, str]:
    currency = txn["currency"]
    source = txn["source"] or ""
    charge = lookup(source, "charge")
    refund = lookup(source, "refund")
    transfer = lookup(source, "transfer")
    if refund is not None:
        charge = lookup(refund.get("charge") or "", "charge")
    intent_id = (charge or refund or {}).get("payment_intent") or ""
    intent = lookup(intent_id, "payment_intent") if intent_id else None
    payment_metadata = dict((intent or {}).get("metadata") or (charge or {}).get("metadata") or {})
    facing = charge if refund is None else refund
    row = {
        "balance_transaction_id": txn["id"],
        "created_utc": utc_text(txn["created"]),
        "created": utc_text(txn["created"]),
        "available_on_utc": utc_text(txn["available_on"]),
        "available_on": utc_text(txn["available_on"]),
        "currency": currency,
        "gross": _money(txn["amount"], currency),
        "fee": _money(txn["fee"], currency),
        "net": _money(txn["net"], currency),
        "reporting_category": txn["reporting_category"],
        "source_id": source,
        "description": txn.get("description") or "",
        "customer_facing_amount": _money(facing["amount"], currency) if facing else "",
        "customer_facing_currency": currency if facing else "",
        "charge_id": (charge or {}).get("id", ""),
        "payment_intent_id": intent_id,
        "charge_created_utc": utc_text(charge["created"]) if charge else "",
    }
    for key, value in payment_metadata.items():
        if charge is not None:
            row[f"payment_metadata[{key}]"] = value
    for key, value in ((refund or {}).get("metadata") or {}).items():
        row[f"refund_metadata[{key}]"] = value
    for key, value in ((transfer or {}).get("metadata") or {}).items():
        row[f"transfer_metadata[{key}]"] = value
    return row


def _payout_row(txn: StripeObject, lookup: Lookup) -> dict[str, str]:
    currency = txn["currency"]
    payout = lookup(txn["source"], "payout") or {}
    return {
        "payout_id": txn["source"],
        "effective_at_utc": utc_text(txn["created"]),
        "effective_at": utc_text(txn["created"]),
        "currency": currency,
        # The payout's gross is what left the balance: negative, as in the activity rows.
        "gross": _money(txn["amount"], currency),
        "fee": _money(txn["fee"], currency),
        "net": _money(txn["net"], currency),
        "reporting_category": txn["reporting_category"],
        "description": txn.get("description") or "",
        "payout_expected_arrival_date": (
            utc_text(payout["arrival_date"])[:10] if payout.get("arrival_date") else ""
        ),
        "payout_status": payout.get("status", ""),
        "payout_type": payout.get("type", ""),
        "payout_description": payout.get("description") or "",
        "payout_destination_id": payout.get("destination") or "",
    }


def write_csv(out: TextIO, columns: list[str], report_rows: Iterable[dict[str, str]]) -> None:
    """The header, then each row's values in `columns` order (empty where it has none)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in report_rows:
        writer.writerow([row.get(column, "") for column in columns])
