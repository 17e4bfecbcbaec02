"""Domain events → `paymesh.events.v1` messages, for the outbox."""

from __future__ import annotations

from google.protobuf.message import Message

from mesh.events import (
    PAYMENT_CHECKOUT_DONE,
    PAYMENT_ORDER_CREATED,
    PAYMENT_ORDER_FAILED,
    PAYMENT_ORDER_PENDING,
    PAYMENT_ORDER_RELEASED,
    PAYMENT_ORDER_SUCCEEDED,
)
from mesh.money import format_amount
from payment_svc.domain.events import (
    CheckoutDone,
    DomainEvent,
    OrderCreated,
    OrderFailed,
    OrderPending,
    OrderReleased,
    OrderSucceeded,
)
from payment_svc.domain.refund_events import RefundCreated, RefundFailed, RefundSucceeded
from payment_svc.entrypoints.refund_events import encode_refund_event
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2


def encode_event(event: DomainEvent) -> tuple[str, str, Message]:
    """(subject, aggregate id, payload); the aggregate is the payment order."""
    if isinstance(event, OrderCreated):
        return (
            PAYMENT_ORDER_CREATED,
            event.payment_order_id,
            events_pb2.PaymentOrderCreated(
                payment_order_id=event.payment_order_id, checkout_id=event.checkout_id
            ),
        )
    if isinstance(event, OrderSucceeded):
        return (
            PAYMENT_ORDER_SUCCEEDED,
            event.payment_order_id,
            events_pb2.PaymentOrderSucceeded(
                payment_order_id=event.payment_order_id,
                checkout_id=event.checkout_id,
                seller_account=event.seller_account,
                amount=money_pb2.Money(
                    amount=format_amount(event.amount, event.currency), currency=event.currency
                ),
                fee=money_pb2.Money(
                    amount=format_amount(event.fee_amount, event.currency),
                    currency=event.currency,
                ),
                psp_reference=event.psp_reference,
            ),
        )
    if isinstance(event, OrderFailed):
        return (
            PAYMENT_ORDER_FAILED,
            event.payment_order_id,
            events_pb2.PaymentOrderFailed(
                payment_order_id=event.payment_order_id,
                checkout_id=event.checkout_id,
                reason=event.reason,
            ),
        )
    if isinstance(event, OrderPending):
        return (
            PAYMENT_ORDER_PENDING,
            event.payment_order_id,
            events_pb2.PaymentOrderPending(
                payment_order_id=event.payment_order_id,
                checkout_id=event.checkout_id,
                reason=event.reason,
            ),
        )
    if isinstance(event, CheckoutDone):
        # The aggregate is the checkout here: the only payment event not about one order.
        return (
            PAYMENT_CHECKOUT_DONE,
            event.checkout_id,
            events_pb2.PaymentCheckoutDone(
                checkout_id=event.checkout_id,
                orders=[
                    events_pb2.CheckoutOrderOutcome(payment_order_id=po, status=status)
                    for po, status in event.orders
                ],
            ),
        )
    if isinstance(event, OrderReleased):
        return (
            PAYMENT_ORDER_RELEASED,
            event.payment_order_id,
            events_pb2.PaymentOrderReleased(
                payment_order_id=event.payment_order_id, seller_account=event.seller_account
            ),
        )
    if isinstance(event, RefundCreated | RefundSucceeded | RefundFailed):
        return encode_refund_event(event)
    raise TypeError(f"no encoding for {type(event).__name__}")
