"""The ports reconciliation talks to. Both sides are handed over as files in a scratch
directory: a columnar engine reads them at its own pace, so memory stays flat however long the
period, and PostgreSQL's COPY or a PSP's report download write them without holding them."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from recon_svc.domain.books import BucketBalance, ClearingBalance, LedgerGap, OrderBooks
from recon_svc.domain.classes import Classification
from recon_svc.domain.mismatches import Mismatch
from recon_svc.domain.period import Period
from recon_svc.domain.queue import MismatchStatus, Resolution, StoredMismatch
from recon_svc.domain.records import Candidate
from recon_svc.domain.report import MatchSummary
from recon_svc.domain.run import Run


@dataclass(frozen=True)
class OurFiles:
    """paymesh's side as CSV files with a header line:
    orders: payment_order_id, psp_reference, status, amount, currency, psp_fee (empty: not
    booked), created_at; refunds: refund_id, payment_order_id, psp_reference, status, amount,
    currency, created_at."""

    orders: Path
    refunds: Path


class PspTransactions(Protocol):
    """The PSP's balance transactions for a period (read with its margin)."""

    def spool(self, period: Period, directory: Path) -> Path:
        """Write them as a CSV report (any header `psp_columns` knows) and return its path."""
        ...


class OurRecords(Protocol):
    """paymesh's payment orders and refunds for a period (read with its margin)."""

    def spool(self, period: Period, directory: Path) -> OurFiles: ...


class MatchSession(Protocol):
    def candidates(self) -> Iterator[Candidate]:
        """Every tied pair in which anything differs, every row left alone (streamed)."""
        ...

    def summary(self) -> MatchSummary: ...


class Matcher(Protocol):
    def open(
        self, period: Period, psp_report: Path, ours: OurFiles, scratch: Path
    ) -> AbstractContextManager[MatchSession]:
        """Load and tie both sides, using `scratch` for the engine's own files."""
        ...


class MismatchSink(Protocol):
    """Where classified mismatches go (a queue, a fixer, a file, a test's list)."""

    def add(self, mismatch: Mismatch, classification: Classification) -> None: ...


class OurBooks(Protocol):
    """paymesh's books (ledger, wallet, orders) as a run compares them. Blocking: called from
    the run's worker thread."""

    def spool_ledger(self, period: Period, directory: Path) -> Path:
        """The ledger's postings on the PSP's accounts as a CSV file (transaction_id, kind,
        key, amount, currency, posted_at): the period's pay-ins and refunds (with its margin),
        and the fee and payout bookings made since the margin began."""
        ...

    def bucket_balances(self) -> list[BucketBalance]:
        """Each seller bucket whose wallet amount differs from its ledger account's."""
        ...

    def order_books(self, period: Period, settled_before: datetime) -> Iterator[OrderBooks]:
        """The period's SUCCESS orders without exactly one ledger transaction and one wallet
        credit of the right amounts (an order not flagged as booked only once it succeeded
        before `settled_before`)."""
        ...

    def zero_sum(self) -> list[tuple[str, str, Decimal, Decimal]]:
        """(transaction id or "" for a whole currency, currency, debits, credits) wherever
        the ledger's debits and credits differ."""
        ...

    def clearing(self, since: datetime) -> list[ClearingBalance]:
        """The clearing account's balance per currency, and what came in on it since."""
        ...


class LedgerMatcher(Protocol):
    def gaps(
        self, period: Period, psp_report: Path, ledger: Path, ours: OurFiles, scratch: Path
    ) -> Iterator[LedgerGap]:
        """The ledger's completeness against the PSP's report, both ways (streamed)."""
        ...


# --- recon_svc's own ports: the run and queue store, the payment flows, the report source ---

PspReportSource = Callable[[Period, Path], Path]
"""Download (or locate) the PSP's report of a period (with its margin) into the directory
given; return the CSV file's path. Blocking: called from the run's worker thread."""


