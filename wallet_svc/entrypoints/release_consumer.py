"""The `wallet-release` consumer: `payment.order.released` → move the order's credit from
pending to available. A release that arrives before its order's credit is retried (with
backoff) until the credit is there."""

from __future__ import annotations

from collections.abc import Callable

from mesh.consuming import applying, event_id, open_envelope
from mesh.events import PAYMENT_ORDER_RELEASED
from mesh.jetstream import ConsumerSpec, Handler, Poison
from paymesh.events.v1 import events_pb2
from wallet_svc.service_layer.ports import WalletUnitOfWork
from wallet_svc.service_layer.releases import RELEASE_CONSUMER, ReleaseOrder, release_order


def release_consumer_spec(concurrency: int) -> ConsumerSpec:
    return ConsumerSpec(
        stream="PAYMENT",
        durable=RELEASE_CONSUMER,
        subject=PAYMENT_ORDER_RELEASED,
        concurrency=concurrency,
    )


def to_release_command(envelope: events_pb2.Envelope) -> ReleaseOrder:
    """The use-case command an envelope asks for; `Poison` when it can never be applied."""
    event = open_envelope(envelope, PAYMENT_ORDER_RELEASED, events_pb2.PaymentOrderReleased)
    if not event.payment_order_id:
        raise Poison("payment_order_id is required")
    return ReleaseOrder(event_id(envelope), event.payment_order_id)


def release_handler(uow_factory: Callable[[], WalletUnitOfWork]) -> Handler:
    """`release_order` for every envelope; anything but poison is retried."""
    return applying(to_release_command, release_order, uow_factory, refused=())
