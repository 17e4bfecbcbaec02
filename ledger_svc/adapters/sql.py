"""The ledger's unit of work and repository on PostgreSQL: one connection, one transaction.

The two writes of a posting are single statements with a fixed text (arrays through `unnest`),
so each is one prepared statement whatever the number of lines: the transaction with its
entries and its link in its hash chain, and the balance upsert, which rides with the COMMIT
in the same round trip."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger_svc.adapters.tables import account_balances, entries, outbox, transactions
from ledger_svc.domain import (
    AccountBalance,
    BalanceDelta,
    CurrencyTotals,
    EntryRecord,
    LedgerPosted,
    Seal,
    Side,
    Transaction,
    is_shared,
)
from ledger_svc.service_layer.ports import LedgerRepository, LedgerUnitOfWork
from mesh.sql_uow import AtCommit, SqlUnitOfWork
from mesh.summed_rows import SummedUpsert

# The transaction row, its link in its hash chain and its entries in one statement; no row
# back when the order (or the refund) already has a transaction (then nothing is written).
# The chain's head row is locked (FOR UPDATE) and moved to this transaction in the same
# statement: postings on one chain take turns from here to the commit, postings on other
# chains do not wait (docs/adr/0004). The hash is ledger_svc.domain.chain.link_hash, in SQL.
# A missing head row leaves seq and hash NULL: the NOT NULL constraints refuse the posting.
_APPEND_TRANSACTION = text(
    """
    WITH head AS (
        SELECT seq, hash FROM chain_heads WHERE chain = CAST(:chain AS smallint) FOR UPDATE
    ), txn AS (
        INSERT INTO transactions (transaction_id, payment_order_id, refund_id, description,
                                  posted_at, chain, seq, hash)
        SELECT CAST(:transaction_id AS uuid), :payment_order_id, :refund_id, :description,
               CAST(:posted_at AS timestamptz), CAST(:chain AS smallint), head.seq + 1,
               sha256(head.hash || CAST(:digest AS bytea))
        FROM (VALUES (1)) AS one LEFT JOIN head ON true
        ON CONFLICT DO NOTHING
        RETURNING transaction_id, seq, hash
    ), moved AS (
        UPDATE chain_heads SET seq = txn.seq, hash = txn.hash
        FROM txn WHERE chain_heads.chain = CAST(:chain AS smallint)
    )
    INSERT INTO entries (transaction_id, account, side, amount, currency)
    SELECT txn.transaction_id, line.account, line.side, line.amount, line.currency
    FROM txn, unnest(
        CAST(:accounts AS text[]), CAST(:sides AS text[]),
        CAST(:amounts AS numeric[]), CAST(:currencies AS text[])
    ) WITH ORDINALITY AS line(account, side, amount, currency, n)
    ORDER BY line.n
    RETURNING entry_id
    """
)

# Only after a conflict (rare: another event for a posted order): was it the order, the refund
# or the id? Anything else is a link of the chain taken twice, which must never pass quietly.
_ALREADY_POSTED = text(
    "SELECT EXISTS (SELECT 1 FROM transactions WHERE transaction_id = CAST(:transaction_id AS"
    " uuid) OR payment_order_id = :payment_order_id OR refund_id = :refund_id)"
)


class ChainConflict(RuntimeError):
    """The posting's link in its chain was taken: the head row is behind its chain."""


# Rows are inserted, hence locked, in the order given: the order of
# Transaction.balance_deltas (hot accounts last), whatever the number of transactions whose
# deltas a batch sums into one row each (mesh.summed_rows). Sent with the COMMIT by the driver
# itself (see mesh/at_commit.py), hence psycopg placeholders.
_APPLY_BALANCES = SummedUpsert(
    """
    INSERT INTO account_balances (account, currency, debits, credits)
    SELECT d.account, d.currency, d.debits, d.credits
    FROM unnest(
        %(accounts)s::text[], %(currencies)s::text[], %(debits)s::numeric[], %(credits)s::numeric[]
    ) WITH ORDINALITY AS d(account, currency, debits, credits, n)
    ORDER BY d.n
    ON CONFLICT (account, currency) DO UPDATE
    SET debits = account_balances.debits + EXCLUDED.debits,
        credits = account_balances.credits + EXCLUDED.credits,
        updated_at = now()
    """,
    keys=("accounts", "currencies"),
    amounts=("debits", "credits"),
    order=lambda key: (is_shared(str(key[0])), key),
)

