"""buyer PII encrypted at rest, and erasable: the key id of a row's sealed e-mail and name, and
when they were erased

The migration has no keys (they never reach alembic), so it does not rewrite values: a row
stored before it keeps its clear values with `buyer_pii_key_id` NULL, and the payment service
seals such rows with the active key at start and every few minutes after (the same pass as a
key rotation; `paymesh pii rotate` runs it at once). Reads take a NULL key id as clear text.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL: the values are clear (rows from before this revision, or erased ones).
    op.add_column("payment_events", sa.Column("buyer_pii_key_id", sa.Text, nullable=True))
    op.add_column(
        "payment_events", sa.Column("buyer_pii_erased_at", sa.DateTime(timezone=True))
    )
    # Guards erasure (payment_svc.service_layer.erasure): once erased, a row holds no PII again.
    op.create_check_constraint(
        "payment_event_erased_holds_no_pii",
        "payment_events",
        "buyer_pii_erased_at IS NULL"
        " OR (buyer_email = '' AND buyer_name = '' AND buyer_pii_key_id IS NULL)",
    )


def downgrade() -> None:
    op.drop_constraint("payment_event_erased_holds_no_pii", "payment_events", type_="check")
    op.drop_column("payment_events", "buyer_pii_erased_at")
    op.drop_column("payment_events", "buyer_pii_key_id")
