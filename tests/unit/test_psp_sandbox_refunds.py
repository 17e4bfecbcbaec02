"""Refunds: full and partial, never more than what is left, idempotent, visible on the charge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from psp_sandbox import SandboxSettings
from psp_sandbox.testing import in_process

pytestmark = pytest.mark.unit


@pytest.fixture
def settings(tmp_path: Path) -> SandboxSettings:
    return SandboxSettings(state_file=tmp_path / "psp-sandbox.jsonl")


@pytest.fixture
async def client(settings: SandboxSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(settings) as running:
        yield running


async def paid(client: httpx.AsyncClient, payment_method: str = "pm_card_visa") -> dict[str, Any]:
    response = await client.post(
        "/v1/payment_intents",
        data={
            "amount": "10000",
            "currency": "usd",
            "payment_method": payment_method,
            "confirm": "true",
            "metadata[payment_order_id]": "po_1",
        },
    )
    body = response.json()
    return body if response.status_code == 200 else body["error"]["payment_intent"]


async def refund(client: httpx.AsyncClient, **data: str) -> httpx.Response:
    headers = {}
    if "key" in data:
        headers["Idempotency-Key"] = data.pop("key")
    return await client.post("/v1/refunds", data=data, headers=headers)


async def charge_of(client: httpx.AsyncClient, intent_id: str) -> dict[str, Any]:
    response = await client.get(
        f"/v1/payment_intents/{intent_id}", params={"expand[]": "latest_charge"}
    )
    return response.json()["latest_charge"]


async def test_partial_refunds_add_up_and_never_exceed_the_charge(
    client: httpx.AsyncClient,
) -> None:
    intent = await paid(client)

    first = await refund(client, payment_intent=intent["id"], amount="3000", reason="duplicate")
    too_much = await refund(client, payment_intent=intent["id"], amount="7001")
    rest = await refund(client, payment_intent=intent["id"])  # no amount: what is left
    more = await refund(client, payment_intent=intent["id"], amount="1")

    assert first.status_code == 200
    body = first.json()
    assert body["object"] == "refund" and body["id"].startswith("re_")
    assert (body["amount"], body["status"], body["reason"]) == (3000, "succeeded", "duplicate")
    assert body["payment_intent"] == intent["id"]
    assert body["charge"] == intent["latest_charge"]
    assert too_much.status_code == 400
    assert too_much.json()["error"]["code"] == "amount_too_large"
    assert rest.json()["amount"] == 7000
    assert more.status_code == 400
    assert more.json()["error"]["code"] == "charge_already_refunded"
    charge = await charge_of(client, intent["id"])
    assert (charge["amount_refunded"], charge["refunded"]) == (10000, True)


async def test_a_refund_is_idempotent_by_key(client: httpx.AsyncClient) -> None:
    intent = await paid(client)
    first = await refund(client, payment_intent=intent["id"], amount="2500", key="rf_1")
    again = await refund(client, payment_intent=intent["id"], amount="2500", key="rf_1")
    other = await refund(client, payment_intent=intent["id"], amount="100", key="rf_1")

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert (await charge_of(client, intent["id"]))["amount_refunded"] == 2500


async def test_concurrent_refunds_never_refund_more_than_the_charge(
    client: httpx.AsyncClient,
) -> None:
    intent = await paid(client)
    answers = await asyncio.gather(
        *(refund(client, payment_intent=intent["id"], amount="3000") for _ in range(5))
    )

    assert sorted(answer.status_code for answer in answers) == [200, 200, 200, 400, 400]
    assert (await charge_of(client, intent["id"]))["amount_refunded"] == 9000


@pytest.mark.parametrize(
    ("target", "code"),
    [("declined", "charge_not_refundable"), ("missing", "resource_missing")],
)
async def test_only_a_succeeded_payment_can_be_refunded(
    client: httpx.AsyncClient, target: str, code: str
) -> None:
    intent_id = "pi_missing"
    if target == "declined":
        intent_id = (await paid(client, "pm_card_chargeDeclined"))["id"]

    response = await refund(client, payment_intent=intent_id)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert (await client.get("/v1/refunds")).json()["data"] == []


async def test_refunds_are_listed_by_payment_and_retrieved(client: httpx.AsyncClient) -> None:
    one, two = await paid(client), await paid(client)
    first = (await refund(client, payment_intent=one["id"], amount="100")).json()
    second = (await refund(client, payment_intent=one["id"], amount="200")).json()
    other = (await refund(client, payment_intent=two["id"])).json()

    listed = (await client.get("/v1/refunds", params={"payment_intent": one["id"]})).json()
    everything = (await client.get("/v1/refunds")).json()
    fetched = await client.get(f"/v1/refunds/{first['id']}")
    missing = await client.get("/v1/refunds/re_missing")

    assert [r["id"] for r in listed["data"]] == [second["id"], first["id"]]
    assert [r["id"] for r in everything["data"]] == [other["id"], second["id"], first["id"]]
    assert fetched.json() == first
    assert missing.status_code == 404


async def test_a_refund_survives_a_restart(settings: SandboxSettings) -> None:
    async with in_process(settings) as client:
        intent = await paid(client)
        made = (await refund(client, payment_intent=intent["id"], amount="400")).json()
    async with in_process(settings) as client:
        fetched = (await client.get(f"/v1/refunds/{made['id']}")).json()
        charge = await charge_of(client, intent["id"])
        again = await refund(client, payment_intent=intent["id"], amount="9601")

    assert fetched == made
    assert charge["amount_refunded"] == 400
    assert again.json()["error"]["code"] == "amount_too_large"


async def test_a_charge_is_read_by_its_id_and_refunded_by_it(client: httpx.AsyncClient) -> None:
    charge = await charge_of(client, (await paid(client))["id"])
    read = await client.get(f"/v1/charges/{charge['id']}")
    assert read.status_code == 200, read.text
    assert (read.json()["id"], read.json()["amount_refunded"]) == (charge["id"], 0)
    assert (await refund(client, charge=charge["id"])).status_code == 200
    assert (await client.get(f"/v1/charges/{charge['id']}")).json()["amount_refunded"] == 10000
    missing = await client.get("/v1/charges/ch_nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "resource_missing"
