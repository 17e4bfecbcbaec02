"""The DuckDB matcher through the reconcile use case, on small files in the sandbox's
settlement-report columns: what ties, in which order of rules, across the period's edges."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from psp_sandbox.reports import COLUMNS as SANDBOX_COLUMNS
from recon_svc.adapters.duckdb_matcher import DuckDbMatcher
from recon_svc.adapters.our_files import OurRecordFiles
from recon_svc.adapters.psp_report_file import PspReportFile
from recon_svc.adapters.sinks import CollectingSink
from recon_svc.domain.classes import MismatchClass
from recon_svc.domain.period import Period
from recon_svc.domain.psp_columns import UnknownReportFormat
from recon_svc.domain.report import ReconReport
from recon_svc.service_layer.ports import OurFiles
from recon_svc.service_layer.reconcile import reconcile

DAY = Period.day(date(2026, 12, 1))
ORDER_COLUMNS = (
    "payment_order_id",
    "psp_reference",
    "status",
    "amount",
    "currency",
    "psp_fee",
    "created_at",
)
REFUND_COLUMNS = (
    "refund_id",
    "payment_order_id",
    "psp_reference",
    "status",
    "amount",
    "currency",
    "created_at",
)


def at(text: str) -> str:
    return f"2026-{text}Z"


def psp_row(
    txn: str,
    created: str,
    kind: str,
    source: str,
    intent: str,
    order_id: str,
    amount: str,
    fee: str = "0.00",
    currency: str = "usd",
) -> dict[str, str]:
    net = str(Decimal(amount) - Decimal(fee))
    return dict(
        balance_transaction_id=txn,
        created=at(created),
        available_on="2026-12-03",
        type=kind,
        source=source,
        payment_intent=intent,
        payment_order_id=order_id,
        currency=currency,
        amount=amount,
        fee=fee,
        net=net,
    )


def write(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(
    tmp_path: Path,
    psp: list[dict[str, str]],
    orders: list[tuple[str, ...]],
    refunds: list[tuple[str, ...]] | None = None,
) -> tuple[ReconReport, CollectingSink]:
    report_file = write(tmp_path / "settlement.csv", SANDBOX_COLUMNS, psp)
    ours = OurFiles(
        write(tmp_path / "orders.csv", ORDER_COLUMNS, rows_of(ORDER_COLUMNS, orders)),
        write(tmp_path / "refunds.csv", REFUND_COLUMNS, rows_of(REFUND_COLUMNS, refunds or [])),
    )
    sink = CollectingSink()
    report = reconcile(
        DAY, PspReportFile(report_file), OurRecordFiles(ours), DuckDbMatcher(), sink, tmp_path
    )
    return report, sink


def rows_of(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[dict[str, str]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def kinds(sink: CollectingSink) -> list[tuple[str, str, str, str, str]]:
    return sorted(m.key for m, _ in sink.found)


def order(
    oid: str,
    ref: str,
    amount: str,
    created: str,
    status: str = "SUCCESS",
    fee: str = "",
    currency: str = "USD",
) -> tuple[str, ...]:
    return (oid, ref, status, amount, currency, fee, f"2026-{created}+00")


def test_a_clean_day_has_no_mismatch_and_its_totals_agree(tmp_path: Path) -> None:
    report, sink = run(
        tmp_path,
        [
            psp_row("txn_1", "12-01T10:00:02", "charge", "ch_1", "pi_1", "po_1", "120.00", "3.78"),
            psp_row("txn_2", "12-01T11:00:02", "charge", "ch_2", "pi_2", "po_2", "35.50", "1.33"),
            psp_row("txn_3", "12-01T12:00:00", "refund", "re_1", "pi_1", "po_1", "-20.00"),
            psp_row("txn_4", "12-01T13:00:00", "payout", "po_bank", "", "", "-100.00"),
        ],
        [
            order("po_1", "pi_1", "120.00", "12-01 10:00:00", fee="3.78"),
            order("po_2", "pi_2", "35.50", "12-01 11:00:00"),
            order("po_3", "pi_3", "9.99", "12-01 11:30:00", status="FAILED"),
        ],
        [("rf_1", "po_1", "re_1", "SUCCEEDED", "20.00", "USD", "2026-12-01 11:59:59+00")],
    )
    assert sink.found == []
    summary = report.summary
    assert summary is not None
    assert summary.matched == {"psp_id": 3}
    assert summary.not_compared == {"payout": 1}
    usd = summary.totals["USD"]
    assert usd.ours == usd.theirs == Decimal("135.50") and usd.difference == 0
    # po_1's fee is booked; po_2's is not yet: the report says what is left to book.
    assert summary.fees_to_book == {"USD": Decimal("1.33")}
    assert report.as_dict()["totals"] == {
        "USD": {"ours": "135.50", "theirs": "135.50", "difference": "0.00"}
    }


def test_a_charge_across_midnight_ties_and_rows_of_the_next_day_are_not_reported(
    tmp_path: Path,
) -> None:
    _, sink = run(
        tmp_path,
        [
            # charged a second after midnight, for an order of the 1st: tied, nothing to say
            psp_row("txn_1", "12-02T00:00:01", "charge", "ch_1", "pi_1", "po_1", "10.00"),
            # the 2nd's charge without its order: the 2nd's run will report it, not this one
            psp_row("txn_2", "12-02T09:00:00", "charge", "ch_2", "pi_2", "po_x", "11.00"),
        ],
        [
            order("po_1", "pi_1", "10.00", "12-01 23:59:59"),
            order("po_9", "pi_9", "12.00", "11-30 09:00:00"),  # the 30th's, no charge: not ours
        ],
    )
    assert sink.found == []


def test_the_most_specific_rule_wins(tmp_path: Path) -> None:
    """txn_a carries po_x's PSP id but po_y in its metadata; txn_b carries po_y's metadata: the
    PSP id ties txn_a to po_x, so po_y is txn_b's, and nothing is a duplicate."""
    report, sink = run(
        tmp_path,
        [
            psp_row("txn_a", "12-01T10:00:00", "charge", "ch_a", "pi_x", "po_y", "10.00"),
            psp_row("txn_b", "12-01T10:00:09", "charge", "ch_b", "pi_b", "po_y", "20.00"),
        ],
        [
            order("po_x", "pi_x", "10.00", "12-01 10:00:00"),
            order("po_y", "", "20.00", "12-01 10:00:05"),
        ],
    )
    assert sink.found == []
    assert report.summary is not None and report.summary.matched == {"psp_id": 1, "metadata": 1}


