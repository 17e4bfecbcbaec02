"""The matcher on DuckDB: both sides loaded from their CSV files into an in-process database
(spilling to the run's scratch directory), tied by SQL joins, the rule order of `MatchRule`
kept by ranking, and only the candidates (pairs in which anything differs, rows left alone)
streamed back to Python.

Why DuckDB (ADR 0014): its joins and window functions run on columns in native code, its buffer
manager spills to the scratch directory past `memory_limit` (memory stays flat as a period
grows), it reads CSV itself, and it hands DECIMAL back as Python Decimal (never a float).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from mesh import money
from recon_svc.domain import psp_columns
from recon_svc.domain.period import Period
from recon_svc.domain.records import (
    Candidate,
    CandidateKind,
    MatchRule,
    OrderRecord,
    PspTransaction,
    RefundRecord,
)
from recon_svc.domain.report import CurrencyTotals, MatchSummary
from recon_svc.service_layer.ports import OurFiles

# Wide enough for mesh.money's largest amount with four decimals (int128 inside DuckDB).
_DECIMAL = "DECIMAL(22,4)"
_FETCH = 10_000
# RFC 4180 CSV, said rather than sniffed: a sniffer can guess wrong on a small or odd file.
_CSV = "header = true, delim = ',', quote = '\"', escape = '\"', buffer_size = 8388608"
_CHARGES = ", ".join(f"'{c}'" for c in sorted(psp_columns.CHARGE_CATEGORIES))
_REFUNDS = ", ".join(f"'{c}'" for c in sorted(psp_columns.REFUND_CATEGORIES))
_PAYOUTS = ", ".join(f"'{c}'" for c in sorted(psp_columns.PAYOUT_CATEGORIES))

# The columns every candidate query returns, in this order (NULLs where a side is absent).
_PSP_COLS = "p.id, p.category, p.source, p.payment_intent, p.payment_order_id, p.refund_id, p.gross, p.fee, p.currency, p.created"  # noqa: E501
_ORDER_COLS = (
    "o.payment_order_id, o.psp_reference, o.status, o.amount, o.currency, o.psp_fee, o.created_at"
)
_REFUND_COLS = (
    "r.refund_id, r.payment_order_id, r.psp_reference, r.status, r.amount, r.currency, r.created_at"
)
_NO_PSP = ", ".join(["NULL"] * 10)
_NO_ORDER = ", ".join(["NULL"] * 7)
_NO_REFUND = ", ".join(["NULL"] * 7)


_SIDE_JOINS = {
    "p": "JOIN psp p ON p.id = c.psp_id",
    "o": "JOIN orders o ON o.payment_order_id = c.order_id",
    "r": "JOIN refunds r ON r.refund_id = c.refund_id",
}
_NO_ID = "NULL::VARCHAR"

# Per kind: the query of its candidates' ids (rule, psp_id, order_id, refund_id) and the sides
# whose rows it names (p: the PSP's, o: orders, r: refunds).
_CANDIDATE_IDS: list[tuple[CandidateKind, str, str]] = [
    (
        CandidateKind.CHARGE_PAIR,
        f"""SELECT m.rule, m.id AS psp_id, m.order_id, {_NO_ID} AS refund_id
        FROM charge_pairs m JOIN psp p ON p.id = m.id
        JOIN orders o ON o.payment_order_id = m.order_id
        WHERE p.in_period AND (o.status <> 'SUCCESS' OR o.currency <> p.currency
              OR o.amount <> p.gross OR (o.psp_fee IS NOT NULL AND o.psp_fee <> p.fee))""",
        "po",
    ),
    (
        CandidateKind.DUPLICATE_CHARGE,
        f"""SELECT m.rule, m.id AS psp_id, m.order_id, {_NO_ID} AS refund_id
        FROM charge_ranked m JOIN psp p ON p.id = m.id
        WHERE m.rank > 1 AND p.in_period""",
        "po",
    ),
    (
        CandidateKind.CHARGE_ALONE,
        f"""SELECT NULL AS rule, l.id AS psp_id, {_NO_ID} AS order_id, {_NO_ID} AS refund_id
        FROM charge_links l ANTI JOIN charge_fuzzy f ON f.id = l.id
        WHERE l.order_id IS NULL AND l.in_period""",
        "p",
    ),
    (
        CandidateKind.ORDER_ALONE,
        f"""SELECT NULL AS rule, {_NO_ID} AS psp_id, o.payment_order_id AS order_id,
               {_NO_ID} AS refund_id
        FROM orders o ANTI JOIN charge_pairs m ON m.order_id = o.payment_order_id
        WHERE o.in_period AND o.status = 'SUCCESS'""",
        "o",
    ),
    (
        CandidateKind.REFUND_PAIR,
        f"""SELECT m.rule, m.id AS psp_id, {_NO_ID} AS order_id, m.refund_id
        FROM refund_pairs m JOIN psp p ON p.id = m.id
        JOIN refunds r ON r.refund_id = m.refund_id
        WHERE p.in_period AND (r.status <> 'SUCCEEDED' OR r.currency <> p.currency
              OR r.amount <> -p.gross)""",
        "pr",
    ),
    (
        CandidateKind.DUPLICATE_REFUND,
        f"""SELECT m.rule, m.id AS psp_id, {_NO_ID} AS order_id, m.refund_id
        FROM refund_ranked m JOIN psp p ON p.id = m.id
        WHERE m.rank > 1 AND p.in_period""",
        "pr",
    ),
    (
        CandidateKind.PSP_REFUND_ALONE,
        f"""SELECT NULL AS rule, l.id AS psp_id, {_NO_ID} AS order_id, {_NO_ID} AS refund_id
        FROM refund_links l ANTI JOIN refund_fuzzy f ON f.id = l.id
        WHERE l.refund_id IS NULL AND l.in_period""",
        "p",
    ),
    (
        CandidateKind.OUR_REFUND_ALONE,
        f"""SELECT NULL AS rule, {_NO_ID} AS psp_id, {_NO_ID} AS order_id, r.refund_id
        FROM refunds r ANTI JOIN refund_pairs m ON m.refund_id = r.refund_id
        WHERE r.in_period AND r.status = 'SUCCEEDED'""",
        "r",
    ),
    (
        CandidateKind.OTHER_PSP,
        f"""SELECT NULL AS rule, p.id AS psp_id, {_NO_ID} AS order_id, {_NO_ID} AS refund_id
        FROM psp p WHERE p.in_period
          AND p.category NOT IN ({_CHARGES}, {_REFUNDS}, {_PAYOUTS})""",
        "p",
    ),
]


class DuckDbMatcher:
    """`open()` loads and ties both sides; the session streams the candidates and the figures."""

    def __init__(
        self,
        *,
        memory_limit: str = "96MB",
        threads: int = 2,
        match_window: timedelta = timedelta(days=1),
    ) -> None:
        self._memory_limit = memory_limit
        self._threads = threads
        self._window_s = int(match_window.total_seconds())

    @contextmanager
    def open(
        self, period: Period, psp_report: Path, ours: OurFiles, scratch: Path
    ) -> Iterator[DuckDbSession]:
        # An in-memory database: past `memory_limit` its buffer manager spills tables and
        # intermediates to the scratch directory, and nothing is left behind to delete.
        con = duckdb.connect(
            ":memory:",
            config={
                "threads": self._threads,
                "memory_limit": self._memory_limit,
                "temp_directory": str(scratch / "duckdb-spill"),
                "preserve_insertion_order": False,  # order is never relied on; saves memory
            },
        )
        try:
            con.execute("SET TimeZone = 'UTC'")
            session = DuckDbSession(con, period, self._window_s)
            session.load(psp_report, ours)
            session.tie()
            yield session
        finally:
            con.close()


class DuckDbSession:
    def __init__(self, con: duckdb.DuckDBPyConnection, period: Period, window_s: int) -> None:
        self._con = con
        self._period = period
        self._window_s = window_s

    # -- loading -------------------------------------------------------------------------

    def load(self, psp_report: Path, ours: OurFiles) -> None:
        bounds = self._bounds()
        load_psp(self._con, psp_report, bounds)
        self._con.execute(
            f"""
            CREATE TABLE orders AS
            SELECT payment_order_id, coalesce(psp_reference, '') AS psp_reference, status,
                   amount, upper(currency) AS currency, psp_fee, created_at,
                   created_at >= {bounds[0]} AND created_at < {bounds[1]} AS in_period
            FROM read_csv(?, {_CSV}, columns = {{
                'payment_order_id': 'VARCHAR', 'psp_reference': 'VARCHAR', 'status': 'VARCHAR',
                'amount': '{_DECIMAL}', 'currency': 'VARCHAR', 'psp_fee': '{_DECIMAL}',
                'created_at': 'TIMESTAMPTZ'}})
            """,
            [str(ours.orders)],
        )
        self._con.execute(
            f"""
            CREATE TABLE refunds AS
            SELECT refund_id, coalesce(payment_order_id, '') AS payment_order_id,
                   coalesce(psp_reference, '') AS psp_reference, status, amount,
                   upper(currency) AS currency, created_at,
                   created_at >= {bounds[0]} AND created_at < {bounds[1]} AS in_period
            FROM read_csv(?, {_CSV}, columns = {{
                'refund_id': 'VARCHAR', 'payment_order_id': 'VARCHAR',
                'psp_reference': 'VARCHAR', 'status': 'VARCHAR', 'amount': '{_DECIMAL}',
                'currency': 'VARCHAR', 'created_at': 'TIMESTAMPTZ'}})
            """,
            [str(ours.refunds)],
        )

    def _bounds(self) -> tuple[str, str]:
        return period_bounds(self._period)

    # -- tying ---------------------------------------------------------------------------

    def tie(self) -> None:
        """Tie charges to orders and PSP refunds to refunds, the most specific rule first."""
        window = f"INTERVAL {self._window_s} SECOND"
        sql = self._con.execute
        # 1. by the PSP's id, 2. by the metadata; ranked so one charge per order is THE match.
        sql(
            f"""
            CREATE TABLE charge_links AS
            SELECT c.id, coalesce(by_id.payment_order_id, by_meta.payment_order_id) AS order_id,
                   CASE WHEN by_id.payment_order_id IS NOT NULL THEN 'psp_id'
                        WHEN by_meta.payment_order_id IS NOT NULL THEN 'metadata' END AS rule,
                   c.created, c.gross, c.currency, c.in_period
            FROM (SELECT *, coalesce(nullif(payment_intent, ''), source) AS ref
                  FROM psp WHERE category IN ({_CHARGES})) c
            LEFT JOIN (SELECT psp_reference, min(payment_order_id) AS payment_order_id
                       FROM orders WHERE psp_reference <> '' GROUP BY psp_reference) by_id
                   ON by_id.psp_reference = c.ref
            LEFT JOIN orders by_meta
                   ON c.payment_order_id <> '' AND by_meta.payment_order_id = c.payment_order_id
            """
        )
        sql(
            """
            CREATE TABLE charge_ranked AS
            SELECT id, order_id, rule,
                   row_number() OVER (PARTITION BY order_id
                                      ORDER BY rule = 'psp_id' DESC, created, id) AS rank
            FROM charge_links WHERE order_id IS NOT NULL
            """
        )
        # 3. amount + currency + date, between what is left on both sides; a pair holds only
        # when each is the other's closest (ties broken by id), one charge per order at most.
        sql(
            f"""
            CREATE TABLE charge_fuzzy AS
            WITH left_charges AS (SELECT * FROM charge_links WHERE order_id IS NULL),
                 left_orders AS (
                   SELECT o.* FROM orders o
                   ANTI JOIN (SELECT order_id FROM charge_ranked WHERE rank = 1) m
                          ON m.order_id = o.payment_order_id),
                 pairs AS (
                   SELECT c.id, o.payment_order_id AS order_id,
                          abs(epoch(c.created) - epoch(o.created_at)) AS gap
                   FROM left_charges c JOIN left_orders o
                     ON o.currency = c.currency AND o.amount = c.gross
                    AND c.created BETWEEN o.created_at - {window} AND o.created_at + {window}),
                 ranked AS (
                   SELECT *, row_number() OVER (PARTITION BY id ORDER BY gap, order_id) AS a,
                             row_number() OVER (PARTITION BY order_id ORDER BY gap, id) AS b
                   FROM pairs)
            SELECT id, order_id FROM ranked WHERE a = 1 AND b = 1
            """
        )
        sql(
            f"""
            CREATE TABLE refund_links AS
            SELECT p.id, coalesce(by_id.refund_id, by_meta.refund_id) AS refund_id,
                   CASE WHEN by_id.refund_id IS NOT NULL THEN 'psp_id'
                        WHEN by_meta.refund_id IS NOT NULL THEN 'metadata' END AS rule,
                   p.created, p.gross, p.currency, p.payment_order_id, p.in_period
            FROM (SELECT * FROM psp WHERE category IN ({_REFUNDS})) p
            LEFT JOIN (SELECT psp_reference, min(refund_id) AS refund_id
                       FROM refunds WHERE psp_reference <> '' GROUP BY psp_reference) by_id
                   ON p.source <> '' AND by_id.psp_reference = p.source
            LEFT JOIN refunds by_meta ON p.refund_id <> '' AND by_meta.refund_id = p.refund_id
            """
        )
        sql(
            """
            CREATE TABLE refund_ranked AS
            SELECT id, refund_id, rule,
                   row_number() OVER (PARTITION BY refund_id
                                      ORDER BY rule = 'psp_id' DESC, created, id) AS rank
            FROM refund_links WHERE refund_id IS NOT NULL
            """
        )
        sql(
            f"""
            CREATE TABLE refund_fuzzy AS
            WITH left_psp AS (SELECT * FROM refund_links WHERE refund_id IS NULL),
                 left_ours AS (
                   SELECT r.* FROM refunds r
                   ANTI JOIN (SELECT refund_id FROM refund_ranked WHERE rank = 1) m
                          ON m.refund_id = r.refund_id),
                 pairs AS (
                   SELECT p.id, r.refund_id, abs(epoch(p.created) - epoch(r.created_at)) AS gap
                   FROM left_psp p JOIN left_ours r
                     ON r.currency = p.currency AND r.amount = -p.gross
                    AND (p.payment_order_id = '' OR p.payment_order_id = r.payment_order_id)
                    AND p.created BETWEEN r.created_at - {window} AND r.created_at + {window}),
                 ranked AS (
                   SELECT *, row_number() OVER (PARTITION BY id ORDER BY gap, refund_id) AS a,
                             row_number() OVER (PARTITION BY refund_id ORDER BY gap, id) AS b
                   FROM pairs)
            SELECT id, refund_id FROM ranked WHERE a = 1 AND b = 1
            """
        )
        sql(
            """
            CREATE TABLE charge_pairs AS
            SELECT id, order_id, rule FROM charge_ranked WHERE rank = 1
            UNION ALL SELECT id, order_id, 'amount_currency_date' FROM charge_fuzzy
            """
        )
        sql(
            """
            CREATE TABLE refund_pairs AS
            SELECT id, refund_id, rule FROM refund_ranked WHERE rank = 1
            UNION ALL SELECT id, refund_id, 'amount_currency_date' FROM refund_fuzzy
            """
        )

    # -- streaming the candidates ----------------------------------------------------------

    def candidates(self) -> Iterator[Candidate]:
        """Each kind in two steps: the ids of its candidates, from joins that carry only the
        columns compared (narrow, so they fit or spill however long the period); then their
        full rows, joined against that id table, which is small on an ordinary day."""
        for kind, ids, sides in _CANDIDATE_IDS:
            self._con.execute(f"CREATE OR REPLACE TABLE candidate_ids AS {ids}")
            joins = " ".join(_SIDE_JOINS[side] for side in sides)
            query = (
                f"SELECT c.rule, {_PSP_COLS if 'p' in sides else _NO_PSP},"
                f" {_ORDER_COLS if 'o' in sides else _NO_ORDER},"
                f" {_REFUND_COLS if 'r' in sides else _NO_REFUND}"
                f" FROM candidate_ids c {joins}"
            )
            cursor = self._con.cursor()
            try:
                cursor.execute(query)
                while rows := cursor.fetchmany(_FETCH):
                    for row in rows:
                        yield _candidate(kind, row)
            finally:
                cursor.close()

    # -- the period's figures ----------------------------------------------------------------

    def summary(self) -> MatchSummary:
        one = self._scalar
        matched: dict[str, int] = {}
        for table, rows_table in (("charge_pairs", "psp"), ("refund_pairs", "psp")):
            for rule, count in self._con.execute(
                f"SELECT m.rule, count(*) FROM {table} m JOIN {rows_table} p ON p.id = m.id "
                "WHERE p.in_period GROUP BY m.rule"
            ).fetchall():
                matched[rule] = matched.get(rule, 0) + int(count)
        not_compared = {
            category: int(count)
            for category, count in self._con.execute(
                f"SELECT category, count(*) FROM psp WHERE in_period "
                f"AND category IN ({_PAYOUTS}) GROUP BY category"
            ).fetchall()
        }
        theirs = dict(
            self._con.execute(
                f"SELECT currency, sum(gross) FROM psp WHERE in_period "
                f"AND category IN ({_CHARGES}, {_REFUNDS}) GROUP BY currency"
            ).fetchall()
        )
        ours = dict(
            self._con.execute(
                """SELECT currency, sum(amount) FROM (
                     SELECT currency, amount FROM orders WHERE in_period AND status = 'SUCCESS'
                     UNION ALL
                     SELECT currency, -amount FROM refunds
                     WHERE in_period AND status = 'SUCCEEDED') GROUP BY currency"""
            ).fetchall()
        )
        zero = Decimal(0)
        totals = {
            currency: CurrencyTotals(
                _money(ours.get(currency, zero), currency),
                _money(theirs.get(currency, zero), currency),
            )
            for currency in sorted(set(ours) | set(theirs))
        }
        fees = {
            currency: _money(total, currency)
            for currency, total in self._con.execute(
                """SELECT p.currency, sum(p.fee) FROM charge_pairs m JOIN psp p ON p.id = m.id
                   JOIN orders o ON o.payment_order_id = m.order_id
                   WHERE p.in_period AND o.psp_fee IS NULL GROUP BY p.currency"""
            ).fetchall()
        }
        return MatchSummary(
            psp_rows=one("SELECT count(*) FROM psp WHERE in_period"),
            order_rows=one("SELECT count(*) FROM orders WHERE in_period"),
            refund_rows=one("SELECT count(*) FROM refunds WHERE in_period"),
            matched=matched,
            not_compared=not_compared,
            totals=totals,
            fees_to_book=fees,
        )

    def _scalar(self, query: str) -> int:
        row = self._con.execute(query).fetchone()
        return int(row[0]) if row else 0


def period_bounds(period: Period) -> tuple[str, str]:
    """The period's [start, end) as DuckDB literals."""
    return f"TIMESTAMPTZ '{period.start.isoformat()}'", f"TIMESTAMPTZ '{period.end.isoformat()}'"


