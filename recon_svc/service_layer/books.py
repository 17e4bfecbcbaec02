"""A run's comparisons with paymesh's own books, after the PSP's fees and payouts are booked:
the ledger's completeness against the PSP's report (both ways), and inside paymesh the wallet
against the ledger, SUCCESS orders against their ledger transaction and wallet credit, the
ledger's zero sum and the clearing account netting to zero after its settlement delay. Every
mismatch is classified and handed to the run's sink, and counted in its report, like the
matcher's."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from recon_svc.domain.books import (
    clearing_mismatch,
    ledger_gap_mismatch,
    order_books_mismatch,
    wallet_ledger_mismatches,
    zero_sum_mismatch,
)
from recon_svc.domain.classes import classify
from recon_svc.domain.mismatches import Mismatch
from recon_svc.domain.period import Period
from recon_svc.domain.report import ReconReport
from recon_svc.service_layer.ports import LedgerMatcher, MismatchSink, OurBooks, OurFiles

# An order's success event books it in the ledger and the wallet within seconds; their
# consumers retry for minutes before a message goes to the dead-letter queue. An order not
# flagged as booked is in flight until this long after it succeeded.
EVENT_GRACE = timedelta(minutes=15)


@dataclass(frozen=True)
class BooksSettings:
    # How long the clearing account (psp_receivable) may hold money: the PSP's availability
    # delay plus its payout schedule (RECON_CLEARING_DELAY_S).
    clearing_delay: timedelta = timedelta(days=3)
    # Wallet and ledger are read twice this far apart; only a difference that holds is one
    # (RECON_INTERNAL_RECHECK_S).
    recheck: timedelta = timedelta(seconds=5)


def compare_books(
    period: Period,
    psp_report: Path,
    ours: OurFiles,
    books: OurBooks,
    matcher: LedgerMatcher,
    sink: MismatchSink,
    report: ReconReport,
    scratch: Path,
    now: datetime,
    settings: BooksSettings,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Synchronous and blocking: an async caller runs it in a worker thread."""

    def found(mismatch: Mismatch) -> None:
        classification = classify(mismatch)
        report.count(mismatch, classification)
        sink.add(mismatch, classification)

    ledger = books.spool_ledger(period, scratch)
    for gap in matcher.gaps(period, psp_report, ledger, ours, scratch):
        found(ledger_gap_mismatch(gap))
    for row in books.order_books(period, now - EVENT_GRACE):
        found(order_books_mismatch(row))
    first = books.bucket_balances()
    if first:
        sleep(settings.recheck.total_seconds())
        for mismatch in wallet_ledger_mismatches(first, books.bucket_balances()):
            found(mismatch)
    for transaction_id, currency, debits, credits in books.zero_sum():
        found(zero_sum_mismatch(currency, debits, credits, transaction_id))
    day = period.start.date().isoformat()
    for balance in books.clearing(now - settings.clearing_delay):
        clearing = clearing_mismatch(balance, settings.clearing_delay, day)
        if clearing is not None:
            found(clearing)
