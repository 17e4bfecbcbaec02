"""The wallet's domain events as protobuf, for the outbox."""

from __future__ import annotations

from google.protobuf.message import Message

from mesh.events import WALLET_CREDITED
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2
from wallet_svc.domain import WalletCredited


def encode_event(event: WalletCredited) -> tuple[str, str, Message]:
    """(subject, aggregate_id, payload) of an event the wallet publishes."""
    payload = events_pb2.WalletCredited(
        payment_order_id=event.payment_order_id,
        seller_account=event.seller_account,
        net=money_pb2.Money(amount=event.net.wire(), currency=event.net.currency),
    )
    return WALLET_CREDITED, event.payment_order_id, payload
