"""psp_events: every PSP webhook event received, for audit and to ignore redeliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "psp_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("payment_order_id", sa.Text, nullable=False),
        sa.Column("psp_reference", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
    )
    op.create_index("psp_event_by_order", "psp_events", ["payment_order_id"])


def downgrade() -> None:
    op.drop_table("psp_events")