# A batch of postings locks every chain head first, in chain order: its postings would take
# them in whatever order their ids fall, and two batches doing that would deadlock.
_LOCK_CHAIN_HEADS = text("SELECT chain FROM chain_heads ORDER BY chain FOR UPDATE")


class SqlLedgerRepository(LedgerRepository):
    def __init__(self, conn: AsyncConnection, at_commit: AtCommit) -> None:
        self.conn = conn
        self.at_commit = at_commit

    async def add_transaction(self, txn: Transaction, seal: Seal) -> bool:
        result = await self.conn.execute(
            _APPEND_TRANSACTION,
            {
                "transaction_id": txn.transaction_id,
                "payment_order_id": txn.payment_order_id,
                "refund_id": txn.refund_id,
                "description": txn.description,
                "posted_at": seal.posted_at,
                "chain": seal.chain,
                "digest": seal.digest,
                "accounts": [p.account for p in txn.postings],
                "sides": [p.side.value for p in txn.postings],
                "amounts": [p.amount for p in txn.postings],
                "currencies": [p.currency for p in txn.postings],
            },
        )
        if result.all():
            return True
        posted = await self.conn.scalar(
            _ALREADY_POSTED,
            {
                "transaction_id": txn.transaction_id,
                "payment_order_id": txn.payment_order_id,
                "refund_id": txn.refund_id,
            },
        )
        if not posted:
            raise ChainConflict(
                f"the next link of hash chain {seal.chain} exists already: its head row is"
                " behind the chain (run `paymesh ledger verify`)"
            )
        return False

    async def apply_balances(self, deltas: Sequence[BalanceDelta]) -> None:
        """Sent with the COMMIT: the hot rows (`psp_receivable`, `platform_fee_revenue`) are
        locked only while the server commits."""
        for d in deltas:
            self.at_commit.add(_APPLY_BALANCES, (d.account, d.currency), (d.debits, d.credits))

    async def account_balances(self, account: str) -> list[AccountBalance]:
        b = account_balances.c
        rows = await self.conn.execute(
            select(b.currency, b.debits, b.credits).where(b.account == account).order_by(b.currency)
        )
        return [AccountBalance(account, r.currency, r.debits, r.credits) for r in rows]

    async def entries(
        self, account: str, before_entry_id: int | None, limit: int
    ) -> list[EntryRecord]:
        e, t = entries.c, transactions.c
        query = (
            select(
                e.entry_id,
                e.transaction_id,
                e.side,
                e.amount,
                e.currency,
                t.payment_order_id,
                t.description,
                t.posted_at,
            )
            .select_from(entries.join(transactions, e.transaction_id == t.transaction_id))
            .where(e.account == account)
            .order_by(e.entry_id.desc())
            .limit(limit)
        )
        if before_entry_id is not None:
            query = query.where(e.entry_id < before_entry_id)
        rows = await self.conn.execute(query)
        return [
            EntryRecord(
                entry_id=r.entry_id,
                transaction_id=r.transaction_id,
                account=account,
                side=Side(r.side),
                amount=r.amount,
                currency=r.currency,
                payment_order_id=r.payment_order_id,
                description=r.description,
                posted_at=r.posted_at,
            )
            for r in rows
        ]

    async def currency_totals(self) -> list[CurrencyTotals]:
        b = account_balances.c
        rows = await self.conn.execute(
            select(b.currency, func.sum(b.debits), func.sum(b.credits))
            .group_by(b.currency)
            .order_by(b.currency)
        )
        return [CurrencyTotals(currency, debits, credits) for currency, debits, credits in rows]


class SqlLedgerUnitOfWork(SqlUnitOfWork[LedgerPosted], LedgerUnitOfWork):
    """`after_commit` runs when a commit wrote events (the relay's wake-up call)."""

    outbox_table = outbox

    def open_repositories(self, conn: AsyncConnection, at_commit: AtCommit) -> None:
        self.ledger = SqlLedgerRepository(conn, at_commit)

    async def prepare_batch(self) -> None:
        await self.conn.execute(_LOCK_CHAIN_HEADS)
