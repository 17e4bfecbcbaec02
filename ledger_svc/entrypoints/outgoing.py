"""The ledger's domain events as protobuf, for the outbox."""

from __future__ import annotations

from google.protobuf.message import Message

from ledger_svc.domain import LedgerPosted
from mesh.events import LEDGER_POSTED
from paymesh.events.v1 import events_pb2


def encode_event(event: LedgerPosted) -> tuple[str, str, Message]:
    """(subject, aggregate_id, payload) of an event the ledger publishes."""
    payload = events_pb2.LedgerPosted(
        payment_order_id=event.payment_order_id, transaction_id=event.transaction_id
    )
    return LEDGER_POSTED, event.payment_order_id, payload
