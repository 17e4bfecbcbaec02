"""The PSP's side from Stripe's Reporting API, through the stripe SDK: real Stripe and the
sandbox PSP alike (`api_base` and `files_base` point the SDK at either).

For a period it runs two report types, as Stripe's Balance report splits the account's history:
`balance_change_from_activity.itemized.3` (charges, refunds, transfers, fees, adjustments,
with the columns reconciliation reads, metadata included) and `payouts.itemized.3` (the PSP's
payouts to the platform's bank). Each run is polled until `succeeded`; its result file is
streamed from the files host (files.stripe.com on Stripe) to disk, never held in memory. The
two are written as ONE CSV with the activity report's column names, a payout's row carrying
its payout id as `balance_transaction_id` and `source_id` (the payouts report has no balance
transaction id) and `reporting_category` `payout`, which `recon_svc.domain.psp_columns` reads.

Synchronous, like the engine that reads the file: an async caller runs it in a worker thread.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import stripe
from stripe._stripe_service import StripeService

from recon_svc.domain.period import Period

ACTIVITY = "balance_change_from_activity.itemized.3"
PAYOUTS = "payouts.itemized.3"
# What reconciliation reads of the activity report (recon_svc.domain.psp_columns).
ACTIVITY_COLUMNS = (
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
    "charge_id",
    "payment_intent_id",
    "payment_metadata[payment_order_id]",
    "refund_metadata[refund_id]",
)
PAYOUT_COLUMNS = (
    "payout_id",
    "effective_at_utc",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "description",
)
STRIPE_FILES_BASE = "https://files.stripe.com"
_CHUNK = 1 << 16


class ReportRunFailed(RuntimeError):
    """Stripe could not produce the report (the run `failed`, or it took too long)."""


@dataclass(frozen=True)
class StripeReportSettings:
    """Where the Stripe API is and how long to wait for a report run."""

    api_key: str
    api_base: str = "https://api.stripe.com"
    # Where file contents are served; empty: Stripe's files host for Stripe's API, the API's
    # own address otherwise (the sandbox serves both on one).
    files_base: str = ""
    poll_interval_s: float = 1.0
    run_timeout_s: float = 900.0  # Stripe's runs take seconds to minutes
    request_timeout_s: float = 30.0

    @property
    def files_address(self) -> str:
        if self.files_base:
            return self.files_base.rstrip("/")
        if self.api_base.rstrip("/") == "https://api.stripe.com":
            return STRIPE_FILES_BASE
        return self.api_base.rstrip("/")


class _FileContents(StripeService):
    """GET /v1/files/{id}/contents on the files host, streamed: the SDK's own request path
    (auth, API version, error mapping), as its generated services stream a quote's PDF."""

    def download(self, file_id: str, target: Path) -> int:
        response = self._request_stream(
            "get", f"/v1/files/{file_id}/contents", base_address="files"
        )
        size = 0
        body: Any = response.io
        # A file-like object from most of the SDK's HTTP clients, an iterator of bytes from
        # its httpx client.
        chunks = iter(lambda: body.read(_CHUNK), b"") if hasattr(body, "read") else body
        with target.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
        return size


def _client(settings: StripeReportSettings) -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.api_key,
        base_addresses={"api": settings.api_base.rstrip("/"), "files": settings.files_address},
        http_client=stripe.HTTPXClient(timeout=settings.request_timeout_s, allow_sync_methods=True),
        max_network_retries=2,  # reads and idempotent creates (the SDK adds the keys)
    )


