"""recon: fix records of a run's own fixes, which are no mismatch (the PSP's fees and payouts
booked from its report, ADR 0024): `fixes.mismatch_id` may be NULL

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("fixes", "mismatch_id", nullable=True)
    op.create_index("fixes_run", "fixes", ["run_id"])


def downgrade() -> None:
    op.drop_index("fixes_run", "fixes")
    # Records without a mismatch cannot be kept under the old rule; the table is append-only
    # (its trigger refuses DELETE), so the downgrade refuses rather than lose them.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM fixes WHERE mismatch_id IS NULL) THEN"
        " RAISE EXCEPTION 'fixes without a mismatch exist: cannot downgrade'; END IF; END $$"
    )
    op.alter_column("fixes", "mismatch_id", nullable=False)
