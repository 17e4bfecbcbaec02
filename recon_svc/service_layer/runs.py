"""Runs: start one over a period and a source, carry it out (match in a worker thread,
mismatches stored as they are found, the PSP's fees and payouts booked in the ledger, the
comparisons with paymesh's own books, class-1 fixes through the payment service's flows), and
keep its report.

A second run of a period changes nothing the first did: a mismatch is known by its key (its
status and class stay as they are), and a fixed one is not found again, because the fix made
both sides agree.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from mesh.metrics import RECON_MISMATCHES, RECON_RUNS
from recon_svc.domain.classes import Classification, FixRule
from recon_svc.domain.mismatches import Mismatch
from recon_svc.domain.period import Period
from recon_svc.domain.queue import (
    MismatchStatus,
    NotFound,
    StoredMismatch,
    UnknownSource,
    key_text,
)
from recon_svc.domain.run import Run, RunStatus
from recon_svc.service_layer.books import BooksSettings, compare_books
from recon_svc.service_layer.ports import (
    BookedReport,
    FlowUnavailable,
    LedgerMatcher,
    Matcher,
    OurBooks,
    OurFiles,
    OurRecords,
    PaymentFlows,
    PspBooks,
    PspReportSource,
    ReconStore,
)
from recon_svc.service_layer.reconcile import reconcile

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
NewId = Callable[[str], str]
# Mismatches are written in batches of this many, so memory does not grow with their number.
BATCH = 500
SETTLED = {
    FixRule.SETTLE_ORDER_FROM_PSP.value: "SUCCESS",
    FixRule.SETTLE_REFUND_FROM_PSP.value: "SUCCEEDED",
}


@dataclass(frozen=True)
class RunDeps:
    store: ReconStore
    psp_reports: dict[str, PspReportSource]  # by source name
    ours: OurRecords
    new_matcher: Callable[[], Matcher]
    flows: PaymentFlows
    scratch_root: Path
    clock: Clock
    new_id: NewId
    # paymesh's own books and the ledger's booking of the PSP's side; a run without them
    # compares the PSP's report with the orders and refunds only.
    books: OurBooks | None = None
    ledger_matcher: LedgerMatcher | None = None
    psp_books: PspBooks | None = None
    books_settings: BooksSettings = field(default_factory=BooksSettings)


def default_period(now: datetime) -> date:
    """Yesterday, UTC: the last whole day."""
    return (now - timedelta(days=1)).date()


async def start_run(
    deps: RunDeps,
    period: date | None,
    source: str,
    started_by: str,
    caller: str = "",
    request_id: str = "",
) -> tuple[Run, bool]:
    """Store a RUNNING run of `period` (default yesterday) and `source`; (run, True) when it is
    new and must be carried out (`execute_run`), (run, False) when the same request, or a run of
    the same period and source still running, already has one."""
    if source not in deps.psp_reports:
        known = ", ".join(sorted(deps.psp_reports))
        raise UnknownSource(f"unknown source {source!r}; known: {known}")
    now = deps.clock()
    run = Run(
        deps.new_id("rr"), period or default_period(now), source, RunStatus.RUNNING, started_by, now
    )
    stored = await deps.store.add_run(run, caller, request_id)
    return stored, stored.run_id == run.run_id


async def get_run(store: ReconStore, run_id: str) -> Run:
    run = await store.get_run(run_id)
    if run is None:
        raise NotFound("run_id", run_id)
    return run


async def execute_run(deps: RunDeps, run: Run) -> Run:
    """Carry out a stored RUNNING run to SUCCEEDED or FAILED (never raises for the run's own
    failures: they are its report's `error`)."""
    loop = asyncio.get_running_loop()
    sink = QueueSink(deps, run, loop)
    try:
        deps.scratch_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"{run.run_id}-", dir=deps.scratch_root) as tmp:
            spooled = _Spooled()
            report = await asyncio.to_thread(_match, deps, run, sink, Path(tmp), spooled)
            booked = await _book_psp_side(deps, run, spooled)
            await asyncio.to_thread(_compare_books, deps, run, sink, report, Path(tmp), spooled)
        fixed, waiting = await _carry_out_fixes(deps, run)
        for kind, n in (booked.booked if booked else {}).items():
            fixed[_BOOKING_RULES[kind].value] = n
        run.report = {
            **report.as_dict(),
            "new_mismatches": sink.new,
            "fixes_done": fixed,
            "fixes_waiting": waiting,
        }
        if booked is not None:
            run.report["psp_books"] = {
                "booked": dict(sorted(booked.booked.items())),
                "already_booked": dict(sorted(booked.already_booked.items())),
            }
        run.status = RunStatus.SUCCEEDED
    except asyncio.CancelledError:
        run.status = RunStatus.FAILED
        run.error = "interrupted: the service stopped during the run"
        run.finished_at = deps.clock()
        await asyncio.shield(deps.store.save_run(run))
        raise
    except Exception as err:  # the run fails, loudly, and says why
        log.exception("reconciliation run %s failed", run.run_id)
        run.status = RunStatus.FAILED
        run.error = f"{type(err).__name__}: {err}"[:2000]
        run.report = {**run.report, "new_mismatches": sink.new}
    run.progress = sink.seen
    run.finished_at = deps.clock()
    await deps.store.save_run(run)
    RECON_RUNS.labels(run.status.value.lower()).inc()
    for (mismatch_class, mismatch_type), n in sink.found.items():
        RECON_MISMATCHES.labels(str(mismatch_class), mismatch_type).inc(n)
    return run


