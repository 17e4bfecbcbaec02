"""risk decisions: the risk check's decision on each checkout request (append-only), and the
indexes the velocity rules count by (a buyer's, a token's checkouts since a moment)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index("payment_event_by_buyer", "payment_events", ["buyer_id", "created_at"])
    op.create_index(
        "payment_event_by_payment_method",
        "payment_events",
        ["payment_method", "created_at"],
        postgresql_where=sa.text("payment_method <> ''"),
    )
    op.create_table(
        "risk_decisions",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("checkout_id", sa.Text, nullable=False),
        sa.Column("buyer_id", sa.Text, nullable=False),
        sa.Column("payment_method", sa.Text, nullable=False, server_default=""),
        sa.Column("request_id", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("rule", sa.Text, nullable=False, server_default=""),
        sa.Column("rules", postgresql.JSONB, nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.CheckConstraint("outcome IN ('allow', 'deny')", name="risk_decision_outcome_known"),
    )
    op.create_index("risk_decision_by_checkout", "risk_decisions", ["checkout_id", "id"])
    # A decision is a record of what was decided then: never rewritten, never removed.
    op.execute(
        """
        CREATE FUNCTION risk_decisions_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'risk_decisions is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER risk_decisions_no_update_delete
        BEFORE UPDATE OR DELETE ON risk_decisions
        FOR EACH ROW EXECUTE FUNCTION risk_decisions_append_only()
        """
    )
    op.execute(
        """
        CREATE TRIGGER risk_decisions_no_truncate
        BEFORE TRUNCATE ON risk_decisions
        FOR EACH STATEMENT EXECUTE FUNCTION risk_decisions_append_only()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER risk_decisions_no_truncate ON risk_decisions")
    op.execute("DROP TRIGGER risk_decisions_no_update_delete ON risk_decisions")
    op.execute("DROP FUNCTION risk_decisions_append_only()")
    op.drop_table("risk_decisions")
    op.drop_index("payment_event_by_payment_method", "payment_events")
    op.drop_index("payment_event_by_buyer", "payment_events")
