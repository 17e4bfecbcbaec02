"""Reconciliation reading paymesh's side from a real PostgreSQL (the payment schema, migrated),
through COPY, against a PSP report in the sandbox's columns, with a few planted mismatches."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import psycopg

import mesh.migrations
from mesh.db import libpq_url
from psp_sandbox.reports import COLUMNS as SANDBOX_COLUMNS
from recon_svc.adapters.duckdb_matcher import DuckDbMatcher
from recon_svc.adapters.pg_records import PostgresRecords
from recon_svc.adapters.psp_report_file import PspReportFile
from recon_svc.adapters.sinks import CollectingSink
from recon_svc.domain.classes import FixRule, MismatchClass
from recon_svc.domain.period import Period
from recon_svc.service_layer.reconcile import reconcile

DAY = Period.day(date(2026, 12, 1))

# (order id, PSP reference, status, amount, created at)
ORDERS = [
    ("po_ok", "pi_ok", "SUCCESS", "120.00", "2026-12-01 10:00:00+00"),
    ("po_stuck", "pi_stuck", "EXECUTING", "15.00", "2026-12-01 11:00:00+00"),
    ("po_amount", "pi_amount", "SUCCESS", "30.00", "2026-12-01 12:00:00+00"),
    ("po_no_charge", "pi_no_charge", "SUCCESS", "44.00", "2026-12-01 13:00:00+00"),
    ("po_failed", "pi_failed", "FAILED", "9.00", "2026-12-01 14:00:00+00"),
    ("po_late", "pi_late", "SUCCESS", "50.00", "2026-12-01 23:59:58+00"),  # charged after midnight
    ("po_old", "pi_old", "SUCCESS", "70.00", "2026-11-20 10:00:00+00"),  # outside what is read
]
# (PSP transaction, created, category, source, intent, order id, amount)
PSP = [
    ("txn_ok", "2026-12-01T10:00:02Z", "charge", "ch_ok", "pi_ok", "po_ok", "120.00"),
    ("txn_stuck", "2026-12-01T11:00:02Z", "charge", "ch_stuck", "pi_stuck", "po_stuck", "15.00"),
    ("txn_amount", "2026-12-01T12:00:02Z", "charge", "ch_am", "pi_amount", "po_amount", "31.00"),
    ("txn_late", "2026-12-02T00:00:03Z", "charge", "ch_late", "pi_late", "po_late", "50.00"),
    ("txn_refund", "2026-12-01T15:00:00Z", "refund", "re_ok", "pi_ok", "po_ok", "-20.00"),
]


def seed(database_url: str) -> None:
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute(
            "INSERT INTO payment.payment_events (checkout_id, buyer_id, payment_method, created_at)"
            " VALUES ('checkout-1', 'buyer-1', 'pm_card_visa', '2026-11-20 10:00:00+00')"
        )
        for position, (oid, ref, status, amount, created) in enumerate(ORDERS):
            conn.execute(
                "INSERT INTO payment.payment_orders (payment_order_id, checkout_id, position,"
                " seller_account, amount, currency, fee_amount, status, psp_reference,"
                " created_at, updated_at)"
                " VALUES (%s, 'checkout-1', %s, 'seller-a', %s, 'USD', 0, %s, %s, %s, %s)",
                (oid, position, amount, status, ref, created, created),
            )
        # The PSP refunded it; paymesh's refund still waits for the answer it lost.
        conn.execute(
            "INSERT INTO payment.refunds (refund_id, payment_order_id, seller_account, amount,"
            " fee_refunded, currency, status, psp_reference, created_at, updated_at)"
            " VALUES ('rf_1', 'po_ok', 'seller-a', 20.00, 0, 'USD', 'PENDING', 're_ok',"
            " '2026-12-01 14:59:59+00', '2026-12-01 14:59:59+00')"
        )


def settlement_report(path: Path) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(SANDBOX_COLUMNS)
        for txn, created, kind, source, intent, oid, amount in PSP:
            writer.writerow(
                [
                    txn,
                    created,
                    "2026-12-03",
                    kind,
                    source,
                    intent,
                    oid,
                    "usd",
                    amount,
                    "0.00",
                    amount,
                ]
            )
    return path


def test_orders_and_refunds_read_by_copy_show_each_planted_mismatch(
    database_url: str, tmp_path: Path
) -> None:
    mesh.migrations.upgrade("payment_svc", database_url)
    seed(database_url)
    sink = CollectingSink()
    report = reconcile(
        DAY,
        PspReportFile(settlement_report(tmp_path / "settlement-2026-12-01.csv")),
        PostgresRecords(database_url),
        DuckDbMatcher(),
        sink,
        tmp_path,
    )
    found = {m.key: (c.mismatch_class, c.rule) for m, c in sink.found}
    assert found == {
        ("status", "order_unsettled", "txn_stuck", "po_stuck", ""): (
            MismatchClass.AUTO_FIXED,
            FixRule.SETTLE_ORDER_FROM_PSP,
        ),
        ("amount", "", "txn_amount", "po_amount", ""): (MismatchClass.NEEDS_PERSON, FixRule.NONE),
        ("missing_at_psp", "", "", "po_no_charge", ""): (MismatchClass.NEEDS_PERSON, FixRule.NONE),
        ("refund", "refund_pending", "txn_refund", "po_ok", "rf_1"): (
            MismatchClass.AUTO_FIXED,
            FixRule.SETTLE_REFUND_FROM_PSP,
        ),
    }
    summary = report.summary
    assert summary is not None
    # po_old lies outside the period and its margin: never read; po_late's charge is in the
    # margin, so it ties, but the 2nd's run reports on it, not this one.
    assert summary.order_rows == 6 and summary.refund_rows == 1 and summary.psp_rows == 4
    assert summary.fees_to_book == {"USD": 0}  # the sandbox CSV here has no fees
    # Ours: 120 + 30 + 44 + 50 (SUCCESS) and no SUCCEEDED refund; theirs: 120 + 15 + 31 - 20.
    assert (summary.totals["USD"].ours, summary.totals["USD"].theirs) == (244, 146)
    assert (tmp_path / "orders.csv").read_text().count("\n") == 7  # header + 6 in the window


def test_the_bench_with_our_side_read_from_postgres_finds_every_plant() -> None:
    """`paymesh recon bench --from-postgres`, short: the orders and refunds loaded into a scratch
    PostgreSQL and read back by COPY give the same answer as the files (fees aside: the payment
    schema books none, so no fee mismatch is planted or found)."""
    from paymesh_cli.recon_bench import run_bench

    result = run_bench(2_000, 5, from_postgres=True)
    assert result["ok"] is True, result["per_type"]
    assert result["per_type"]["fee"]["found"] == 0
    for kind, s in result["per_type"].items():
        if kind != "fee":
            assert s["planted"] > 0 and (s["precision"], s["recall"]) == (1.0, 1.0), kind
    assert result["report"]["order_rows"] == result["order_rows"]
