"""payment schema: payment events, orders, append-only history, idempotency, outbox, inbox

Revision ID: 0001
Revises:
Create Date: 2025-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(38, 4)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payment_events",
        sa.Column("checkout_id", sa.Text, primary_key=True),
        sa.Column("buyer_id", sa.Text, nullable=False),
        sa.Column("buyer_email", sa.Text, nullable=False, server_default=""),
        sa.Column("buyer_name", sa.Text, nullable=False, server_default=""),
        sa.Column("payment_method", sa.Text, nullable=False),
        sa.Column("is_payment_done", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "payment_orders",
        sa.Column("payment_order_id", sa.Text, primary_key=True),
        sa.Column(
            "checkout_id",
            sa.Text,
            sa.ForeignKey("payment_events.checkout_id"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("seller_account", sa.Text, nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("fee_amount", AMOUNT, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("wallet_updated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("ledger_updated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("psp_reference", sa.Text, nullable=False, server_default=""),
        sa.Column("failure_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            "status IN ('NOT_STARTED', 'EXECUTING', 'PENDING', 'SUCCESS', 'FAILED')",
            name="payment_order_status_known",
        ),
        sa.CheckConstraint("amount > 0", name="payment_order_amount_positive"),
        sa.CheckConstraint(
            "fee_amount >= 0 AND fee_amount <= amount", name="payment_order_fee_range"
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="payment_order_currency_iso"),
        sa.CheckConstraint(
            "status = 'SUCCESS' OR NOT (wallet_updated OR ledger_updated)",
            name="payment_order_flags_need_success",
        ),
    )
    op.create_index("payment_order_by_checkout", "payment_orders", ["checkout_id", "position"])
    op.create_index(
        "payment_order_unsettled",
        "payment_orders",
        ["updated_at"],
        postgresql_where=sa.text("status IN ('EXECUTING', 'PENDING')"),
    )
    op.create_table(
        "payment_order_history",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column(
            "payment_order_id",
            sa.Text,
            sa.ForeignKey("payment_orders.payment_order_id"),
            nullable=False,
        ),
        sa.Column("from_status", sa.Text),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("occurred_at", TS, nullable=False),
    )
    op.create_index(
        "payment_order_history_by_order", "payment_order_history", ["payment_order_id", "id"]
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("request_id", postgresql.UUID(as_uuid=False), primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("response", sa.LargeBinary, nullable=False),
        sa.Column("checkout_id", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    )
    # mesh.outbox.outbox_table and mesh.inbox.inbox_table, as of this revision.
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", postgresql.UUID(as_uuid=False), nullable=False, unique=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", TS),
    )
    op.create_index(
        "outbox_unpublished",
        "outbox",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text, nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("processed_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )

    # The history is append-only.
    op.execute(
        """
        CREATE FUNCTION payment_order_history_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'payment_order_history is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER payment_order_history_no_update_delete
        BEFORE UPDATE OR DELETE ON payment_order_history
        FOR EACH ROW EXECUTE FUNCTION payment_order_history_append_only()
        """
    )
    op.execute(
        """
        CREATE TRIGGER payment_order_history_no_truncate
        BEFORE TRUNCATE ON payment_order_history
        FOR EACH STATEMENT EXECUTE FUNCTION payment_order_history_append_only()
        """
    )
    # An order's status moves only along the state machine; what was agreed never changes.
    op.execute(
        """
        CREATE FUNCTION payment_order_guard() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.checkout_id <> OLD.checkout_id OR NEW.seller_account <> OLD.seller_account
               OR NEW.amount <> OLD.amount OR NEW.currency <> OLD.currency
               OR NEW.fee_amount <> OLD.fee_amount OR NEW.created_at <> OLD.created_at THEN
                RAISE EXCEPTION 'payment order %: the agreed terms cannot change',
                    OLD.payment_order_id USING ERRCODE = 'check_violation';
            END IF;
            IF NEW.status <> OLD.status AND NOT (
                   (OLD.status = 'NOT_STARTED' AND NEW.status = 'EXECUTING')
                OR (OLD.status = 'EXECUTING' AND NEW.status IN ('SUCCESS', 'FAILED', 'PENDING'))
                OR (OLD.status = 'PENDING' AND NEW.status IN ('SUCCESS', 'FAILED'))
            ) THEN
                RAISE EXCEPTION 'payment order %: illegal transition % -> %',
                    OLD.payment_order_id, OLD.status, NEW.status
                    USING ERRCODE = 'check_violation';
            END IF;
            IF (OLD.wallet_updated AND NOT NEW.wallet_updated)
               OR (OLD.ledger_updated AND NOT NEW.ledger_updated) THEN
                RAISE EXCEPTION 'payment order %: flags cannot be cleared', OLD.payment_order_id
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER payment_order_guard BEFORE UPDATE ON payment_orders
        FOR EACH ROW EXECUTE FUNCTION payment_order_guard()
        """
    )
    # A checkout's terms never change, and once done it stays done.
    op.execute(
        """
        CREATE FUNCTION payment_event_guard() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.checkout_id <> OLD.checkout_id OR NEW.buyer_id <> OLD.buyer_id
               OR NEW.payment_method <> OLD.payment_method
               OR NEW.created_at <> OLD.created_at THEN
                RAISE EXCEPTION 'checkout %: the agreed terms cannot change', OLD.checkout_id
                    USING ERRCODE = 'check_violation';
            END IF;
            IF OLD.is_payment_done AND NOT NEW.is_payment_done THEN
                RAISE EXCEPTION 'checkout %: is_payment_done cannot be cleared', OLD.checkout_id
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER payment_event_guard BEFORE UPDATE ON payment_events
        FOR EACH ROW EXECUTE FUNCTION payment_event_guard()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS payment_event_guard ON payment_events")
    op.execute("DROP FUNCTION IF EXISTS payment_event_guard()")
    op.execute("DROP TRIGGER IF EXISTS payment_order_guard ON payment_orders")
    op.execute("DROP FUNCTION IF EXISTS payment_order_guard()")
    op.drop_table("inbox")
    op.drop_table("outbox")
    op.drop_table("idempotency_keys")
    op.drop_table("payment_order_history")
    op.execute("DROP FUNCTION IF EXISTS payment_order_history_append_only()")
    op.drop_table("payment_orders")
    op.drop_table("payment_events")