def load_psp(con: duckdb.DuckDBPyConnection, psp_report: Path, bounds: tuple[str, str]) -> None:
    """The PSP's report as table `psp` in canonical columns (psp_columns), `in_period` set for
    the rows created inside `bounds`."""
    with psp_report.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), [])
    names = psp_columns.map_columns(header)

    def text(canonical: str) -> str:
        column = names[canonical]
        return f"coalesce(trim({_quote(column)}), '')" if column else "''"

    fee = f"coalesce({_quote(names['fee'])}::{_DECIMAL}, 0)" if names["fee"] else "0"
    created = _quote(names["created"])
    con.execute(
        f"""
        CREATE TABLE psp AS
        SELECT *, created >= {bounds[0]} AND created < {bounds[1]} AS in_period FROM (
        SELECT {text("id")} AS id,
               lower({text("category")}) AS category,
               {text("source")} AS source,
               {text("payment_intent")} AS payment_intent,
               {text("payment_order_id")} AS payment_order_id,
               {text("refund_id")} AS refund_id,
               {_quote(names["gross"])}::{_DECIMAL} AS gross,
               {fee} AS fee,
               upper({text("currency")}) AS currency,
               CASE WHEN regexp_full_match({created}, '[0-9]+')
                    THEN to_timestamp({created}::BIGINT)
                    ELSE {created}::TIMESTAMPTZ END AS created
        FROM read_csv(?, {_CSV}, all_varchar = true))
        """,
        [str(psp_report)],
    )


