"""The `ledger-wallet-move` consumer: `wallet.moved` → post the move between the seller's
bucket accounts."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from ledger_svc.domain import InvalidTransaction
from ledger_svc.service_layer.moves import MOVE_CONSUMER, PostWalletMove, post_wallet_move
from ledger_svc.service_layer.ports import LedgerUnitOfWork
from mesh.consuming import applying, event_id, money, open_envelope
from mesh.events import WALLET_MOVED
from mesh.jetstream import ConsumerSpec, Handler, Poison
from paymesh.events.v1 import events_pb2

_BUCKETS = {
    events_pb2.WALLET_BUCKET_PENDING: "pending",
    events_pb2.WALLET_BUCKET_AVAILABLE: "available",
    events_pb2.WALLET_BUCKET_RESERVED: "reserved",
    events_pb2.WALLET_BUCKET_DEBT: "debt",
    events_pb2.WALLET_BUCKET_PAID_OUT: "paid_out",
}


def move_consumer_spec(concurrency: int) -> ConsumerSpec:
    return ConsumerSpec(
        stream="WALLET", durable=MOVE_CONSUMER, subject=WALLET_MOVED, concurrency=concurrency
    )


def to_move_command(envelope: events_pb2.Envelope) -> PostWalletMove:
    """The use-case command an envelope asks for; `Poison` when it can never be applied."""
    event = open_envelope(envelope, WALLET_MOVED, events_pb2.WalletMoved)
    try:
        move_id = str(uuid.UUID(event.move_id))
    except ValueError:
        raise Poison(f"move_id {event.move_id!r} is not a UUID") from None
    if event.debit not in _BUCKETS or event.credit not in _BUCKETS:
        raise Poison("debit and credit must be wallet buckets")
    return PostWalletMove(
        event_id=event_id(envelope),
        move_id=move_id,
        seller_account=event.seller_account,
        amount=money("amount", event.amount, allow_zero=False),
        debit=_BUCKETS[event.debit],
        credit=_BUCKETS[event.credit],
        reason=event.reason,
        reference=event.reference,
    )


def move_handler(uow_factory: Callable[[], LedgerUnitOfWork]) -> Handler:
    """`post_wallet_move` for every envelope; `InvalidTransaction` dead-letters it."""
    return applying(to_move_command, post_wallet_move, uow_factory, refused=(InvalidTransaction,))
