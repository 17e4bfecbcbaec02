"""reconciliation: an index on transactions.posted_at, the period a run reads

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("transactions_posted_at", "transactions", ["posted_at"])


def downgrade() -> None:
    op.drop_index("transactions_posted_at", table_name="transactions")
