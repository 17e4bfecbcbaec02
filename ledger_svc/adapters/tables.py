"""The tables of the `ledger` schema (the search_path names it; SQL never does).

`transactions` and `entries` are append-only: the migration installs triggers that refuse any
UPDATE, DELETE or TRUNCATE of them, and one that refuses an INSERT leaving a transaction
unbalanced in any currency. `account_balances` is maintained beside them in the same
database transaction. Transactions are hash-chained (ledger_svc.domain.chain): each carries its
link, `chain_heads` where each chain ends.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import UUID

from mesh.db import MONEY
from mesh.inbox import inbox_table
from mesh.outbox import outbox_table

metadata = MetaData()

transactions = Table(
    "transactions",
    metadata,
    Column("transaction_id", UUID(as_uuid=False), primary_key=True),
    # One transaction per payment order, ever, whatever event asks again.
    Column("payment_order_id", Text, unique=True),
    # One reversal per refund, ever (a refund's transaction has no payment_order_id).
    Column("refund_id", Text, unique=True),
    Column("description", Text, nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Its link in its hash chain (ledger_svc.domain.chain): which chain, its place, its hash.
    Column("chain", SmallInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    UniqueConstraint("chain", "seq", name="transactions_chain_link"),
    CheckConstraint("octet_length(hash) = 32", name="transactions_hash_sha256"),
    # A reconciliation run reads a period's transactions on the PSP accounts
    # (recon_svc.adapters.books_sql): a day out of millions of rows, not a scan of them.
    Index("transactions_posted_at", "posted_at"),
)

# Where each hash chain ends; moved by every posting on it, under its row lock.
chain_heads = Table(
    "chain_heads",
    metadata,
    Column("chain", SmallInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    CheckConstraint("chain >= 0 AND seq >= 0", name="chain_heads_position"),
    CheckConstraint("octet_length(hash) = 32", name="chain_heads_hash_sha256"),
)

entries = Table(
    "entries",
    metadata,
    Column("entry_id", BigInteger, primary_key=True, autoincrement=True),
    Column(
        "transaction_id",
        UUID(as_uuid=False),
        ForeignKey("transactions.transaction_id"),
        nullable=False,
    ),
    Column("account", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("currency", Text, nullable=False),
    CheckConstraint("side IN ('debit', 'credit')", name="entries_side"),
    CheckConstraint("amount > 0", name="entries_amount_positive"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="entries_currency"),
    Index("entries_account_entry_id", "account", "entry_id"),
    Index("entries_transaction_id", "transaction_id"),
)

# Maintained totals per (account, currency): reads are one row, not a sum over history.
account_balances = Table(
    "account_balances",
    metadata,
    Column("account", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("debits", MONEY, nullable=False, server_default="0"),
    Column("credits", MONEY, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("account", "currency"),
    CheckConstraint("debits >= 0 AND credits >= 0", name="account_balances_not_negative"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