def run_report(
    client: stripe.StripeClient,
    settings: StripeReportSettings,
    report_type: str,
    start: datetime,
    end: datetime,
    columns: tuple[str, ...],
    target: Path,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Create a run of `report_type` over [start, end) (clamped to the data Stripe has),
    wait for it and download its file to `target`."""
    available = client.v1.reporting.report_types.retrieve(report_type)
    interval_start = max(int(start.timestamp()), int(available.data_available_start))
    interval_end = min(int(end.timestamp()), int(available.data_available_end))
    params: dict[str, Any] = {
        "report_type": report_type,
        "parameters": {
            "interval_start": interval_start,
            "interval_end": interval_end,
            "columns": list(columns),
        },
    }
    run = client.v1.reporting.report_runs.create(params)  # type: ignore[arg-type]
    deadline = time.monotonic() + settings.run_timeout_s
    while run.status == "pending":
        if time.monotonic() > deadline:
            raise ReportRunFailed(
                f"report run {run.id} still pending after {settings.run_timeout_s} s"
            )
        sleep(settings.poll_interval_s)
        run = client.v1.reporting.report_runs.retrieve(run.id)
    if run.status != "succeeded" or run.result is None:
        raise ReportRunFailed(f"report run {run.id} {run.status}: {run.error}")
    _FileContents(client._requestor).download(run.result.id, target)
    return target


def download_balance_report(
    period: Period,
    settings: StripeReportSettings,
    target: Path,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """The PSP's balance transactions of `period` (with its margin) as one CSV at `target`:
    the activity report's rows, then the payouts report's in the same columns."""
    client = _client(settings)
    start, end = period.read_from, period.read_until
    target.parent.mkdir(parents=True, exist_ok=True)
    activity = run_report(client, settings, ACTIVITY, start, end, ACTIVITY_COLUMNS, target, sleep)
    payouts = run_report(
        client,
        settings,
        PAYOUTS,
        start,
        end,
        PAYOUT_COLUMNS,
        target.with_name(target.stem + "-payouts.csv"),
        sleep,
    )
    with activity.open("rb") as written:
        written.seek(-1, 2)
        ends_in_newline = written.read(1) == b"\n"
    with (
        payouts.open(newline="", encoding="utf-8") as source,
        activity.open("a", newline="", encoding="utf-8") as out,
    ):
        writer = csv.writer(out, lineterminator="\n")
        if not ends_in_newline:
            out.write("\n")
        for row in csv.DictReader(source):
            payout = {
                "balance_transaction_id": row["payout_id"],
                "created_utc": row["effective_at_utc"],
                "available_on_utc": row["effective_at_utc"],
                "source_id": row["payout_id"],
                **{name: row[name] for name in ("currency", "gross", "fee", "net")},
                "reporting_category": row["reporting_category"],
                "description": row["description"],
            }
            writer.writerow([payout.get(column, "") for column in ACTIVITY_COLUMNS])
    payouts.unlink()
    return activity


class StripeReportTransactions:
    """The `PspTransactions` port over Stripe's reports; also a report source callable as
    `(period, directory) -> path of the CSV`."""

    def __init__(self, settings: StripeReportSettings) -> None:
        self._settings = settings

    def spool(self, period: Period, directory: Path) -> Path:
        return download_balance_report(period, self._settings, directory / "psp-report.csv")

    def __call__(self, period: Period, directory: Path) -> Path:
        return self.spool(period, directory)


@dataclass(frozen=True)
class PspBalanceFigures:
    """The PSP's fee per balance transaction and amount per payout to the platform (minor
    units, as on the wire; a payout's amount positive), with their currencies."""

    fees: dict[str, tuple[int, str]]
    payouts: dict[str, tuple[int, str]]


def balance_figures(settings: StripeReportSettings) -> PspBalanceFigures:
    """Every balance transaction's fee and every platform payout, from the Balance Transactions
    list (paged by the SDK): what `paymesh check` compares the ledger's PSP bookings with."""
    client = _client(settings)
    fees: dict[str, tuple[int, str]] = {}
    payouts: dict[str, tuple[int, str]] = {}
    page = client.v1.balance_transactions.list({"limit": 100})
    for txn in page.auto_paging_iter():
        currency = txn.currency.upper()
        is_payout = txn.type in ("payout", "payout_reversal") and isinstance(txn.source, str)
        if txn.fee:
            # A payout's row in the report names the payout, not its balance transaction.
            fees[txn.source if is_payout else txn.id] = (txn.fee, currency)
        if is_payout:
            payouts[txn.source] = (-txn.amount, currency)
    return PspBalanceFigures(fees, payouts)
