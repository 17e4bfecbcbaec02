"""PSP webhook deliveries counted by event type and result, as payment_svc's servicer sees them
(on the in-memory unit of work): applied-or-ignored, a redelivery as duplicate, a bad signature,
and a type nobody listed kept bounded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from stripe_events import sign, stripe_event

from mesh.errors import ServiceError
from payment_svc.entrypoints.webhook_servicer import PspWebhookServicer
from payment_svc.service_layer.fake_uow import FakeStore
from paymesh.payment.v1 import psp_webhooks_pb2

pytestmark = pytest.mark.unit

SECRET = "whsec_metrics"
SUCCEEDED = "payment_intent.succeeded"


def count(type_: str, result: str) -> float:
    return (
        REGISTRY.get_sample_value("paymesh_psp_webhooks_total", {"type": type_, "result": result})
        or 0.0
    )


def delivery(payload: bytes, secret: str = SECRET) -> psp_webhooks_pb2.HandleStripeWebhookRequest:
    return psp_webhooks_pb2.HandleStripeWebhookRequest(
        payload=payload, signature=sign(payload, secret)
    )


async def test_deliveries_are_counted_by_type_and_result() -> None:
    servicer = PspWebhookServicer(FakeStore().uow, lambda: datetime.now(UTC), SECRET)
    before = {
        "ignored": count(SUCCEEDED, "ignored"),
        "duplicate": count(SUCCEEDED, "duplicate"),
        "invalid": count("unknown", "invalid_signature"),
    }
    # About an order paymesh does not know: kept for audit, changes nothing.
    payload = stripe_event(SUCCEEDED, event_id="evt_metrics_1", order_id="po_unknown")
    first = await servicer.HandleStripeWebhook(delivery(payload), None)
    again = await servicer.HandleStripeWebhook(delivery(payload), None)
    assert first.outcome == psp_webhooks_pb2.WEBHOOK_OUTCOME_IGNORED
    assert again.outcome == psp_webhooks_pb2.WEBHOOK_OUTCOME_DUPLICATE
    with pytest.raises(ServiceError):
        await servicer.HandleStripeWebhook(delivery(payload, "whsec_someone_else"), None)

    assert count(SUCCEEDED, "ignored") == before["ignored"] + 1
    assert count(SUCCEEDED, "duplicate") == before["duplicate"] + 1
    assert count("unknown", "invalid_signature") == before["invalid"] + 1


async def test_an_odd_event_type_does_not_become_a_label() -> None:
    servicer = PspWebhookServicer(FakeStore().uow, lambda: datetime.now(UTC), SECRET)
    payload = stripe_event("Customer Created; DROP", event_id="evt_metrics_2")
    before = count("other", "ignored")
    await servicer.HandleStripeWebhook(delivery(payload), None)
    assert count("other", "ignored") == before + 1
