"""Refund domain events → `paymesh.events.v1` messages, for the outbox. The aggregate of a
refund event is the refund."""

from __future__ import annotations

from google.protobuf.message import Message

from mesh.events import PAYMENT_REFUND_CREATED, PAYMENT_REFUND_FAILED, PAYMENT_REFUND_SUCCEEDED
from mesh.money import format_amount
from payment_svc.domain.refund_events import RefundCreated, RefundFailed, RefundSucceeded
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2

RefundEvent = RefundCreated | RefundSucceeded | RefundFailed


def encode_refund_event(event: RefundEvent) -> tuple[str, str, Message]:
    """(subject, aggregate id, payload)."""
    if isinstance(event, RefundCreated):
        return (
            PAYMENT_REFUND_CREATED,
            event.refund_id,
            events_pb2.PaymentRefundCreated(
                refund_id=event.refund_id, payment_order_id=event.payment_order_id
            ),
        )
    if isinstance(event, RefundSucceeded):
        return (
            PAYMENT_REFUND_SUCCEEDED,
            event.refund_id,
            events_pb2.PaymentRefundSucceeded(
                refund_id=event.refund_id,
                payment_order_id=event.payment_order_id,
                seller_account=event.seller_account,
                amount=money_pb2.Money(
                    amount=format_amount(event.amount, event.currency), currency=event.currency
                ),
                fee_refunded=money_pb2.Money(
                    amount=format_amount(event.fee_refunded, event.currency),
                    currency=event.currency,
                ),
                psp_reference=event.psp_reference,
            ),
        )
    return (
        PAYMENT_REFUND_FAILED,
        event.refund_id,
        events_pb2.PaymentRefundFailed(
            refund_id=event.refund_id, payment_order_id=event.payment_order_id, reason=event.reason
        ),
    )
