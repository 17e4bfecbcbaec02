"""The ports reconciliation talks to. Both sides are handed over as files in a scratch
directory: a columnar engine reads them at its own pace, so memory stays flat however long the
period, and PostgreSQL's COPY or a PSP's report download write them without holding them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from recon_svc.domain.classes import Classification
from recon_svc.domain.mismatches import Mismatch
from recon_svc.domain.period import Period
from recon_svc.domain.records import Candidate
from recon_svc.domain.report import MatchSummary


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
