"""recon: runs, the mismatch queue, its append-only resolutions and fix records, outbox, inbox

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

TS = sa.DateTime(timezone=True)
NOW = sa.func.now()
APPEND_ONLY = ("resolutions", "fixes")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("period", sa.Date, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("started_by", sa.Text, nullable=False),
        # Who asked, and their request_id: the same request answers the same run.
        sa.Column("caller", sa.Text, nullable=False, server_default=""),
        sa.Column("request_id", UUID(as_uuid=False)),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("report", JSONB, nullable=False, server_default="{}"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("progress", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.CheckConstraint("status IN ('RUNNING', 'SUCCEEDED', 'FAILED')", name="runs_status"),
        sa.UniqueConstraint("caller", "request_id", name="runs_request"),
    )
    # One run of a period and source at a time: a second StartRun joins the running one.
    op.create_index(
        "runs_one_running",
        "runs",
        ["period", "source"],
        unique=True,
        postgresql_where=sa.text("status = 'RUNNING'"),
    )
    op.create_table(
        "mismatches",
        sa.Column("mismatch_id", sa.Text, primary_key=True),
        # type|detail|psp id|order id|refund id: the same difference found by another run is
        # the same mismatch (recon_svc.domain.queue.key_text).
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column("class", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("period", sa.Date, nullable=False),
        sa.Column("first_run_id", sa.Text, sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("last_run_id", sa.Text, sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("suggested_action", sa.Text, nullable=False, server_default=""),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("fix_rule", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.CheckConstraint("class IN (1, 2, 3)", name="mismatches_class"),
        sa.CheckConstraint("status IN ('OPEN', 'FIXED', 'RESOLVED')", name="mismatches_status"),
    )
    op.create_index("mismatches_queue", "mismatches", ["status", "created_at", "mismatch_id"])
    op.create_index("mismatches_last_run", "mismatches", ["last_run_id"])
    op.create_table(
        "resolutions",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column(
            "mismatch_id", sa.Text, sa.ForeignKey("mismatches.mismatch_id"), nullable=False
        ),
        sa.Column("request_id", UUID(as_uuid=False), nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("resolved_by", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("outcome", sa.Text, nullable=False, server_default=""),
        sa.Column("resolved_at", TS, nullable=False, server_default=NOW),
        sa.UniqueConstraint("mismatch_id", "request_id", name="resolutions_request"),
        sa.CheckConstraint(
            "action IN ('refund', 'accept', 'write_off', 'note')", name="resolutions_action"
        ),
    )
    # The audit record of every automatic fix: which run, which rule, what it did.
    op.create_table(
        "fixes",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column(
            "mismatch_id", sa.Text, sa.ForeignKey("mismatches.mismatch_id"), nullable=False
        ),
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False, server_default=""),
        sa.Column("fixed_at", TS, nullable=False, server_default=NOW),
    )
    op.create_index("fixes_mismatch", "fixes", ["mismatch_id"])

    # Resolutions and fix records are never edited away (recon_svc.domain.queue).
    op.execute(
        """
        CREATE FUNCTION recon_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION recon_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION recon_append_only()"
        )

    # The mesh's outbox and inbox (recon publishes nothing yet; the relay and samplers of
    # mesh.service read them like every service's).
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
        sa.Column("processed_at", TS, nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_index("inbox_processed_at", "inbox", ["processed_at"])


def downgrade() -> None:
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS recon_append_only()")
    for table in ("inbox", "outbox", "fixes", "resolutions", "mismatches", "runs"):
        op.drop_table(table)
