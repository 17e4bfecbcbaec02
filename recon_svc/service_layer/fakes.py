"""Fakes of recon's ports for unit tests: the store in memory, the payment flows as a
scripted payment service that records what it was asked."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from recon_svc.domain.classes import MismatchClass
from recon_svc.domain.events import MismatchOpened, mismatch_opened
from recon_svc.domain.period import Period
from recon_svc.domain.queue import (
    DecisionInProgress,
    MismatchStatus,
    Resolution,
    StoredMismatch,
)
from recon_svc.domain.records import Candidate
from recon_svc.domain.report import MatchSummary
from recon_svc.domain.run import Run, RunStatus
from recon_svc.service_layer.ports import (
    ChargeGivenBack,
    FlowUnavailable,
    MismatchQuery,
    OurFiles,
    PaymentFlows,
    ReconStore,
    SuspenseBooks,
)


@dataclass
class FakeReconStore(ReconStore):
    runs: dict[str, Run] = field(default_factory=dict)
    requests: dict[tuple[str, str], str] = field(default_factory=dict)
    mismatches: dict[str, StoredMismatch] = field(default_factory=dict)  # by key
    resolution_requests: set[tuple[str, str]] = field(default_factory=set)
    fixes: list[tuple[str, str, str, str]] = field(default_factory=list)  # id, run, rule, outcome
    outbox: list[MismatchOpened] = field(default_factory=list)  # the events enqueued
    deciding_now: set[str] = field(default_factory=set)  # mismatches held by a decision

    async def add_run(self, run: Run, caller: str, request_id: str) -> Run:
        if request_id and (caller, request_id) in self.requests:
            return copy.deepcopy(self.runs[self.requests[(caller, request_id)]])
        for known in self.runs.values():
            same = (known.period, known.source) == (run.period, run.source)
            if same and known.status is RunStatus.RUNNING:
                return copy.deepcopy(known)
        self.runs[run.run_id] = copy.deepcopy(run)
        if request_id:
            self.requests[(caller, request_id)] = run.run_id
        return run

    async def get_run(self, run_id: str) -> Run | None:
        return copy.deepcopy(self.runs.get(run_id))

    async def has_run(self, period: date, source: str) -> bool:
        return any(
            (r.period, r.source) == (period, source) and r.status is not RunStatus.FAILED
            for r in self.runs.values()
        )

    async def save_run(self, run: Run) -> None:
        self.runs[run.run_id] = copy.deepcopy(run)

    async def record_mismatches(self, run_id: str, found: Sequence[StoredMismatch]) -> int:
        new = 0
        for m in found:
            known = self.mismatches.get(m.key)
            if known is None:
                self.mismatches[m.key] = copy.deepcopy(m)
                self.outbox.append(mismatch_opened(m))
                new += 1
            else:
                known.last_run_id = run_id
        return new

    async def open_fixes(self, run_id: str) -> list[StoredMismatch]:
        return [
            copy.deepcopy(m)
            for m in self.mismatches.values()
            if m.last_run_id == run_id
            and m.status is MismatchStatus.OPEN
            and m.mismatch_class is MismatchClass.AUTO_FIXED
        ]

    def _by_id(self, mismatch_id: str) -> StoredMismatch | None:
        return next((m for m in self.mismatches.values() if m.mismatch_id == mismatch_id), None)

    async def mark_fixed(self, mismatch_id: str, run_id: str, rule: str, outcome: str) -> None:
        found = self._by_id(mismatch_id)
        assert found is not None
        found.status = MismatchStatus.FIXED
        self.fixes.append((mismatch_id, run_id, rule, outcome))

    async def record_run_fix(self, run_id: str, rule: str, outcome: str) -> None:
        self.fixes.append(("", run_id, rule, outcome))

    async def get_mismatch(self, mismatch_id: str) -> StoredMismatch | None:
        return copy.deepcopy(self._by_id(mismatch_id))

    async def list_mismatches(self, query: MismatchQuery) -> list[StoredMismatch]:
        found = [
            m
            for m in self.mismatches.values()
            if (not query.status or m.status.value == query.status)
            and (not query.mismatch_class or int(m.mismatch_class) == query.mismatch_class)
            and (not query.type or m.type == query.type)
            and (not query.run_id or query.run_id in (m.first_run_id, m.last_run_id))
            and (query.before is None or (m.created_at, m.mismatch_id) < query.before)
        ]
        found.sort(key=lambda m: (m.created_at, m.mismatch_id), reverse=True)
        return [copy.deepcopy(m) for m in found[: query.limit]]

    @asynccontextmanager
    async def deciding(self, mismatch_id: str) -> AsyncIterator[None]:
        if mismatch_id in self.deciding_now:
            raise DecisionInProgress(mismatch_id)
        self.deciding_now.add(mismatch_id)
        try:
            yield
        finally:
            self.deciding_now.discard(mismatch_id)

    async def find_resolution(self, mismatch_id: str, request_id: str) -> bool:
        return (mismatch_id, request_id) in self.resolution_requests

    async def add_resolution(
        self,
        mismatch_id: str,
        request_id: str,
        resolution: Resolution,
        new_status: MismatchStatus | None,
    ) -> bool:
        found = self._by_id(mismatch_id)
        assert found is not None
        if (mismatch_id, request_id) in self.resolution_requests:
            return False
        if new_status is not None:
            if found.status is not MismatchStatus.OPEN:
                return False
            found.status = new_status
        self.resolution_requests.add((mismatch_id, request_id))
        found.resolutions.append(resolution)
        return True


@dataclass
class FakePaymentFlows(PaymentFlows):
    """Settles every order and refund it is asked about (unless `away`), and refunds once per
    request id, as the payment service's idempotency would."""

    away: bool = False
    settled_orders: list[str] = field(default_factory=list)
    settled_refunds: list[str] = field(default_factory=list)
    refunds: dict[str, tuple[str, Decimal, str]] = field(default_factory=dict)  # by request id
    # Duplicate charges given back, by charge id (once, whatever the request id), and the
    # amount of each charge the PSP holds.
    charges_given_back: dict[str, ChargeGivenBack] = field(default_factory=dict)
    charge_amounts: dict[str, tuple[Decimal, str]] = field(default_factory=dict)

    async def settle_order(self, payment_order_id: str) -> str:
        if self.away:
            raise FlowUnavailable("payment service away")
        self.settled_orders.append(payment_order_id)
        return "SUCCESS"

    async def settle_refund(self, refund_id: str) -> str:
        if self.away:
            raise FlowUnavailable("payment service away")
        self.settled_refunds.append(refund_id)
        return "SUCCEEDED"

    async def refund(
        self, request_id: str, payment_order_id: str, amount: Decimal, currency: str
    ) -> str:
        if self.away:
            raise FlowUnavailable("payment service away")
        self.refunds.setdefault(request_id, (payment_order_id, amount, currency))
        return f"rf_{request_id[:8]}"

    async def refund_duplicate_charge(
        self, request_id: str, payment_order_id: str, psp_charge_id: str
    ) -> ChargeGivenBack:
        if self.away:
            raise FlowUnavailable("payment service away")
        amount, currency = self.charge_amounts[psp_charge_id]
        return self.charges_given_back.setdefault(
            psp_charge_id,
            ChargeGivenBack(f"re_{request_id[:8]}", True, amount, currency, psp_charge_id),
        )


