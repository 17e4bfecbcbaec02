"""PSP webhooks into the payment service over real gRPC and PostgreSQL: verified, kept for audit
in `psp_events`, applied once, and a bad signature leaves no trace."""

from __future__ import annotations

import grpc
import pytest
import test_payment_svc
from stripe_events import sign, stripe_event
from test_payment_svc import (
    FAILED,
    Env,
    assert_invariants,
    create_request,
    eventually,
    get_checkout,
    scalar,
)

from payment_svc.settings import DEFAULT_WEBHOOK_SECRET
from paymesh.payment.v1 import payment_pb2, psp_webhooks_pb2, psp_webhooks_pb2_grpc

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

env = test_payment_svc.env  # the payment service in-process, as its own tests have it
PENDING = payment_pb2.PAYMENT_ORDER_STATUS_PENDING


async def deliver(
    e: Env, payload: bytes, signature: str
) -> psp_webhooks_pb2.HandleStripeWebhookResponse:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{e.service.grpc_port}")
    try:
        stub = psp_webhooks_pb2_grpc.PspWebhookServiceStub(channel)
        return await stub.HandleStripeWebhook(
            psp_webhooks_pb2.HandleStripeWebhookRequest(payload=payload, signature=signature),
            timeout=10,
        )
    finally:
        await channel.close()


async def test_a_failure_webhook_settles_a_pending_order_once(env: Env) -> None:
    request = create_request(payment_method="pm_card_threeDSecure2Required", amounts=("20.00",))
    await env.stub.CreatePayment(request, timeout=10)
    checkout = await eventually(
        lambda: get_checkout(env, request.checkout_id),
        lambda c: c.payment_orders[0].status == PENDING,
        "the order to wait for 3-D Secure",
    )
    order = checkout.payment_orders[0]
    payload = stripe_event(
        "payment_intent.payment_failed",
        event_id="evt_it_1",
        order_id=order.payment_order_id,
        intent_id=order.psp_reference,
        status="requires_payment_method",
        decline_code="authentication_required",
        amount=2000,
    )

    with pytest.raises(grpc.aio.AioRpcError) as forged:
        await deliver(env, payload, sign(payload, secret="whsec_forged"))
    first = await deliver(env, payload, sign(payload, secret=DEFAULT_WEBHOOK_SECRET))
    again = await deliver(env, payload, sign(payload, secret=DEFAULT_WEBHOOK_SECRET))

    assert forged.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert first.outcome == psp_webhooks_pb2.WEBHOOK_OUTCOME_APPLIED
    assert again.outcome == psp_webhooks_pb2.WEBHOOK_OUTCOME_DUPLICATE
    done = await get_checkout(env, request.checkout_id)
    assert (done.payment_orders[0].status, done.payment_orders[0].failure_reason) == (
        FAILED,
        "authentication_required",
    )
    assert done.is_payment_done
    assert await scalar(env, "SELECT count(*) FROM psp_events") == 1
    assert await scalar(env, "SELECT result FROM psp_events") == "applied: FAILED"
    await assert_invariants(env)


@pytest.mark.parametrize(
    "forged",
    [{"amount": 1}, {"currency": "eur"}, {"intent_id": "pi_forged"}],
    ids=["another amount", "another currency", "another intent"],
)
async def test_a_signed_event_that_disagrees_with_the_order_settles_nothing(
    env: Env, forged: dict[str, object]
) -> None:
    request = create_request(payment_method="pm_card_threeDSecure2Required", amounts=("20.00",))
    await env.stub.CreatePayment(request, timeout=10)
    checkout = await eventually(
        lambda: get_checkout(env, request.checkout_id),
        lambda c: c.payment_orders[0].status == PENDING,
        "the order to wait for 3-D Secure",
    )
    order = checkout.payment_orders[0]
    fields = {"order_id": order.payment_order_id, "intent_id": order.psp_reference, "amount": 2000}
    payload = stripe_event(
        "payment_intent.succeeded",
        event_id="evt_forged",
        **{**fields, **forged},  # type: ignore[arg-type]
    )

    answer = await deliver(env, payload, sign(payload, secret=DEFAULT_WEBHOOK_SECRET))

    assert answer.outcome == psp_webhooks_pb2.WEBHOOK_OUTCOME_MISMATCH
    assert answer.detail.startswith("mismatch: ")
    still = await get_checkout(env, request.checkout_id)
    assert still.payment_orders[0].status == PENDING
    assert not still.payment_orders[0].wallet_updated
    assert str(await scalar(env, "SELECT result FROM psp_events")).startswith("mismatch: ")
    await assert_invariants(env)  # among them: no payment.order.succeeded for an unpaid order


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (stripe_event("payment_intent.succeeded", event_id="evt_x", intent_id=""), "no id"),
        (
            b'{"id": "evt_x", "type": "payment_intent.succeeded", "created": 1, "data": 7}',
            "`data.object` is missing",
        ),
        (
            stripe_event("payment_intent.succeeded", event_id="evt_x", created=4_000_000_000),
            "ahead of our clock",
        ),
        (
            stripe_event("payment_intent.succeeded", event_id="evt_x", order_id="po_\x00"),
            "NUL character",
        ),
    ],
    ids=["no intent id", "malformed data", "from the future", "a NUL byte"],
)
async def test_a_refused_event_is_400_and_kept_for_audit(
    env: Env, payload: bytes, why: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await deliver(env, payload, sign(payload, secret=DEFAULT_WEBHOOK_SECRET))

    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert why in str(refused.value.details())
    assert await scalar(env, "SELECT event_id FROM psp_events") == "evt_x"
    assert why in str(await scalar(env, "SELECT result FROM psp_events"))
