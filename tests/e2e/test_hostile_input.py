"""Hostile and unusual input over REST on `paymesh dev`: the contract's maximum of 100 orders is
paid, 101 and a mebibyte of orders are refused fast, text PostgreSQL cannot store is a 400
naming the field, and amounts Stripe would refuse are refused before anything is charged
(and amounts in its special currencies are charged right). Never a 5xx; `paymesh check` after
each test."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from devstack import check, dev_stack, new_order, pay, wait_done

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with dev_stack(tmp_path_factory.mktemp("hostile") / "data") as running:
        yield running


@pytest.fixture(autouse=True)
def money_invariants_hold_after_each_test(stack):
    yield
    report = check(stack, settle_timeout=60)
    assert report["ok"], report["violations"]


def violations_of(response) -> list[tuple[str, str]]:
    details = response.json()["error"]["details"]
    found = [d for d in details if d["@type"].endswith("BadRequest")]
    return [(v["field"], v["reason"]) for v in found[0]["fieldViolations"]] if found else []


def post_raw(client, raw: bytes):
    return client.post(
        "/v1/payments",
        content=raw,
        headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"},
    )


def test_a_checkout_of_100_orders_is_paid_and_101_are_refused(stack):
    client = stack.client
    started = time.perf_counter()
    body, response = pay(client, [new_order(seller=f"seller-{i % 7}") for i in range(100)])
    accepted_s = time.perf_counter() - started
    assert response.status_code == 202, response.text
    assert accepted_s < 10, accepted_s
    print(f"100-order checkout accepted in {accepted_s * 1000:.0f} ms")
    checkout = wait_done(client, body["checkout_id"], timeout=120)
    statuses = {o["status"] for o in checkout["payment_orders"]}
    assert len(checkout["payment_orders"]) == 100
    assert statuses == {"PAYMENT_ORDER_STATUS_SUCCESS"}

    body, response = pay(client, [new_order() for _ in range(101)])
    assert response.status_code == 400
    assert violations_of(response) == [("payment_orders", "repeated.max_items")]
    assert client.get(f"/v1/checkouts/{body['checkout_id']}").status_code == 404


def test_a_mebibyte_of_orders_is_refused_fast(stack):
    orders = [new_order() for _ in range(8000)]
    raw = json.dumps(
        {
            "checkout_id": "co-big",
            "buyer_info": {"buyer_id": "b"},
            "payment_method": "pm_card_visa",
            "payment_orders": orders,
        }
    ).encode()
    assert 700_000 < len(raw) < 1024 * 1024
    started = time.perf_counter()
    response = post_raw(stack.client, raw)
    refused_s = time.perf_counter() - started
    assert response.status_code == 400
    assert violations_of(response) == [("payment_orders", "repeated.max_items")]
    assert refused_s < 1.0, refused_s
    print(f"{len(raw)} bytes of orders refused in {refused_s * 1000:.0f} ms")

    response = post_raw(stack.client, raw + b" " * (1024 * 1024))
    assert response.status_code == 413
    assert response.json()["error"]["details"][0]["reason"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    ("escaped", "field"),
    [
        ('"checkout_id": "co-\\u0000"', "checkout_id"),
        ('"buyer_info": {"buyer_id": "b", "name": "Ada\\u0000"}', "buyer_info.name"),
        ('"buyer_info": {"buyer_id": "b\\ud800"}', "buyer_info.buyer_id"),
    ],
)
def test_text_the_database_cannot_store_is_a_400_naming_the_field(stack, escaped, field):
    body = {
        "checkout_id": "co-text",
        "buyer_info": {"buyer_id": "b"},
        "payment_method": "pm_card_visa",
        "payment_orders": [new_order()],
    }
    raw = json.dumps(body)
    key = escaped.split(":", 1)[0]
    start = raw.index(key)
    end = raw.index("}", start) + 1 if key == '"buyer_info"' else raw.index(",", start)
    response = post_raw(stack.client, (raw[:start] + escaped + raw[end:]).encode())
    assert response.status_code == 400, response.text
    assert violations_of(response) == [(field, "string.storable")]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/payments/po-%00", "payment_order_id"),
        ("/v1/checkouts/co%00x", "checkout_id"),
        ("/v1/wallets/seller%00", "seller_account"),
        ("/v1/ledger/accounts/seller_payable:x/entries?page_token=%00", "page_token"),
    ],
)
def test_a_nul_in_a_path_or_query_parameter_is_a_400_naming_it(stack, url, field):
    response = stack.client.get(url)
    assert response.status_code == 400, response.text
    assert (field, "string.storable") in violations_of(response)


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("5.124", "KWD"), ("12.50", "MGA"), ("1000000.00", "USD")],
)
def test_an_amount_stripe_would_refuse_is_a_400_before_any_charge(stack, amount, currency):
    body, response = pay(stack.client, [new_order(amount=amount, currency=currency)])
    assert response.status_code == 400, response.text
    assert violations_of(response) == [("payment_orders[0].amount", "amount.psp")]
    assert stack.client.get(f"/v1/checkouts/{body['checkout_id']}").status_code == 404


def test_zero_two_and_three_decimal_and_special_currencies_are_charged(stack):
    orders = [
        new_order(amount="500", currency="JPY"),
        new_order(amount="10.50", currency="USD"),
        new_order(amount="5.120", currency="KWD"),
        new_order(amount="500", currency="ISK"),
        new_order(amount="12", currency="MGA"),
        new_order(amount="10.99", currency="HUF"),
    ]
    body, response = pay(stack.client, orders)
    assert response.status_code == 202, response.text
    checkout = wait_done(stack.client, body["checkout_id"], timeout=60)
    assert {o["status"] for o in checkout["payment_orders"]} == {"PAYMENT_ORDER_STATUS_SUCCESS"}
    amounts = {o["currency"]: o["amount"] for o in checkout["payment_orders"]}
    assert amounts == {
        "JPY": "500",
        "USD": "10.50",
        "KWD": "5.120",
        "ISK": "500",
        "MGA": "12.00",
        "HUF": "10.99",
    }

    kwd = next(o for o in checkout["payment_orders"] if o["currency"] == "KWD")
    response = stack.client.post(
        "/v1/refunds",
        json={"payment_order_id": kwd["payment_order_id"], "amount": "1.235"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 400, response.text
    assert violations_of(response) == [("amount", "amount.psp")]
