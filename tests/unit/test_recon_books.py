"""Reconciliation against paymesh's own books, without I/O: how each ledger gap, wallet or order
difference, broken zero sum and uncleared clearing account is typed and classified, that a
wallet difference must hold over two reads, and that the run's books stage counts and hands on
every one (fakes for the books and the ledger matcher)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from recon_svc.domain.books import (
    BucketBalance,
    ClearingBalance,
    GapKind,
    LedgerGap,
    OrderBooks,
    clearing_mismatch,
    ledger_gap_mismatch,
    order_books_mismatch,
    wallet_ledger_mismatches,
    zero_sum_mismatch,
)
from recon_svc.domain.classes import Action, MismatchClass, classify
from recon_svc.domain.mismatches import Detail, Mismatch, MismatchType
from recon_svc.domain.period import Period
from recon_svc.domain.records import PspTransaction
from recon_svc.domain.report import ReconReport
from recon_svc.service_layer.books import BooksSettings, compare_books
from recon_svc.service_layer.ports import OurFiles

pytestmark = pytest.mark.unit

D = Decimal
AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def fee_row(fee: str = "3.78") -> PspTransaction:
    return PspTransaction(
        "txn_1", "charge", "ch_1", "pi_1", "po_1", "", D("120.00"), D(fee), "USD", AT
    )


def test_a_posting_on_a_psp_account_without_a_psp_transaction_is_for_investigation() -> None:
    gap = LedgerGap(GapKind.LEDGER_ALONE, "charge", "po_9", "tx-9", D("12.00"), "USD", AT)
    mismatch = ledger_gap_mismatch(gap)
    assert (mismatch.type, mismatch.detail) == (
        MismatchType.LEDGER_WITHOUT_PSP,
        Detail.LEDGER_CHARGE,
    )
    assert mismatch.key == ("ledger_without_psp", "charge", "", "", "", "tx-9")
    assert mismatch.evidence()["ledger_amount"] == "12.00"
    c = classify(mismatch)
    assert (c.mismatch_class, c.action) == (MismatchClass.UNCLASSIFIABLE, Action.INVESTIGATE)


def test_a_fee_the_ledger_booked_differently_is_accepted_by_a_person() -> None:
    gap = LedgerGap(GapKind.DIFFERS, "fee", "txn_1", "tx-1", D("3.70"), "USD", AT, fee_row())
    mismatch = ledger_gap_mismatch(gap)
    assert (mismatch.type, mismatch.detail) == (MismatchType.FEE, Detail.FEE_BOOKED)
    assert mismatch.evidence()["psp_fee"] == "3.78"
    c = classify(mismatch)
    assert (c.mismatch_class, c.action) == (MismatchClass.NEEDS_PERSON, Action.ACCEPT)


def test_a_payout_booked_at_another_amount_or_not_at_all_needs_a_person() -> None:
    payout = PspTransaction("po_x", "payout", "", "", "", "", D("-50.00"), D(0), "USD", AT)
    differs = ledger_gap_mismatch(
        LedgerGap(GapKind.DIFFERS, "payout", "po_x", "tx", D("49.00"), "USD", AT, payout)
    )
    missing = ledger_gap_mismatch(LedgerGap(GapKind.PSP_ALONE, "payout", "po_x", psp=payout))
    assert (differs.type, differs.detail) == (MismatchType.AMOUNT, Detail.PAYOUT_BOOKED)
    assert (missing.type, missing.detail) == (MismatchType.MISSING_IN_LEDGER, Detail.LEDGER_PAYOUT)
    assert classify(differs).mismatch_class is MismatchClass.NEEDS_PERSON
    assert classify(missing).mismatch_class is MismatchClass.NEEDS_PERSON


def bucket(wallet: str, ledger: str, bucket: str = "pending") -> BucketBalance:
    return BucketBalance("seller_1", "USD", bucket, D(wallet), D(ledger))


def test_only_a_wallet_difference_that_holds_over_two_reads_is_a_mismatch() -> None:
    moving = bucket("10.00", "0.00", "available")  # the ledger's consumer is a step behind
    moved = bucket("10.00", "10.00", "available")
    stuck = bucket("7.00", "5.00")
    assert wallet_ledger_mismatches([moving, stuck], [moved, stuck]) == [
        wallet_ledger_mismatches([stuck], [stuck])[0]
    ]
    [mismatch] = wallet_ledger_mismatches([stuck], [stuck])
    assert (mismatch.type, mismatch.detail) == (MismatchType.INTERNAL, Detail.WALLET_LEDGER)
    assert mismatch.key[-1] == "seller_1/USD/pending"
    assert mismatch.evidence()["difference"] == "2.00"
    assert classify(mismatch).mismatch_class is MismatchClass.NEEDS_PERSON
    # A difference whose figures changed between the reads is money still moving.
    assert wallet_ledger_mismatches([stuck], [bucket("8.00", "5.00")]) == []


def test_an_order_the_ledger_never_booked_and_one_booked_wrongly_need_a_person() -> None:
    never = order_books_mismatch(
        OrderBooks("po_1", "SUCCESS", "ledger", 0, D(0), D("20.00"), "USD", flagged=False)
    )
    lost = order_books_mismatch(
        OrderBooks("po_2", "SUCCESS", "ledger", 0, D(0), D("20.00"), "USD", flagged=True)
    )
    wallet = order_books_mismatch(
        OrderBooks("po_3", "SUCCESS", "wallet", 2, D("36.00"), D("18.00"), "USD", flagged=True)
    )
    assert [(m.detail, m.key[-1]) for m in (never, lost, wallet)] == [
        (Detail.ORDER_LEDGER, "po_1"),
        (Detail.ORDER_LEDGER, "po_2"),
        (Detail.ORDER_WALLET, "po_3"),
    ]
    assert "dead-letter" in classify(never).reason
    assert "dead-letter" not in classify(lost).reason
    assert {classify(m).mismatch_class for m in (never, lost, wallet)} == {
        MismatchClass.NEEDS_PERSON
    }


def test_a_broken_zero_sum_is_unclassifiable() -> None:
    whole = zero_sum_mismatch("USD", D("10.00"), D("9.00"))
    one = zero_sum_mismatch("USD", D("10.00"), D("9.00"), "tx-1")
    assert whole.key != one.key
    assert classify(one).mismatch_class is MismatchClass.UNCLASSIFIABLE


@pytest.mark.parametrize(
    ("balance", "recent", "not_cleared"),
    [
        ("0.00", "0.00", None),  # a clean day, paid out
        ("96.80", "100.00", None),  # today's money, still within the delay
        ("150.00", "100.00", "50.00"),  # 50.00 older than the delay was never paid out
        ("-5.00", "0.00", "-5.00"),  # more booked out than ever came in
    ],
)
def test_the_clearing_account_must_net_to_zero_after_its_delay(
    balance: str, recent: str, not_cleared: str | None
) -> None:
    row = ClearingBalance("psp_receivable", "USD", D(balance), D(recent))
    mismatch = clearing_mismatch(row, timedelta(days=3), "2026-12-01")
    if not_cleared is None:
        assert mismatch is None
        return
    assert mismatch is not None
    assert mismatch.evidence()["not_cleared"] == not_cleared
    assert mismatch.key[-1] == "psp_receivable/USD/2026-12-01"
    assert classify(mismatch).mismatch_class is MismatchClass.NEEDS_PERSON


class FakeBooks:
    def __init__(self) -> None:
        self.buckets = [[bucket("7.00", "5.00")], [bucket("7.00", "5.00")]]
        self.slept: list[float] = []

    def spool_ledger(self, period: Period, directory: Path) -> Path:
        return directory / "ledger.csv"

    def bucket_balances(self) -> list[BucketBalance]:
        return self.buckets.pop(0)

    def order_books(self, period: Period, settled_before: datetime) -> Iterator[OrderBooks]:
        assert settled_before < datetime.now(UTC)
        yield OrderBooks("po_1", "SUCCESS", "wallet", 0, D(0), D("9.00"), "USD", True)

    def zero_sum(self) -> list[tuple[str, str, Decimal, Decimal]]:
        return [("", "USD", D("1.00"), D("0.00"))]

    def clearing(self, since: datetime) -> list[ClearingBalance]:
        return [ClearingBalance("psp_receivable", "USD", D("0.00"), D("0.00"))]


class FakeLedgerMatcher:
    def gaps(
        self, period: Period, psp_report: Path, ledger: Path, ours: OurFiles, scratch: Path
    ) -> Iterator[LedgerGap]:
        assert ledger.name == "ledger.csv"
        yield LedgerGap(GapKind.LEDGER_ALONE, "fee", "txn_gone", "tx-1", D("1.00"), "USD", AT)


class ListSink:
    def __init__(self) -> None:
        self.found: list[tuple[Mismatch, MismatchClass]] = []

    def add(self, mismatch: Mismatch, classification: object) -> None:
        self.found.append((mismatch, classification.mismatch_class))  # type: ignore[attr-defined]


def test_the_books_stage_hands_on_and_counts_every_finding(tmp_path: Path) -> None:
    books, sink, report = FakeBooks(), ListSink(), ReconReport()
    compare_books(
        Period.day(AT.date()),
        tmp_path / "psp.csv",
        OurFiles(tmp_path / "o.csv", tmp_path / "r.csv"),
        books,
        FakeLedgerMatcher(),
        sink,
        report,
        tmp_path,
        datetime.now(UTC),
        BooksSettings(recheck=timedelta(seconds=2)),
        sleep=books.slept.append,
    )
    assert [(m.type.value, m.detail.value, c) for m, c in sink.found] == [
        ("ledger_without_psp", "fee", MismatchClass.UNCLASSIFIABLE),
        ("internal", "order_wallet", MismatchClass.NEEDS_PERSON),
        ("internal", "wallet_ledger", MismatchClass.NEEDS_PERSON),
        ("internal", "ledger_zero_sum", MismatchClass.UNCLASSIFIABLE),
    ]
    assert books.slept == [2.0]  # the wallet was read again after the recheck delay
    assert dict(report.by_type) == {"ledger_without_psp": 1, "internal": 3}
    assert dict(report.by_class) == {2: 2, 3: 2}


@pytest.mark.parametrize(
    ("kind", "detail"),
    [("duplicate_charge", Detail.LEDGER_CHARGE), ("duplicate_refund", Detail.LEDGER_REFUND)],
)
def test_a_duplicate_charge_booking_the_psp_never_made_is_for_investigation(
    kind: str, detail: Detail
) -> None:
    gap = LedgerGap(GapKind.LEDGER_ALONE, kind, "ch_9", "tx-9", D("20.00"), "USD", AT)
    mismatch = ledger_gap_mismatch(gap)
    assert (mismatch.type, mismatch.detail) == (MismatchType.LEDGER_WITHOUT_PSP, detail)
    assert mismatch.evidence()["ledger_kind"] == kind
    assert classify(mismatch).mismatch_class is MismatchClass.UNCLASSIFIABLE
