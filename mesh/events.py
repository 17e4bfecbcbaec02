"""Event envelopes: every event on NATS is a paymesh.events.v1.Envelope whose payload is one
of the event messages, published on the subject named by its event_type."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import Message

from mesh import tracing
from paymesh.events.v1 import events_pb2

PAYMENT_ORDER_CREATED = "payment.order.created"
PAYMENT_ORDER_SUCCEEDED = "payment.order.succeeded"
PAYMENT_ORDER_FAILED = "payment.order.failed"
PAYMENT_ORDER_PENDING = "payment.order.pending"
PAYMENT_CHECKOUT_DONE = "payment.checkout.done"
PAYMENT_ORDER_RELEASED = "payment.order.released"
WALLET_CREDITED = "wallet.credited"
WALLET_MOVED = "wallet.moved"
PAYOUT_RESERVED = "payout.reserved"
PAYOUT_PAID = "payout.paid"
PAYOUT_FAILED = "payout.failed"  # FAILED or CANCELED: the money is back in available
LEDGER_POSTED = "ledger.posted"
# A new mismatch in the reconciliation finance queue (recon_svc, ADR 0018), for the marketplace.
RECON_MISMATCH_OPENED = "recon.mismatch.opened"
PAYMENT_REFUND_CREATED = "payment.refund.created"
PAYMENT_REFUND_SUCCEEDED = "payment.refund.succeeded"
PAYMENT_REFUND_FAILED = "payment.refund.failed"

M = TypeVar("M", bound=Message)


def new_envelope(
    event_type: str, aggregate_id: str, payload: Message, *, event_id: str | None = None
) -> events_pb2.Envelope:
    env = events_pb2.Envelope(
        event_id=event_id or str(uuid.uuid4()), event_type=event_type, aggregate_id=aggregate_id
    )
    env.occurred_at.FromDatetime(datetime.now(UTC))
    env.payload.Pack(payload)
    tracing.stamp(event_type, env.headers)  # request id; trace context when tracing is on
    return env


def decode_envelope(data: bytes) -> events_pb2.Envelope:
    env = events_pb2.Envelope()
    env.ParseFromString(data)
    if not env.event_id or not env.event_type:
        raise ValueError("envelope without event_id or event_type")
    return env


def unpack(env: events_pb2.Envelope, cls: type[M]) -> M:
    msg = cls()
    if not env.payload.Unpack(msg):
        raise ValueError(
            f"payload is {env.payload.TypeName()}, expected {cls.DESCRIPTOR.full_name}"
        )
    return msg
