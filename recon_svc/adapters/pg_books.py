"""paymesh's own books from PostgreSQL, for a run (the `OurBooks` port): the ledger's postings on
the PSP's accounts spooled by COPY for the ledger matcher, and the figures the comparisons
inside paymesh need, read with the SQL `paymesh check` uses (recon_svc.adapters.books_sql).
Blocking: called from the run's worker thread. Read-only, on the orders' database (a replica
in production: RECON_PAYMENT_DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg import sql

from mesh import money
from mesh.db import libpq_url
from recon_svc.adapters import books_sql
from recon_svc.domain.books import BucketBalance, ClearingBalance, OrderBooks
from recon_svc.domain.period import Period


class PostgresBooks:
    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)

    def _connect(self) -> psycopg.Connection:
        conn = psycopg.connect(self._url)
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SET TIME ZONE 'UTC'")
        return conn

    def spool_ledger(self, period: Period, directory: Path) -> Path:
        """The period's pay-in and refund postings (with its margin) and every fee and payout
        booked since the margin began (a run books them when it runs, maybe days later), as a
        CSV file: transaction_id, kind, key, amount, currency, posted_at."""
        target = directory / "ledger_psp_side.csv"
        start, end = _literal(period.read_from), _literal(period.read_until)
        query = books_sql.psp_side_postings(
            f"t.posted_at >= {start} AND t.posted_at < {end}", f"t.posted_at >= {start}"
        )
        with self._connect() as conn:
            copy = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)").format(sql.SQL(query))
            with conn.cursor() as cur, target.open("wb") as out, cur.copy(copy) as stream:
                for chunk in stream:
                    out.write(chunk)
        return target

    def bucket_balances(self) -> list[BucketBalance]:
        """Every seller's buckets, per currency, with their ledger accounts' balances (the
        differing ones only: an agreeing bucket is of no interest)."""
        found = []
        with self._connect() as conn:
            has_debt = conn.execute(books_sql.HAS_DEBT_BUCKET).fetchone()
            for bucket, family, on_normal_side in books_sql.BUCKET_ACCOUNTS:
                column = bucket if bucket != "debt" or (has_debt and has_debt[0]) else "0"
                query = books_sql.wallet_vs_ledger(column, family, on_normal_side)
                for seller, currency, wallet, ledger in conn.execute(query):  # type: ignore[arg-type]
                    if wallet != ledger:
                        found.append(
                            BucketBalance(
                                seller,
                                currency,
                                bucket,
                                _money(wallet, currency),
                                _money(ledger, currency),
                            )
                        )
        return found

    def order_books(self, period: Period, settled_before: datetime) -> Iterator[OrderBooks]:
        """The period's SUCCESS orders without exactly one ledger transaction of their amount
        or one wallet credit of their net amount; an order whose flag says it is not booked
        yet only once it succeeded before `settled_before` (its events had time)."""
        start, end = _literal(period.start), _literal(period.end)
        cutoff = _literal(settled_before)
        for what, flag, query in (
            ("wallet", "wallet_updated", books_sql.orders_vs_wallet),
            ("ledger", "ledger_updated", books_sql.orders_vs_ledger),
        ):
            orders = (
                f"o.status = 'SUCCESS' AND o.created_at >= {start} AND o.created_at < {end}"
                f" AND (o.{flag} OR o.updated_at < {cutoff})"
            )
            with self._connect() as conn:
                for oid, status, n, amount, expected, currency, flagged in conn.execute(
                    query(orders, limit=None, orphans=False)  # type: ignore[arg-type]
                ):
                    yield OrderBooks(
                        oid, status, what, int(n), _money(amount, currency),
                        _money(expected, currency), currency, bool(flagged),
                    )  # fmt: skip

    def zero_sum(self) -> list[tuple[str, str, Decimal, Decimal]]:
        """(transaction id or "", currency, debits, credits) wherever the ledger does not sum
        to zero: per currency over all of it, and per transaction."""
        with self._connect() as conn:
            found = [
                ("", currency, _money(d, currency), _money(c, currency))
                for currency, d, c in conn.execute(books_sql.LEDGER_TOTALS)  # type: ignore[arg-type]
                if d != c
            ]
            found += [
                (str(tx), currency, _money(d, currency), _money(c, currency))
                for tx, currency, d, c in conn.execute(
                    books_sql.unbalanced_transactions(limit=1000)  # type: ignore[arg-type]
                )
            ]
        return found

    def clearing(self, since: datetime) -> list[ClearingBalance]:
        with self._connect() as conn:
            return [
                ClearingBalance(
                    account, currency, _money(balance, currency), _money(recent, currency)
                )
                for account, currency, balance, recent in conn.execute(
                    books_sql.clearing_balances(_literal(since))  # type: ignore[arg-type]
                )
            ]


def _literal(moment: datetime) -> str:
    """A timestamptz literal (the value is ours, a datetime, never a caller's text)."""
    return f"TIMESTAMPTZ '{moment.isoformat()}'"


def _money(value: object, currency: str) -> Decimal:
    """NUMERIC as the currency shows it (12.3400 -> 12.34), unless that would lose digits."""
    exact = Decimal(str(value))
    try:
        shown = money.quantize(exact, currency)
    except money.InvalidMoney:
        return exact
    return shown if shown == exact else exact