_BOOKING_RULES = {"fee": FixRule.BOOK_PSP_FEE, "payout": FixRule.BOOK_PSP_PAYOUT}


@dataclass
class _Spooled:
    """The files the match spooled, kept for the stages after it (in the run's scratch)."""

    psp_report: Path | None = None
    ours: OurFiles | None = None


def _match(deps: RunDeps, run: Run, sink: QueueSink, scratch: Path, spooled: _Spooled) -> Any:
    source = deps.psp_reports[run.source]
    ours = deps.ours

    class Report:
        def spool(self, period: Period, directory: Path) -> Path:
            spooled.psp_report = source(period, directory)
            return spooled.psp_report

    class Ours:
        def spool(self, period: Period, directory: Path) -> OurFiles:
            spooled.ours = ours.spool(period, directory)
            return spooled.ours

    report = reconcile(Period.day(run.period), Report(), Ours(), deps.new_matcher(), sink, scratch)
    sink.flush()
    return report


async def _book_psp_side(deps: RunDeps, run: Run, spooled: _Spooled) -> BookedReport | None:
    """Class 1, the run's own fix: the PSP's fees and its payouts to the platform, known only
    from its report, booked in the ledger (each balance transaction once, whichever run asks),
    with one audit record per rule and currency naming the run. A second run books nothing."""
    if deps.psp_books is None or spooled.psp_report is None:
        return None
    booked = await deps.psp_books.book(spooled.psp_report)
    for (kind, currency), amount in sorted(booked.booked_amounts.items()):
        rule = _BOOKING_RULES[kind]
        count = booked.booked.get(kind, 0)
        outcome = f"{rule.value}: booked {amount} {currency} ({count} {kind} rows in all)"
        await deps.store.record_run_fix(run.run_id, rule.value, outcome)
    return booked


def _compare_books(
    deps: RunDeps, run: Run, sink: QueueSink, report: Any, scratch: Path, spooled: _Spooled
) -> None:
    if deps.books is None or deps.ledger_matcher is None:
        return
    assert spooled.psp_report is not None and spooled.ours is not None
    compare_books(
        Period.day(run.period),
        spooled.psp_report,
        spooled.ours,
        deps.books,
        deps.ledger_matcher,
        sink,
        report,
        scratch,
        deps.clock(),
        deps.books_settings,
    )
    sink.flush()