def test_a_tie_by_amount_takes_the_closest_and_leaves_the_other_alone(tmp_path: Path) -> None:
    _, sink = run(
        tmp_path,
        [
            psp_row("txn_near", "12-01T10:00:05", "charge", "ch_1", "pi_lost1", "", "42.00"),
            psp_row("txn_far", "12-01T10:30:00", "charge", "ch_2", "pi_lost2", "", "42.00"),
        ],
        [order("po_1", "", "42.00", "12-01 10:00:00", status="EXECUTING")],
    )
    found = {m.key: (m.rule.value if m.rule else "", c.mismatch_class) for m, c in sink.found}
    assert found == {
        ("status", "order_unsettled", "txn_near", "po_1", ""): (
            "amount_currency_date",
            MismatchClass.NEEDS_PERSON,  # no fix rests on a tie by amount and date
        ),
        ("unmatched_psp", "", "txn_far", "", ""): ("", MismatchClass.UNCLASSIFIABLE),
    }


def test_a_duplicate_a_missing_order_and_a_stuck_one_in_one_report(tmp_path: Path) -> None:
    report, sink = run(
        tmp_path,
        [
            psp_row("txn_1", "12-01T10:00:00", "charge", "ch_1", "pi_1", "po_1", "10.00"),
            psp_row("txn_1b", "12-01T10:00:30", "charge", "ch_1b", "pi_1b", "po_1", "10.00"),
            psp_row("txn_2", "12-01T11:00:00", "charge", "ch_2", "pi_2", "po_gone", "5.00"),
            psp_row("txn_3", "12-01T12:00:00", "charge", "ch_3", "pi_3", "po_3", "7.00"),
        ],
        [
            order("po_1", "pi_1", "10.00", "12-01 10:00:00"),
            order("po_3", "pi_3", "7.00", "12-01 12:00:00", status="PENDING"),
        ],
    )
    assert kinds(sink) == [
        ("duplicate_charge", "", "txn_1b", "po_1", ""),
        ("missing_ours", "", "txn_2", "po_gone", ""),
        ("status", "order_unsettled", "txn_3", "po_3", ""),
    ]
    assert report.by_class == {1: 1, 2: 2}
    assert report.fixes == {"settle_order_from_psp": 1}


