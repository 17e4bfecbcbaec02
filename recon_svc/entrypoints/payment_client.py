"""The payment service's flows over gRPC (the `PaymentFlows` port): settle an order or a
refund from the PSP's answer (its sweeper's ask-the-PSP path), a refund, and a duplicate
charge given back. Refusals come
back as the ServiceError the payment service raised; a service out of reach as
FlowUnavailable."""

from __future__ import annotations

import uuid
from decimal import Decimal

import grpc

from mesh import tracing
from mesh.grpc_errors import error_from_call
from mesh.money import format_amount
from mesh.tls import TlsFiles, secure_channel
from paymesh.payment.v1 import payment_pb2, payment_pb2_grpc, refunds_pb2, refunds_pb2_grpc
from recon_svc.service_layer.ports import ChargeGivenBack, FlowUnavailable, PaymentFlows

_UNAVAILABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def payment_channel(address: str, tls: TlsFiles | None) -> grpc.aio.Channel:
    """recon's channel to the payment service (mutual TLS as `recon_svc` when the mesh uses
    it; the payment service lets it call, GRPC_ALLOWED_CALLERS)."""
    return secure_channel(address, tls, interceptors=tracing.client_interceptors())


def _refusal(err: grpc.aio.AioRpcError) -> Exception:
    if err.code() in _UNAVAILABLE:
        return FlowUnavailable(str(err.details()))
    return error_from_call(err)


_ORDER_STATUS = {
    v.number: v.name.removeprefix("PAYMENT_ORDER_STATUS_")
    for v in payment_pb2.PaymentOrderStatus.DESCRIPTOR.values
}
_REFUND_STATUS = {
    v.number: v.name.removeprefix("REFUND_STATUS_")
    for v in refunds_pb2.RefundStatus.DESCRIPTOR.values
}


class GrpcPaymentFlows(PaymentFlows):
    def __init__(self, channel: grpc.aio.Channel, timeout_s: float = 30.0) -> None:
        self.payments = payment_pb2_grpc.PaymentServiceStub(channel)
        self.refunds = refunds_pb2_grpc.RefundServiceStub(channel)
        self.timeout_s = timeout_s

    async def _call(self, method, request):  # type: ignore[no-untyped-def]
        try:
            return await method(request, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as err:
            raise _refusal(err) from None

    async def settle_order(self, payment_order_id: str) -> str:
        reply = await self._call(
            self.payments.SettlePaymentOrder,
            payment_pb2.SettlePaymentOrderRequest(
                request_id=str(uuid.uuid4()), payment_order_id=payment_order_id
            ),
        )
        return _ORDER_STATUS.get(reply.status, "")

    async def settle_refund(self, refund_id: str) -> str:
        reply = await self._call(
            self.refunds.SettleRefund,
            refunds_pb2.SettleRefundRequest(request_id=str(uuid.uuid4()), refund_id=refund_id),
        )
        return _REFUND_STATUS.get(reply.status, "")

    async def refund(
        self, request_id: str, payment_order_id: str, amount: Decimal, currency: str
    ) -> str:
        reply = await self._call(
            self.refunds.CreateRefund,
            refunds_pb2.CreateRefundRequest(
                request_id=request_id,
                payment_order_id=payment_order_id,
                amount=format_amount(amount, currency),
            ),
        )
        return str(reply.refund.refund_id)

    async def refund_duplicate_charge(
        self, request_id: str, payment_order_id: str, psp_charge_id: str
    ) -> ChargeGivenBack:
        reply = await self._call(
            self.refunds.RefundDuplicateCharge,
            refunds_pb2.RefundDuplicateChargeRequest(
                request_id=request_id,
                payment_order_id=payment_order_id,
                psp_charge_id=psp_charge_id,
            ),
        )
        return ChargeGivenBack(
            psp_refund_id=reply.psp_refund_id,
            succeeded=reply.status == refunds_pb2.REFUND_STATUS_SUCCEEDED,
            amount=Decimal(reply.amount),
            currency=reply.currency,
            psp_charge_id=reply.psp_charge_id,
        )
