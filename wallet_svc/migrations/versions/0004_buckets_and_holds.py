"""wallet: debt, releases, moves and holds; existing negative `available` becomes debt

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Before this revision a refund the seller's pending could not cover took `available` below zero.
That is now `debt` (available never goes below zero), and the ledger is told where the money
sits: one `legacy_debt` move per such balance (debit the seller's debt account, credit its
pending account, where the ledger had posted the whole refund), written to the outbox here so
that the relay publishes it when the wallet starts, and wallet and ledger agree per bucket.
"""

import uuid
from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from mesh.events import new_envelope
from mesh.money import Money
from wallet_svc.domain import Bucket, WalletMoved
from wallet_svc.entrypoints.outgoing import encode_event

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(38, 4)


def _now() -> sa.sql.functions.now:
    return sa.func.now()


def _move_legacy_debts(conn: sa.Connection) -> None:
    rows = conn.execute(
        sa.text("SELECT seller_account, currency, -available FROM balances WHERE available < 0")
    ).all()
    for seller, currency, debt in rows:
        move = WalletMoved(
            str(uuid.uuid4()),
            seller,
            Money(Decimal(debt), currency),
            Bucket.DEBT,
            Bucket.PENDING,
            "legacy_debt",
            seller,
        )
        subject, aggregate_id, payload = encode_event(move)
        env = new_envelope(subject, aggregate_id, payload)
        conn.execute(
            sa.text(
                "INSERT INTO wallet_moves (move_id, seller_account, currency, amount, debit,"
                " credit, reason, reference) VALUES (CAST(:id AS uuid), :s, :c, :a, 'debt',"
                " 'pending', 'legacy_debt', :s)"
            ),
            {"id": move.move_id, "s": seller, "c": currency, "a": debt},
        )
        conn.execute(
            sa.text(
                "INSERT INTO outbox (event_id, subject, payload)"
                " VALUES (CAST(:id AS uuid), :subject, :payload)"
            ),
            {"id": env.event_id, "subject": subject, "payload": env.SerializeToString()},
        )
    conn.execute(
        sa.text("UPDATE balances SET debt = -available, available = 0 WHERE available < 0")
    )


def upgrade() -> None:
    op.add_column("balances", sa.Column("debt", AMOUNT, nullable=False, server_default="0"))
    op.add_column(
        "wallet_credits", sa.Column("settled_debt", AMOUNT, nullable=False, server_default="0")
    )
    op.add_column(
        "wallet_refund_debits", sa.Column("to_debt", AMOUNT, nullable=False, server_default="0")
    )
    op.drop_constraint("wallet_refund_debits_split", "wallet_refund_debits", type_="check")
    op.create_check_constraint(
        "wallet_refund_debits_split",
        "wallet_refund_debits",
        "from_pending >= 0 AND from_available >= 0 AND to_debt >= 0"
        " AND from_pending + from_available + to_debt = amount",
    )
    op.create_table(
        "wallet_releases",
        sa.Column("payment_order_id", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=False), nullable=False),
        sa.Column("seller_account", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.CheckConstraint("amount >= 0", name="wallet_releases_amount"),
    )
    op.create_index("wallet_credits_credited_at", "wallet_credits", ["credited_at"])
    op.create_table(
        "wallet_moves",
        sa.Column("move_id", UUID(as_uuid=False), primary_key=True),
        sa.Column("seller_account", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("debit", sa.Text, nullable=False),
        sa.Column("credit", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.CheckConstraint("amount > 0", name="wallet_moves_amount_positive"),
    )
    op.create_index("wallet_moves_seller", "wallet_moves", ["seller_account", "currency"])
    op.create_table(
        "wallet_holds",
        sa.Column("hold_id", sa.Text, primary_key=True),
        sa.Column("seller_account", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.CheckConstraint("amount > 0", name="wallet_holds_amount_positive"),
        sa.CheckConstraint(
            "status IN ('RESERVED', 'CAPTURED', 'RELEASED', 'RETURNED')",
            name="wallet_holds_status",
        ),
    )
    _move_legacy_debts(op.get_bind())
    # Guards wallet_svc.domain.Balance: no bucket is ever negative.
    op.drop_constraint("balances_not_negative", "balances", type_="check")
    op.create_check_constraint(
        "balances_not_negative",
        "balances",
        "pending >= 0 AND available >= 0 AND reserved >= 0 AND debt >= 0",
    )


def downgrade() -> None:
    op.drop_constraint("balances_not_negative", "balances", type_="check")
    op.execute("UPDATE balances SET available = available - debt")
    op.create_check_constraint(
        "balances_not_negative", "balances", "pending >= 0 AND reserved >= 0"
    )
    op.drop_table("wallet_holds")
    op.drop_index("wallet_moves_seller", table_name="wallet_moves")
    op.drop_table("wallet_moves")
    op.drop_index("wallet_credits_credited_at", table_name="wallet_credits")
    op.drop_table("wallet_releases")
    op.drop_constraint("wallet_refund_debits_split", "wallet_refund_debits", type_="check")
    op.create_check_constraint(
        "wallet_refund_debits_split",
        "wallet_refund_debits",
        "from_pending >= 0 AND from_available >= 0 AND from_pending + from_available = amount",
    )
    op.drop_column("wallet_refund_debits", "to_debt")
    op.drop_column("wallet_credits", "settled_debt")
    op.drop_column("balances", "debt")
