"""ledger: transactions, entries (append-only, balanced), account balances, outbox, inbox

Revision ID: 0001
Revises:
Create Date: 2025-11-21

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(38, 4)

# `SET search_path FROM CURRENT` pins the functions to the ledger schema (the migration runs
# with it first on the path), whoever fires the trigger.
APPEND_ONLY_FUNCTION = """
CREATE FUNCTION ledger_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'post a reversing transaction instead';
END
$$
"""

# Fires once per INSERT statement on entries, before the balance rows are touched: every
# transaction the statement wrote to must balance, per currency, over all its entries.
BALANCED_FUNCTION = """
CREATE FUNCTION ledger_check_balanced() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    bad record;
BEGIN
    SELECT e.transaction_id, e.currency,
           coalesce(sum(e.amount) FILTER (WHERE e.side = 'debit'), 0) AS debits,
           coalesce(sum(e.amount) FILTER (WHERE e.side = 'credit'), 0) AS credits
      INTO bad
      FROM entries e
     WHERE e.transaction_id IN (SELECT DISTINCT n.transaction_id FROM new_entries n)
     GROUP BY e.transaction_id, e.currency
    HAVING coalesce(sum(e.amount) FILTER (WHERE e.side = 'debit'), 0)
        <> coalesce(sum(e.amount) FILTER (WHERE e.side = 'credit'), 0)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance in %: debits % <> credits %',
            bad.transaction_id, bad.currency, bad.debits, bad.credits
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "transactions",
        sa.Column("transaction_id", UUID(as_uuid=False), primary_key=True),
        sa.Column("payment_order_id", sa.Text, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column(
            "posted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "entries",
        sa.Column("entry_id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column(
            "transaction_id",
            UUID(as_uuid=False),
            sa.ForeignKey("transactions.transaction_id"),
            nullable=False,
        ),
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.CheckConstraint("side IN ('debit', 'credit')", name="entries_side"),
        sa.CheckConstraint("amount > 0", name="entries_amount_positive"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="entries_currency"),
    )
    op.create_index("entries_account_entry_id", "entries", ["account", "entry_id"])
    op.create_index("entries_transaction_id", "entries", ["transaction_id"])

    op.create_table(
        "account_balances",
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("debits", AMOUNT, nullable=False, server_default="0"),
        sa.Column("credits", AMOUNT, nullable=False, server_default="0"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("account", "currency"),
        sa.CheckConstraint("debits >= 0 AND credits >= 0", name="account_balances_not_negative"),
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "outbox_unpublished",
        "outbox",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
    )

    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text, nullable=False),
        sa.Column("event_id", UUID(as_uuid=False), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )

    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(BALANCED_FUNCTION)
    for table in ("transactions", "entries"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
        )
    op.execute(
        "CREATE TRIGGER entries_balanced AFTER INSERT ON entries "
        "REFERENCING NEW TABLE AS new_entries "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_balanced()"
    )


def downgrade() -> None:
    # Dropping the tables drops their triggers; the ledger's history goes with them.
    op.drop_table("inbox")
    op.drop_index("outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("account_balances")
    op.drop_table("entries")
    op.drop_table("transactions")
    op.execute("DROP FUNCTION ledger_check_balanced()")
    op.execute("DROP FUNCTION ledger_append_only()")