@dataclass
class FakeSuspenseBooks(SuspenseBooks):
    """Books each write-off once per mismatch and each duplicate charge once per PSP id, as
    the ledger's transaction ids would."""

    away: bool = False
    write_offs: dict[str, tuple[Decimal, str]] = field(default_factory=dict)  # by mismatch
    duplicates: dict[str, tuple[str, ChargeGivenBack]] = field(default_factory=dict)  # by charge

    async def write_off(
        self, request_id: str, mismatch_id: str, difference: Decimal, currency: str
    ) -> str:
        if self.away:
            raise FlowUnavailable("ledger away")
        self.write_offs.setdefault(mismatch_id, (difference, currency))
        return f"txn_wo_{mismatch_id}"

    async def duplicate_charge_refunded(
        self, request_id: str, mismatch_id: str, payment_order_id: str, given_back: ChargeGivenBack
    ) -> list[str]:
        if self.away:
            raise FlowUnavailable("ledger away")
        self.duplicates.setdefault(given_back.psp_charge_id, (payment_order_id, given_back))
        return [f"txn_{given_back.psp_charge_id}", f"txn_{given_back.psp_refund_id}"]


class FakeMatcher:
    """Hands over the candidates it was given (or raises `fails`), as the matcher would."""

    def __init__(
        self, candidates: Sequence[Candidate], summary: MatchSummary, fails: Exception | None = None
    ) -> None:
        self._candidates, self._summary, self._fails = list(candidates), summary, fails

    @contextmanager
    def open(
        self, period: Period, psp_report: Path, ours: OurFiles, scratch: Path
    ) -> Iterator[FakeMatchSession]:
        if self._fails is not None:
            raise self._fails
        yield FakeMatchSession(self._candidates, self._summary)


@dataclass
class FakeMatchSession:
    found: list[Candidate]
    figures: MatchSummary

    def candidates(self) -> Iterator[Candidate]:
        yield from self.found

    def summary(self) -> MatchSummary:
        return self.figures