def _quote(column: str | None) -> str:
    assert column is not None
    return '"' + column.replace('"', '""') + '"'


def _money(value: Any, currency: str) -> Decimal:
    """A DECIMAL(22,4) from DuckDB in the currency's own number of decimals, when that loses
    nothing (an amount with more decimals than its currency keeps them, to be seen)."""
    if value is None:
        return Decimal(0)
    exact = Decimal(value)
    try:
        shown = money.quantize(exact, currency)
    except money.InvalidMoney:
        return exact
    return shown if shown == exact else exact


def _candidate(kind: CandidateKind, row: tuple[Any, ...]) -> Candidate:
    rule = MatchRule(row[0]) if row[0] else None
    p, o, r = row[1:11], row[11:18], row[18:25]
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
    order = (
        OrderRecord(
            payment_order_id=o[0],
            psp_reference=o[1],
            status=o[2],
            amount=_money(o[3], o[4]),
            currency=o[4],
            psp_fee=None if o[5] is None else _money(o[5], o[4]),
            created_at=o[6],
        )
        if o[0] is not None
        else None
    )
    refund = (
        RefundRecord(
            refund_id=r[0],
            payment_order_id=r[1],
            psp_reference=r[2],
            status=r[3],
            amount=_money(r[4], r[5]),
            currency=r[5],
            created_at=r[6],
        )
        if r[0] is not None
        else None
    )
    return Candidate(kind, rule, psp, order, refund)
