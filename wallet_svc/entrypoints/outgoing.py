"""The wallet's domain events as protobuf, for the outbox."""

from __future__ import annotations

from google.protobuf.message import Message

from mesh.events import WALLET_CREDITED, WALLET_MOVED
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2
from wallet_svc.domain import Bucket, DomainEvent, WalletCredited

BUCKETS = {
    Bucket.PENDING: events_pb2.WALLET_BUCKET_PENDING,
    Bucket.AVAILABLE: events_pb2.WALLET_BUCKET_AVAILABLE,
    Bucket.RESERVED: events_pb2.WALLET_BUCKET_RESERVED,
    Bucket.DEBT: events_pb2.WALLET_BUCKET_DEBT,
    Bucket.PAID_OUT: events_pb2.WALLET_BUCKET_PAID_OUT,
}


def encode_event(event: DomainEvent) -> tuple[str, str, Message]:
    """(subject, aggregate_id, payload) of an event the wallet publishes."""
    if isinstance(event, WalletCredited):
        payload = events_pb2.WalletCredited(
            payment_order_id=event.payment_order_id,
            seller_account=event.seller_account,
            net=money_pb2.Money(amount=event.net.wire(), currency=event.net.currency),
        )
        return WALLET_CREDITED, event.payment_order_id, payload
    moved = events_pb2.WalletMoved(
        move_id=event.move_id,
        seller_account=event.seller_account,
        amount=money_pb2.Money(amount=event.amount.wire(), currency=event.amount.currency),
        debit=BUCKETS[event.debit],
        credit=BUCKETS[event.credit],
        reason=event.reason,
        reference=event.reference,
    )
    return WALLET_MOVED, event.seller_account, moved
