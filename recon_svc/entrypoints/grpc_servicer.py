"""paymesh.recon.v1.ReconService over the use cases (requests arrive validated)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from mesh.errors import (
    RETRY_AFTER_KEY,
    Code,
    FieldViolation,
    ServiceError,
    failed_precondition,
    invalid_argument,
    not_found,
)
from mesh.grpc_server import current_caller
from paymesh.recon.v1 import recon_pb2, recon_pb2_grpc
from recon_svc.domain.queue import (
    DecisionInProgress,
    MismatchStatus,
    NotFound,
    ResolutionAction,
    ResolutionRefused,
    StoredMismatch,
    UnknownSource,
    WriteOffLimits,
)
from recon_svc.domain.run import Run, RunStatus
from recon_svc.entrypoints.background_runs import BackgroundRuns
from recon_svc.service_layer import finance_queue
from recon_svc.service_layer.finance_queue import Decision
from recon_svc.service_layer.ports import FlowUnavailable, MismatchQuery, SuspenseBooks
from recon_svc.service_layer.runs import RunDeps, execute_run, get_run, start_run

SERVICE_NAME = "paymesh.recon.v1.ReconService"
DEFAULT_PAGE_SIZE = 50

_RUN_STATUS = {s: getattr(recon_pb2, f"RUN_STATUS_{s.value}") for s in RunStatus}
_MISMATCH_STATUS = {s: getattr(recon_pb2, f"MISMATCH_STATUS_{s.value}") for s in MismatchStatus}
_STATUS_FILTER = {v: k.value for k, v in _MISMATCH_STATUS.items()}
_ACTIONS = {
    recon_pb2.RESOLUTION_ACTION_REFUND: ResolutionAction.REFUND,
    recon_pb2.RESOLUTION_ACTION_ACCEPT: ResolutionAction.ACCEPT,
    recon_pb2.RESOLUTION_ACTION_WRITE_OFF: ResolutionAction.WRITE_OFF,
    recon_pb2.RESOLUTION_ACTION_NOTE: ResolutionAction.NOTE,
}
_ACTION_PB = {v: k for k, v in _ACTIONS.items()}


def _ts(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def _counts(raw: object) -> dict[str, int]:
    return {str(k): int(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def run_to_proto(run: Run) -> recon_pb2.Run:
    r = run.report
    totals = r.get("totals")
    fees = r.get("fees_to_book")
    report = recon_pb2.RunReport(
        psp_rows=int(str(r.get("psp_rows", 0))),
        order_rows=int(str(r.get("order_rows", 0))),
        refund_rows=int(str(r.get("refund_rows", 0))),
        matched=_counts(r.get("matched")),
        mismatched_by_type=_counts(r.get("by_type")),
        mismatched_by_class=_counts(r.get("by_class")),
        fixes=_counts(r.get("fixes_done")),
        totals=[
            recon_pb2.CurrencyTotals(
                currency=c, ours=t["ours"], theirs=t["theirs"], difference=t["difference"]
            )
            for c, t in sorted(totals.items())
        ]
        if isinstance(totals, dict)
        else [],
        new_mismatches=int(str(r.get("new_mismatches", 0))),
        duration_s=float(str(r.get("duration_s", 0.0))),
        error=run.error,
        fees_to_book={str(k): str(v) for k, v in fees.items()} if isinstance(fees, dict) else {},
    )
    out = recon_pb2.Run(
        run_id=run.run_id,
        period=run.period.isoformat(),
        source=run.source,
        status=_RUN_STATUS[run.status],
        started_by=run.started_by,
        started_at=_ts(run.started_at),
        report=report,
    )
    if run.finished_at is not None:
        out.finished_at.CopyFrom(_ts(run.finished_at))
    return out


def mismatch_to_proto(m: StoredMismatch) -> recon_pb2.Mismatch:
    return recon_pb2.Mismatch(
        mismatch_id=m.mismatch_id,
        type=m.type,
        detail=m.detail,
        mismatch_class=int(m.mismatch_class),  # type: ignore[arg-type]
        status=_MISMATCH_STATUS[m.status],
        period=m.period.isoformat(),
        first_run_id=m.first_run_id,
        last_run_id=m.last_run_id,
        evidence=m.evidence,
        suggested_action=m.suggested_action,
        reason=m.reason,
        fix_rule=m.fix_rule,
        resolutions=[
            recon_pb2.Resolution(
                action=_ACTION_PB[r.action],
                resolved_by=r.resolved_by,
                resolved_at=_ts(r.resolved_at),
                note=r.note,
                outcome=r.outcome,
            )
            for r in m.resolutions
        ],
        created_at=_ts(m.created_at),
    )


def _page_token(m: StoredMismatch) -> str:
    raw = f"{m.created_at.isoformat()}|{m.mismatch_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _before(token: str) -> tuple[datetime, str] | None:
    if not token:
        return None
    try:
        at, mismatch_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), mismatch_id
    except ValueError:
        raise invalid_argument(
            [FieldViolation("page_token", "page_token", "not a token this service gave")]
        ) from None


@contextmanager
def domain_errors_as_status() -> Iterator[None]:
    """The use cases' refusals as AIP-193 errors (the interceptor renders ServiceError)."""
    try:
        yield
    except NotFound as err:
        raise not_found(err.what, err.ident) from None
    except UnknownSource as err:
        raise invalid_argument([FieldViolation("source", "source", str(err))]) from None
    except ResolutionRefused as err:
        raise failed_precondition(err.reason, str(err)) from None
    except DecisionInProgress:
        raise ServiceError(
            Code.ABORTED,
            "DECISION_IN_PROGRESS",
            "another decision on this mismatch is being carried out; retry to see it",
            metadata={RETRY_AFTER_KEY: "5"},
        ) from None
    except FlowUnavailable as err:
        # The payment service or the ledger did not answer, or the PSP is still refunding:
        # nothing was recorded, and asking again does nothing twice (ADR 0025).
        raise ServiceError(
            Code.UNAVAILABLE,
            "UNAVAILABLE",
            f"{err}; retry with the same request_id",
            metadata={RETRY_AFTER_KEY: "5"},
        ) from None


