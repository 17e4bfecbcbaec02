"""POST /v1/webhooks/stripe through the gateway to the real webhook servicer over gRPC, with the
payment service's in-memory store behind it: the body reaches the verifier byte for byte, no API
key is needed, a bad signature is a 400 that stores nothing, and a redelivery is acknowledged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from test_gateway_http import PAYMENT, FakeVerifier, db_ok
from test_payment_use_cases import Clock
from test_psp_events import SECRET, pending_order, sign, stripe_event

from gateway.app import create_app
from gateway.settings import GatewaySettings
from mesh.grpc_server import GrpcServer
from payment_svc.entrypoints.webhook_servicer import SERVICE_NAME, PspWebhookServicer
from payment_svc.service_layer.fake_uow import FakeStore
from paymesh.payment.v1 import psp_webhooks_pb2_grpc

pytestmark = pytest.mark.unit

PATH = "/v1/webhooks/stripe"


@pytest.fixture
async def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
async def client(store: FakeStore) -> AsyncIterator[httpx.AsyncClient]:
    clock = Clock()
    await pending_order(store, clock)
    server = GrpcServer(
        "127.0.0.1:0",
        [
            (
                psp_webhooks_pb2_grpc.add_PspWebhookServiceServicer_to_server,
                PspWebhookServicer(store.uow, clock, SECRET),
                SERVICE_NAME,
            )
        ],
    )
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    app = create_app(
        GatewaySettings(), channels={PAYMENT: channel}, verifier=FakeVerifier(), db_check=db_ok
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as c:
            yield c
    finally:
        await channel.close()
        await server.stop(0)


async def test_a_signed_event_is_applied_and_a_redelivery_acknowledged(
    client: httpx.AsyncClient, store: FakeStore
) -> None:
    reference = store.state.orders["po_1"].psp_reference
    payload = stripe_event("payment_intent.succeeded", intent_id=reference)
    headers = {"Stripe-Signature": sign(payload), "Content-Type": "application/json"}

    first = await client.post(PATH, content=payload, headers=headers)
    again = await client.post(PATH, content=payload, headers=headers)

    assert (first.status_code, first.json()) == (
        200,
        {
            "received": True,
            "event_id": "evt_1",
            "outcome": "WEBHOOK_OUTCOME_APPLIED",
            "detail": "applied: SUCCESS",
        },
    )
    assert (again.status_code, again.json()["outcome"]) == (200, "WEBHOOK_OUTCOME_DUPLICATE")
    assert store.state.orders["po_1"].status.value == "SUCCESS"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda p: {"Stripe-Signature": sign(p, secret="whsec_wrong")}, id="wrong"),
        pytest.param(lambda p: {"Stripe-Signature": sign(p, at=1_600_000_000)}, id="stale"),
        pytest.param(lambda p: {}, id="missing"),
    ],
)
async def test_a_bad_signature_is_400_and_stores_nothing(
    client: httpx.AsyncClient, store: FakeStore, headers
) -> None:  # type: ignore[no-untyped-def]
    payload = stripe_event("payment_intent.succeeded")

    response = await client.post(PATH, content=payload, headers=headers(payload))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["details"][0]["reason"] == "WEBHOOK_SIGNATURE_INVALID"
    assert store.state.psp_events == {}
    assert store.state.orders["po_1"].status.value == "PENDING"


async def test_a_signed_event_for_another_amount_is_200_mismatch_and_settles_nothing(
    client: httpx.AsyncClient, store: FakeStore
) -> None:
    reference = store.state.orders["po_1"].psp_reference
    payload = stripe_event("payment_intent.succeeded", intent_id=reference, amount=1)

    response = await client.post(PATH, content=payload, headers={"Stripe-Signature": sign(payload)})

    assert (response.status_code, response.json()["outcome"]) == (200, "WEBHOOK_OUTCOME_MISMATCH")
    assert store.state.orders["po_1"].status.value == "PENDING"
    assert store.state.psp_events["evt_1"][1].startswith("mismatch: amount 0.01")


async def test_a_signed_event_without_an_intent_id_is_400_and_kept_for_audit(
    client: httpx.AsyncClient, store: FakeStore
) -> None:
    payload = stripe_event("payment_intent.succeeded", intent_id="")

    response = await client.post(PATH, content=payload, headers={"Stripe-Signature": sign(payload)})

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["reason"] == "WEBHOOK_EVENT_REFUSED"
    assert store.state.psp_events["evt_1"][1] == "refused: the payment intent has no id"
    assert store.state.orders["po_1"].status.value == "PENDING"
