"""order retry state (the last error and the next attempt of an order waiting for the PSP), when
the sweeper last re-announced a SUCCESS order, and the alerts table (mesh.alert_store)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", postgresql.UUID(as_uuid=False), primary_key=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False, server_default=sa.text("1")),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'resolved')", name="alert_state_known"
        ),
    )
    op.create_index(
        "alerts_unresolved",
        "alerts",
        ["kind", "subject"],
        unique=True,
        postgresql_where=sa.text("state <> 'resolved'"),
    )
    op.create_index("alerts_last_seen", "alerts", ["last_seen"])
    op.add_column(
        "payment_orders",
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
    )
    op.add_column(
        "payment_orders",
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "payment_orders",
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "payment_order_unflagged",
        "payment_orders",
        ["updated_at"],
        postgresql_where=sa.text("status = 'SUCCESS' AND NOT (wallet_updated AND ledger_updated)"),
    )


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_index("payment_order_unflagged", table_name="payment_orders")
    op.drop_column("payment_orders", "announced_at")
    op.drop_column("payment_orders", "next_attempt_at")
    op.drop_column("payment_orders", "last_error")
