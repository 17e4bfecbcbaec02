"""The notify service for real: its migrations on PostgreSQL, the service started in-process on
NATS JetStream, payment events published to the PAYMENT stream, and a marketplace's receiver
served over HTTP on 127.0.0.1 that verifies every event with the Standard Webhooks reference
library (`standardwebhooks.Webhook.verify`); a reconciliation event is published to the RECON
stream the same way."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import grpc
import pytest
from harness import eventually, new_request_id, started_service, succeeded
from nats.js import JetStreamContext
from receiver import Receiver, running_receiver
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from mesh.events import (
    PAYMENT_CHECKOUT_DONE,
    PAYMENT_ORDER_FAILED,
    RECON_MISMATCH_OPENED,
    new_envelope,
)
from mesh.metrics import MARKETPLACE_ENDPOINTS_DISABLED
from notify_svc.bootstrap import start
from notify_svc.entrypoints.endpoint_alerts import endpoint_watch
from notify_svc.settings import NotifySettings
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2
from paymesh.notify.v1 import notify_pb2, notify_pb2_grpc

pytestmark = pytest.mark.integration

CALLER = [("x-paymesh-key-id", "0000000000000001")]
FAST_RETRIES = (0.2, 0.2, 0.2, 0.2, 0.2)


@dataclass
class Notify:
    stub: notify_pb2_grpc.NotifyServiceStub
    js: JetStreamContext
    receiver: Receiver
    engine: AsyncEngine

    async def register(
        self, name: str, event_types: Sequence[str], request_id: str | None = None
    ) -> notify_pb2.CreateWebhookEndpointResponse:
        return await self.stub.CreateWebhookEndpoint(
            notify_pb2.CreateWebhookEndpointRequest(
                request_id=request_id or new_request_id(),
                url=self.receiver.url(name),
                event_types=list(event_types),
                description=f"the {name} test endpoint",
            ),
            metadata=CALLER,
            timeout=5,
        )

    async def publish(self, env: events_pb2.Envelope, msg_id: str | None = None) -> None:
        await self.js.publish(
            env.event_type, env.SerializeToString(), headers={"Nats-Msg-Id": msg_id or env.event_id}
        )

    async def deliveries(self, event_id: str) -> notify_pb2.ListWebhookDeliveriesResponse:
        return await self.stub.ListWebhookDeliveries(
            notify_pb2.ListWebhookDeliveriesRequest(event_id=event_id), timeout=5
        )

    async def received(self, name: str, count: int) -> list[Any]:
        async def enough() -> list[Any] | None:
            got = self.receiver.at(name)
            return got if len(got) >= count else None

        return await eventually(enough)


def verified(secret: str, received: Any) -> dict[str, Any]:
    """The event as the marketplace reads it once its signature checks out."""
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return payload


def settings_for(database_url: str, nats_url: str, **overrides: Any) -> Any:
    def settings(grpc_addr: str) -> NotifySettings:
        base = NotifySettings(
            database_url=database_url,
            nats_url=nats_url,
            grpc_addr=grpc_addr,
            db_pool_size=4,
            retry_schedule_s=FAST_RETRIES,
            poll_interval_s=0.1,
            delivery_timeout_s=2.0,
            allow_http_loopback=True,
        )
        return replace(base, **overrides)

    return settings


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


@asynccontextmanager
async def notify_service(
    database_url: str, nats_url: str, receiver: Receiver, **overrides: Any
) -> AsyncIterator[Notify]:
    async with started_service(
        "notify_svc",
        "notify",
        start,
        settings_for(database_url, nats_url, **overrides),
        database_url,
        nats_url,
    ) as service:
        yield Notify(
            notify_pb2_grpc.NotifyServiceStub(service.channel), service.js, receiver, service.engine
        )
        assert service.life.failed is None, f"a background task died: {service.life.failed!r}"


@pytest.fixture
async def notify(database_url: str, nats_url: str, receiver: Receiver) -> AsyncIterator[Notify]:
    async with notify_service(database_url, nats_url, receiver) as n:
        yield n


def checkout_done(checkout_id: str, *orders: tuple[str, str]) -> events_pb2.Envelope:
    payload = events_pb2.PaymentCheckoutDone(
        checkout_id=checkout_id,
        orders=[events_pb2.CheckoutOrderOutcome(payment_order_id=o, status=s) for o, s in orders],
    )
    return new_envelope(PAYMENT_CHECKOUT_DONE, checkout_id, payload)


def msg_id(env: events_pb2.Envelope) -> str:
    return "msg_" + uuid.UUID(env.event_id).hex


async def test_a_registered_endpoint_receives_signed_events_it_can_verify(
    notify: Notify,
) -> None:
    shop = await notify.register("shop", ["order.succeeded", "checkout.done"])
    other = await notify.register("failures-only", ["order.failed"])
    secret = shop.signing_secret
    assert secret.startswith("whsec_") and secret != other.signing_secret
    assert shop.endpoint.enabled and shop.endpoint.endpoint_id.startswith("we_")

    paid = succeeded("po-1", "seller-1", "120.00", "12.00")
    done = checkout_done("co-po-1", ("po-1", "SUCCESS"))
    await notify.publish(paid)
    await notify.publish(done)

    got = await notify.received("shop", 2)
    by_id = {r.headers["webhook-id"]: r for r in got}
    assert sorted(by_id) == sorted([msg_id(paid), msg_id(done)])
    order = verified(secret, by_id[msg_id(paid)])
    assert order["type"] == "order.succeeded"
    assert order["data"] == {
        "payment_order_id": "po-1",
        "checkout_id": "co-po-1",
        "seller_account": "seller-1",
        "amount": {"amount": "120.00", "currency": "USD"},
        "fee": {"amount": "12.00", "currency": "USD"},
        "psp_reference": "ch_po-1",
        "status": "SUCCESS",
    }
    checkout = verified(secret, by_id[msg_id(done)])
    assert (checkout["type"], checkout["data"]["checkout_id"]) == ("checkout.done", "co-po-1")
    assert checkout["data"]["orders"] == [{"payment_order_id": "po-1", "status": "SUCCESS"}]

    # Another endpoint's secret, or a body changed on the way, does not verify.
    with pytest.raises(WebhookVerificationError):
        verified(other.signing_secret, by_id[msg_id(paid)])
    tampered = replace(by_id[msg_id(paid)], body=by_id[msg_id(paid)].body.replace(b"120", b"999"))
    with pytest.raises(WebhookVerificationError):
        verified(secret, tampered)

    # The delivery log: one attempt, answered 200 (recorded once the answer is back, which may
    # be after the receiver has the request).
    async def answered() -> Any:
        log = await notify.deliveries(msg_id(paid))
        done = all(d.status != notify_pb2.DELIVERY_STATUS_PENDING for d in log.deliveries)
        return log if log.deliveries and done else None

    log = await eventually(answered)
    assert log.event_type == "order.succeeded"
    [delivery] = log.deliveries
    assert delivery.endpoint_id == shop.endpoint.endpoint_id
    assert delivery.status == notify_pb2.DELIVERY_STATUS_SUCCEEDED
    assert [(a.attempt, a.http_status, a.error) for a in delivery.attempts] == [(1, 200, "")]

    # A mesh event delivered again (past the stream's duplicate window) is not sent again,
    # and the endpoint subscribed to order.failed only was sent nothing.
    await notify.publish(paid, msg_id=str(uuid.uuid4()))
    failed = new_envelope(
        PAYMENT_ORDER_FAILED,
        "po-2",
        events_pb2.PaymentOrderFailed(payment_order_id="po-2", checkout_id="co-2", reason="x"),
    )
    await notify.publish(failed)
    [failure] = await notify.received("failures-only", 1)
    assert verified(other.signing_secret, failure)["type"] == "order.failed"
    assert len(notify.receiver.at("shop")) == 2

    # A reconciliation mismatch, published by recon_svc on the RECON stream, reaches the
    # endpoint subscribed to it, signed like any other.
    finance = await notify.register("finance", ["recon.mismatch_opened"])
    opened = new_envelope(
        RECON_MISMATCH_OPENED,
        "mm_1",
        events_pb2.ReconMismatchOpened(
            mismatch_id="mm_1", type="duplicate_charge", mismatch_class=2,
            amount=money_pb2.Money(amount="20.00", currency="USD"), run_id="rr_1",
            suggested_action="refund", period="2026-12-01",
        ),
    )  # fmt: skip
    await notify.publish(opened)
    [mismatch] = await notify.received("finance", 1)
    told = verified(finance.signing_secret, mismatch)
    assert (told["type"], mismatch.headers["webhook-id"]) == (
        "recon.mismatch_opened",
        msg_id(opened),
    )
    assert told["data"] == {
        "mismatch_id": "mm_1", "type": "duplicate_charge", "detail": "", "class": 2,
        "amount": {"amount": "20.00", "currency": "USD"}, "run_id": "rr_1",
        "suggested_action": "refund", "period": "2026-12-01",
    }  # fmt: skip
    assert len(notify.receiver.at("shop")) == 2 and len(notify.receiver.at("failures-only")) == 1

    # The secret is shown once: reads never carry it, a replay of the request gets it again.
    listed = await notify.stub.ListWebhookEndpoints(
        notify_pb2.ListWebhookEndpointsRequest(), timeout=5
    )
    assert secret not in str(listed) and len(listed.endpoints) == 3
    # ... and the database holds it encrypted.
    async with notify.engine.connect() as conn:
        stored = await conn.scalar(
            text("SELECT signing_secret FROM webhook_endpoints WHERE endpoint_id = :id"),
            {"id": shop.endpoint.endpoint_id},
        )
    assert stored.startswith("aesgcm:v1:") and secret.removeprefix("whsec_") not in stored


async def test_a_replayed_create_gets_the_same_endpoint_and_another_body_is_refused(
    notify: Notify,
) -> None:
    request_id = new_request_id()
    first = await notify.register("shop", ["order.succeeded"], request_id)
    again = await notify.register("shop", ["order.succeeded"], request_id)
    assert (again.endpoint.endpoint_id, again.signing_secret) == (
        first.endpoint.endpoint_id,
        first.signing_secret,
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await notify.register("shop", ["order.failed"], request_id)
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_only_https_endpoints_outside_the_dev_stack(notify: Notify) -> None:
    for url in ("http://shop.example/hook", "ftp://shop.example/hook"):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await notify.stub.CreateWebhookEndpoint(
                notify_pb2.CreateWebhookEndpointRequest(
                    request_id=new_request_id(), url=url, event_types=["order.succeeded"]
                ),
                timeout=5,
            )
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT, url


async def test_a_failed_delivery_is_retried_until_the_receiver_takes_it(
    notify: Notify,
) -> None:
    shop = await notify.register("shop", ["order.succeeded"])
    notify.receiver.script["/shop"] = [500, 503]

    paid = succeeded("po-1", "seller-1", "10.00", "1.00")
    await notify.publish(paid)

    got = await notify.received("shop", 3)
    assert {r.headers["webhook-id"] for r in got} == {msg_id(paid)}  # the same id: dedupe on it
    for r in got:
        assert verified(shop.signing_secret, r)["type"] == "order.succeeded"

    async def settled() -> notify_pb2.Delivery | None:
        [d] = (await notify.deliveries(msg_id(paid))).deliveries
        return d if d.status == notify_pb2.DELIVERY_STATUS_SUCCEEDED else None

    delivery = await eventually(settled)
    assert [(a.attempt, a.http_status) for a in delivery.attempts] == [(1, 500), (2, 503), (3, 200)]
    assert all(a.duration_ms >= 0 and a.attempted_at.seconds for a in delivery.attempts)


async def test_an_event_is_redelivered_by_hand_once_per_request(notify: Notify) -> None:
    shop = await notify.register("shop", ["order.succeeded"])
    paid = succeeded("po-1", "seller-1", "10.00", "1.00")
    await notify.publish(paid)
    await notify.received("shop", 1)

    request = notify_pb2.RedeliverWebhookEventRequest(
        request_id=new_request_id(), event_id=msg_id(paid)
    )
    answer = await notify.stub.RedeliverWebhookEvent(request, metadata=CALLER, timeout=5)
    assert [d.endpoint_id for d in answer.deliveries] == [shop.endpoint.endpoint_id]

    again = await notify.received("shop", 2)
    assert again[1].headers["webhook-id"] == msg_id(paid)
    assert verified(shop.signing_secret, again[1])["data"]["payment_order_id"] == "po-1"

    async def logged_twice() -> bool:
        [d] = (await notify.deliveries(msg_id(paid))).deliveries
        return [a.attempt for a in d.attempts] == [1, 2]

    await eventually(logged_twice)
    # The same request again redelivers nothing more.
    await notify.stub.RedeliverWebhookEvent(request, metadata=CALLER, timeout=5)
    await asyncio.sleep(0.5)
    assert len(notify.receiver.at("shop")) == 2

    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await notify.stub.RedeliverWebhookEvent(
            notify_pb2.RedeliverWebhookEventRequest(
                request_id=new_request_id(), event_id="msg_unknown"
            ),
            timeout=5,
        )
    assert unknown.value.code() is grpc.StatusCode.NOT_FOUND


async def test_an_endpoint_that_keeps_failing_is_disabled_and_the_others_keep_receiving(
    database_url: str, nats_url: str, receiver: Receiver
) -> None:
    disabled_before = MARKETPLACE_ENDPOINTS_DISABLED._value.get()
    async with notify_service(
        database_url, nats_url, receiver, disable_after_failures=3, delivery_timeout_s=0.5
    ) as notify:
        dead = await notify.register("dead", ["order.succeeded"])
        slow = await notify.register("slow", ["order.succeeded"])
        await notify.register("shop", ["order.succeeded"])
        receiver.always["/dead"] = 500
        receiver.delay_s["/slow"] = 1.0  # never answers within the timeout

        events = [succeeded(f"po-{i}", "seller-1", "10.00", "1.00") for i in range(2)]
        for env in events:
            await notify.publish(env)
        # The healthy endpoint gets both at once, whatever the others do.
        await notify.received("shop", 2)

        async def disabled() -> notify_pb2.WebhookEndpoint | None:
            got = await notify.stub.GetWebhookEndpoint(
                notify_pb2.GetWebhookEndpointRequest(endpoint_id=dead.endpoint.endpoint_id),
                timeout=5,
            )
            return got.endpoint if not got.endpoint.enabled else None

        endpoint = await eventually(disabled)
        assert endpoint.disabled_reason == "3 failed deliveries in a row"
        assert MARKETPLACE_ENDPOINTS_DISABLED._value.get() == disabled_before + 1
        # ... and the on-call engineer is told: an alert for it (not for the healthy ones).
        alerts = await endpoint_watch(notify.engine).check()
        assert [(a.kind, a.subject) for a in alerts] == [
            ("webhook_endpoint_disabled", dead.endpoint.endpoint_id)
        ]
        assert "3 failed deliveries in a row" in alerts[0].detail
        # Nothing more is sent to it once the attempts in flight when it was disabled are
        # over, even for new events; the healthy one still gets them.
        await asyncio.sleep(0.5)
        attempts = len(receiver.at("dead"))
        await notify.publish(succeeded("po-9", "seller-1", "10.00", "1.00"))
        await notify.received("shop", 3)
        await asyncio.sleep(0.5)
        assert len(receiver.at("dead")) == attempts >= 3

        # The slow endpoint's attempts end in a timeout, logged as such.
        async def timed_out() -> bool:
            log = await notify.deliveries(msg_id(events[0]))
            [d] = [d for d in log.deliveries if d.endpoint_id == slow.endpoint.endpoint_id]
            return bool(d.attempts) and d.attempts[0].error == "timeout"

        await eventually(timed_out)
