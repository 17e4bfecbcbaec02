"""ledger: hash chains (tamper evidence); the transactions posted before are chained here

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Each transaction gets its chain, its place in it (seq) and its hash; `chain_heads` holds where
each chain ends, updated under its row lock by every posting (docs/adr/0004). Transactions
already posted are chained in the order they were posted, with the hash functions of
ledger_svc.domain.chain, so `paymesh ledger verify` passes on a database from before.
"""

from collections.abc import Sequence
from itertools import groupby

import sqlalchemy as sa
from alembic import op

from ledger_svc.domain.chain import CHAINS, GENESIS, chain_of, link_hash, transaction_digest

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def _chain_existing(conn: sa.Connection) -> dict[int, tuple[int, bytes]]:
    """Set chain, seq and hash on every transaction posted before; returns each chain's end."""
    heads = {chain: (0, GENESIS) for chain in range(CHAINS)}
    # Streamed (server-side cursor), so a large ledger is not read into memory at once.
    rows = conn.execute(
        sa.text(
            "SELECT t.transaction_id::text, t.payment_order_id, t.refund_id, t.description,"
            " t.posted_at, e.account, e.side, e.amount, e.currency"
            " FROM transactions t LEFT JOIN entries e USING (transaction_id)"
            " ORDER BY t.posted_at, t.transaction_id"
        ).execution_options(yield_per=_BATCH)
    )
    updates: list[dict[str, object]] = []

    def flush() -> None:
        if updates:
            conn.execute(
                sa.text(
                    "UPDATE transactions SET chain = :chain, seq = :seq, hash = :hash"
                    " WHERE transaction_id = CAST(:id AS uuid)"
                ),
                updates,
            )
            updates.clear()

    for (tid, order, refund, description, posted_at), lines in groupby(
        rows, key=lambda r: tuple(r[:5])
    ):
        digest = transaction_digest(
            tid,
            order,
            refund,
            description,
            posted_at,
            [(r.account, r.side, r.amount, r.currency) for r in lines if r.account is not None],
        )
        chain = chain_of(tid)
        seq, previous = heads[chain]
        heads[chain] = (seq + 1, link_hash(previous, digest))
        updates.append({"id": tid, "chain": chain, "seq": seq + 1, "hash": heads[chain][1]})
        if len(updates) >= _BATCH:
            flush()
    flush()
    return heads


def upgrade() -> None:
    op.create_table(
        "chain_heads",
        sa.Column("chain", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.CheckConstraint("chain >= 0 AND seq >= 0", name="chain_heads_position"),
        sa.CheckConstraint("octet_length(hash) = 32", name="chain_heads_hash_sha256"),
    )
    # A head row is moved forward, never removed: without it the chain's end is unknown.
    op.execute(
        "CREATE TRIGGER chain_heads_not_deleted BEFORE DELETE ON chain_heads "
        "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
    )
    op.execute(
        "CREATE TRIGGER chain_heads_no_truncate BEFORE TRUNCATE ON chain_heads "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
    )
    op.add_column("transactions", sa.Column("chain", sa.SmallInteger))
    op.add_column("transactions", sa.Column("seq", sa.BigInteger))
    op.add_column("transactions", sa.Column("hash", sa.LargeBinary))

    # The one time transactions are updated: filling the new columns of what was posted before.
    op.execute("ALTER TABLE transactions DISABLE TRIGGER transactions_append_only")
    heads = _chain_existing(op.get_bind())
    op.execute("ALTER TABLE transactions ENABLE TRIGGER transactions_append_only")

    for column in ("chain", "seq", "hash"):
        op.alter_column("transactions", column, nullable=False)
    op.create_unique_constraint("transactions_chain_link", "transactions", ["chain", "seq"])
    op.create_check_constraint(
        "transactions_hash_sha256", "transactions", "octet_length(hash) = 32"
    )
    op.get_bind().execute(
        sa.text("INSERT INTO chain_heads (chain, seq, hash) VALUES (:chain, :seq, :hash)"),
        [{"chain": c, "seq": seq, "hash": h} for c, (seq, h) in sorted(heads.items())],
    )


def downgrade() -> None:
    op.drop_constraint("transactions_hash_sha256", "transactions", type_="check")
    op.drop_constraint("transactions_chain_link", "transactions", type_="unique")
    for column in ("hash", "seq", "chain"):
        op.drop_column("transactions", column)
    op.drop_table("chain_heads")