def _period(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid_argument(
            [FieldViolation("period", "period", f"{text!r} is not a date")]
        ) from None


@dataclass
class ReconServicer(recon_pb2_grpc.ReconServiceServicer):
    deps: RunDeps
    default_source: str
    write_off_limits: WriteOffLimits
    background: BackgroundRuns
    books: SuspenseBooks  # the ledger's bookings of write-offs and duplicate charges

    async def StartRun(
        self, request: recon_pb2.StartRunRequest, context: grpc.aio.ServicerContext
    ) -> recon_pb2.StartRunResponse:
        caller = current_caller().key_id
        with domain_errors_as_status():
            run, created = await start_run(
                self.deps,
                _period(request.period),
                request.source or self.default_source,
                started_by=caller or "operator",
                caller=caller,
                request_id=request.request_id,
            )
        if created:
            self.background.spawn(f"recon-run-{run.run_id}", execute_run(self.deps, run))
        return recon_pb2.StartRunResponse(run=run_to_proto(run))

    async def GetRun(
        self, request: recon_pb2.GetRunRequest, context: grpc.aio.ServicerContext
    ) -> recon_pb2.GetRunResponse:
        with domain_errors_as_status():
            run = await get_run(self.deps.store, request.run_id)
        return recon_pb2.GetRunResponse(run=run_to_proto(run))

    async def ListMismatches(
        self, request: recon_pb2.ListMismatchesRequest, context: grpc.aio.ServicerContext
    ) -> recon_pb2.ListMismatchesResponse:
        size = request.page_size or DEFAULT_PAGE_SIZE
        found = await finance_queue.list_mismatches(
            self.deps.store,
            MismatchQuery(
                status=_STATUS_FILTER.get(request.status, ""),
                mismatch_class=int(request.mismatch_class),
                type=request.type,
                run_id=request.run_id,
                before=_before(request.page_token),
                limit=size + 1,
            ),
        )
        page = found[:size]
        return recon_pb2.ListMismatchesResponse(
            mismatches=[mismatch_to_proto(m) for m in page],
            next_page_token=_page_token(page[-1]) if len(found) > size else "",
        )

    async def GetMismatch(
        self, request: recon_pb2.GetMismatchRequest, context: grpc.aio.ServicerContext
    ) -> recon_pb2.GetMismatchResponse:
        with domain_errors_as_status():
            found = await finance_queue.get_mismatch(self.deps.store, request.mismatch_id)
        return recon_pb2.GetMismatchResponse(mismatch=mismatch_to_proto(found))

    async def ResolveMismatch(
        self, request: recon_pb2.ResolveMismatchRequest, context: grpc.aio.ServicerContext
    ) -> recon_pb2.ResolveMismatchResponse:
        caller = current_caller().key_id
        decision = Decision(
            mismatch_id=request.mismatch_id,
            action=_ACTIONS[request.action],
            note=request.note,
            resolved_by=request.resolved_by or caller or "operator",
            request_id=request.request_id,
        )
        with domain_errors_as_status():
            found = await finance_queue.resolve(
                self.deps.store,
                self.deps.flows,
                self.books,
                self.deps.clock,
                self.write_off_limits,
                decision,
            )
        return recon_pb2.ResolveMismatchResponse(mismatch=mismatch_to_proto(found))