def test_stripe_epoch_seconds_and_a_report_without_its_columns(tmp_path: Path) -> None:
    row = psp_row("txn_1", "12-01T10:00:00", "charge", "ch_1", "pi_1", "po_1", "10.00")
    row["created"] = str(int(datetime(2026, 12, 1, 10, tzinfo=UTC).timestamp()))
    _, sink = run(tmp_path, [row], [order("po_1", "pi_1", "10.00", "12-01 10:00:00")])
    assert sink.found == []
    (tmp_path / "bad.csv").write_text("id,amount\ntxn_1,1.00\n")
    with pytest.raises(UnknownReportFormat):
        with DuckDbMatcher().open(
            DAY, tmp_path / "bad.csv", OurFiles(tmp_path, tmp_path), tmp_path
        ):
            pass


def test_an_amount_with_more_decimals_than_its_currency_is_not_rounded_away(
    tmp_path: Path,
) -> None:
    _, sink = run(
        tmp_path,
        [psp_row("txn_1", "12-01T10:00:00", "charge", "ch_1", "pi_1", "po_1", "10.001")],
        [order("po_1", "pi_1", "10.00", "12-01 10:00:00")],
    )
    ((mismatch, _),) = sink.found
    assert mismatch.key == ("amount", "", "txn_1", "po_1", "")
    assert mismatch.evidence()["psp_gross"] == "10.0010"


def test_an_empty_day_reads_and_reports_nothing(tmp_path: Path) -> None:
    report, sink = run(tmp_path, [], [])
    assert sink.found == [] and report.summary is not None
    assert (report.summary.psp_rows, report.summary.order_rows) == (0, 0)
    assert report.summary.totals == {}


def test_a_second_run_over_the_same_period_finds_the_same_mismatches(tmp_path: Path) -> None:
    """Runs will be idempotent by these keys: the same input gives the same keys and classes,
    whatever order DuckDB's threads produce them in."""
    psp = [
        psp_row("txn_1", "12-01T10:00:00", "charge", "ch_1", "pi_1", "po_1", "10.00"),
        psp_row("txn_1b", "12-01T10:00:30", "charge", "ch_1b", "pi_1b", "po_1", "10.00"),
        psp_row("txn_x", "12-01T10:00:40", "charge", "ch_x", "pi_x", "", "42.00"),
        psp_row("txn_y", "12-01T10:00:41", "charge", "ch_y", "pi_y", "", "42.00"),
    ]
    orders = [
        order("po_1", "pi_1", "10.00", "12-01 10:00:00"),
        order("po_2", "", "42.00", "12-01 10:00:40", status="EXECUTING"),
        order("po_3", "", "42.00", "12-01 10:00:41", status="EXECUTING"),
    ]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, first = run(tmp_path / "a", psp, orders)
    _, second = run(tmp_path / "b", psp, orders)
    keys = sorted((m.key, c.mismatch_class) for m, c in first.found)
    assert keys == sorted((m.key, c.mismatch_class) for m, c in second.found)
    assert [k[0][:3] for k in keys] == [
        ("duplicate_charge", "", "txn_1b"),
        ("status", "order_unsettled", "txn_x"),
        ("status", "order_unsettled", "txn_y"),
    ]
