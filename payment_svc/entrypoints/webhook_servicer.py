"""The PspWebhookService gRPC servicer: a Stripe webhook delivery, forwarded untouched by the
gateway, verified here (the secret never leaves this service) and applied."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import grpc

from mesh.errors import RETRY_AFTER_KEY, Code, FieldViolation, ServiceError, invalid_argument
from mesh.metrics import PSP_WEBHOOKS, BoundedLabel, Children
from payment_svc.adapters.stripe_webhooks import CHARGE_EVENTS, InvalidWebhook, verify_stripe_event
from payment_svc.entrypoints.grpc_servicer import RETRY_AFTER_S, unavailable_as_status
from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory
from payment_svc.service_layer.psp_events import (
    DEFAULT_MAX_FUTURE,
    OrderBusy,
    WebhookResult,
    apply_psp_event,
)
from paymesh.payment.v1 import psp_webhooks_pb2, psp_webhooks_pb2_grpc

SERVICE_NAME = "paymesh.payment.v1.PspWebhookService"

# Deliveries by event type and result (mesh.metrics); the types a PSP may send are many, the
# ones paymesh acts on few.
_webhooks = Children(PSP_WEBHOOKS)
_event_type = BoundedLabel(CHARGE_EVENTS, limit=40)

OUTCOME_TO_PROTO = {
    WebhookResult.APPLIED: psp_webhooks_pb2.WEBHOOK_OUTCOME_APPLIED,
    WebhookResult.DUPLICATE: psp_webhooks_pb2.WEBHOOK_OUTCOME_DUPLICATE,
    WebhookResult.IGNORED: psp_webhooks_pb2.WEBHOOK_OUTCOME_IGNORED,
    # A 2xx: the event is genuine and stored; a 4xx would have the PSP deliver it again for
    # days, and no delivery of the same event can ever match (ADR 0003).
    WebhookResult.MISMATCH: psp_webhooks_pb2.WEBHOOK_OUTCOME_MISMATCH,
}


@contextmanager
def _counted_errors(event_type: str) -> Iterator[None]:
    """A delivery that failed other than by a busy order (the database away, a bug): `error`."""
    try:
        yield
    except ServiceError:
        raise
    except Exception:
        _webhooks(event_type, "error").inc()
        raise


@dataclass
class PspWebhookServicer(psp_webhooks_pb2_grpc.PspWebhookServiceServicer):
    uow: UnitOfWorkFactory
    clock: Clock
    webhook_secret: str = field(repr=False)
    max_future: timedelta = DEFAULT_MAX_FUTURE

    async def HandleStripeWebhook(
        self,
        request: psp_webhooks_pb2.HandleStripeWebhookRequest,
        context: grpc.aio.ServicerContext,
    ) -> psp_webhooks_pb2.HandleStripeWebhookResponse:
        try:
            event = verify_stripe_event(request.payload, request.signature, self.webhook_secret)
        except InvalidWebhook as err:
            _webhooks("unknown", "invalid_signature").inc()
            raise invalid_argument(
                [FieldViolation("Stripe-Signature", "webhook_signature", str(err))],
                "WEBHOOK_SIGNATURE_INVALID",
            ) from None
        event_type = _event_type(event.type)
        with unavailable_as_status(), _counted_errors(event_type):
            try:
                result, note = await apply_psp_event(
                    event, uow=self.uow, clock=self.clock, max_future=self.max_future
                )
            except OrderBusy:
                _webhooks(event_type, "busy").inc()
                raise ServiceError(
                    Code.UNAVAILABLE,
                    "ORDER_BUSY",
                    "the payment order is being updated; deliver the event again",
                    metadata={RETRY_AFTER_KEY: RETRY_AFTER_S},
                ) from None
        _webhooks(event_type, result.name.lower()).inc()
        if result is WebhookResult.REFUSED:
            # Stored for audit; a client mistake (the sender's), so a 400, never a 500.
            raise invalid_argument(
                [FieldViolation("payload", "webhook_event", note)], "WEBHOOK_EVENT_REFUSED"
            )
        return psp_webhooks_pb2.HandleStripeWebhookResponse(
            event_id=event.event_id, outcome=OUTCOME_TO_PROTO[result], detail=note
        )
