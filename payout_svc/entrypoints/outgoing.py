"""The payout service's events as protobuf, for the outbox."""

from __future__ import annotations

from google.protobuf.message import Message

from mesh.events import PAYOUT_RESERVED
from paymesh.events.v1 import events_pb2
from payout_svc.domain.events import DomainEvent


def encode_event(event: DomainEvent) -> tuple[str, str, Message]:
    return PAYOUT_RESERVED, event.payout_id, events_pb2.PayoutReserved(payout_id=event.payout_id)