class QueueSink:
    """Stores classified mismatches in batches, from the run's worker thread, on the event
    loop that owns the store."""

    def __init__(self, deps: RunDeps, run: Run, loop: asyncio.AbstractEventLoop) -> None:
        self._deps, self._run, self._loop = deps, run, loop
        self._batch: list[StoredMismatch] = []
        self.new = 0
        self.found: Counter[tuple[int, str]] = Counter()  # by class and type, for metrics
        self.seen = 0

    def add(self, mismatch: Mismatch, classification: Classification) -> None:
        self._batch.append(stored_mismatch(self._deps, self._run, mismatch, classification))
        self.seen += 1
        self.found[(int(classification.mismatch_class), mismatch.type.value)] += 1
        if len(self._batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        done: Future[int] = asyncio.run_coroutine_threadsafe(
            self._deps.store.record_mismatches(self._run.run_id, batch), self._loop
        )
        self.new += done.result()


def stored_mismatch(
    deps: RunDeps, run: Run, mismatch: Mismatch, classification: Classification
) -> StoredMismatch:
    """A found mismatch as the queue keeps it (OPEN; a class-1 fix sets it FIXED)."""
    about = mismatch.psp.created.date() if mismatch.psp else None
    if about is None and mismatch.order:
        about = mismatch.order.created_at.date()
    if about is None and mismatch.refund:
        about = mismatch.refund.created_at.date()
    action = classification.rule.value or classification.action.value
    return StoredMismatch(
        mismatch_id=deps.new_id("mm"),
        key=key_text(mismatch.key),
        type=mismatch.type.value,
        detail=mismatch.detail.value,
        mismatch_class=classification.mismatch_class,
        status=MismatchStatus.OPEN,
        period=about or run.period,
        first_run_id=run.run_id,
        last_run_id=run.run_id,
        evidence=mismatch.evidence(),
        suggested_action=action,
        reason=classification.reason,
        fix_rule=classification.rule.value,
        created_at=deps.clock(),
    )


async def _carry_out_fixes(deps: RunDeps, run: Run) -> tuple[dict[str, int], int]:
    """Each open class-1 mismatch the run saw, fixed through the payment service's own flow;
    one it cannot fix now (the service away, the PSP still undecided) waits for the next run."""
    fixed: dict[str, int] = {}
    waiting = 0
    for mismatch in await deps.store.open_fixes(run.run_id):
        try:
            status = await _fix(deps.flows, mismatch)
        except FlowUnavailable as err:
            log.warning("fix of %s waits: %s", mismatch.mismatch_id, err)
            waiting += 1
            continue
        except Exception as err:  # refused (the order unknown, ...): it waits for a person
            log.error("fix of %s refused: %s", mismatch.mismatch_id, err)
            waiting += 1
            continue
        if status != SETTLED.get(mismatch.fix_rule):
            waiting += 1
            continue
        outcome = f"{mismatch.fix_rule}: now {status}"
        await deps.store.mark_fixed(mismatch.mismatch_id, run.run_id, mismatch.fix_rule, outcome)
        fixed[mismatch.fix_rule] = fixed.get(mismatch.fix_rule, 0) + 1
    return fixed, waiting


async def _fix(flows: PaymentFlows, mismatch: StoredMismatch) -> str:
    if mismatch.fix_rule == FixRule.SETTLE_ORDER_FROM_PSP.value:
        return await flows.settle_order(mismatch.evidence["payment_order_id"])
    if mismatch.fix_rule == FixRule.SETTLE_REFUND_FROM_PSP.value:
        return await flows.settle_refund(mismatch.evidence["refund_id"])
    return ""


async def scheduled_run(deps: RunDeps, source: str) -> Run | None:
    """The schedule's round: reconcile yesterday once (a day already reconciled, or being
    reconciled, is left alone), in this task; None when there was nothing to do."""
    period = default_period(deps.clock())
    if await deps.store.has_run(period, source):
        return None
    run, created = await start_run(deps, period, source, started_by="schedule")
    if not created:
        return None
    return await execute_run(deps, run)
