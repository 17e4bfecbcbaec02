"""Mesh events (paymesh.events.v1) → what the marketplace is told: the webhook event type and
its `data`. Money stays a decimal string with its currency; nothing internal (fees' ledger
accounts, inbox ids) leaks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from google.protobuf.message import Message

from mesh.consuming import event_id, open_envelope
from mesh.jetstream import Poison
from notify_svc.domain.event_types import TYPE_OF_SUBJECT
from notify_svc.domain.webhook_event import WebhookEvent, message_id
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2


def _money(value: money_pb2.Money) -> dict[str, str]:
    return {"amount": value.amount, "currency": value.currency}


def _order_succeeded(e: events_pb2.PaymentOrderSucceeded) -> dict[str, object]:
    return {
        "payment_order_id": e.payment_order_id,
        "checkout_id": e.checkout_id,
        "seller_account": e.seller_account,
        "amount": _money(e.amount),
        "fee": _money(e.fee),
        "psp_reference": e.psp_reference,
        "status": "SUCCESS",
    }


def _order_failed(e: events_pb2.PaymentOrderFailed) -> dict[str, object]:
    return {
        "payment_order_id": e.payment_order_id,
        "checkout_id": e.checkout_id,
        "reason": e.reason,
        "status": "FAILED",
    }


def _order_pending(e: events_pb2.PaymentOrderPending) -> dict[str, object]:
    return {
        "payment_order_id": e.payment_order_id,
        "checkout_id": e.checkout_id,
        "reason": e.reason,
        "status": "PENDING",
    }


def _checkout_done(e: events_pb2.PaymentCheckoutDone) -> dict[str, object]:
    return {
        "checkout_id": e.checkout_id,
        "is_payment_done": True,
        "orders": [{"payment_order_id": o.payment_order_id, "status": o.status} for o in e.orders],
    }


def _refund_pending(e: events_pb2.PaymentRefundCreated) -> dict[str, object]:
    return {"refund_id": e.refund_id, "payment_order_id": e.payment_order_id, "status": "PENDING"}


def _refund_succeeded(e: events_pb2.PaymentRefundSucceeded) -> dict[str, object]:
    return {
        "refund_id": e.refund_id,
        "payment_order_id": e.payment_order_id,
        "seller_account": e.seller_account,
        "amount": _money(e.amount),
        "fee_refunded": _money(e.fee_refunded),
        "psp_reference": e.psp_reference,
        "status": "SUCCEEDED",
    }


def _refund_failed(e: events_pb2.PaymentRefundFailed) -> dict[str, object]:
    return {
        "refund_id": e.refund_id,
        "payment_order_id": e.payment_order_id,
        "reason": e.reason,
        "status": "FAILED",
    }


def _payout_paid(e: events_pb2.PayoutPaid) -> dict[str, object]:
    return {
        "payout_id": e.payout_id,
        "seller_account": e.seller_account,
        "amount": _money(e.amount),
        "provider_reference": e.provider_reference,
        "status": "PAID",
    }


def _payout_failed(e: events_pb2.PayoutFailed) -> dict[str, object]:
    return {
        "payout_id": e.payout_id,
        "seller_account": e.seller_account,
        "amount": _money(e.amount) if e.HasField("amount") else None,
        "status": e.status,
        "reason": e.reason,
        "returned": e.returned,
    }


def _mismatch_opened(e: events_pb2.ReconMismatchOpened) -> dict[str, object]:
    return {
        "mismatch_id": e.mismatch_id,
        "type": e.type,
        "detail": e.detail,
        "class": e.mismatch_class,
        "amount": _money(e.amount) if e.HasField("amount") else None,
        "run_id": e.run_id,
        "suggested_action": e.suggested_action,
        "period": e.period,
    }


# Subject -> (payload type, its `data`). Every subject of TYPE_OF_SUBJECT has one.
_TRANSLATIONS: dict[str, tuple[type[Message], Callable[..., dict[str, object]]]] = {
    "payment.order.succeeded": (events_pb2.PaymentOrderSucceeded, _order_succeeded),
    "payment.order.failed": (events_pb2.PaymentOrderFailed, _order_failed),
    "payment.order.pending": (events_pb2.PaymentOrderPending, _order_pending),
    "payment.checkout.done": (events_pb2.PaymentCheckoutDone, _checkout_done),
    "payment.refund.created": (events_pb2.PaymentRefundCreated, _refund_pending),
    "payment.refund.succeeded": (events_pb2.PaymentRefundSucceeded, _refund_succeeded),
    "payment.refund.failed": (events_pb2.PaymentRefundFailed, _refund_failed),
    "payout.paid": (events_pb2.PayoutPaid, _payout_paid),
    "payout.failed": (events_pb2.PayoutFailed, _payout_failed),
    "recon.mismatch.opened": (events_pb2.ReconMismatchOpened, _mismatch_opened),
}


def to_webhook_event(envelope: events_pb2.Envelope) -> WebhookEvent | None:
    """The webhook event a mesh event makes; None for one the marketplace is not told about;
    `Poison` for one that cannot be read."""
    event_type = TYPE_OF_SUBJECT.get(envelope.event_type)
    if event_type is None:
        return None
    payload_type, data = _TRANSLATIONS[envelope.event_type]
    payload = open_envelope(envelope, envelope.event_type, payload_type)
    source = event_id(envelope)
    if not envelope.HasField("occurred_at"):
        raise Poison("occurred_at is required")
    return WebhookEvent(
        event_id=message_id(source),
        event_type=event_type,
        occurred_at=envelope.occurred_at.ToDatetime(tzinfo=UTC),
        data=data(payload),
        source_event_id=source,
    )
