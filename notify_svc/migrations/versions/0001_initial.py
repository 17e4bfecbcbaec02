"""notify: the marketplace's endpoints, events, deliveries and their attempts; outbox, inbox

Revision ID: 0001
Revises:
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.func.now()
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("endpoint_id", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("event_types", ARRAY(sa.Text), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        # AES-GCM sealed with NOTIFY_SECRET_KEY ("aesgcm:v1:..."); never returned after the
        # create answer (ADR 0013).
        sa.Column("signing_secret", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("disabled_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("disabled_at", TS),
        # Who created it (the gateway's key id) and with which request: the idempotency key.
        sa.Column("caller", sa.Text, nullable=False),
        sa.Column("request_id", UUID(as_uuid=False), nullable=False),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failing_since", TS),
        sa.UniqueConstraint("caller", "request_id", name="webhook_endpoints_request"),
    )
    op.create_table(
        "webhook_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),  # exactly as signed and sent
        sa.Column("source_event_id", UUID(as_uuid=False), nullable=False, unique=True),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column(
            "event_id", sa.Text, sa.ForeignKey("webhook_events.event_id"), nullable=False
        ),
        sa.Column(
            "endpoint_id", sa.Text, sa.ForeignKey("webhook_endpoints.endpoint_id"), nullable=False
        ),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        # Failed attempts in a row under the current retry schedule (a redelivery restarts it).
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("event_id", "endpoint_id"),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name="webhook_deliveries_status"
        ),
    )
    op.create_index(
        "webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("endpoint_id", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("attempted_at", TS, nullable=False),
        sa.Column("http_status", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id", "endpoint_id"],
            ["webhook_deliveries.event_id", "webhook_deliveries.endpoint_id"],
        ),
    )
    op.create_index("webhook_attempts_event", "webhook_attempts", ["event_id", "endpoint_id"])
    op.create_table(
        "redeliveries",
        sa.Column("caller", sa.Text, nullable=False),
        sa.Column("request_id", UUID(as_uuid=False), nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("endpoint_id", sa.Text, nullable=False, server_default=""),
        sa.Column("requested_at", TS, nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("caller", "request_id"),
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("published_at", TS),
    )
    op.create_index(
        "outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL")
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text, nullable=False),
        sa.Column("event_id", UUID(as_uuid=False), nullable=False),
        sa.Column("processed_at", TS, nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )


def downgrade() -> None:
    for table in (
        "inbox",
        "outbox",
        "redeliveries",
        "webhook_attempts",
        "webhook_deliveries",
        "webhook_events",
        "webhook_endpoints",
    ):
        op.drop_table(table)
