"""The PaymentService gRPC servicer. Requests arrive validated (mesh.grpc_server runs the
contract's rules first); errors leave as ServiceError, which the interceptor maps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import grpc

from mesh.errors import RETRY_AFTER_KEY, Code, ServiceError
from mesh.grpc_server import current_caller, mark_replayed
from payment_svc.domain.psp import PaymentProvider, PspUnavailable
from payment_svc.domain.risk import RiskCheck
from payment_svc.entrypoints.mapping import (
    checkout_to_proto,
    create_command,
    order_to_proto,
    render_create_response,
)
from payment_svc.entrypoints.risk_mapping import may_see_risk, risk_decision_to_proto
from payment_svc.service_layer.create_payment import IdempotencyPolicy, create_payment
from payment_svc.service_layer.erasure import erase_personal_data
from payment_svc.service_layer.ports import Clock, StoreUnavailable, UnitOfWorkFactory
from payment_svc.service_layer.queries import get_checkout, get_payment_order, get_risk_decision
from payment_svc.service_layer.release import release_order
from payment_svc.service_layer.settle_from_psp import settle_order_from_psp
from paymesh.payment.v1 import payment_pb2, payment_pb2_grpc

SERVICE_NAME = "paymesh.payment.v1.PaymentService"
RETRY_AFTER_S = "1"


def caller_scope(context: grpc.aio.ServicerContext) -> str:
    """The API key the gateway authenticated (`x-paymesh-key-id`, believed only from the
    gateway's certificate: mesh.grpc_server); idempotency keys live in that key's space.
    Other callers share the space ""."""
    return current_caller().key_id


@contextmanager
def unavailable_as_status() -> Iterator[None]:
    """A database or PSP out of reach is UNAVAILABLE (retry with the same request_id), not
    INTERNAL."""
    try:
        yield
    except StoreUnavailable as err:
        raise ServiceError(
            Code.UNAVAILABLE,
            "UNAVAILABLE",
            "the payment store is unavailable; retry with the same request_id",
            metadata={RETRY_AFTER_KEY: RETRY_AFTER_S},
        ) from err
    except PspUnavailable as err:
        raise ServiceError(
            Code.UNAVAILABLE,
            "PSP_UNAVAILABLE",
            "the payment provider is unavailable; retry with the same request_id",
            metadata={RETRY_AFTER_KEY: RETRY_AFTER_S},
        ) from err


@dataclass
class PaymentServicer(payment_pb2_grpc.PaymentServiceServicer):
    uow: UnitOfWorkFactory
    risk: RiskCheck
    fee_rate: Decimal
    clock: Clock
    idempotency: IdempotencyPolicy = field(default_factory=IdempotencyPolicy)
    psp: PaymentProvider | None = None  # makes the hosted flow's payment pages

    async def CreatePayment(
        self,
        request: payment_pb2.CreatePaymentRequest,
        context: grpc.aio.ServicerContext,
    ) -> payment_pb2.CreatePaymentResponse:
        with unavailable_as_status():
            result = await create_payment(
                create_command(request, scope=caller_scope(context)),
                uow=self.uow,
                risk=self.risk,
                fee_rate=self.fee_rate,
                render=render_create_response,
                clock=self.clock,
                policy=self.idempotency,
                psp=self.psp,
            )
        if result.replayed:
            mark_replayed(context)
        return payment_pb2.CreatePaymentResponse.FromString(result.response)

    async def GetPaymentOrder(
        self,
        request: payment_pb2.GetPaymentOrderRequest,
        context: grpc.aio.ServicerContext,
    ) -> payment_pb2.GetPaymentOrderResponse:
        with unavailable_as_status():
            order = await get_payment_order(request.payment_order_id, uow=self.uow)
        return payment_pb2.GetPaymentOrderResponse(payment_order=order_to_proto(order))

    async def ReleasePaymentOrder(
        self,
        request: payment_pb2.ReleasePaymentOrderRequest,
        context: grpc.aio.ServicerContext,
    ) -> payment_pb2.ReleasePaymentOrderResponse:
        with unavailable_as_status():
            order = await release_order(request.payment_order_id, uow=self.uow)
        return payment_pb2.ReleasePaymentOrderResponse(
            payment_order_id=order.payment_order_id, seller_account=order.seller_account
        )

    async def SettlePaymentOrder(
        self,
        request: payment_pb2.SettlePaymentOrderRequest,
        context: grpc.aio.ServicerContext,
    ) -> payment_pb2.SettlePaymentOrderResponse:
        if self.psp is None:
            raise ServiceError(Code.UNIMPLEMENTED, "NO_PSP", "no PSP to ask")
        with unavailable_as_status():
            status = await settle_order_from_psp(
                request.payment_order_id, uow=self.uow, psp=self.psp, clock=self.clock
            )
        return payment_pb2.SettlePaymentOrderResponse(
            status=getattr(payment_pb2, f"PAYMENT_ORDER_STATUS_{status.value}")
        )

    async def GetCheckout(
        self,
        request: payment_pb2.GetCheckoutRequest,
        context: grpc.aio.ServicerContext,
    ) -> payment_pb2.GetCheckoutResponse:
        with unavailable_as_status():
            checkout = await get_checkout(request.checkout_id, uow=self.uow)
            risk = None
            if may_see_risk(context):
                risk = await get_risk_decision(request.checkout_id, uow=self.uow)
        response = payment_pb2.GetCheckoutResponse(
            checkout=checkout_to_proto(checkout, show_pii=True)
        )
        if risk is not None:
            response.risk_decision.CopyFrom(risk_decision_to_proto(risk))
        return response

    async def ErasePersonalData(
        self,
        request: payment_pb2.ErasePersonalDataRequest,
        context: grpc.aio.ServicerContext,
    ) -> payment_pb2.ErasePersonalDataResponse:
        # No idempotency record: erasing is idempotent by nature, and a stored answer would
        # outlive nothing worth replaying.
        with unavailable_as_status():
            erased = await erase_personal_data(request.buyer_id, uow=self.uow, clock=self.clock)
        return payment_pb2.ErasePersonalDataResponse(
            buyer_id=request.buyer_id, checkouts_erased=erased
        )
