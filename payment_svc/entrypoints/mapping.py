"""Protos ↔ domain for the gRPC API."""

from __future__ import annotations

import hashlib
from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from mesh.money import format_amount, parse_amount
from payment_svc.domain.checkout import Checkout, Flow
from payment_svc.domain.commands import CreatePayment, NewOrder
from payment_svc.domain.order import OrderStatus, PaymentOrder, StatusChange
from paymesh.payment.v1 import payment_pb2

STATUS_TO_PROTO: dict[OrderStatus, int] = {
    OrderStatus.NOT_STARTED: payment_pb2.PAYMENT_ORDER_STATUS_NOT_STARTED,
    OrderStatus.EXECUTING: payment_pb2.PAYMENT_ORDER_STATUS_EXECUTING,
    OrderStatus.PENDING: payment_pb2.PAYMENT_ORDER_STATUS_PENDING,
    OrderStatus.SUCCESS: payment_pb2.PAYMENT_ORDER_STATUS_SUCCESS,
    OrderStatus.FAILED: payment_pb2.PAYMENT_ORDER_STATUS_FAILED,
}


FLOW_TO_PROTO: dict[Flow, int] = {
    Flow.DIRECT: payment_pb2.PAYMENT_FLOW_DIRECT,
    Flow.HOSTED: payment_pb2.PAYMENT_FLOW_HOSTED,
}
FLOW_FROM_PROTO: dict[int, Flow] = {v: k for k, v in FLOW_TO_PROTO.items()}


def request_hash(request: Message) -> str:
    """SHA-256 of the request's type and its deterministic serialization without its
    request_id: the same key sent to another operation, or with another body, differs."""
    body = type(request)()
    body.CopyFrom(request)
    body.ClearField("request_id")
    digest = hashlib.sha256(request.DESCRIPTOR.full_name.encode() + b"\0")
    digest.update(body.SerializeToString(deterministic=True))
    return digest.hexdigest()


def create_command(request: payment_pb2.CreatePaymentRequest, scope: str = "") -> CreatePayment:
    """The command of a request the validator has already accepted, from the caller `scope`."""
    return CreatePayment(
        scope=scope,
        request_id=request.request_id.lower(),
        request_hash=request_hash(request),
        checkout_id=request.checkout_id,
        buyer_id=request.buyer_info.buyer_id,
        buyer_email=request.buyer_info.email,
        buyer_name=request.buyer_info.name,
        payment_method=request.payment_method,
        flow=FLOW_FROM_PROTO.get(request.flow, Flow.DIRECT),
        redirect_url=request.redirect_url,
        orders=tuple(
            NewOrder(
                payment_order_id=o.payment_order_id,
                seller_account=o.seller_account,
                amount=parse_amount(o.amount, o.currency),
                currency=o.currency,
            )
            for o in request.payment_orders
        ),
    )


def _timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def transition_to_proto(change: StatusChange) -> payment_pb2.StatusTransition:
    return payment_pb2.StatusTransition(
        from_status=(
            STATUS_TO_PROTO[change.from_status]  # type: ignore[arg-type]
            if change.from_status
            else payment_pb2.PAYMENT_ORDER_STATUS_UNSPECIFIED
        ),
        to_status=STATUS_TO_PROTO[change.to_status],  # type: ignore[arg-type]
        reason=change.reason,
        occurred_at=_timestamp(change.occurred_at),
    )


# An order whose next try is still to come (a PENDING one waits for the PSP's answer instead).
_WAITING = frozenset({OrderStatus.NOT_STARTED, OrderStatus.EXECUTING})


def order_to_proto(order: PaymentOrder) -> payment_pb2.PaymentOrder:
    return payment_pb2.PaymentOrder(
        payment_order_id=order.payment_order_id,
        checkout_id=order.checkout_id,
        seller_account=order.seller_account,
        amount=format_amount(order.amount, order.currency),
        currency=order.currency,
        fee_amount=format_amount(order.fee_amount, order.currency),
        status=STATUS_TO_PROTO[order.status],  # type: ignore[arg-type]
        wallet_updated=order.wallet_updated,
        ledger_updated=order.ledger_updated,
        psp_reference=order.psp_reference,
        failure_reason=order.failure_reason,
        created_at=_timestamp(order.created_at),
        updated_at=_timestamp(order.updated_at),
        history=[transition_to_proto(c) for c in order.history],
        payment_page_url=order.payment_page_url,
        attempts=order.attempts,
        last_error=order.last_error,
        next_attempt_at=(
            _timestamp(order.next_attempt_at)
            if order.next_attempt_at is not None and order.status in _WAITING
            else None
        ),
    )


def mask_email(email: str) -> str:
    """ "a***@example.com": the first letter and the domain, enough for an operator to recognise
    an address, never the whole of it."""
    local, at, domain = email.partition("@")
    if not email:
        return ""
    return f"{local[:1]}***{at}{domain}" if at else "***"


def checkout_to_proto(checkout: Checkout, *, show_pii: bool = False) -> payment_pb2.Checkout:
    """`show_pii` adds the masked e-mail (GetCheckout); the CreatePayment answer, stored with its
    idempotency key and replayed after an erasure, never carries any."""
    return payment_pb2.Checkout(
        buyer_email_masked=mask_email(checkout.buyer_email) if show_pii else "",
        buyer_pii_erased=checkout.pii_erased,
        checkout_id=checkout.checkout_id,
        buyer_id=checkout.buyer_id,
        is_payment_done=checkout.is_payment_done,
        payment_orders=[order_to_proto(o) for o in checkout.orders],
        created_at=_timestamp(checkout.created_at),
        flow=FLOW_TO_PROTO[checkout.flow],  # type: ignore[arg-type]
        redirect_url=checkout.redirect_url,
    )


def render_create_response(checkout: Checkout) -> bytes:
    """The CreatePayment answer as stored with the idempotency record (and replayed)."""
    response = payment_pb2.CreatePaymentResponse(checkout=checkout_to_proto(checkout))
    return response.SerializeToString(deterministic=True)
