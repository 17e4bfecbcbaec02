"""retention: indexes on the time columns the purge of outbox and inbox reads

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
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


def downgrade() -> None:
    op.drop_index("inbox_processed_at", table_name="inbox")
    op.drop_index("outbox_published_at", table_name="outbox")
