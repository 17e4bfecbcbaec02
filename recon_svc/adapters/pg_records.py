"""paymesh's side from PostgreSQL: the payment schema's orders and refunds of a period (with its
margin), streamed by COPY ... TO STDOUT into CSV files, never held in memory.

Reads payment_svc's tables: recon_svc is the one service allowed to, read-only, for the day's
comparison (a read replica in production). PSP fees are not booked yet, so `psp_fee` is empty.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from mesh.db import libpq_url
from recon_svc.domain.period import Period
from recon_svc.service_layer.ports import OurFiles

_ORDERS = """
    SELECT payment_order_id, psp_reference, status, amount, currency,
           NULL::numeric AS psp_fee, created_at
    FROM payment.payment_orders
    WHERE created_at >= {start} AND created_at < {end}
"""
_REFUNDS = """
    SELECT refund_id, payment_order_id, psp_reference, status, amount, currency, created_at
    FROM payment.refunds
    WHERE created_at >= {start} AND created_at < {end}
"""


class PostgresRecords:
    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)

    def spool(self, period: Period, directory: Path) -> OurFiles:
        files = OurFiles(directory / "orders.csv", directory / "refunds.csv")
        bounds = {"start": sql.Literal(period.read_from), "end": sql.Literal(period.read_until)}
        with psycopg.connect(self._url) as conn:
            # UTC timestamps in the files; one snapshot for both tables.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            conn.execute("SET TIME ZONE 'UTC'")
            for query, target in ((_ORDERS, files.orders), (_REFUNDS, files.refunds)):
                copy = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)").format(
                    sql.SQL(query).format(**bounds)
                )
                with conn.cursor() as cur, target.open("wb") as out, cur.copy(copy) as stream:
                    for chunk in stream:
                        out.write(chunk)
        return files
