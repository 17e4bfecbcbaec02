"""wallet: credits, balances, outbox, inbox

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


def upgrade() -> None:
    op.create_table(
        "wallet_credits",
        sa.Column("payment_order_id", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=False), nullable=False),
        sa.Column("seller_account", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("gross", AMOUNT, nullable=False),
        sa.Column("fee", AMOUNT, nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column(
            "credited_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("gross > 0", name="wallet_credits_gross_positive"),
        sa.CheckConstraint("fee >= 0 AND fee <= gross", name="wallet_credits_fee_range"),
        sa.CheckConstraint("amount = gross - fee", name="wallet_credits_amount_is_net"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="wallet_credits_currency"),
    )
    op.create_index("wallet_credits_seller", "wallet_credits", ["seller_account", "currency"])

    op.create_table(
        "balances",
        sa.Column("seller_account", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("pending", AMOUNT, nullable=False, server_default="0"),
        sa.Column("available", AMOUNT, nullable=False, server_default="0"),
        sa.Column("reserved", AMOUNT, nullable=False, server_default="0"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("seller_account", "currency"),
        sa.CheckConstraint(
            "pending >= 0 AND available >= 0 AND reserved >= 0", name="balances_not_negative"
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="balances_currency"),
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


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_index("outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("balances")
    op.drop_index("wallet_credits_seller", table_name="wallet_credits")
    op.drop_table("wallet_credits")
