"""wallet: refund debits; `available` may go below zero (the seller owes a refund)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(38, 4)


def upgrade() -> None:
    op.create_table(
        "wallet_refund_debits",
        sa.Column("refund_id", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=False), nullable=False),
        sa.Column("payment_order_id", sa.Text, nullable=False),
        sa.Column("seller_account", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("gross", AMOUNT, nullable=False),
        sa.Column("fee_refunded", AMOUNT, nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("from_pending", AMOUNT, nullable=False),
        sa.Column("from_available", AMOUNT, nullable=False),
        sa.Column(
            "debited_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("gross > 0", name="wallet_refund_debits_gross_positive"),
        sa.CheckConstraint(
            "fee_refunded >= 0 AND fee_refunded <= gross", name="wallet_refund_debits_fee_range"
        ),
        sa.CheckConstraint(
            "amount = gross - fee_refunded", name="wallet_refund_debits_amount_is_net"
        ),
        sa.CheckConstraint(
            "from_pending >= 0 AND from_available >= 0"
            " AND from_pending + from_available = amount",
            name="wallet_refund_debits_split",
        ),
    )
    op.create_index("wallet_refund_debits_order", "wallet_refund_debits", ["payment_order_id"])
    op.drop_constraint("balances_not_negative", "balances", type_="check")
    op.create_check_constraint(
        "balances_not_negative", "balances", "pending >= 0 AND reserved >= 0"
    )


def downgrade() -> None:
    op.drop_constraint("balances_not_negative", "balances", type_="check")
    op.create_check_constraint(
        "balances_not_negative", "balances", "pending >= 0 AND available >= 0 AND reserved >= 0"
    )
    op.drop_index("wallet_refund_debits_order", table_name="wallet_refund_debits")
    op.drop_table("wallet_refund_debits")
