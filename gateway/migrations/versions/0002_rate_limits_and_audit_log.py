"""gateway: a rate per API key, and the append-only audit log of operator actions

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Guards the rule of gateway.audit: the audit log is append-only, so every operator action
# (key create/revoke, refund, release, payout, DLQ replay, recon resolve) stays recorded with
# the key that did it. A row can be added, never changed or removed.
APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    # The connection's search_path starts with the `gateway` schema (mesh.migrations.run_env).
    # The key's own rate ("100/second"); NULL is the gateway's GATEWAY_RATE_LIMIT.
    op.add_column("api_keys", sa.Column("rate_limit", sa.Text, nullable=True))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column(
            "at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        # The API key that acted, or "cli:<OS user>" for the operator CLI.
        sa.Column("key_id", sa.Text, nullable=False),
        # The RPC's full name ("paymesh.payment.v1.RefundService.CreateRefund") or
        # "api_key.create" / "api_key.revoke".
        sa.Column("action", sa.Text, nullable=False),
        # The HTTP path called, or "api_keys/<key id>" for a key.
        sa.Column("resource", sa.Text, nullable=False),
        # The request's Idempotency-Key (AIP-155 request_id), when it had one.
        sa.Column("request_id", sa.Text, nullable=True),
        # The HTTP status of the answer.
        sa.Column("outcome", sa.Integer, nullable=False),
    )
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_column("api_keys", "rate_limit")
