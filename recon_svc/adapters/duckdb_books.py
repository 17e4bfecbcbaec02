"""The ledger's completeness against the PSP's report, on DuckDB (the `LedgerMatcher` port):
the report, the ledger's postings on the PSP's accounts and paymesh's order and refund ids
loaded from their files, tied by id, and only the gaps streamed back.

Both ways:
- every posting of the period on a PSP account has its PSP transaction: a pay-in its charge
  (by the payment_order_id in the charge's metadata, or the order's PaymentIntent), a refund
  its PSP refund (refund_id metadata, or the refund's PSP id), a fee or payout booking the
  PSP's row of that id;
- every PSP row of the period the ledger books from the report (a fee, a payout to the
  platform) has its booking, of the PSP's amount. Charges and refunds are the matcher's
  business (recon_svc.adapters.duckdb_matcher): a SUCCESS order's own books are compared
  inside paymesh (recon_svc.domain.books).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from recon_svc.adapters.duckdb_matcher import _CSV, _DECIMAL, _money, load_psp, period_bounds
from recon_svc.domain import psp_columns
from recon_svc.domain.books import GapKind, LedgerGap
from recon_svc.domain.period import Period
from recon_svc.domain.records import PspTransaction
from recon_svc.service_layer.ports import OurFiles

_FETCH = 10_000
_CHARGES = ", ".join(f"'{c}'" for c in sorted(psp_columns.CHARGE_CATEGORIES))
_REFUNDS = ", ".join(f"'{c}'" for c in sorted(psp_columns.REFUND_CATEGORIES))
_PAYOUTS = "'payout', 'payout_reversal'"  # the PSP's payouts to the platform (psp_books)

# gap, kind, key, then the ledger's row (transaction_id, amount, currency, posted_at), then the
# PSP's (id, category, source, payment_intent, payment_order_id, refund_id, gross, fee,
# currency, created); NULLs where a side is absent.
_LEDGER = "l.transaction_id, l.amount, l.currency, l.posted_at"
_PSP = (
    "p.id, p.category, p.source, p.payment_intent, p.payment_order_id, p.refund_id, p.gross,"
    " p.fee, p.currency, p.created"
)
_NO_LEDGER = "NULL, NULL, NULL, NULL"
_NO_PSP = ", ".join(["NULL"] * 10)

_GAPS = [
    # A pay-in posting no PSP charge explains.
    f"""SELECT 'ledger_alone', l.kind, l.key, {_LEDGER}, {_NO_PSP} FROM ledger l
    WHERE l.kind = 'charge' AND l.in_period AND l.key NOT IN (
        SELECT payment_order_id FROM psp WHERE category IN ({_CHARGES})
        UNION ALL
        SELECT o.payment_order_id FROM orders o JOIN psp c
            ON c.category IN ({_CHARGES}) AND o.psp_reference <> ''
           AND o.psp_reference = coalesce(nullif(c.payment_intent, ''), c.source))""",
    # A refund posting no PSP refund explains.
    f"""SELECT 'ledger_alone', l.kind, l.key, {_LEDGER}, {_NO_PSP} FROM ledger l
    WHERE l.kind = 'refund' AND l.in_period AND l.key NOT IN (
        SELECT refund_id FROM psp WHERE category IN ({_REFUNDS})
        UNION ALL
        SELECT r.refund_id FROM refunds r JOIN psp c
            ON c.category IN ({_REFUNDS}) AND r.psp_reference <> ''
           AND r.psp_reference = c.source)""",
    # A duplicate charge (its refund) booked by the finance queue that the PSP never made.
    f"""SELECT 'ledger_alone', l.kind, l.key, {_LEDGER}, {_NO_PSP} FROM ledger l
    WHERE l.kind IN ('duplicate_charge', 'duplicate_refund') AND l.in_booking_window
      AND l.key NOT IN (SELECT source FROM psp UNION ALL SELECT id FROM psp)""",
    # A fee or payout booking of a PSP row the report does not have.
    f"""SELECT 'ledger_alone', l.kind, l.key, {_LEDGER}, {_NO_PSP} FROM ledger l
    WHERE l.kind IN ('fee', 'payout') AND l.in_booking_window
      AND l.key NOT IN (SELECT id FROM psp)""",
    # A fee of the report the ledger has not booked, or booked at another amount.
    f"""SELECT CASE WHEN l.key IS NULL THEN 'psp_alone' ELSE 'differs' END, 'fee', p.id,
           {_LEDGER}, {_PSP}
    FROM psp p LEFT JOIN ledger l ON l.kind = 'fee' AND l.key = p.id
    WHERE p.in_period AND p.fee <> 0 AND (l.key IS NULL OR l.amount <> abs(p.fee))""",
    # A payout to the platform the ledger has not booked, or booked at another amount.
    f"""SELECT CASE WHEN l.key IS NULL THEN 'psp_alone' ELSE 'differs' END, 'payout', p.id,
           {_LEDGER}, {_PSP}
    FROM psp p LEFT JOIN ledger l ON l.kind = 'payout' AND l.key = p.id
    WHERE p.in_period AND p.category IN ({_PAYOUTS}) AND p.gross <> 0
      AND (l.key IS NULL OR l.amount <> abs(p.gross))""",
]


class DuckDbLedgerMatcher:
    def __init__(self, *, memory_limit: str = "96MB", threads: int = 2) -> None:
        self._memory_limit = memory_limit
        self._threads = threads

    def gaps(
        self, period: Period, psp_report: Path, ledger: Path, ours: OurFiles, scratch: Path
    ) -> Iterator[LedgerGap]:
        con = duckdb.connect(
            ":memory:",
            config={
                "threads": self._threads,
                "memory_limit": self._memory_limit,
                "temp_directory": str(scratch / "duckdb-books-spill"),
                "preserve_insertion_order": False,
            },
        )
        try:
            con.execute("SET TimeZone = 'UTC'")
            bounds = period_bounds(period)
            load_psp(con, psp_report, bounds)
            booking_end = f"TIMESTAMPTZ '{period.read_until.isoformat()}'"
            con.execute(
                f"""
                CREATE TABLE ledger AS
                SELECT *, posted_at >= {bounds[0]} AND posted_at < {bounds[1]} AS in_period,
                       posted_at >= {bounds[0]} AND posted_at < {booking_end}
                           AS in_booking_window
                FROM read_csv(?, {_CSV}, columns = {{
                    'transaction_id': 'VARCHAR', 'kind': 'VARCHAR', 'key': 'VARCHAR',
                    'amount': '{_DECIMAL}', 'currency': 'VARCHAR', 'posted_at': 'TIMESTAMPTZ'}})
                """,
                [str(ledger)],
            )
            con.execute(
                f"""CREATE TABLE orders AS SELECT payment_order_id,
                           coalesce(psp_reference, '') AS psp_reference
                    FROM read_csv(?, {_CSV}, all_varchar = true)""",
                [str(ours.orders)],
            )
            con.execute(
                f"""CREATE TABLE refunds AS SELECT refund_id,
                           coalesce(psp_reference, '') AS psp_reference
                    FROM read_csv(?, {_CSV}, all_varchar = true)""",
                [str(ours.refunds)],
            )
            for query in _GAPS:
                cursor = con.cursor()
                try:
                    cursor.execute(query)
                    while rows := cursor.fetchmany(_FETCH):
                        for row in rows:
                            yield _gap(row)
                finally:
                    cursor.close()
        finally:
            con.close()


def _gap(row: tuple[Any, ...]) -> LedgerGap:
    gap, kind, key = row[0], row[1], row[2]
    transaction_id, amount, currency, posted_at = row[3:7]
    p = row[7:17]
    psp = (
        PspTransaction(
            id=p[0],
            category=p[1],
            source=p[2],
            payment_intent=p[3],
            payment_order_id=p[4],
            refund_id=p[5],
            gross=_money(p[6], p[8]),
            fee=_money(p[7], p[8]),
            currency=p[8],
            created=p[9],
        )
        if p[0] is not None
        else None
    )
    return LedgerGap(
        gap=GapKind(gap),
        kind_of_posting=kind,
        key=key,
        transaction_id=transaction_id or "",
        booked=_money(amount, currency) if amount is not None else None,
        currency=currency or "",
        posted_at=posted_at,
        psp=psp,
    )
