"""recon_svc's use cases over fakes: a run stores typed, classified mismatches, fixes class 1
through the payment flows with an audit record, and a second run of the period changes
nothing; the finance queue's decisions are recorded once, and refunds are made once."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from mesh.metrics import RECON_MISMATCHES, RECON_RUNS
from recon_svc.domain.classes import MismatchClass
from recon_svc.domain.period import Period
from recon_svc.domain.queue import (
    DecisionInProgress,
    MismatchStatus,
    NotFound,
    ResolutionAction,
    ResolutionRefused,
    UnknownSource,
    WriteOffLimits,
)
from recon_svc.domain.records import (
    Candidate,
    CandidateKind,
    MatchRule,
    OrderRecord,
    PspTransaction,
)
from recon_svc.domain.report import CurrencyTotals, MatchSummary
from recon_svc.domain.run import RunStatus
from recon_svc.service_layer.fakes import (
    FakeMatcher,
    FakePaymentFlows,
    FakeReconStore,
    FakeSuspenseBooks,
)
from recon_svc.service_layer.finance_queue import Decision, refund_key, resolve
from recon_svc.service_layer.ports import FlowUnavailable, MismatchQuery, OurFiles
from recon_svc.service_layer.runs import RunDeps, execute_run, scheduled_run, start_run

DAY = date(2026, 12, 1)
NOON = datetime(2026, 12, 1, 12, tzinfo=UTC)
SUMMARY = MatchSummary(
    psp_rows=4,
    order_rows=4,
    refund_rows=0,
    matched={"psp_id": 3},
    not_compared={},
    totals={"USD": CurrencyTotals(Decimal("60.00"), Decimal("75.00"))},
    fees_to_book={},
)


def psp(txn: str, order: str, gross: str) -> PspTransaction:
    return PspTransaction(
        txn, "charge", f"ch_{txn}", f"pi_{order}", order, "", Decimal(gross), Decimal("0.30"),
        "USD", NOON,
    )  # fmt: skip


def order(oid: str, status: str, amount: str) -> OrderRecord:
    return OrderRecord(oid, f"pi_{oid}", status, Decimal(amount), "USD", None, NOON)


STUCK = Candidate(
    CandidateKind.CHARGE_PAIR, MatchRule.PSP_ID, psp("t1", "po_1", "10.00"),
    order("po_1", "EXECUTING", "10.00"),
)  # fmt: skip
DUPLICATE = Candidate(
    CandidateKind.DUPLICATE_CHARGE, MatchRule.METADATA, psp("t2", "po_2", "20.00"),
    order("po_2", "SUCCESS", "20.00"),
)  # fmt: skip
UNKNOWN = Candidate(CandidateKind.OTHER_PSP, None, psp("t3", "", "5.00"))
AMOUNT = Candidate(
    CandidateKind.CHARGE_PAIR, MatchRule.PSP_ID, psp("t4", "po_4", "30.05"),
    order("po_4", "SUCCESS", "30.00"),
)  # fmt: skip


class Ids:
    def __init__(self) -> None:
        self._n = itertools.count(1)

    def __call__(self, prefix: str) -> str:
        return f"{prefix}_{next(self._n):04d}"


IDS = Ids()  # one sequence for the file: runs of one test share a store


def deps(
    tmp_path: Path,
    candidates: Sequence[Candidate],
    store: FakeReconStore | None = None,
    flows: FakePaymentFlows | None = None,
    fails: Exception | None = None,
) -> RunDeps:
    report = tmp_path / "psp.csv"
    report.write_text("")

    class Ours:
        def spool(self, period: Period, directory: Path) -> OurFiles:
            return OurFiles(directory / "orders.csv", directory / "refunds.csv")

    return RunDeps(
        store=store or FakeReconStore(),
        psp_reports={"csv": lambda period, directory: report},
        ours=Ours(),
        new_matcher=lambda: FakeMatcher(candidates, SUMMARY, fails),
        flows=flows or FakePaymentFlows(),
        scratch_root=tmp_path / "scratch",
        clock=lambda: datetime(2026, 12, 2, 3, tzinfo=UTC),
        new_id=IDS,
    )


async def run_once(d: RunDeps, request_id: str = ""):  # type: ignore[no-untyped-def]
    run, created = await start_run(d, DAY, "csv", "test", "key_1", request_id)
    assert created
    return await execute_run(d, run)


async def test_a_run_types_classifies_fixes_class_one_and_queues_the_rest(tmp_path: Path) -> None:
    d = deps(tmp_path, [STUCK, DUPLICATE, UNKNOWN])
    before = found_metric("3", "unmatched_psp"), RECON_RUNS.labels("succeeded")._value.get()
    run = await run_once(d)
    # The figures an on-call engineer scrapes moved with it.
    after = found_metric("3", "unmatched_psp"), RECON_RUNS.labels("succeeded")._value.get()
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    assert run.status is RunStatus.SUCCEEDED
    assert run.report["by_type"] == {"duplicate_charge": 1, "status": 1, "unmatched_psp": 1}
    assert run.report["by_class"] == {"1": 1, "2": 1, "3": 1}
    assert run.report["new_mismatches"] == 3
    assert run.report["fixes_done"] == {"settle_order_from_psp": 1}
    assert run.report["totals"] == {
        "USD": {"ours": "60.00", "theirs": "75.00", "difference": "15.00"}
    }
    store = d.store
    assert isinstance(store, FakeReconStore) and isinstance(d.flows, FakePaymentFlows)
    assert d.flows.settled_orders == ["po_1"]
    by_type = {m.type: m for m in store.mismatches.values()}
    assert by_type["status"].status is MismatchStatus.FIXED
    assert by_type["duplicate_charge"].mismatch_class is MismatchClass.NEEDS_PERSON
    assert by_type["duplicate_charge"].suggested_action == "refund"
    assert by_type["duplicate_charge"].evidence["psp_transaction_id"] == "t2"
    assert by_type["unmatched_psp"].mismatch_class is MismatchClass.UNCLASSIFIABLE
    assert by_type["unmatched_psp"].status is MismatchStatus.OPEN
    # The fix's audit record names the run and the rule.
    [(fixed_id, run_id, rule, _)] = store.fixes
    assert (fixed_id, run_id, rule) == (
        by_type["status"].mismatch_id,
        run.run_id,
        "settle_order_from_psp",
    )


def found_metric(mismatch_class: str, mismatch_type: str) -> float:
    return RECON_MISMATCHES.labels(mismatch_class, mismatch_type)._value.get()


async def test_a_second_run_of_the_day_changes_nothing(tmp_path: Path) -> None:
    d = deps(tmp_path, [STUCK, DUPLICATE, UNKNOWN])
    first = await run_once(d)
    store = d.store
    assert isinstance(store, FakeReconStore) and isinstance(d.flows, FakePaymentFlows)
    before = {k: (m.mismatch_id, m.status) for k, m in store.mismatches.items()}
    # The fix made both sides agree: the stuck order is no longer a candidate.
    again = deps(tmp_path, [DUPLICATE, UNKNOWN], store=store, flows=d.flows)
    second = await run_once(again)
    assert second.run_id != first.run_id and second.status is RunStatus.SUCCEEDED
    assert second.report["new_mismatches"] == 0 and second.report["fixes_done"] == {}
    assert {k: (m.mismatch_id, m.status) for k, m in store.mismatches.items()} == before
    assert d.flows.settled_orders == ["po_1"] and len(store.fixes) == 1


async def test_each_new_mismatch_enqueues_one_event_and_a_known_one_none(tmp_path: Path) -> None:
    d = deps(tmp_path, [STUCK, DUPLICATE, UNKNOWN])
    first = await run_once(d)
    store = d.store
    assert isinstance(store, FakeReconStore)
    by_id = {m.mismatch_id: m for m in store.mismatches.values()}
    assert sorted(e.mismatch_id for e in store.outbox) == sorted(by_id)
    duplicate = next(e for e in store.outbox if e.type == "duplicate_charge")
    assert (duplicate.run_id, duplicate.mismatch_class, duplicate.suggested_action) == (
        first.run_id,
        2,
        "refund",
    )
    assert (duplicate.amount, duplicate.currency) == (Decimal("20.00"), "USD")
    # A second run of the day finds them again (and one new): only the new one is told.
    again = deps(tmp_path, [DUPLICATE, UNKNOWN, AMOUNT], store=store, flows=d.flows)
    second = await run_once(again)
    assert second.report["new_mismatches"] == 1
    assert [e.type for e in store.outbox[3:]] == ["amount"]
    assert store.outbox[3].run_id == second.run_id and len(store.outbox) == 4


async def test_a_fix_that_cannot_be_made_now_waits_for_the_next_run(tmp_path: Path) -> None:
    flows = FakePaymentFlows(away=True)
    d = deps(tmp_path, [STUCK], flows=flows)
    run = await run_once(d)
    assert run.report["fixes_done"] == {} and run.report["fixes_waiting"] == 1
    store = d.store
    assert isinstance(store, FakeReconStore)
    [stuck] = store.mismatches.values()
    assert stuck.status is MismatchStatus.OPEN
    flows.away = False
    await run_once(deps(tmp_path, [STUCK], store=store, flows=flows))
    assert stuck.status is MismatchStatus.FIXED and flows.settled_orders == ["po_1"]


async def test_a_fix_the_payment_service_refuses_does_not_fail_the_run(tmp_path: Path) -> None:
    class Refusing(FakePaymentFlows):
        async def settle_order(self, payment_order_id: str) -> str:
            raise LookupError(f"order {payment_order_id} unknown")

    d = deps(tmp_path, [STUCK, DUPLICATE], flows=Refusing())
    run = await run_once(d)
    assert run.status is RunStatus.SUCCEEDED
    assert run.report["fixes_done"] == {} and run.report["fixes_waiting"] == 1
    store = d.store
    assert isinstance(store, FakeReconStore)
    assert {m.type: m.status for m in store.mismatches.values()} == {
        "status": MismatchStatus.OPEN,
        "duplicate_charge": MismatchStatus.OPEN,
    }


async def test_a_run_that_fails_says_why_and_the_day_can_be_run_again(tmp_path: Path) -> None:
    d = deps(tmp_path, [], fails=RuntimeError("report unreadable"))
    run = await run_once(d)
    assert run.status is RunStatus.FAILED and "report unreadable" in run.error
    assert run.finished_at is not None
    assert (await run_once(deps(tmp_path, [], store=d.store))).status is RunStatus.SUCCEEDED


async def test_start_run_is_idempotent_per_request_and_per_running_period(tmp_path: Path) -> None:
    d = deps(tmp_path, [])
    first, created = await start_run(d, DAY, "csv", "test", "key_1", "req-1")
    assert created
    again, created_again = await start_run(d, DAY, "csv", "test", "key_1", "req-1")
    assert (again.run_id, created_again) == (first.run_id, False)
    joined, created_joined = await start_run(d, DAY, "csv", "test", "key_1", "req-2")
    assert (joined.run_id, created_joined) == (first.run_id, False)
    with pytest.raises(UnknownSource):
        await start_run(d, DAY, "nope", "test")


async def test_the_schedule_reconciles_yesterday_once(tmp_path: Path) -> None:
    d = deps(tmp_path, [DUPLICATE])
    run = await scheduled_run(d, "csv")
    assert run is not None and run.period == date(2026, 12, 1) and run.started_by == "schedule"
    assert await scheduled_run(d, "csv") is None


async def queued(tmp_path: Path, candidates: Sequence[Candidate]):  # type: ignore[no-untyped-def]
    d = deps(tmp_path, candidates)
    await run_once(d)
    store = d.store
    assert isinstance(store, FakeReconStore) and isinstance(d.flows, FakePaymentFlows)
    return d, store, d.flows


def decision(mismatch_id: str, action: ResolutionAction, request_id: str, note: str = ""):  # type: ignore[no-untyped-def]
    return Decision(mismatch_id, action, note, "alice", request_id)


async def test_a_duplicate_refunded_gives_back_that_charge_once_and_is_recorded(
    tmp_path: Path,
) -> None:
    d, store, flows = await queued(tmp_path, [DUPLICATE])
    books = FakeSuspenseBooks()
    flows.charge_amounts["ch_t2"] = (Decimal("20.00"), "USD")
    [m] = store.mismatches.values()
    limits = WriteOffLimits(Decimal("10"))

    def refund(request_id: str):  # type: ignore[no-untyped-def]
        return resolve(
            store, flows, books, d.clock, limits,
            decision(m.mismatch_id, ResolutionAction.REFUND, request_id),
        )  # fmt: skip

    done = await refund("r1")
    assert done.status is MismatchStatus.RESOLVED
    [r] = done.resolutions
    assert (r.action, r.resolved_by) == (ResolutionAction.REFUND, "alice")
    assert "ch_t2" in r.outcome and "20.00 USD" in r.outcome
    # The second charge was given back, not the order: no refund of po_2.
    assert list(flows.charges_given_back) == ["ch_t2"] and flows.refunds == {}
    [(order_id, given)] = books.duplicates.values()
    assert (order_id, given.amount, given.currency) == ("po_2", Decimal("20.00"), "USD")
    # The same request again: the same answer, nothing done twice.
    replay = await refund("r1")
    assert len(replay.resolutions) == 1 and len(flows.charges_given_back) == 1
    # Another decision on a resolved mismatch is refused; a note is still added.
    with pytest.raises(ResolutionRefused) as refused:
        await refund("r2")
    assert refused.value.reason == "MISMATCH_NOT_OPEN"
    noted = await resolve(
        store, flows, books, d.clock, limits,
        decision(m.mismatch_id, ResolutionAction.NOTE, "r3", "told the buyer"),
    )  # fmt: skip
    assert [x.action for x in noted.resolutions] == [ResolutionAction.REFUND, ResolutionAction.NOTE]
    assert noted.status is MismatchStatus.RESOLVED
    assert len(books.duplicates) == 1


async def test_a_refund_on_a_failed_order_refunds_the_order(tmp_path: Path) -> None:
    failed = Candidate(
        CandidateKind.CHARGE_PAIR, MatchRule.PSP_ID, psp("t5", "po_5", "12.00"),
        order("po_5", "FAILED", "12.00"),
    )  # fmt: skip
    d, store, flows = await queued(tmp_path, [failed])
    [m] = [x for x in store.mismatches.values() if x.status is MismatchStatus.OPEN]
    done = await resolve(
        store, flows, FakeSuspenseBooks(), d.clock, WriteOffLimits(Decimal(1)),
        decision(m.mismatch_id, ResolutionAction.REFUND, "f1"),
    )  # fmt: skip
    assert done.status is MismatchStatus.RESOLVED
    assert flows.refunds == {refund_key(m.mismatch_id): ("po_5", Decimal("12.00"), "USD")}
    assert flows.charges_given_back == {}


async def test_a_write_off_is_refused_above_the_limit_and_booked_once_below(
    tmp_path: Path,
) -> None:
    d, store, flows = await queued(tmp_path, [AMOUNT])
    books = FakeSuspenseBooks()
    [m] = store.mismatches.values()
    assert m.type == "amount"

    def write_off(limits: WriteOffLimits, request_id: str):  # type: ignore[no-untyped-def]
        return resolve(
            store, flows, books, d.clock, limits,
            decision(m.mismatch_id, ResolutionAction.WRITE_OFF, request_id),
        )  # fmt: skip

    with pytest.raises(ResolutionRefused) as refused:
        await write_off(WriteOffLimits(Decimal("1.00"), {"USD": Decimal("0.01")}), "w1")
    assert refused.value.reason == "WRITE_OFF_ABOVE_THRESHOLD"
    assert books.write_offs == {}
    assert (await store.get_mismatch(m.mismatch_id)).status is MismatchStatus.OPEN  # type: ignore[union-attr]
    limits = WriteOffLimits(Decimal("0.01"), {"USD": Decimal("1.00")})
    done = await write_off(limits, "w2")
    assert done.status is MismatchStatus.RESOLVED
    # The PSP holds 0.05 more than the books: a positive difference to suspense.
    assert books.write_offs == {m.mismatch_id: (Decimal("0.05"), "USD")}
    assert "recon_suspense" in done.resolutions[0].outcome
    assert len((await write_off(limits, "w2")).resolutions) == 1
    with pytest.raises(ResolutionRefused):
        await write_off(limits, "w3")
    assert len(books.write_offs) == 1


async def test_a_decision_whose_flow_is_away_records_nothing(tmp_path: Path) -> None:
    d, store, flows = await queued(tmp_path, [AMOUNT])
    [m] = store.mismatches.values()
    with pytest.raises(FlowUnavailable):
        await resolve(
            store, flows, FakeSuspenseBooks(away=True), d.clock, WriteOffLimits(Decimal(1)),
            decision(m.mismatch_id, ResolutionAction.WRITE_OFF, "a1"),
        )  # fmt: skip
    after = await store.get_mismatch(m.mismatch_id)
    assert after is not None and after.status is MismatchStatus.OPEN and not after.resolutions


async def test_a_note_needs_words_an_unknown_mismatch_is_not_found(tmp_path: Path) -> None:
    d, store, flows = await queued(tmp_path, [UNKNOWN])
    books = FakeSuspenseBooks()
    limits = WriteOffLimits(Decimal(1))
    [m] = store.mismatches.values()
    with pytest.raises(ResolutionRefused) as refused:
        await resolve(
            store, flows, books, d.clock, limits,
            decision(m.mismatch_id, ResolutionAction.NOTE, "n1"),
        )  # fmt: skip
    assert refused.value.reason == "NOTE_REQUIRED"
    with pytest.raises(ResolutionRefused) as nothing:
        await resolve(
            store, flows, books, d.clock, limits,
            decision(m.mismatch_id, ResolutionAction.REFUND, "n2"),
        )  # fmt: skip
    assert nothing.value.reason == "NOTHING_TO_REFUND"
    with pytest.raises(NotFound):
        await resolve(
            store, flows, books, d.clock, limits, decision("mm_nope", ResolutionAction.ACCEPT, "n3")
        )


async def test_the_queue_filters_by_status_class_and_type(tmp_path: Path) -> None:
    _, store, _ = await queued(tmp_path, [STUCK, DUPLICATE, UNKNOWN])
    open_ = await store.list_mismatches(MismatchQuery(status="OPEN"))
    assert sorted(m.type for m in open_) == ["duplicate_charge", "unmatched_psp"]
    assert [m.type for m in await store.list_mismatches(MismatchQuery(mismatch_class=3))] == [
        "unmatched_psp"
    ]
    assert [m.type for m in await store.list_mismatches(MismatchQuery(type="status"))] == ["status"]


async def test_a_decision_that_comes_while_another_is_carried_out_takes_no_effect(
    tmp_path: Path,
) -> None:
    d, store, _ = await queued(tmp_path, [DUPLICATE])
    books = FakeSuspenseBooks()
    [m] = store.mismatches.values()
    limits = WriteOffLimits(Decimal("100"))
    meanwhile: list[BaseException] = []

    class Slow(FakePaymentFlows):
        async def refund_duplicate_charge(self, request_id, payment_order_id, psp_charge_id):  # type: ignore[no-untyped-def]
            # A colleague writes the same mismatch off while the PSP is refunding it.
            try:
                await resolve(
                    store, flows, books, d.clock, limits,
                    decision(m.mismatch_id, ResolutionAction.WRITE_OFF, "other"),
                )  # fmt: skip
            except DecisionInProgress as err:
                meanwhile.append(err)
            return await super().refund_duplicate_charge(
                request_id, payment_order_id, psp_charge_id
            )

    flows = Slow(charge_amounts={"ch_t2": (Decimal("20.00"), "USD")})
    done = await resolve(
        store, flows, books, d.clock, limits, decision(m.mismatch_id, ResolutionAction.REFUND, "r")
    )
    assert len(meanwhile) == 1 and books.write_offs == {}
    assert [r.action for r in done.resolutions] == [ResolutionAction.REFUND]
    assert store.deciding_now == set()
