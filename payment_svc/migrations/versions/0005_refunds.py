"""refunds: one row per refund of a payment order, and a trigger that keeps the refunds of an
order (those not FAILED) within its amount

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
AMOUNT = sa.Numeric(38, 4)

# The use case checks the limit under a lock on the order; this trigger is the database's own
# guard, whatever writes the table. It takes the same lock first, so two concurrent inserts are
# judged one after the other, each seeing the other's committed row.
_LIMIT_FUNCTION = """
CREATE FUNCTION refunds_within_order_amount() RETURNS trigger AS $$
DECLARE
    order_amount numeric;
    order_currency text;
    order_status text;
    refunded numeric;
BEGIN
    SELECT amount, currency, status INTO order_amount, order_currency, order_status
      FROM payment_orders WHERE payment_order_id = NEW.payment_order_id FOR UPDATE;
    IF NEW.status <> 'FAILED' AND order_status IS DISTINCT FROM 'SUCCESS' THEN
        RAISE EXCEPTION 'payment order % is not SUCCESS', NEW.payment_order_id
              USING ERRCODE = 'check_violation', CONSTRAINT = 'refund_order_succeeded';
    END IF;
    IF NEW.currency <> order_currency THEN
        RAISE EXCEPTION 'refund % is not in the currency of its order', NEW.refund_id
              USING ERRCODE = 'check_violation', CONSTRAINT = 'refund_order_currency';
    END IF;
    SELECT coalesce(sum(amount), 0) INTO refunded FROM refunds
     WHERE payment_order_id = NEW.payment_order_id AND status <> 'FAILED'
       AND refund_id <> NEW.refund_id;
    IF NEW.status <> 'FAILED' AND refunded + NEW.amount > order_amount THEN
        RAISE EXCEPTION 'refunds of payment order % would exceed its amount',
              NEW.payment_order_id
              USING ERRCODE = 'check_violation', CONSTRAINT = 'refunds_within_order_amount';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql
-- The schema the migration runs in, whatever the search_path of the writer.
SET search_path FROM CURRENT
"""


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("refund_id", sa.Text, primary_key=True),
        sa.Column(
            "payment_order_id",
            sa.Text,
            sa.ForeignKey("payment_orders.payment_order_id"),
            nullable=False,
        ),
        sa.Column("seller_account", sa.Text, nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("fee_refunded", AMOUNT, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("psp_reference", sa.Text, nullable=False, server_default=""),
        sa.Column("failure_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            "status IN ('PENDING', 'SUCCEEDED', 'FAILED')", name="refund_status_known"
        ),
        sa.CheckConstraint("amount > 0", name="refund_amount_positive"),
        sa.CheckConstraint(
            "fee_refunded >= 0 AND fee_refunded <= amount", name="refund_fee_range"
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="refund_currency_iso"),
    )
    op.create_index("refund_by_order", "refunds", ["payment_order_id"])
    op.create_index(
        "refund_pending",
        "refunds",
        ["updated_at"],
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.execute(_LIMIT_FUNCTION)
    op.execute(
        "CREATE TRIGGER refunds_within_order_amount BEFORE INSERT OR UPDATE ON refunds"
        " FOR EACH ROW EXECUTE FUNCTION refunds_within_order_amount()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER refunds_within_order_amount ON refunds")
    op.execute("DROP FUNCTION refunds_within_order_amount()")
    op.drop_table("refunds")
