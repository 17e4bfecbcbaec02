"""`paymesh recon bench --from-postgres`: the same period, with paymesh's side loaded into the
payment schema of a scratch PostgreSQL (embedded, in the scratch directory) and read back by
the engine's PostgreSQL adapter (COPY ... TO STDOUT), so the database read is in the time.

The payment schema books no PSP fee yet, so the planted fee mismatches are not mismatches there:
they leave the truth in this mode. PostgreSQL's own memory is its processes', not the bench's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

import mesh.migrations
from mesh.db import libpq_url
from paymesh_cli.recon_bench_data import BenchData
from paymesh_cli.stack import EmbeddedPostgres, free_port
from recon_svc.domain.mismatches import MismatchType

_LOAD = [
    (
        "orders",
        """CREATE TEMP TABLE staged_orders (payment_order_id text, psp_reference text,
             status text, amount numeric, currency text, psp_fee numeric,
             created_at timestamptz)""",
        "COPY staged_orders FROM STDIN WITH (FORMAT csv, HEADER)",
        """INSERT INTO payment.payment_orders (payment_order_id, checkout_id, position,
             seller_account, amount, currency, fee_amount, status, psp_reference, created_at,
             updated_at)
           SELECT payment_order_id, 'bench', 0, 'seller-bench', amount, currency, 0, status,
                  coalesce(psp_reference, ''), created_at, created_at
           FROM staged_orders""",
    ),
    (
        "refunds",
        """CREATE TEMP TABLE staged_refunds (refund_id text, payment_order_id text,
             psp_reference text, status text, amount numeric, currency text,
             created_at timestamptz)""",
        "COPY staged_refunds FROM STDIN WITH (FORMAT csv, HEADER)",
        """INSERT INTO payment.refunds (refund_id, payment_order_id, seller_account, amount,
             fee_refunded, currency, status, psp_reference, created_at, updated_at)
           SELECT refund_id, payment_order_id, 'seller-bench', amount, 0, currency, status,
                  coalesce(psp_reference, ''), created_at, created_at
           FROM staged_refunds""",
    ),
]


@contextmanager
def scratch_postgres(directory: Path) -> Iterator[str]:
    """A PostgreSQL of its own for the bench, stopped on the way out; yields its URL."""
    server = EmbeddedPostgres(directory / "pg" / "data", free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def load(data: BenchData, database_url: str) -> None:
    """Migrate the payment schema and load the bench's orders and refunds into it."""
    mesh.migrations.upgrade("payment_svc", database_url)
    files = {"orders": data.ours.orders, "refunds": data.ours.refunds}
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute(
            "INSERT INTO payment.payment_events (checkout_id, buyer_id, payment_method,"
            " created_at) VALUES ('bench', 'buyer-bench', 'pm_card_visa', now())"
        )
        for name, staging, copy_in, insert in _LOAD:
            conn.execute(staging)
            with conn.cursor() as cur, cur.copy(copy_in) as stream:
                with files[name].open("rb") as source:
                    while chunk := source.read(1 << 20):
                        stream.write(chunk)
            conn.execute(insert)


def without_fee_plants(data: BenchData) -> None:
    """The payment schema has no booked PSP fee, so a fee 'difference' is no mismatch there."""
    for key in [k for k in data.truth.expected if k[0] == MismatchType.FEE.value]:
        del data.truth.expected[key]
