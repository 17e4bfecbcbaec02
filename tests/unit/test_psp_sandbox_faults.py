"""Fault injection: the admin API, the per-payment fault tokens, and what a client sees."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from psp_sandbox import SandboxSettings
from psp_sandbox.testing import TEST_API_KEY, in_process, served

pytestmark = pytest.mark.unit

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
Sandbox = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]


def payment(payment_method: str = "pm_card_visa", order: str = "po_1") -> dict[str, str]:
    return {
        "amount": "1234",
        "currency": "usd",
        "payment_method": payment_method,
        "confirm": "true",
        "metadata[payment_order_id]": order,
    }


@pytest.fixture
def settings(tmp_path: Path) -> SandboxSettings:
    return SandboxSettings(state_file=tmp_path / "psp-sandbox.jsonl")


@pytest.fixture
def sandbox(settings: SandboxSettings) -> Sandbox:
    return lambda: in_process(settings)


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with sandbox() as running:
        yield running


async def intents(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return (await client.get("/v1/payment_intents", params={"limit": 100})).json()["data"]


async def set_faults(client: httpx.AsyncClient, **config: Any) -> httpx.Response:
    response = await client.post("/_sandbox/faults", json=config)
    assert response.status_code == 200, response.text
    return response


async def wait_for_status(
    client: httpx.AsyncClient, intent_id: str, status: str, within_s: float = 3.0
) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while True:
        intent = (await client.get(f"/v1/payment_intents/{intent_id}")).json()
        if intent["status"] == status or time.monotonic() > deadline:
            return intent
        await asyncio.sleep(0.02)


async def test_fault_config_is_set_read_reset_and_survives_a_restart(sandbox: Sandbox) -> None:
    async with sandbox() as client:
        assert (await client.get("/_sandbox/faults")).json()["decline_rate"] == 0
        set_answer = await set_faults(
            client, seed=7, decline_rate=0.25, decline_codes=["lost_card", "expired_card"]
        )
    async with sandbox() as client:
        kept = (await client.get("/_sandbox/faults")).json()
        reset = await client.delete("/_sandbox/faults")
        after_reset = (await client.get("/_sandbox/faults")).json()

    assert kept == set_answer.json()
    assert (kept["seed"], kept["decline_rate"]) == (7, 0.25)
    assert kept["decline_codes"] == ["lost_card", "expired_card"]
    assert reset.status_code == 200
    assert after_reset["seed"] == 0 and after_reset["decline_rate"] == 0


@pytest.mark.parametrize(
    ("config", "param"),
    [
        ({"decline_rate": 1.5}, "decline_rate"),
        ({"decline_rat": 0.1}, "decline_rat"),
        ({"slow_ms": -1}, "slow_ms"),
        ({"decline_codes": ["no_such_reason"]}, "decline_codes"),
        ({"lost_response_mode": "maybe"}, "lost_response_mode"),
    ],
)
async def test_a_bad_fault_config_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, config: dict[str, Any], param: str
) -> None:
    response = await client.post("/_sandbox/faults", json=config)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert (await client.get("/_sandbox/faults")).json()["decline_rate"] == 0


async def test_the_admin_api_needs_the_api_key(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_sandbox/faults", json={"decline_rate": 1}, headers={"Authorization": ""}
    )
    assert response.status_code == 401


async def test_a_server_error_fault_creates_nothing_and_a_retry_with_the_key_succeeds(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "po_1"}
    data = payment("pm_card_sandbox_serverErrorOnce")
    failed = await client.post("/v1/payment_intents", data=data, headers=headers)
    assert failed.status_code == 500
    assert failed.json()["error"]["type"] == "api_error"
    assert await intents(client) == []

    retried = await client.post("/v1/payment_intents", data=data, headers=headers)
    assert retried.status_code == 200
    assert retried.json()["status"] == "succeeded"
    assert "Idempotent-Replayed" not in retried.headers
    assert len(await intents(client)) == 1


async def test_a_key_still_in_flight_gets_a_409_and_its_answer_later(
    client: httpx.AsyncClient,
) -> None:
    await set_faults(client, slow_ms=300)
    headers = {"Idempotency-Key": "po_slow"}
    data = payment("pm_card_sandbox_slow")

    first = asyncio.create_task(client.post("/v1/payment_intents", data=data, headers=headers))
    await asyncio.sleep(0.1)
    second = await client.post("/v1/payment_intents", data=data, headers=headers)
    first_answer = await first
    third = await client.post("/v1/payment_intents", data=data, headers=headers)

    assert second.status_code == 409
    error = second.json()["error"]
    assert (error["type"], error["code"]) == ("idempotency_error", "idempotency_key_in_use")
    assert first_answer.status_code == 200
    assert third.headers["Idempotent-Replayed"] == "true"
    assert third.json() == first_answer.json()
    assert len(await intents(client)) == 1


async def test_a_lost_response_cuts_the_connection_after_charging(
    settings: SandboxSettings,
) -> None:
    headers = {**AUTH, "Idempotency-Key": "po_lost"}
    data = payment("pm_card_sandbox_lostResponseOnce")
    async with served(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/v1/payment_intents", data=data, headers=headers)
        charged = await intents(_authed(client))
        retried = await client.post("/v1/payment_intents", data=data, headers=headers)

    assert [intent["status"] for intent in charged] == ["succeeded"]
    assert retried.status_code == 200
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json()["id"] == charged[0]["id"]


async def test_the_stripe_sdk_sees_a_lost_response_as_a_connection_error(
    settings: SandboxSettings,
) -> None:
    async with served(settings) as base_url:
        http = stripe.HTTPXClient(timeout=5)
        sdk = stripe.StripeClient(
            TEST_API_KEY, base_addresses={"api": base_url}, max_network_retries=0, http_client=http
        )
        params: Any = {
            "amount": 500,
            "currency": "usd",
            "payment_method": "pm_card_sandbox_lostResponseOnce",
            "confirm": True,
            "metadata": {"payment_order_id": "po_sdk"},
        }
        try:
            with pytest.raises(stripe.APIConnectionError):
                await sdk.v1.payment_intents.create_async(params, {"idempotency_key": "po_sdk"})
            retried = await sdk.v1.payment_intents.create_async(
                params, {"idempotency_key": "po_sdk"}
            )
        finally:
            await http.close_async()

    assert retried.status == "succeeded"


async def test_a_timeout_fault_hangs_past_the_client_timeout_and_creates_nothing(
    settings: SandboxSettings,
) -> None:
    headers = {**AUTH, "Idempotency-Key": "po_hang"}
    data = payment("pm_card_sandbox_timeoutOnce")
    async with served(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        await set_faults(_authed(client), timeout_ms=600)
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/v1/payment_intents", data=data, headers=headers, timeout=0.2)
        nothing = await intents(_authed(client))
        # While the hung request still runs, its key answers 409; then the retry goes through.
        retried = await client.post("/v1/payment_intents", data=data, headers=headers)
        in_flight = retried.status_code
        deadline = time.monotonic() + 3
        while retried.status_code == 409 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            retried = await client.post("/v1/payment_intents", data=data, headers=headers)

    assert nothing == []
    assert in_flight == 409
    assert retried.status_code == 200 and retried.json()["status"] == "succeeded"


async def test_random_faults_are_reproducible_from_the_seed(tmp_path: Path) -> None:
    async def outcomes(run: str, seed: int) -> list[str]:
        settings = SandboxSettings(state_file=tmp_path / run / "psp-sandbox.jsonl")
        async with in_process(settings) as client:
            await set_faults(client, seed=seed, decline_rate=0.4, server_error_rate=0.2)
            seen = []
            for number in range(30):
                response = await client.post(
                    "/v1/payment_intents",
                    data=payment(order=f"po_{number}"),
                    headers={"Idempotency-Key": f"po_{number}"},
                )
                body = response.json()
                seen.append(
                    body["error"].get("decline_code") or body["error"]["type"]
                    if response.status_code != 200
                    else body["status"]
                )
            return seen

    first = await outcomes("a", seed=7)
    again = await outcomes("b", seed=7)
    other = await outcomes("c", seed=8)

    assert first == again
    assert first != other
    assert "succeeded" in first and "api_error" in first
    assert set(first) - {"succeeded", "api_error"}, "some payments must be declined"


async def test_declines_of_a_random_fault_use_the_configured_codes(
    client: httpx.AsyncClient,
) -> None:
    await set_faults(client, seed=3, decline_rate=1.0, decline_codes=["incorrect_cvc"])
    response = await client.post("/v1/payment_intents", data=payment())

    assert response.status_code == 402
    error = response.json()["error"]
    assert (error["code"], error["decline_code"]) == ("incorrect_cvc", "incorrect_cvc")
    assert error["payment_intent"]["status"] == "requires_payment_method"


@pytest.mark.parametrize(
    ("token", "status", "reason"),
    [
        ("pm_card_sandbox_threeDSecureSucceedsLater", "succeeded", None),
        (
            "pm_card_sandbox_threeDSecureFailsLater",
            "requires_payment_method",
            "payment_intent_authentication_failure",
        ),
    ],
)
async def test_requires_action_completes_later(
    client: httpx.AsyncClient, token: str, status: str, reason: str | None
) -> None:
    await set_faults(client, requires_action_after_ms=100)
    created = (await client.post("/v1/payment_intents", data=payment(token))).json()
    assert created["status"] == "requires_action"

    intent = await wait_for_status(client, created["id"], status)

    assert intent["status"] == status
    assert (intent["last_payment_error"] or {}).get("code") == reason
    assert intent["amount_received"] == (1234 if status == "succeeded" else 0)


async def test_a_pending_action_completes_after_a_restart(sandbox: Sandbox) -> None:
    async with sandbox() as client:
        await set_faults(client, requires_action_after_ms=150)
        created = await client.post(
            "/v1/payment_intents", data=payment("pm_card_sandbox_threeDSecureSucceedsLater")
        )
    await asyncio.sleep(0.2)  # due while the sandbox was down
    async with sandbox() as client:
        intent = await wait_for_status(client, created.json()["id"], "succeeded")
    assert intent["status"] == "succeeded"


async def test_three_d_secure_required_completes_when_confirmed(
    client: httpx.AsyncClient,
) -> None:
    created = (
        await client.post("/v1/payment_intents", data=payment("pm_card_threeDSecure2Required"))
    ).json()
    confirmed = await client.post(f"/v1/payment_intents/{created['id']}/confirm")
    again = await client.post(f"/v1/payment_intents/{created['id']}/confirm")

    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "succeeded"
    assert confirmed.json()["latest_charge"].startswith("ch_")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "payment_intent_unexpected_state"


async def test_a_random_requires_action_fault_completes_as_configured(
    client: httpx.AsyncClient,
) -> None:
    await set_faults(
        client,
        requires_action_rate=1.0,
        requires_action_after_ms=50,
        requires_action_outcome="fail",
    )
    created = (await client.post("/v1/payment_intents", data=payment())).json()
    assert created["status"] == "requires_action"
    intent = await wait_for_status(client, created["id"], "requires_payment_method")
    assert intent["status"] == "requires_payment_method"


def _authed(client: httpx.AsyncClient) -> httpx.AsyncClient:
    client.headers.update(AUTH)
    return client
