"""ledger: a transaction may reverse a refund, at most one per refund

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("transactions", sa.Column("refund_id", sa.Text))
    op.create_unique_constraint("transactions_refund_id_key", "transactions", ["refund_id"])


def downgrade() -> None:
    op.drop_constraint("transactions_refund_id_key", "transactions", type_="unique")
    op.drop_column("transactions", "refund_id")
