"""a risk decision may be `defer`: the remote risk provider was away and the checkout too large
to proceed on the local rules alone (payment_svc.domain.risk_provider); recorded so that every
fallback decision is, and never shown as the checkout's decision (only `allow` is)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("risk_decision_outcome_known", "risk_decisions", type_="check")
    op.create_check_constraint(
        "risk_decision_outcome_known", "risk_decisions", "outcome IN ('allow', 'deny', 'defer')"
    )


def downgrade() -> None:
    # The table is append-only by trigger (0007); going back forgets the deferrals.
    op.execute("ALTER TABLE risk_decisions DISABLE TRIGGER risk_decisions_no_update_delete")
    op.execute("DELETE FROM risk_decisions WHERE outcome = 'defer'")
    op.execute("ALTER TABLE risk_decisions ENABLE TRIGGER risk_decisions_no_update_delete")
    op.drop_constraint("risk_decision_outcome_known", "risk_decisions", type_="check")
    op.create_check_constraint(
        "risk_decision_outcome_known", "risk_decisions", "outcome IN ('allow', 'deny')"
    )
