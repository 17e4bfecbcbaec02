"""Refunds as a user makes them: `paymesh dev` starts every process; we pay, refund part, refund
the rest and are refused a third time, all over REST; `paymesh check` passes after each test
(the PSP's refunds included)."""

from __future__ import annotations

import time
import uuid

import pytest
from devstack import check, dev_stack, pay, wait_done

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with dev_stack(tmp_path_factory.mktemp("stack") / "data") as running:
        yield running


@pytest.fixture(autouse=True)
def money_invariants_hold_after_each_test(stack):
    yield
    report = check(stack)
    assert report["ok"], report["violations"]


def balance(client, path, currency="USD") -> dict:
    resp = client.get(path)
    assert resp.status_code == 200, resp.text
    return next(b for b in resp.json()["balances"] if b["currency"] == currency)


def reason_of(response) -> str:
    details = response.json()["error"]["details"]
    return next(d["reason"] for d in details if d["@type"].endswith("ErrorInfo"))


def refund(client, payment_order_id: str, amount: str | None = None, key: str | None = None):
    body = {"payment_order_id": payment_order_id}
    if amount is not None:
        body["amount"] = amount
    return client.post(
        "/v1/refunds", json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())}
    )


def wait_refund(client, refund_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.get(f"/v1/refunds/{refund_id}")
        assert found.status_code == 200, found.text
        if found.json()["refund"]["status"] != "REFUND_STATUS_PENDING":
            return found.json()["refund"]
        time.sleep(0.1)
    pytest.fail(f"refund {refund_id} still pending after {timeout}s")


def wait_owed(client, seller: str, amount: str, timeout: float = 30.0) -> None:
    """Until the seller's wallet total and ledger payable both read `amount`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wallet = balance(client, f"/v1/wallets/{seller}")["total"]
        ledger = balance(client, f"/v1/ledger/accounts/seller_payable:{seller}")["balance"]
        if (wallet, ledger) == (amount, amount):
            return
        time.sleep(0.1)
    pytest.fail(f"{seller}: wallet {wallet}, ledger {ledger}, expected {amount}")


def test_refund_part_then_the_rest_then_nothing_more(stack):
    client = stack["client"]
    seller, order_id = f"seller-{uuid.uuid4().hex[:8]}", f"po-{uuid.uuid4().hex[:12]}"
    body, paid = pay(
        client,
        [
            {
                "payment_order_id": order_id,
                "seller_account": seller,
                "amount": "80.00",
                "currency": "USD",
            }
        ],
    )
    assert paid.status_code == 202, paid.text
    wait_done(client, body["checkout_id"])
    wait_owed(client, seller, "72.00")

    key = str(uuid.uuid4())
    first = refund(client, order_id, "20.00", key=key)
    assert first.status_code == 202, first.text
    accepted = first.json()["refund"]
    assert (accepted["amount"], accepted["fee_refunded"], accepted["status"]) == (
        "20.00",
        "2.00",
        "REFUND_STATUS_PENDING",
    )
    again = refund(client, order_id, "20.00", key=key)  # a retry: the same refund, once
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (202, "true")
    assert again.json()["refund"]["refund_id"] == accepted["refund_id"]

    done = wait_refund(client, accepted["refund_id"])
    assert done["status"] == "REFUND_STATUS_SUCCEEDED" and done["psp_reference"].startswith("re_")
    wait_owed(client, seller, "54.00")  # 72.00 - (20.00 - 2.00)

    rest = refund(client, order_id)  # no amount: all that remains
    assert rest.status_code == 202, rest.text
    assert (rest.json()["refund"]["amount"], rest.json()["refund"]["fee_refunded"]) == (
        "60.00",
        "6.00",
    )
    wait_refund(client, rest.json()["refund"]["refund_id"])
    wait_owed(client, seller, "0.00")

    third = refund(client, order_id, "0.01")
    assert (third.status_code, reason_of(third)) == (422, "REFUND_EXCEEDS_REMAINING")
    assert client.get("/v1/refunds/rf_nothing_here").status_code == 404
    report = check(stack)
    assert report["stats"]["refunds_by_status"] == {"SUCCEEDED": 2}
    assert "psp_refunds" not in report["skipped"]


def test_a_declined_order_cannot_be_refunded(stack):
    client = stack["client"]
    order_id = f"po-{uuid.uuid4().hex[:12]}"
    body, _ = pay(
        client,
        [
            {
                "payment_order_id": order_id,
                "seller_account": "seller-d",
                "amount": "5.00",
                "currency": "USD",
            }
        ],
        payment_method="pm_card_chargeDeclined",
    )
    wait_done(client, body["checkout_id"])
    refused = refund(client, order_id)
    assert (refused.status_code, reason_of(refused)) == (422, "ORDER_NOT_REFUNDABLE")
