"""payout: sellers, payouts, their append-only history, outbox, inbox

Revision ID: 0001
Revises:
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(38, 4)


def _ts(name: str, **kw: object) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table(
        "sellers",
        sa.Column("seller_account", sa.Text, primary_key=True),
        sa.Column("destination", sa.Text, nullable=False, server_default=""),
        sa.Column("schedule", sa.Text, nullable=False, server_default="manual"),
        sa.Column("weekday", sa.Integer, nullable=False, server_default="0"),
        sa.Column("day_of_month", sa.Integer, nullable=False, server_default="1"),
        sa.Column("minimums", JSONB, nullable=False, server_default="{}"),
        _ts("created_at", server_default=sa.func.now()),
        _ts("updated_at", server_default=sa.func.now()),
        sa.CheckConstraint(
            "schedule IN ('manual', 'daily', 'weekly', 'monthly')", name="sellers_schedule"
        ),
    )
    op.create_table(
        "payouts",
        sa.Column("payout_id", sa.Text, primary_key=True),
        sa.Column("seller_account", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("amount", AMOUNT),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("provider_reference", sa.Text, nullable=False, server_default=""),
        sa.Column("failure_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("returned", sa.Boolean, nullable=False, server_default="false"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint("amount IS NULL OR amount > 0", name="payouts_amount_positive"),
        sa.CheckConstraint(
            "status IN ('REQUESTED', 'RESERVED', 'SUBMITTED', 'IN_TRANSIT', 'PAID', 'FAILED',"
            " 'CANCELED')",
            name="payouts_status",
        ),
    )
    op.create_index(
        "payouts_seller_created", "payouts", ["seller_account", "created_at", "payout_id"]
    )
    op.create_index("payouts_status_updated", "payouts", ["status", "updated_at"])
    op.create_table(
        "payout_history",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column(
            "payout_id", sa.Text, sa.ForeignKey("payouts.payout_id"), nullable=False
        ),
        sa.Column("from_status", sa.Text),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        _ts("occurred_at"),
    )
    op.create_index("payout_history_payout", "payout_history", ["payout_id", "id"])
    # The history is append-only: guards payout_svc.domain.payout (every transition kept).
    op.execute(
        """
        CREATE FUNCTION payout_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'payout_history is append-only';
        END $$;
        CREATE TRIGGER payout_history_append_only BEFORE UPDATE OR DELETE ON payout_history
            FOR EACH ROW EXECUTE FUNCTION payout_history_append_only();
        """
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        _ts("created_at", server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL")
    )
    # What the retention purge of published outbox rows and old inbox rows reads.
    op.create_index(
        "outbox_published_at",
        "outbox",
        ["published_at"],
        postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text, nullable=False),
        sa.Column("event_id", UUID(as_uuid=False), nullable=False),
        _ts("processed_at", server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_index("inbox_processed_at", "inbox", ["processed_at"])


def downgrade() -> None:
    op.drop_index("inbox_processed_at", table_name="inbox")
    op.drop_table("inbox")
    op.drop_index("outbox_published_at", table_name="outbox")
    op.drop_index("outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
    op.execute("DROP TRIGGER payout_history_append_only ON payout_history")
    op.execute("DROP FUNCTION payout_history_append_only()")
    op.drop_index("payout_history_payout", table_name="payout_history")
    op.drop_table("payout_history")
    op.drop_index("payouts_status_updated", table_name="payouts")
    op.drop_index("payouts_seller_created", table_name="payouts")
    op.drop_table("payouts")
    op.drop_table("sellers")
