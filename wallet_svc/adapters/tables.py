"""The tables of the `wallet` schema (the search_path names it; SQL never does)."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import UUID

from mesh.db import MONEY
from mesh.inbox import inbox_table
from mesh.outbox import outbox_table

metadata = MetaData()

# One row per payment order ever credited: the primary key makes a second credit of the same
# order (under any event id) impossible. `amount` is what was credited: gross - fee.
wallet_credits = Table(
    "wallet_credits",
    metadata,
    Column("payment_order_id", Text, primary_key=True),
    Column("event_id", UUID(as_uuid=False), nullable=False),
    Column("seller_account", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("gross", MONEY, nullable=False),
    Column("fee", MONEY, nullable=False),
    Column("amount", MONEY, nullable=False),
    # The part of `amount` that settled the seller's debt instead of going to pending.
    Column("settled_debt", MONEY, nullable=False, server_default="0"),
    Column("credited_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("gross > 0", name="wallet_credits_gross_positive"),
    CheckConstraint("fee >= 0 AND fee <= gross", name="wallet_credits_fee_range"),
    CheckConstraint("amount = gross - fee", name="wallet_credits_amount_is_net"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="wallet_credits_currency"),
    Index("wallet_credits_seller", "seller_account", "currency"),
    Index("wallet_credits_credited_at", "credited_at"),  # the auto-release loop's scan
)

# The maintained balance of each seller in each currency (reads are one row, not a sum).
balances = Table(
    "balances",
    metadata,
    Column("seller_account", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("pending", MONEY, nullable=False, server_default="0"),
    Column("available", MONEY, nullable=False, server_default="0"),
    Column("reserved", MONEY, nullable=False, server_default="0"),
    Column("debt", MONEY, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("seller_account", "currency"),
    # Guards wallet_svc.domain.Balance: no bucket is ever negative; what a refund could not
    # take is `debt` (wallet_svc/domain/refund_debit.py), and a hold never takes more than
    # `available` (wallet_svc/service_layer/holds.py).
    CheckConstraint(
        "pending >= 0 AND available >= 0 AND reserved >= 0 AND debt >= 0",
        name="balances_not_negative",
    ),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="balances_currency"),
)

# One row per refund ever debited: the primary key makes a second debit of the same refund
# (under any event id) impossible. `amount` is what was taken back: gross - fee_refunded, split
# between pending and available.
wallet_refund_debits = Table(
    "wallet_refund_debits",
    metadata,
    Column("refund_id", Text, primary_key=True),
    Column("event_id", UUID(as_uuid=False), nullable=False),
    Column("payment_order_id", Text, nullable=False),
    Column("seller_account", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("gross", MONEY, nullable=False),
    Column("fee_refunded", MONEY, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("from_pending", MONEY, nullable=False),
    Column("from_available", MONEY, nullable=False),
    Column("to_debt", MONEY, nullable=False, server_default="0"),
    Column("debited_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("gross > 0", name="wallet_refund_debits_gross_positive"),
    CheckConstraint(
        "fee_refunded >= 0 AND fee_refunded <= gross", name="wallet_refund_debits_fee_range"
    ),
    CheckConstraint("amount = gross - fee_refunded", name="wallet_refund_debits_amount_is_net"),
    CheckConstraint(
        "from_pending >= 0 AND from_available >= 0 AND to_debt >= 0"
        " AND from_pending + from_available + to_debt = amount",
        name="wallet_refund_debits_split",
    ),
    Index("wallet_refund_debits_order", "payment_order_id"),
)

# One row per order ever released (by its release or its hold period): the primary key makes a
# second release impossible. `amount` is what moved from pending to available.
wallet_releases = Table(
    "wallet_releases",
    metadata,
    Column("payment_order_id", Text, primary_key=True),
    Column("event_id", UUID(as_uuid=False), nullable=False),
    Column("seller_account", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("reason", Text, nullable=False),
    Column("released_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("amount >= 0", name="wallet_releases_amount"),
)

# Every move between buckets the wallet told the ledger of (wallet.moved), one row each.
wallet_moves = Table(
    "wallet_moves",
    metadata,
    Column("move_id", UUID(as_uuid=False), primary_key=True),
    Column("seller_account", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("debit", Text, nullable=False),
    Column("credit", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("reference", Text, nullable=False),
    Column("moved_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("amount > 0", name="wallet_moves_amount_positive"),
    Index("wallet_moves_seller", "seller_account", "currency"),
)

# One hold per payout id, ever: RESERVED → CAPTURED (→ RETURNED) | RELEASED.
wallet_holds = Table(
    "wallet_holds",
    metadata,
    Column("hold_id", Text, primary_key=True),
    Column("seller_account", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("amount > 0", name="wallet_holds_amount_positive"),
    CheckConstraint(
        "status IN ('RESERVED', 'CAPTURED', 'RELEASED', 'RETURNED')", name="wallet_holds_status"
    ),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
