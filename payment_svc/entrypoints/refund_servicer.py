"""The RefundService gRPC servicer (served by the payment service). Requests arrive validated;
errors leave as ServiceError, which the interceptor maps."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from mesh.errors import Code, ServiceError
from mesh.grpc_server import mark_replayed
from mesh.money import format_amount
from payment_svc.domain.duplicate_charges import ChargeRefunds
from payment_svc.domain.psp import PaymentProvider
from payment_svc.domain.psp_refunds import RefundOutcomeStatus
from payment_svc.entrypoints.grpc_servicer import caller_scope, unavailable_as_status
from payment_svc.entrypoints.refund_mapping import (
    create_refund_command,
    refund_to_proto,
    render_create_refund_response,
)
from payment_svc.service_layer.duplicate_charges import refund_duplicate_charge
from payment_svc.service_layer.idempotency import IdempotencyPolicy
from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory
from payment_svc.service_layer.refunds import create_refund, get_refund
from payment_svc.service_layer.settle_from_psp import settle_refund_from_psp
from paymesh.payment.v1 import refunds_pb2, refunds_pb2_grpc

SERVICE_NAME = "paymesh.payment.v1.RefundService"


@dataclass
class RefundServicer(refunds_pb2_grpc.RefundServiceServicer):
    uow: UnitOfWorkFactory
    clock: Clock
    idempotency: IdempotencyPolicy = field(default_factory=IdempotencyPolicy)
    psp: PaymentProvider | None = None  # asked whether it would take a refund's amount
    charge_refunds: ChargeRefunds | None = None  # gives back a duplicate charge

    async def CreateRefund(
        self,
        request: refunds_pb2.CreateRefundRequest,
        context: grpc.aio.ServicerContext,
    ) -> refunds_pb2.CreateRefundResponse:
        with unavailable_as_status():
            result = await create_refund(
                create_refund_command(request, scope=caller_scope(context)),
                uow=self.uow,
                render=render_create_refund_response,
                clock=self.clock,
                policy=self.idempotency,
                psp=self.psp,
            )
        if result.replayed:
            mark_replayed(context)
        return refunds_pb2.CreateRefundResponse.FromString(result.response)

    async def GetRefund(
        self,
        request: refunds_pb2.GetRefundRequest,
        context: grpc.aio.ServicerContext,
    ) -> refunds_pb2.GetRefundResponse:
        with unavailable_as_status():
            refund = await get_refund(request.refund_id, uow=self.uow)
        return refunds_pb2.GetRefundResponse(refund=refund_to_proto(refund))

    async def SettleRefund(
        self,
        request: refunds_pb2.SettleRefundRequest,
        context: grpc.aio.ServicerContext,
    ) -> refunds_pb2.SettleRefundResponse:
        if self.psp is None:
            raise ServiceError(Code.UNIMPLEMENTED, "NO_PSP", "no PSP to ask")
        with unavailable_as_status():
            status = await settle_refund_from_psp(
                request.refund_id, uow=self.uow, psp=self.psp, clock=self.clock
            )
        return refunds_pb2.SettleRefundResponse(
            status=getattr(refunds_pb2, f"REFUND_STATUS_{status.value}")
        )

    async def RefundDuplicateCharge(
        self,
        request: refunds_pb2.RefundDuplicateChargeRequest,
        context: grpc.aio.ServicerContext,
    ) -> refunds_pb2.RefundDuplicateChargeResponse:
        if self.charge_refunds is None:
            raise ServiceError(Code.UNIMPLEMENTED, "NO_PSP", "no PSP to ask")
        with unavailable_as_status():
            done = await refund_duplicate_charge(
                request.request_id,
                request.payment_order_id,
                request.psp_charge_id,
                uow=self.uow,
                psp=self.charge_refunds,
            )
        refund = done.refund
        return refunds_pb2.RefundDuplicateChargeResponse(
            psp_refund_id=refund.outcome.psp_reference,
            status=_CHARGE_REFUND_STATUS[refund.outcome.status],
            amount=format_amount(refund.amount, refund.currency),
            currency=refund.currency,
            psp_charge_id=done.charge_id,
        )


_CHARGE_REFUND_STATUS = {
    RefundOutcomeStatus.SUCCEEDED: refunds_pb2.REFUND_STATUS_SUCCEEDED,
    RefundOutcomeStatus.PENDING: refunds_pb2.REFUND_STATUS_PENDING,
    RefundOutcomeStatus.FAILED: refunds_pb2.REFUND_STATUS_FAILED,
}
