"""gateway: API keys, stored hashed

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The connection's search_path starts with the `gateway` schema (mesh.migrations.run_env).
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        # SHA-256 of the secret, hex; the key itself is never stored.
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column(
            "scopes",
            postgresql.ARRAY(sa.Text),
            nullable=False,
            server_default=sa.text("'{}'::text[]"),
        ),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("revoked_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.CheckConstraint("secret_hash ~ '^[0-9a-f]{64}$'", name="api_keys_secret_hash_sha256"),
        sa.CheckConstraint("key_id ~ '^[0-9a-f]{16}$'", name="api_keys_key_id_format"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
