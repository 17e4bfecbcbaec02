"""Hosted checkout: a session, its payment page, the buyer's card, the redirect and the webhook."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe

from psp_sandbox import SandboxSettings
from psp_sandbox.testing import TEST_API_KEY, in_process, served, webhook_receiver

pytestmark = pytest.mark.unit

SUCCESS_URL = "https://shop.example/paid?order=po_1&session={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://shop.example/failed"


def session_params(**extra: str) -> dict[str, str]:
    return {
        "mode": "payment",
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "1250",
        "line_items[0][price_data][product_data][name]": "Tea <b>pot</b>",
        "line_items[0][quantity]": "2",
        "success_url": SUCCESS_URL,
        "cancel_url": CANCEL_URL,
        "client_reference_id": "po_1",
        "metadata[payment_order_id]": "po_1",
        **extra,
    }


def card(number: str, expiry: str = "12 / 34", cvc: str = "123") -> dict[str, str]:
    return {"card_number": number, "expiry": expiry, "cvc": cvc}


@pytest.fixture
def settings(tmp_path: Path) -> SandboxSettings:
    return SandboxSettings(state_file=tmp_path / "psp-sandbox.jsonl", public_url="http://sandbox")


@pytest.fixture
async def client(settings: SandboxSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(settings) as running:
        yield running


async def new_session(client: httpx.AsyncClient, **extra: str) -> dict[str, Any]:
    response = await client.post("/v1/checkout/sessions", data=session_params(**extra))
    assert response.status_code == 200, response.text
    return response.json()


def page_path(session: dict[str, Any]) -> str:
    return urlsplit(session["url"]).path


def redirect_query(response: httpx.Response) -> tuple[str, dict[str, str]]:
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    query = {name: values[0] for name, values in parse_qs(location.query).items()}
    return f"{location.scheme}://{location.netloc}{location.path}", query


async def test_a_session_is_priced_and_points_at_the_sandboxs_page(
    client: httpx.AsyncClient,
) -> None:
    session = await new_session(client)

    assert session["object"] == "checkout.session"
    assert session["id"].startswith("cs_test_")
    assert (session["amount_total"], session["currency"]) == (2500, "usd")
    assert (session["status"], session["payment_status"]) == ("open", "unpaid")
    assert session["payment_intent"] is None
    assert session["url"] == f"http://sandbox/pay/{session['id']}"
    assert session["metadata"] == {"payment_order_id": "po_1"}
    fetched = await client.get(f"/v1/checkout/sessions/{session['id']}")
    assert fetched.json() == session


async def test_the_page_is_a_real_card_form_posting_back(client: httpx.AsyncClient) -> None:
    session = await new_session(client)
    page = await client.get(page_path(session), headers={"Authorization": ""})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "25.00 USD" in page.text
    assert re.search(rf'<form method="post" action="/pay/{session["id"]}">', page.text)
    for field in ("card_number", "expiry", "cvc"):
        assert f'name="{field}"' in page.text


async def test_paying_with_4242_redirects_with_success_and_completes_the_session(
    client: httpx.AsyncClient,
) -> None:
    session = await new_session(client)
    response = await client.post(page_path(session), data=card("4242 4242 4242 4242"))

    url, query = redirect_query(response)
    assert url == "https://shop.example/paid"
    assert query["order"] == "po_1" and query["session"] == session["id"]
    assert query["result"] == "succeeded" and query["session_id"] == session["id"]
    intent = (await client.get(f"/v1/payment_intents/{query['payment_intent']}")).json()
    assert (intent["status"], intent["amount"]) == ("succeeded", 2500)
    assert intent["metadata"]["payment_order_id"] == "po_1"
    done = (await client.get(f"/v1/checkout/sessions/{session['id']}")).json()
    assert (done["status"], done["payment_status"]) == ("complete", "paid")
    assert done["payment_intent"] == intent["id"]
    # A second click charges nothing and lands on the same result.
    again = await client.post(page_path(session), data=card("4242424242424242"))
    assert redirect_query(again)[1]["payment_intent"] == intent["id"]
    everything = (await client.get("/v1/payment_intents")).json()["data"]
    assert len(everything) == 1


@pytest.mark.parametrize(
    ("number", "decline_code"),
    [("4000000000000002", "generic_decline"), ("4000000000009995", "insufficient_funds")],
)
async def test_a_declined_card_redirects_with_the_reason_and_may_try_again(
    client: httpx.AsyncClient, number: str, decline_code: str
) -> None:
    session = await new_session(client)
    declined = await client.post(page_path(session), data=card(number))

    url, query = redirect_query(declined)
    assert url == CANCEL_URL
    assert (query["result"], query["decline_code"]) == ("failed", decline_code)
    still_open = (await client.get(f"/v1/checkout/sessions/{session['id']}")).json()
    assert still_open["status"] == "open"

    paid = await client.post(page_path(session), data=card("4242424242424242"))
    assert redirect_query(paid)[1]["result"] == "succeeded"
    assert redirect_query(paid)[1]["payment_intent"] == query["payment_intent"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (card("4242424242424241"), "card number is invalid"),
        (card("4242424242424242", expiry="01 / 20"), "in the past"),
        (card("4242424242424242", cvc="1"), "security code"),
    ],
)
async def test_bad_card_fields_show_the_form_again_without_the_number(
    client: httpx.AsyncClient, fields: dict[str, str], message: str
) -> None:
    session = await new_session(client)
    response = await client.post(page_path(session), data=fields)

    assert response.status_code == 400
    assert message in response.text
    assert fields["card_number"] not in response.text
    assert (await client.get("/v1/payment_intents")).json()["data"] == []


async def test_the_card_number_is_never_stored(
    client: httpx.AsyncClient, settings: SandboxSettings
) -> None:
    session = await new_session(client)
    await client.post(page_path(session), data=card("4000 0000 0000 9995"))
    await client.post(page_path(session), data=card("4242424242424242"))

    journal = settings.state_file.read_text()
    assert "4000000000009995" not in journal and "4242424242424242" not in journal


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"mode": "subscription"}, "mode"),
        (
            {"line_items[0][price_data][unit_amount]": "12.50"},
            "line_items[0][price_data][unit_amount]",
        ),
        ({"success_url": "javascript:alert(1)"}, "success_url"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_invalid_session_parameters_are_named_in_a_400(
    client: httpx.AsyncClient, change: dict[str, str], param: str
) -> None:
    response = await client.post("/v1/checkout/sessions", data={**session_params(), **change})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


async def test_an_unknown_session_page_is_a_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/pay/cs_test_missing")).status_code == 404
    assert (await client.get("/v1/checkout/sessions/cs_test_missing")).status_code == 404


async def test_the_sdk_makes_a_session_and_paying_sends_a_signed_webhook(
    settings: SandboxSettings,
) -> None:
    async with webhook_receiver() as receiver:
        settings = dataclasses.replace(settings, webhook_url=receiver.url, public_url="")
        async with served(settings) as base_url:
            http = stripe.HTTPXClient(timeout=5)
            sdk = stripe.StripeClient(
                TEST_API_KEY,
                base_addresses={"api": base_url},
                max_network_retries=0,
                http_client=http,
            )
            try:
                session = await sdk.v1.checkout.sessions.create_async(
                    {
                        "mode": "payment",
                        "line_items": [
                            {
                                "price_data": {
                                    "currency": "eur",
                                    "unit_amount": 999,
                                    "product_data": {"name": "Order po_9"},
                                },
                                "quantity": 1,
                            }
                        ],
                        "success_url": "https://shop.example/ok",
                        "metadata": {"payment_order_id": "po_9"},
                    },
                    {"idempotency_key": "po_9"},
                )
            finally:
                await http.close_async()
            assert session.url is not None
            assert session.url.startswith(base_url)
            async with httpx.AsyncClient() as browser:
                form = await browser.get(session.url)
                paid = await browser.post(session.url, data=card("4242424242424242"))
            deadline = time.monotonic() + 3
            while not any(b"checkout.session.completed" in body for _, body in receiver.received):
                assert time.monotonic() < deadline, "no checkout.session.completed webhook"
                await asyncio.sleep(0.02)

    assert form.status_code == 200 and "9.99 EUR" in form.text
    assert redirect_query(paid)[1]["result"] == "succeeded"
    events = [
        stripe.Webhook.construct_event(
            body.decode(), headers["stripe-signature"], settings.webhook_secret
        )
        for headers, body in receiver.received
    ]
    completed = next(e for e in events if e.type == "checkout.session.completed")
    assert completed.data.object.id == session.id
    assert completed.data.object.payment_status == "paid"
    assert completed.data.object.metadata["payment_order_id"] == "po_9"
