"""The tables of the `payout` schema (the search_path names it; SQL never does)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from mesh.db import MONEY
from mesh.inbox import inbox_table
from mesh.outbox import outbox_table

metadata = MetaData()

sellers = Table(
    "sellers",
    metadata,
    Column("seller_account", Text, primary_key=True),
    Column("destination", Text, nullable=False, server_default=""),
    Column("schedule", Text, nullable=False, server_default="manual"),
    Column("weekday", Integer, nullable=False, server_default="0"),
    Column("day_of_month", Integer, nullable=False, server_default="1"),
    # {"USD": "25.00", ...}: decimal strings, never floats.
    Column("minimums", JSONB, nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "schedule IN ('manual', 'daily', 'weekly', 'monthly')", name="sellers_schedule"
    ),
)

# One row per payout id, ever: a retried request, or a scheduled run made twice (its payout id
# is derived from seller, currency and period), finds the row and pays nothing twice.
payouts = Table(
    "payouts",
    metadata,
    Column("payout_id", Text, primary_key=True),
    Column("seller_account", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount", MONEY),
    Column("destination", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("provider_reference", Text, nullable=False, server_default=""),
    Column("failure_reason", Text, nullable=False, server_default=""),
    Column("returned", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("amount IS NULL OR amount > 0", name="payouts_amount_positive"),
    CheckConstraint(
        "status IN ('REQUESTED', 'RESERVED', 'SUBMITTED', 'IN_TRANSIT', 'PAID', 'FAILED',"
        " 'CANCELED')",
        name="payouts_status",
    ),
    Index("payouts_seller_created", "seller_account", "created_at", "payout_id"),
    Index("payouts_status_updated", "status", "updated_at"),
)

# Append-only: the history of every payout (a trigger refuses UPDATE and DELETE).
payout_history = Table(
    "payout_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("payout_id", Text, ForeignKey("payouts.payout_id"), nullable=False),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("payout_history_payout", "payout_id", "id"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
