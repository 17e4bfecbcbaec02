"""hosted payment flow: a checkout's flow and redirect URL; an order's PSP page and its token

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "payment_events", sa.Column("flow", sa.Text, nullable=False, server_default="direct")
    )
    op.create_check_constraint(
        "payment_event_flow_known", "payment_events", "flow IN ('direct', 'hosted')"
    )
    op.add_column(
        "payment_events", sa.Column("redirect_url", sa.Text, nullable=False, server_default="")
    )
    op.add_column(
        "payment_orders", sa.Column("psp_token", sa.Text, nullable=False, server_default="")
    )
    op.add_column(
        "payment_orders",
        sa.Column("payment_page_url", sa.Text, nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("payment_orders", "payment_page_url")
    op.drop_column("payment_orders", "psp_token")
    op.drop_column("payment_events", "redirect_url")
    op.drop_constraint("payment_event_flow_known", "payment_events", type_="check")
    op.drop_column("payment_events", "flow")
