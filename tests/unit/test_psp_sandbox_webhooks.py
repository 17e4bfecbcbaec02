"""Events and their signed webhooks, checked the way a Stripe integration checks them."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from psp_sandbox import SandboxSettings
from psp_sandbox.testing import WebhookReceiver, in_process, webhook_receiver

pytestmark = pytest.mark.unit

SECRET = "whsec_unit_test_secret"


def payment(payment_method: str = "pm_card_visa") -> dict[str, str]:
    return {
        "amount": "1234",
        "currency": "usd",
        "payment_method": payment_method,
        "confirm": "true",
        "metadata[payment_order_id]": "po_1",
    }


@pytest.fixture
def settings(tmp_path: Path) -> SandboxSettings:
    return SandboxSettings(
        state_file=tmp_path / "psp-sandbox.jsonl",
        webhook_secret=SECRET,
        webhook_retry_base_s=0.05,
    )


async def wait_until(condition: Callable[[], bool], within_s: float = 3.0) -> None:
    deadline = time.monotonic() + within_s
    while True:
        if condition() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.02)


def verified(receiver: WebhookReceiver, secret: str = SECRET) -> list[stripe.Event]:
    """Every webhook received, verified with the stripe SDK (raises on a bad signature)."""
    return [
        stripe.Webhook.construct_event(body.decode(), headers["stripe-signature"], secret)
        for headers, body in receiver.received
    ]


async def test_events_record_each_state_change_newest_first(tmp_path: Path) -> None:
    async with in_process(SandboxSettings(state_file=tmp_path / "s.jsonl")) as client:
        paid = (await client.post("/v1/payment_intents", data=payment())).json()
        await client.post("/v1/payment_intents", data=payment("pm_card_chargeDeclined"))
        events = (await client.get("/v1/events")).json()
        failed_only = (
            await client.get("/v1/events", params={"type": "payment_intent.payment_failed"})
        ).json()
        charge_events = (await client.get("/v1/events", params={"type": "charge.*"})).json()
        one = await client.get(f"/v1/events/{events['data'][-1]['id']}")

    assert [event["type"] for event in events["data"]] == [
        "payment_intent.payment_failed",
        "charge.failed",
        "payment_intent.created",
        "payment_intent.succeeded",
        "charge.succeeded",
        "payment_intent.created",
    ]
    succeeded = events["data"][3]
    assert succeeded["object"] == "event" and succeeded["id"].startswith("evt_")
    assert succeeded["data"]["object"]["id"] == paid["id"]
    assert succeeded["data"]["object"]["status"] == "succeeded"
    # A snapshot: the created event still shows the intent as it was then.
    assert events["data"][-1]["data"]["object"]["status"] == "requires_confirmation"
    assert [e["type"] for e in failed_only["data"]] == ["payment_intent.payment_failed"]
    assert [e["type"] for e in charge_events["data"]] == ["charge.failed", "charge.succeeded"]
    assert one.json() == events["data"][-1]


async def test_webhooks_are_signed_as_stripe_signs_them(settings: SandboxSettings) -> None:
    async with webhook_receiver() as receiver:
        settings = dataclasses.replace(settings, webhook_url=receiver.url)
        async with in_process(settings) as client:
            paid = (await client.post("/v1/payment_intents", data=payment())).json()
            await wait_until(lambda: len(receiver.received) >= 3)

    events = verified(receiver)
    assert sorted(event.type for event in events) == [
        "charge.succeeded",
        "payment_intent.created",
        "payment_intent.succeeded",
    ]
    succeeded = next(event for event in events if event.type == "payment_intent.succeeded")
    assert succeeded.data.object.id == paid["id"]
    assert succeeded.data.object.metadata["payment_order_id"] == "po_1"
    with pytest.raises(stripe.SignatureVerificationError):
        verified(receiver, secret="whsec_someone_else")


async def test_only_the_event_types_the_endpoint_is_enabled_for_are_sent(
    settings: SandboxSettings,
) -> None:
    async with webhook_receiver() as receiver:
        settings = dataclasses.replace(
            settings,
            webhook_url=receiver.url,
            webhook_events=frozenset({"payment_intent.succeeded"}),
        )
        async with in_process(settings) as client:
            await client.post("/v1/payment_intents", data=payment())
            await wait_until(lambda: len(receiver.received) >= 1)
            await asyncio.sleep(0.2)  # the other two events are not on their way
            recorded = (await client.get("/v1/events")).json()["data"]

    assert [event.type for event in verified(receiver)] == ["payment_intent.succeeded"]
    assert len(recorded) == 3  # every event is still recorded


def test_enabled_event_types_come_from_the_environment() -> None:
    settings = SandboxSettings.from_env(
        {"PSP_SANDBOX_WEBHOOK_EVENTS": "payment_intent.succeeded, charge.refunded,"}
    )

    assert settings.webhook_events == {"payment_intent.succeeded", "charge.refunded"}
    assert SandboxSettings.from_env({}).webhook_events == frozenset()


async def test_a_failed_webhook_is_retried_until_it_is_taken(settings: SandboxSettings) -> None:
    async with webhook_receiver() as receiver:
        receiver.statuses = [500, 503]
        settings = dataclasses.replace(settings, webhook_url=receiver.url)
        async with in_process(settings) as client:
            await client.post(
                "/v1/payment_intents", data={**payment(), "confirm": "false"}
            )  # one event: payment_intent.created
            await wait_until(lambda: len(receiver.received) >= 3)
            await asyncio.sleep(0.2)  # and no more once it is taken
            event = (await client.get("/v1/events")).json()["data"][0]

    ids = [event.id for event in verified(receiver)]
    assert ids == [event["id"]] * 3
    assert event["pending_webhooks"] == 0


async def test_pending_webhooks_are_sent_after_a_restart(settings: SandboxSettings) -> None:
    async with webhook_receiver() as receiver:
        down = dataclasses.replace(settings, webhook_url=receiver.url)
        receiver.statuses = [500] * 100  # the endpoint is failing while the sandbox runs
        async with in_process(down) as client:
            await client.post("/v1/payment_intents", data={**payment(), "confirm": "false"})
            pending: list[dict[str, Any]] = []
            deadline = time.monotonic() + 3
            while not pending or pending[0]["attempts"] < 1:
                assert time.monotonic() < deadline, "no failed attempt recorded"
                await asyncio.sleep(0.02)
                pending = (await client.get("/_sandbox/webhook_deliveries")).json()["data"]
        receiver.statuses.clear()
        receiver.received.clear()
        async with in_process(down):
            await wait_until(lambda: len(receiver.received) >= 1)

    assert [event.type for event in verified(receiver)] == ["payment_intent.created"]
    assert [(d["last_status"], d.get("gave_up", False)) for d in pending] == [(500, False)]


async def test_no_webhook_url_sends_nothing_but_keeps_events(tmp_path: Path) -> None:
    async with webhook_receiver() as receiver:
        async with in_process(SandboxSettings(state_file=tmp_path / "s.jsonl")) as client:
            await client.post("/v1/payment_intents", data=payment())
            await asyncio.sleep(0.15)
            events = (await client.get("/v1/events")).json()["data"]

    assert receiver.received == []
    assert len(events) == 3
    assert {event["pending_webhooks"] for event in events} == {0}


@pytest.mark.parametrize(
    ("faults", "expected_copies"),
    [
        ({"webhook_drop_rate": 1.0}, 0),
        ({"webhook_duplicate_rate": 1.0}, 2),
    ],
)
async def test_webhook_faults_drop_or_duplicate(
    settings: SandboxSettings, faults: dict[str, Any], expected_copies: int
) -> None:
    async with webhook_receiver() as receiver:
        settings = dataclasses.replace(settings, webhook_url=receiver.url)
        async with in_process(settings) as client:
            await client.post("/_sandbox/faults", json=faults)
            await client.post("/v1/payment_intents", data={**payment(), "confirm": "false"})
            await wait_until(lambda: len(receiver.received) >= expected_copies)
            await asyncio.sleep(0.2)

    assert len(receiver.received) == expected_copies
    assert len({event.id for event in verified(receiver)}) == min(expected_copies, 1)


async def test_a_delayed_webhook_arrives_late_and_after_later_events(
    settings: SandboxSettings,
) -> None:
    async with webhook_receiver() as receiver:
        settings = dataclasses.replace(settings, webhook_url=receiver.url)
        async with in_process(settings) as client:
            await client.post(
                "/_sandbox/faults", json={"webhook_delay_rate": 1.0, "webhook_delay_ms": 400}
            )
            await client.post("/v1/payment_intents", data={**payment(), "confirm": "false"})
            await client.delete("/_sandbox/faults")
            await client.post("/v1/payment_intents", data={**payment(), "confirm": "false"})
            await wait_until(lambda: len(receiver.received) >= 1)
            first_arrival = [event["id"] for event in receiver.events()]
            await wait_until(lambda: len(receiver.received) >= 2)
            events = (await client.get("/v1/events")).json()["data"]

    newer, older = events[0]["id"], events[1]["id"]
    assert first_arrival == [newer]
    assert [event["id"] for event in receiver.events()] == [newer, older]


async def test_events_and_webhooks_for_a_refund(settings: SandboxSettings) -> None:
    async with webhook_receiver() as receiver:
        settings = dataclasses.replace(settings, webhook_url=receiver.url)
        async with in_process(settings) as client:
            paid = (await client.post("/v1/payment_intents", data=payment())).json()
            await client.post("/v1/refunds", data={"payment_intent": paid["id"], "amount": "34"})
            await wait_until(lambda: len(receiver.received) >= 5)

    by_type = {event.type: event for event in verified(receiver)}
    assert by_type["refund.created"].data.object.amount == 34
    assert by_type["charge.refunded"].data.object.amount_refunded == 34


def test_webhook_settings_come_from_the_environment() -> None:
    settings = SandboxSettings.from_env(
        {
            "PSP_SANDBOX_WEBHOOK_URL": "http://127.0.0.1:9/hooks",
            "PSP_SANDBOX_WEBHOOK_SECRET": "whsec_abc",
        }
    )
    assert (settings.webhook_url, settings.webhook_secret) == (
        "http://127.0.0.1:9/hooks",
        "whsec_abc",
    )
    assert SandboxSettings.from_env({}).webhook_secret.startswith("whsec_")
    with pytest.raises(ValueError, match="PSP_SANDBOX_WEBHOOK_SECRET"):
        SandboxSettings.from_env({"PSP_SANDBOX_WEBHOOK_SECRET": "secret"})


async def test_unknown_event_is_a_404(tmp_path: Path) -> None:
    async with in_process(SandboxSettings(state_file=tmp_path / "s.jsonl")) as client:
        response = await client.get("/v1/events/evt_missing")
    assert response.status_code == 404
    assert isinstance(response, httpx.Response)
