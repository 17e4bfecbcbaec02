"""The PspWebhookService gRPC servicer: a Stripe webhook delivery, forwarded untouched by the
gateway, verified here (the secret never leaves this service) and applied."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from mesh.errors import RETRY_AFTER_KEY, FieldViolation, ServiceError, invalid_argument
from payment_svc.adapters.stripe_webhooks import InvalidWebhook, verify_stripe_event
from payment_svc.entrypoints.grpc_servicer import RETRY_AFTER_S, unavailable_as_status
from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory
from payment_svc.service_layer.psp_events import OrderBusy, WebhookResult, apply_psp_event
from paymesh.payment.v1 import psp_webhooks_pb2, psp_webhooks_pb2_grpc

SERVICE_NAME = "paymesh.payment.v1.PspWebhookService"

OUTCOME_TO_PROTO = {
    WebhookResult.APPLIED: psp_webhooks_pb2.WEBHOOK_OUTCOME_APPLIED,
    WebhookResult.DUPLICATE: psp_webhooks_pb2.WEBHOOK_OUTCOME_DUPLICATE,
    WebhookResult.IGNORED: psp_webhooks_pb2.WEBHOOK_OUTCOME_IGNORED,
}


@dataclass
class PspWebhookServicer(psp_webhooks_pb2_grpc.PspWebhookServiceServicer):
    uow: UnitOfWorkFactory
    clock: Clock
    webhook_secret: str

    async def HandleStripeWebhook(
        self,
        request: psp_webhooks_pb2.HandleStripeWebhookRequest,
        context: grpc.aio.ServicerContext,
    ) -> psp_webhooks_pb2.HandleStripeWebhookResponse:
        try:
            event = verify_stripe_event(request.payload, request.signature, self.webhook_secret)
        except InvalidWebhook as err:
            raise invalid_argument(
                [FieldViolation("Stripe-Signature", "webhook_signature", str(err))],
                "WEBHOOK_SIGNATURE_INVALID",
            ) from None
        with unavailable_as_status():
            try:
                result = await apply_psp_event(event, uow=self.uow, clock=self.clock)
            except OrderBusy:
                raise ServiceError(
                    grpc.StatusCode.UNAVAILABLE,
                    "ORDER_BUSY",
                    "the payment order is being updated; deliver the event again",
                    metadata={RETRY_AFTER_KEY: RETRY_AFTER_S},
                ) from None
        return psp_webhooks_pb2.HandleStripeWebhookResponse(
            event_id=event.event_id, outcome=OUTCOME_TO_PROTO[result]
        )
