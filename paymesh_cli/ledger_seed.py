"""A large, correctly chained ledger written fast (COPY), to time `paymesh ledger verify` on it
(scripts/bench_ledger_verify.py; a short form runs in the test suite).

Each transaction is a payment order of one of 100 sellers: debit `psp_receivable`, credit
`seller_payable:<seller>` (two entries), chained exactly as the ledger service chains them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from ledger_svc.domain import GENESIS, chain_of, link_hash, transaction_digest
from mesh.db import libpq_url

_START = datetime(2026, 1, 1, tzinfo=UTC)


def _order(i: int) -> tuple[str, Decimal]:
    """The seller account and amount of the i-th seeded transaction."""
    return f"seller_payable:s{i % 100}", Decimal(1 + i % 9999) / 100


def seed_chained_ledger(database_url: str, transactions: int) -> int:
    """Append `transactions` transactions (2 entries each) to the migrated ledger of
    `database_url`, after whatever it holds, in one database transaction; returns the number
    of entries written."""
    ids: list[str] = []
    totals: dict[str, Decimal] = {}  # credited per seller account
    with psycopg.connect(libpq_url(database_url)) as conn, conn.cursor() as cur:
        heads = {
            c: (s, bytes(h))
            for c, s, h in cur.execute("SELECT chain, seq, hash FROM ledger.chain_heads")
        }
        with cur.copy(
            "COPY ledger.transactions (transaction_id, payment_order_id, description,"
            " posted_at, chain, seq, hash) FROM STDIN"
        ) as copy:
            for i in range(transactions):
                tid = str(uuid.uuid4())
                order = f"seed-{tid[:18]}"
                seller, amount = _order(i)
                description = f"payment order {order} (seeded)"
                posted_at = _START + timedelta(microseconds=i * 1000)
                lines = [
                    ("psp_receivable", "debit", amount, "USD"),
                    (seller, "credit", amount, "USD"),
                ]
                digest = transaction_digest(tid, order, None, description, posted_at, lines)
                chain = chain_of(tid)
                seq, previous = heads.get(chain, (0, GENESIS))
                heads[chain] = (seq + 1, link_hash(previous, digest))
                copy.write_row(
                    (tid, order, description, posted_at, chain, seq + 1, heads[chain][1])
                )
                ids.append(tid)
                totals[seller] = totals.get(seller, Decimal(0)) + amount
        with cur.copy(
            "COPY ledger.entries (transaction_id, account, side, amount, currency) FROM STDIN"
        ) as copy:
            for i, tid in enumerate(ids):
                seller, amount = _order(i)
                copy.write_row((tid, "psp_receivable", "debit", amount, "USD"))
                copy.write_row((tid, seller, "credit", amount, "USD"))
        cur.executemany(
            "UPDATE ledger.chain_heads SET seq = %s, hash = %s WHERE chain = %s",
            [(seq, hash_, chain) for chain, (seq, hash_) in heads.items()],
        )
        # The maintained balances, so the books stay whole for `paymesh check`.
        deltas = [(account, Decimal(0), total) for account, total in totals.items()]
        deltas.append(("psp_receivable", sum(totals.values(), Decimal(0)), Decimal(0)))
        cur.executemany(
            "INSERT INTO ledger.account_balances (account, currency, debits, credits)"
            " VALUES (%s, 'USD', %s, %s) ON CONFLICT (account, currency) DO UPDATE"
            " SET debits = ledger.account_balances.debits + EXCLUDED.debits,"
            "  credits = ledger.account_balances.credits + EXCLUDED.credits",
            deltas,
        )
        conn.commit()
    return 2 * transactions
