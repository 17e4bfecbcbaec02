"""retention: indexes on the time columns the purge of outbox, inbox and psp_events reads

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "outbox_published_at",
        "outbox",
        ["published_at"],
        postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.create_index("inbox_processed_at", "inbox", ["processed_at"])
    op.create_index("psp_event_received_at", "psp_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("psp_event_received_at", table_name="psp_events")
    op.drop_index("inbox_processed_at", table_name="inbox")
    op.drop_index("outbox_published_at", table_name="outbox")
