"""PaymentIntents search, on the wire and through the stripe SDK paymesh uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from psp_sandbox import SandboxSettings
from psp_sandbox.testing import TEST_API_KEY, in_process, served

pytestmark = pytest.mark.unit

SEARCH = "/v1/payment_intents/search"


def payment(order: str, payment_method: str = "pm_card_visa", amount: int = 1234) -> dict[str, str]:
    return {
        "amount": str(amount),
        "currency": "usd",
        "payment_method": payment_method,
        "confirm": "true",
        "metadata[payment_order_id]": order,
        "metadata[checkout_id]": "co_1",
    }


@pytest.fixture
def settings(tmp_path: Path) -> SandboxSettings:
    return SandboxSettings(state_file=tmp_path / "psp-sandbox.jsonl")


@pytest.fixture
async def client(settings: SandboxSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(settings) as running:
        yield running


async def pay(client: httpx.AsyncClient, order: str, **kwargs: Any) -> dict[str, Any]:
    response = await client.post("/v1/payment_intents", data=payment(order, **kwargs))
    body = response.json()
    return body if response.status_code == 200 else body["error"]["payment_intent"]


async def test_search_by_payment_order_id_finds_only_that_orders_intents(
    client: httpx.AsyncClient,
) -> None:
    await pay(client, "po_1")
    declined = await pay(client, "po_2", payment_method="pm_card_chargeDeclined")
    retried = await pay(client, "po_2")
    await pay(client, "po_10")  # "po_1" must not match it: metadata match is exact

    response = await client.get(SEARCH, params={"query": "metadata['payment_order_id']:'po_2'"})

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "search_result"
    assert body["url"] == SEARCH
    assert body["has_more"] is False and body["next_page"] is None
    assert [intent["id"] for intent in body["data"]] == [retried["id"], declined["id"]]


async def test_clauses_joined_by_and_must_all_hold(client: httpx.AsyncClient) -> None:
    await pay(client, "po_1", payment_method="pm_card_chargeDeclined")
    succeeded = await pay(client, "po_1")
    query = "metadata['payment_order_id']:'po_1' AND status:'succeeded'"

    body = (await client.get(SEARCH, params={"query": query})).json()

    assert [intent["id"] for intent in body["data"]] == [succeeded["id"]]


async def test_or_negation_and_amount_comparisons(client: httpx.AsyncClient) -> None:
    small = await pay(client, "po_a", amount=500)
    big = await pay(client, "po_b", amount=5000)
    other = await pay(client, "po_c", amount=700)

    async def ids(query: str) -> list[str]:
        response = await client.get(SEARCH, params={"query": query})
        assert response.status_code == 200, response.text
        return [intent["id"] for intent in response.json()["data"]]

    assert await ids("amount>1000") == [big["id"]]
    assert await ids("amount<=700") == [other["id"], small["id"]]
    assert await ids(
        "metadata[\"payment_order_id\"]:\"po_a\" OR metadata['payment_order_id']:'po_c'"
    ) == [
        other["id"],
        small["id"],
    ]
    assert await ids("-metadata['payment_order_id']:'po_b' AND currency:'usd'") == [
        other["id"],
        small["id"],
    ]


async def test_quotes_and_backslashes_in_values_are_escaped_with_a_backslash(
    client: httpx.AsyncClient,
) -> None:
    odd = await pay(client, "po_o'brien\\1")
    await pay(client, "po_o")
    # As paymesh's adapter escapes an order id: \ first, then '.
    escaped = "po_o'brien\\1".replace("\\", "\\\\").replace("'", "\\'")

    response = await client.get(
        SEARCH, params={"query": f"metadata['payment_order_id']:'{escaped}'"}
    )

    assert response.status_code == 200, response.text
    assert [intent["id"] for intent in response.json()["data"]] == [odd["id"]]


async def test_search_pages_with_next_page(client: httpx.AsyncClient) -> None:
    created = [(await pay(client, f"po_{n}"))["id"] for n in range(5)]
    query = {"query": "status:'succeeded'", "limit": "2"}

    seen: list[str] = []
    params = dict(query)
    while True:
        body = (await client.get(SEARCH, params=params)).json()
        seen += [intent["id"] for intent in body["data"]]
        if not body["has_more"]:
            assert body["next_page"] is None
            break
        params = {**query, "page": body["next_page"]}

    assert seen == created[::-1]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "payment_order_id:'po_1'",  # not a searchable field
        "metadata['payment_order_id']:po_1",  # a string value must be quoted
        "status:'succeeded' AND currency:'usd' OR amount>1",  # AND and OR mixed
        "status:'succeeded' AND",
        "amount>'ten'",
    ],
)
async def test_a_malformed_query_is_a_400_naming_query(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await client.get(SEARCH, params={"query": query})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "query"


async def test_a_forged_page_token_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get(SEARCH, params={"query": "status:'succeeded'", "page": "bm9wZQ"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "page"


async def test_the_stripe_sdk_searches_by_metadata(settings: SandboxSettings) -> None:
    async with served(settings) as base_url:
        http = stripe.HTTPXClient(timeout=5)
        client = stripe.StripeClient(
            TEST_API_KEY, base_addresses={"api": base_url}, max_network_retries=0, http_client=http
        )
        try:
            created = await client.v1.payment_intents.create_async(
                {
                    "amount": 1234,
                    "currency": "usd",
                    "payment_method": "pm_card_visa",
                    "confirm": True,
                    "metadata": {"payment_order_id": "po_sdk"},
                },
                {"idempotency_key": "po_sdk"},
            )
            result = await client.v1.payment_intents.search_async(
                {"query": "metadata['payment_order_id']:'po_sdk'"}
            )
            missing = await client.v1.payment_intents.search_async(
                {"query": "metadata['payment_order_id']:'po_other'"}
            )
        finally:
            await http.close_async()

    assert [intent.id for intent in result.data] == [created.id]
    assert result.data[0].status == "succeeded"
    assert result.data[0].metadata["payment_order_id"] == "po_sdk"
    assert missing.data == [] and missing.has_more is False
