"""The PayoutWebhookService gRPC servicer: a Stripe Connect webhook delivery, forwarded untouched
by the gateway, verified here with the Connect endpoint's secret (which never leaves this
service) and applied to its payout."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import grpc

from mesh.errors import FieldViolation, invalid_argument
from paymesh.payout.v1 import payout_webhooks_pb2, payout_webhooks_pb2_grpc
from payout_svc.adapters.stripe_connect_webhooks import InvalidWebhook, verify_connect_event
from payout_svc.service_layer.payouts import NewUow
from payout_svc.service_layer.ports import Clock, Holds
from payout_svc.service_layer.provider_events import (
    DEFAULT_MAX_FUTURE,
    WebhookResult,
    apply_provider_event,
)

SERVICE_NAME = "paymesh.payout.v1.PayoutWebhookService"
log = logging.getLogger(__name__)

_OUTCOME = {
    WebhookResult.APPLIED: payout_webhooks_pb2.PAYOUT_WEBHOOK_OUTCOME_APPLIED,
    WebhookResult.DUPLICATE: payout_webhooks_pb2.PAYOUT_WEBHOOK_OUTCOME_DUPLICATE,
    WebhookResult.IGNORED: payout_webhooks_pb2.PAYOUT_WEBHOOK_OUTCOME_IGNORED,
    # A 2xx: genuine, and no redelivery of the same event can ever match (ADR 0003).
    WebhookResult.MISMATCH: payout_webhooks_pb2.PAYOUT_WEBHOOK_OUTCOME_MISMATCH,
}


@dataclass
class PayoutWebhookServicer(payout_webhooks_pb2_grpc.PayoutWebhookServiceServicer):
    new_uow: NewUow
    holds: Holds
    clock: Clock
    webhook_secret: str = field(repr=False)
    max_future: timedelta = DEFAULT_MAX_FUTURE

    async def HandleStripeConnectWebhook(
        self,
        request: payout_webhooks_pb2.HandleStripeConnectWebhookRequest,
        context: grpc.aio.ServicerContext,
    ) -> payout_webhooks_pb2.HandleStripeConnectWebhookResponse:
        try:
            event = verify_connect_event(request.payload, request.signature, self.webhook_secret)
        except InvalidWebhook as err:
            raise invalid_argument(
                [FieldViolation("Stripe-Signature", "webhook_signature", str(err))],
                "WEBHOOK_SIGNATURE_INVALID",
            ) from None
        result, note = await apply_provider_event(
            self.new_uow, self.holds, self.clock, event, self.max_future
        )
        log.info("provider event %s (%s): %s", event.event_id, event.type, note)
        if result is WebhookResult.REFUSED:
            # Recorded (a redelivery is a duplicate); the sender's mistake: a 400, never a 500.
            raise invalid_argument(
                [FieldViolation("payload", "webhook_event", note)], "WEBHOOK_EVENT_REFUSED"
            )
        return payout_webhooks_pb2.HandleStripeConnectWebhookResponse(
            event_id=event.event_id, outcome=_OUTCOME[result], detail=note
        )
