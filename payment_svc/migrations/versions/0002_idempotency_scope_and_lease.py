"""idempotency keys: scoped to the caller, claimed with a lease before the work, kept until
expiry; the sweeper's index covers NOT_STARTED orders too

Rows stored before this revision have no known caller: they move to the scope "" (direct gRPC
callers) and expire 24 hours after they were made.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
TABLE = "idempotency_keys"


def upgrade() -> None:
    # The key names what its request made: a checkout, a refund.
    op.alter_column(TABLE, "checkout_id", new_column_name="resource_id")
    op.add_column(TABLE, sa.Column("scope", sa.Text, nullable=False, server_default=""))
    op.alter_column(TABLE, "scope", server_default=None)
    op.add_column(TABLE, sa.Column("state", sa.Text, nullable=False, server_default="done"))
    op.alter_column(TABLE, "state", server_default=None)
    op.add_column(TABLE, sa.Column("lease_token", postgresql.UUID(as_uuid=False)))
    op.add_column(TABLE, sa.Column("locked_until", TS))
    op.add_column(TABLE, sa.Column("error", sa.LargeBinary))
    op.alter_column(TABLE, "response", nullable=True)
    op.alter_column(TABLE, "created_at", server_default=None)
    op.add_column(TABLE, sa.Column("expires_at", TS))
    op.execute(f"UPDATE {TABLE} SET expires_at = created_at + interval '24 hours'")
    op.alter_column(TABLE, "expires_at", nullable=False)
    op.drop_constraint("idempotency_keys_pkey", TABLE, type_="primary")
    op.create_primary_key("idempotency_keys_pkey", TABLE, ["scope", "request_id"])
    op.create_check_constraint(
        "idempotency_key_state",
        TABLE,
        "(state = 'in_flight' AND lease_token IS NOT NULL AND locked_until IS NOT NULL"
        " AND response IS NULL AND error IS NULL)"
        " OR (state = 'done' AND (response IS NULL) <> (error IS NULL))",
    )
    op.create_index("idempotency_key_expiry", TABLE, ["expires_at"])
    _unsettled_index("'NOT_STARTED', 'EXECUTING', 'PENDING'")


def _unsettled_index(statuses: str) -> None:
    op.drop_index("payment_order_unsettled", "payment_orders")
    op.create_index(
        "payment_order_unsettled",
        "payment_orders",
        ["updated_at"],
        postgresql_where=sa.text(f"status IN ({statuses})"),
    )


def downgrade() -> None:
    _unsettled_index("'EXECUTING', 'PENDING'")
    op.drop_index("idempotency_key_expiry", TABLE)
    op.drop_constraint("idempotency_key_state", TABLE, type_="check")
    op.execute(f"DELETE FROM {TABLE} WHERE state <> 'done' OR response IS NULL")
    op.execute(
        f"DELETE FROM {TABLE} k USING {TABLE} o WHERE k.request_id = o.request_id"
        " AND k.scope > o.scope"
    )
    op.drop_constraint("idempotency_keys_pkey", TABLE, type_="primary")
    op.create_primary_key("idempotency_keys_pkey", TABLE, ["request_id"])
    op.drop_column(TABLE, "expires_at")
    op.alter_column(TABLE, "created_at", server_default=sa.func.now())
    op.alter_column(TABLE, "response", nullable=False)
    for column in ("error", "locked_until", "lease_token", "state", "scope"):
        op.drop_column(TABLE, column)
    op.alter_column(TABLE, "resource_id", new_column_name="checkout_id")
