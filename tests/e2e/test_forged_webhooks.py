"""Attacks on the webhook endpoint and the right to erasure, on the stack as a user runs it
(`paymesh dev`), through the gateway's HTTP API."""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest
from devstack import PAYMESH, check, dev_stack, new_order, pay
from stripe_events import sign, stripe_event

from payment_svc.psp_secrets import SANDBOX_WEBHOOK_SECRET

pytestmark = pytest.mark.e2e

WEBHOOK = "/v1/webhooks/stripe"
PENDING = "PAYMENT_ORDER_STATUS_PENDING"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with dev_stack(tmp_path_factory.mktemp("stack") / "data") as running:
        yield running


@pytest.fixture(autouse=True)
def money_invariants_hold_after_each_test(stack):
    yield
    # Each test leaves an order waiting for 3-D Secure on purpose: it never settles by itself,
    # so waiting for orders in flight (30 s by default) would only add half a minute per test.
    report = check(stack, settle_timeout=3)
    assert report["ok"], report["violations"]


def pending_order(client) -> dict:
    """An order the PSP left waiting for 3-D Secure: the next webhook would settle it."""
    body, resp = pay(client, [new_order(amount="20.00")], "pm_card_threeDSecure2Required")
    assert resp.status_code == 202, resp.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        checkout = client.get(f"/v1/checkouts/{body['checkout_id']}").json()["checkout"]
        order = checkout["payment_orders"][0]
        if order["status"] == PENDING:
            return order
        time.sleep(0.1)
    pytest.fail(f"the order never reached PENDING: {order}")


def status_of(client, order: dict) -> str:
    return client.get(f"/v1/payments/{order['payment_order_id']}").json()["payment_order"]["status"]


def success_event(order: dict, **changes: object) -> bytes:
    fields = {
        "event_id": f"evt_{uuid.uuid4().hex[:12]}",
        "order_id": order["payment_order_id"],
        "intent_id": order["psp_reference"],
        "amount": 2000,
        "currency": "usd",
        **changes,
    }
    return stripe_event("payment_intent.succeeded", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="unsigned"),
        pytest.param(lambda p: "t=1,v1=deadbeef", id="garbage signature"),
        pytest.param(lambda p: sign(p, "whsec_attackers_own"), id="signed with another secret"),
    ],
)
def test_a_forged_webhook_is_400_and_settles_nothing(stack, signature) -> None:
    client = stack["client"]
    order = pending_order(client)
    payload = success_event(order)
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature(payload)

    response = client.post(WEBHOOK, content=payload, headers=headers)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"][0]["reason"] == "WEBHOOK_SIGNATURE_INVALID"
    assert status_of(client, order) == PENDING


@pytest.mark.parametrize(
    "forged",
    [{"amount": 1}, {"currency": "eur"}, {"intent_id": "pi_someone_elses"}],
    ids=["another amount", "another currency", "another intent"],
)
def test_a_genuinely_signed_event_that_disagrees_with_the_order_settles_nothing(
    stack, forged: dict[str, object]
) -> None:
    """As with a leaked secret, or an event of another charge replayed: the signature is good,
    the order is not what it says."""
    client = stack["client"]
    order = pending_order(client)
    payload = success_event(order, **forged)

    response = client.post(
        WEBHOOK,
        content=payload,
        headers={"Stripe-Signature": sign(payload, SANDBOX_WEBHOOK_SECRET)},
    )

    assert response.status_code == 200, response.text  # stored; the PSP need not retry
    assert response.json()["outcome"] == "WEBHOOK_OUTCOME_MISMATCH"
    assert status_of(client, order) == PENDING


def test_a_genuine_event_without_an_intent_id_is_400(stack) -> None:
    client = stack["client"]
    order = pending_order(client)
    payload = success_event(order, intent_id="")

    response = client.post(
        WEBHOOK,
        content=payload,
        headers={"Stripe-Signature": sign(payload, SANDBOX_WEBHOOK_SECRET)},
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"][0]["reason"] == "WEBHOOK_EVENT_REFUSED"
    assert status_of(client, order) == PENDING


def test_paymesh_pii_erase_erases_a_buyer_and_keeps_the_money(stack) -> None:
    client = stack["client"]
    data_dir = str(stack["data_dir"])
    buyer = f"buyer-{uuid.uuid4().hex[:8]}"
    body = {
        "checkout_id": f"co-{uuid.uuid4().hex[:12]}",
        "buyer_info": {"buyer_id": buyer, "email": "grace@example.com", "name": "Grace H"},
        "payment_method": "pm_card_visa",
        "payment_orders": [new_order(amount="42.00")],
    }
    created = client.post("/v1/payments", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 202, created.text
    path = f"/v1/checkouts/{body['checkout_id']}"
    assert client.get(path).json()["checkout"]["buyer_email_masked"] == "g***@example.com"
    ops_key = subprocess.run(
        [
            *PAYMESH,
            "api-key",
            "create",
            "privacy-officer",
            "--scope",
            "ops",
            "--data-dir",
            data_dir,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    erased = subprocess.run(
        [*PAYMESH, "pii", "erase", "--buyer", buyer, "--api-key", ops_key, "--data-dir", data_dir],
        capture_output=True,
        text=True,
    )

    assert erased.returncode == 0, erased.stdout + erased.stderr
    assert f"erased the personal data of buyer {buyer}: 1 checkouts" in erased.stdout
    checkout = client.get(path).json()["checkout"]
    assert checkout["buyer_pii_erased"] is True
    assert checkout.get("buyer_email_masked", "") == ""  # nothing left to show
    assert checkout["payment_orders"][0]["amount"] == "42.00"
