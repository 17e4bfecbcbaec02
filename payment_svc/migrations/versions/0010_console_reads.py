"""operator console: indexes for the payment lookup by PSP reference and the per-minute figures

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # LookupPayment by a charge's or a refund's PSP id (payment_svc.adapters.sql_ops_reads).
    op.create_index(
        "payment_order_by_psp_reference",
        "payment_orders",
        ["psp_reference"],
        postgresql_where=sa.text("psp_reference <> ''"),
    )
    op.create_index(
        "refund_by_psp_reference",
        "refunds",
        ["psp_reference"],
        postgresql_where=sa.text("psp_reference <> ''"),
    )
    # GetPaymentStats: orders accepted per minute, and the PSP answers (transitions out of
    # EXECUTING) per minute.
    op.create_index("payment_order_created_at", "payment_orders", ["created_at"])
    op.create_index(
        "payment_order_history_psp_answers",
        "payment_order_history",
        ["occurred_at"],
        postgresql_where=sa.text("from_status = 'EXECUTING'"),
    )


def downgrade() -> None:
    op.drop_index("payment_order_history_psp_answers", table_name="payment_order_history")
    op.drop_index("payment_order_created_at", table_name="payment_orders")
    op.drop_index("refund_by_psp_reference", table_name="refunds")
    op.drop_index("payment_order_by_psp_reference", table_name="payment_orders")
