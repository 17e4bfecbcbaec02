"""The `payment` schema as SQLAlchemy Core tables (the migrations create them; the search_path
puts the schema first, so no table names it)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from mesh.alert_store import alerts_table
from mesh.db import MONEY
from mesh.inbox import inbox_table
from mesh.outbox import outbox_table

metadata = MetaData()

STATUSES = ("NOT_STARTED", "EXECUTING", "PENDING", "SUCCESS", "FAILED")
UNSETTLED = ("NOT_STARTED", "EXECUTING", "PENDING")  # what the sweeper looks at

# The checkout (payment event): one per buyer payment.
payment_events = Table(
    "payment_events",
    metadata,
    Column("checkout_id", Text, primary_key=True),
    Column("buyer_id", Text, nullable=False),
    # Sealed with AES-GCM under `buyer_pii_key_id` (adapters.pii_cipher); clear when that is
    # NULL (rows from before migration 0006, until re-sealed; erased rows, which hold "").
    Column("buyer_email", Text, nullable=False, server_default=""),
    Column("buyer_name", Text, nullable=False, server_default=""),
    Column("buyer_pii_key_id", Text),
    Column("buyer_pii_erased_at", DateTime(timezone=True)),
    Column("payment_method", Text, nullable=False),  # PSP token, never a card number
    Column("is_payment_done", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("flow", Text, nullable=False, server_default="direct"),  # or "hosted"
    Column("redirect_url", Text, nullable=False, server_default=""),  # hosted: buyer returns
    CheckConstraint("flow IN ('direct', 'hosted')", name="payment_event_flow_known"),
    CheckConstraint(
        "buyer_pii_erased_at IS NULL"
        " OR (buyer_email = '' AND buyer_name = '' AND buyer_pii_key_id IS NULL)",
        name="payment_event_erased_holds_no_pii",
    ),
)

# One seller's share of a checkout; `status` only moves along the state machine (trigger).
payment_orders = Table(
    "payment_orders",
    metadata,
    Column("payment_order_id", Text, primary_key=True),
    Column("checkout_id", Text, ForeignKey("payment_events.checkout_id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("seller_account", Text, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("currency", Text, nullable=False),
    Column("fee_amount", MONEY, nullable=False),
    Column("status", Text, nullable=False),
    Column("wallet_updated", Boolean, nullable=False, server_default=false()),
    Column("ledger_updated", Boolean, nullable=False, server_default=false()),
    Column("psp_reference", Text, nullable=False, server_default=""),
    Column("failure_reason", Text, nullable=False, server_default=""),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # Retry state while the order waits for the PSP (migration 0009).
    Column("last_error", Text, nullable=False, server_default=""),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    # When the sweeper last published a SUCCESS order's event again, its flags not back yet.
    Column("announced_at", DateTime(timezone=True), nullable=True),
    # Hosted flow: the PSP's id of the order's page (checkout session) and its URL.
    Column("psp_token", Text, nullable=False, server_default=""),
    Column("payment_page_url", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        "status IN ('NOT_STARTED', 'EXECUTING', 'PENDING', 'SUCCESS', 'FAILED')",
        name="payment_order_status_known",
    ),
    CheckConstraint("amount > 0", name="payment_order_amount_positive"),
    CheckConstraint("fee_amount >= 0 AND fee_amount <= amount", name="payment_order_fee_range"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="payment_order_currency_iso"),
    CheckConstraint(
        "status = 'SUCCESS' OR NOT (wallet_updated OR ledger_updated)",
        name="payment_order_flags_need_success",
    ),
    Index("payment_order_by_checkout", "checkout_id", "position"),
    Index(
        "payment_order_unsettled",
        "updated_at",
        postgresql_where=text("status IN ('NOT_STARTED', 'EXECUTING', 'PENDING')"),
    ),
    # SUCCESS orders whose wallet or ledger flag has not come back (the sweeper re-announces).
    Index(
        "payment_order_unflagged",
        "updated_at",
        postgresql_where=text("status = 'SUCCESS' AND NOT (wallet_updated AND ledger_updated)"),
    ),
)

# Every status transition, append-only (a trigger refuses UPDATE, DELETE and TRUNCATE).
payment_order_history = Table(
    "payment_order_history",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column(
        "payment_order_id",
        Text,
        ForeignKey("payment_orders.payment_order_id"),
        nullable=False,
    ),
    Column("from_status", Text),  # NULL for the order's creation
    Column("to_status", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("payment_order_history_by_order", "payment_order_id", "id"),
)

# CreatePayment's idempotency keys, per caller (`scope`: the API key id, or "" for a direct gRPC
# caller). The primary key is what makes a key processed once: a request first claims its row
# (`in_flight`, with a lease), then stores the answer (`done`) in the transaction that does the
# work. A lease that ran out is a crashed request, whose key a retry may take over.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("request_id", UUID(as_uuid=False), primary_key=True),
    Column("request_hash", Text, nullable=False),  # hex SHA-256, of the operation and body
    Column("resource_id", Text, nullable=False),  # what the request makes: checkout, refund
    Column("state", Text, nullable=False),
    Column("lease_token", UUID(as_uuid=False)),  # who holds an in-flight key
    Column("locked_until", DateTime(timezone=True)),  # when an in-flight key may be taken over
    Column("response", LargeBinary),  # serialized CreatePaymentResponse, when accepted
    Column("error", LargeBinary),  # serialized google.rpc.Status, when refused
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        "(state = 'in_flight' AND lease_token IS NOT NULL AND locked_until IS NOT NULL"
        " AND response IS NULL AND error IS NULL)"
        " OR (state = 'done' AND (response IS NULL) <> (error IS NULL))",
        name="idempotency_key_state",
    ),
    Index("idempotency_key_expiry", "expires_at"),
)

# Every PSP event received with a good signature, kept for audit; the primary key makes a
# redelivered event a no-op. `result` says what it did (applied, ignored).
psp_events = Table(
    "psp_events",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("type", Text, nullable=False),
    Column("payment_order_id", Text, nullable=False),
    Column("psp_reference", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),  # the body as received
    Column("created_at", DateTime(timezone=True), nullable=False),  # by the PSP
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("result", Text, nullable=False),
    Index("psp_event_by_order", "payment_order_id"),
    # The retention purge finds events past PSP_EVENTS_RETENTION_S (mesh.retention).
    Index("psp_event_received_at", "received_at"),
)

# Refunds of payment orders. `amount` and `fee_refunded` are decided once, at creation; the
# refunds of an order that are not FAILED never exceed its amount (checked under a lock on the
# order, and by the trigger `refunds_within_order_amount` of migration 0005).
REFUND_STATUSES = ("PENDING", "SUCCEEDED", "FAILED")
refunds = Table(
    "refunds",
    metadata,
    Column("refund_id", Text, primary_key=True),
    Column(
        "payment_order_id",
        Text,
        ForeignKey("payment_orders.payment_order_id"),
        nullable=False,
    ),
    Column("seller_account", Text, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("fee_refunded", MONEY, nullable=False),
    Column("currency", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("psp_reference", Text, nullable=False, server_default=""),
    Column("failure_reason", Text, nullable=False, server_default=""),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("status IN ('PENDING', 'SUCCEEDED', 'FAILED')", name="refund_status_known"),
    CheckConstraint("amount > 0", name="refund_amount_positive"),
    CheckConstraint("fee_refunded >= 0 AND fee_refunded <= amount", name="refund_fee_range"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="refund_currency_iso"),
    Index("refund_by_order", "payment_order_id"),
    Index("refund_pending", "updated_at", postgresql_where=text("status = 'PENDING'")),
)

# What the velocity rules count: a buyer's, and a token's, checkouts since a moment (0007).
Index("payment_event_by_buyer", payment_events.c.buyer_id, payment_events.c.created_at)
Index(
    "payment_event_by_payment_method",
    payment_events.c.payment_method,
    payment_events.c.created_at,
    postgresql_where=text("payment_method <> ''"),
)

# What the operator console reads (0010, payment_svc.adapters.sql_ops_reads): a payment by a
# charge's or a refund's PSP id, orders accepted per minute, PSP answers per minute.
Index(
    "payment_order_by_psp_reference",
    payment_orders.c.psp_reference,
    postgresql_where=text("psp_reference <> ''"),
)
Index(
    "refund_by_psp_reference",
    refunds.c.psp_reference,
    postgresql_where=text("psp_reference <> ''"),
)
Index("payment_order_created_at", payment_orders.c.created_at)
Index(
    "payment_order_history_psp_answers",
    payment_order_history.c.occurred_at,
    postgresql_where=text("from_status = 'EXECUTING'"),
)

# The risk check's decision on each checkout request, allowed or refused, stored in the
# transaction that stores the checkout or the refusal (migration 0007; append-only, by trigger).
# `rules` is every rule evaluated: [{"rule", "outcome", "figures": {name: decimal string}}].
risk_decisions = Table(
    "risk_decisions",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("checkout_id", Text, nullable=False),
    Column("buyer_id", Text, nullable=False),
    Column("payment_method", Text, nullable=False, server_default=""),
    Column("request_id", Text, nullable=False),  # the idempotency key it answered
    Column("outcome", Text, nullable=False),
    Column("rule", Text, nullable=False, server_default=""),  # the rule that refused
    Column("rules", JSONB, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("outcome IN ('allow', 'deny', 'defer')", name="risk_decision_outcome_known"),
    Index("risk_decision_by_checkout", "checkout_id", "id"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

# Alerts of every service (mesh.alerts), kept here (mesh.alert_store).
alerts = alerts_table(metadata)
