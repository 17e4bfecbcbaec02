"""Refund protos ↔ domain."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mesh.money import format_amount
from payment_svc.domain.refund import Refund, RefundStatus
from payment_svc.entrypoints.mapping import request_hash
from payment_svc.service_layer.refunds import CreateRefund
from paymesh.payment.v1 import refunds_pb2

REFUND_STATUS_TO_PROTO: dict[RefundStatus, int] = {
    RefundStatus.PENDING: refunds_pb2.REFUND_STATUS_PENDING,
    RefundStatus.SUCCEEDED: refunds_pb2.REFUND_STATUS_SUCCEEDED,
    RefundStatus.FAILED: refunds_pb2.REFUND_STATUS_FAILED,
}


def create_refund_command(
    request: refunds_pb2.CreateRefundRequest, scope: str = ""
) -> CreateRefund:
    """The command of a request the validator has already accepted, from the caller `scope`."""
    return CreateRefund(
        scope=scope,
        request_id=request.request_id.lower(),
        request_hash=request_hash(request),
        payment_order_id=request.payment_order_id,
        amount=request.amount,
    )


def _timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def refund_to_proto(refund: Refund) -> refunds_pb2.Refund:
    return refunds_pb2.Refund(
        refund_id=refund.refund_id,
        payment_order_id=refund.payment_order_id,
        amount=format_amount(refund.amount, refund.currency),
        currency=refund.currency,
        fee_refunded=format_amount(refund.fee_refunded, refund.currency),
        status=REFUND_STATUS_TO_PROTO[refund.status],  # type: ignore[arg-type]
        psp_reference=refund.psp_reference,
        failure_reason=refund.failure_reason,
        created_at=_timestamp(refund.created_at),
        updated_at=_timestamp(refund.updated_at),
    )


def render_create_refund_response(refund: Refund) -> bytes:
    """The CreateRefund answer as stored with the idempotency record (and replayed)."""
    response = refunds_pb2.CreateRefundResponse(refund=refund_to_proto(refund))
    return response.SerializeToString(deterministic=True)