class ReconStore(abc.ABC):
    """Runs, mismatches, resolutions and fix records in recon's schema. Each method is one
    transaction of its own."""

    @abc.abstractmethod
    async def add_run(self, run: Run, caller: str, request_id: str) -> Run:
        """Store a new RUNNING run; when (caller, request_id) already started one, or a run of
        the same period and source is RUNNING, nothing is stored and that run is returned."""

    @abc.abstractmethod
    async def get_run(self, run_id: str) -> Run | None: ...

    @abc.abstractmethod
    async def has_run(self, period: date, source: str) -> bool:
        """Whether a run of the period and source has SUCCEEDED or is RUNNING."""

    @abc.abstractmethod
    async def save_run(self, run: Run) -> None:
        """Write the run's status, report, error, progress and finish time."""

    @abc.abstractmethod
    async def record_mismatches(self, run_id: str, found: Sequence[StoredMismatch]) -> int:
        """Add the mismatches not known yet (by key) and mark the known ones as seen by
        `run_id`, never changing their status or class; returns how many were new. Each new one's
        `recon.mismatch.opened` event (domain.events.mismatch_opened) is enqueued in the same
        transaction; a known one publishes nothing."""

    @abc.abstractmethod
    async def open_fixes(self, run_id: str) -> list[StoredMismatch]:
        """The OPEN class-1 mismatches `run_id` saw (its fixes to carry out)."""

    @abc.abstractmethod
    async def mark_fixed(self, mismatch_id: str, run_id: str, rule: str, outcome: str) -> None:
        """Set the mismatch FIXED and append the audit record naming the run and the rule."""

    @abc.abstractmethod
    async def record_run_fix(self, run_id: str, rule: str, outcome: str) -> None:
        """Append the audit record of a fix the run made that is no mismatch of the queue
        (the PSP's fees and payouts booked from its report: ADR 0024)."""

    @abc.abstractmethod
    async def get_mismatch(self, mismatch_id: str) -> StoredMismatch | None:
        """With its resolutions, oldest first."""

    @abc.abstractmethod
    async def list_mismatches(self, query: MismatchQuery) -> list[StoredMismatch]:
        """Newest first (created_at, mismatch_id), without resolutions, `query.limit` at most."""

    @abc.abstractmethod
    def deciding(self, mismatch_id: str) -> AbstractAsyncContextManager[None]:
        """Hold the mismatch for one decision while it is carried out and recorded, across
        every replica; DecisionInProgress at once when another decision holds it."""

    @abc.abstractmethod
    async def find_resolution(self, mismatch_id: str, request_id: str) -> bool:
        """Whether `request_id` already resolved the mismatch (a replay)."""

    @abc.abstractmethod
    async def add_resolution(
        self,
        mismatch_id: str,
        request_id: str,
        resolution: Resolution,
        new_status: MismatchStatus | None,
    ) -> bool:
        """Append the resolution (and set the status, when given); False when `request_id`
        had already been recorded for it (nothing written)."""


@dataclass(frozen=True)
class MismatchQuery:
    status: str = ""
    mismatch_class: int = 0
    type: str = ""
    run_id: str = ""
    before: tuple[datetime, str] | None = None
    limit: int = 50


class FlowUnavailable(Exception):
    """The payment service did not answer; the fix stays open for the next run."""


class PaymentFlows(abc.ABC):
    """paymesh's normal flows, as the payment service runs them (over gRPC)."""

    @abc.abstractmethod
    async def settle_order(self, payment_order_id: str) -> str:
        """Ask the payment service to settle the order from the PSP's answer (its sweeper's
        ask-the-PSP path); returns the order's status after."""

    @abc.abstractmethod
    async def settle_refund(self, refund_id: str) -> str:
        """The same for a refund; returns its status after."""

    @abc.abstractmethod
    async def refund(
        self, request_id: str, payment_order_id: str, amount: Decimal, currency: str
    ) -> str:
        """A refund through the payment service's refund (idempotent on `request_id`);
        returns the refund's id. Refusals are mesh.errors.ServiceError as it gave them."""

    @abc.abstractmethod
    async def refund_duplicate_charge(
        self, request_id: str, payment_order_id: str, psp_charge_id: str
    ) -> ChargeGivenBack:
        """Give back one duplicate PSP charge of the order, in full, through the payment
        service (the order keeps its own charge; idempotent on `request_id` and on the
        charge). Refusals are mesh.errors.ServiceError as it gave them."""


@dataclass(frozen=True)
class ChargeGivenBack:
    """The PSP's refund of a duplicate charge."""

    psp_refund_id: str
    succeeded: bool  # False: the PSP is still working on it
    amount: Decimal
    currency: str
    psp_charge_id: str


class SuspenseBooks(abc.ABC):
    """The ledger's bookings of a person's decision (ledger_svc.domain.recon_books), each
    once per mismatch or PSP id, however often asked."""

    @abc.abstractmethod
    async def write_off(
        self, request_id: str, mismatch_id: str, difference: Decimal, currency: str
    ) -> str:
        """Book the write-off of `difference` (positive: the PSP holds more than our books)
        to `recon_suspense`; returns the ledger transaction's id."""

    @abc.abstractmethod
    async def duplicate_charge_refunded(
        self, request_id: str, mismatch_id: str, payment_order_id: str, given_back: ChargeGivenBack
    ) -> list[str]:
        """Book the duplicate charge and its refund; returns both ledger transactions' ids."""


@dataclass
class BookedReport:
    """What booking a PSP report in the ledger did, per kind of booking ("fee", "payout"):
    booked now, booked before (by an earlier run or report), and the amounts booked now."""

    booked: dict[str, int] = field(default_factory=dict)
    already_booked: dict[str, int] = field(default_factory=dict)
    amounts: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (kind, currency)
    booked_amounts: dict[tuple[str, str], Decimal] = field(default_factory=dict)


class PspBooks(abc.ABC):
    """The ledger's booking of the PSP's side (its fees, its payouts to the platform), each
    balance transaction once however often it is asked (ledger_svc.domain.psp_books)."""

    @abc.abstractmethod
    async def book(self, report: Path) -> BookedReport:
        """Book the report's fees and payouts; what was booked now and before."""
