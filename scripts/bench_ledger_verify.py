"""Time `paymesh ledger verify` on a large ledger: a scratch database (on DATABASE_URL's
server, or an embedded PostgreSQL started for the run) gets the ledger's migrations and N
chained transactions of 2 entries (COPY), then the verifier runs on it, as the CLI does.

    .venv/bin/python scripts/bench_ledger_verify.py --transactions 500000   # 10^6 entries

Long (minutes on a shared 2-core machine): kept out of `make test`, whose suite runs a short
form (tests/integration/test_ledger_chain_verify.py)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from mesh.db import libpq_url
from mesh.migrations import upgrade
from paymesh_cli.ledger import verify_database
from paymesh_cli.ledger_seed import seed_chained_ledger


def run(server_url: str, transactions: int) -> None:
    name = f"bench_ledger_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = libpq_url(server_url).rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade("ledger_svc", url)
        started = time.monotonic()
        entries = seed_chained_ledger(url, transactions)
        print(
            f"seeded {transactions} transactions, {entries} entries in"
            f" {time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE ledger.transactions")
            conn.execute("VACUUM ANALYZE ledger.entries")
        report = asyncio.run(verify_database(url, show_progress=True))
        print(
            f"paymesh ledger verify: ok={report.ok} {report.transactions} transactions,"
            f" {report.entries} entries in {report.seconds:.2f} s"
            f" ({report.entries / report.seconds:,.0f} entries/s)"
        )
        if not report.ok:
            raise SystemExit(1)
    finally:
        with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=500_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    if args.database_url:
        run(args.database_url, args.transactions)
        return
    from paymesh_cli.stack import EmbeddedPostgres, free_port

    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "data", free_port())
        server.start()
        try:
            run(server.admin_url, args.transactions)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
