"""The finance queue's decisions carried out, as finance would make them over REST on a
`paymesh dev` stack (every process, the sandbox PSP, embedded PostgreSQL and NATS): a duplicate
charge the PSP took (seeded in the sandbox's books) refunded, only that charge and once however
often it is resolved; a small amount difference written off to `recon_suspense` once; a larger
one refused above the per-currency limit (RECON_WRITE_OFF_LIMITS). `paymesh check` passes after
each, and explains the suspense account."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from devstack import check, dev_stack, new_order, pay, wait_done

pytestmark = pytest.mark.e2e

USD_LIMIT = "0.50"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env = {"RECON_WRITE_OFF_LIMITS": f"USD={USD_LIMIT}"}
    with dev_stack(tmp_path_factory.mktemp("stack") / "data", env) as running:
        yield running


@pytest.fixture(scope="module")
def psp(stack):
    info = stack.stack_info()
    with httpx.Client(
        base_url=info["psp_api_base"],
        headers={"Authorization": f"Bearer {info['psp_api_key']}"},
        timeout=30,
    ) as client:
        yield client


def seed(psp: httpx.Client, **body: object) -> dict:
    reply = psp.post("/_sandbox/discrepancies", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def paid(client: httpx.Client, seller: str, amount: str) -> str:
    order = new_order(seller, amount)
    body, reply = pay(client, [order])
    assert reply.status_code == 202, reply.text
    wait_done(client, body["checkout_id"])
    return str(order["payment_order_id"])


def reconciled(client: httpx.Client) -> dict:
    today = datetime.now(UTC).date().isoformat()
    started = client.post(
        "/v1/recon/runs", json={"period": today}, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run"]["run_id"]
    deadline = time.monotonic() + 120
    while (run := client.get(f"/v1/recon/runs/{run_id}").json()["run"])["status"] == (
        "RUN_STATUS_RUNNING"
    ):
        assert time.monotonic() < deadline, run
        time.sleep(0.2)
    assert run["status"] == "RUN_STATUS_SUCCEEDED", run
    return run  # type: ignore[no-any-return]


def open_mismatch(client: httpx.Client, type_: str, order_id: str) -> dict:
    found = client.get("/v1/recon/mismatches", params={"type": type_, "page_size": 100})
    assert found.status_code == 200, found.text
    [mismatch] = [
        m for m in found.json()["mismatches"] if m["evidence"].get("payment_order_id") == order_id
    ]
    return mismatch  # type: ignore[no-any-return]


def resolve(client: httpx.Client, mismatch_id: str, action: str, key: str) -> httpx.Response:
    return client.post(
        f"/v1/recon/mismatches/{mismatch_id}/resolve",
        json={"action": f"RESOLUTION_ACTION_{action}", "note": "finance decided"},
        headers={"Idempotency-Key": key},
    )


def balance(client: httpx.Client, account: str) -> str:
    reply = client.get(f"/v1/ledger/accounts/{account}", params={"currency": "USD"})
    if reply.status_code == 404:
        return "0.00"
    assert reply.status_code == 200, reply.text
    [usd] = reply.json()["balances"]
    return str(usd["balance"])


@pytest.fixture(scope="module")
def day(stack, psp) -> dict:
    """Three orders of one seller paid; the PSP charges the first twice and reports the other
    two 0.05 and 2.00 more than charged; the day reconciled."""
    client = stack.client
    seller = f"seller-{uuid.uuid4().hex[:8]}"
    orders = {
        name: paid(client, seller, amount)
        for name, amount in (("twice", "25.00"), ("small", "30.00"), ("large", "40.00"))
    }
    seed(psp, kind="duplicate_charge", payment_order_id=orders["twice"])
    seed(psp, kind="amount_differs", payment_order_id=orders["small"], amount_delta=5)
    seed(psp, kind="amount_differs", payment_order_id=orders["large"], amount_delta=200)
    run = reconciled(client)
    assert run["report"]["mismatched_by_type"] == {"duplicate_charge": "1", "amount": "2"}, run
    return {"seller": seller, **orders}


def test_a_duplicate_charge_refunded_gives_back_only_that_charge_once(stack, psp, day) -> None:
    client = stack.client
    seller_before = balance(client, f"seller_payable:{day['seller']}")
    mismatch = open_mismatch(client, "duplicate_charge", day["twice"])
    duplicate = mismatch["evidence"]["psp_source"]
    intent = psp.get(f"/v1/payment_intents/{mismatch['evidence']['psp_payment_intent']}").json()
    assert duplicate.startswith("ch_") and duplicate != intent["latest_charge"]

    key = str(uuid.uuid4())
    first = resolve(client, mismatch["mismatch_id"], "REFUND", key)
    again = resolve(client, mismatch["mismatch_id"], "REFUND", key)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json()
    resolved = first.json()["mismatch"]
    assert resolved["status"] == "MISMATCH_STATUS_RESOLVED"
    [resolution] = resolved["resolutions"]
    assert resolution["action"] == "RESOLUTION_ACTION_REFUND" and resolution["resolved_by"]
    assert duplicate in resolution["outcome"] and "25.00 USD" in resolution["outcome"]
    # A second decision, under another key, is refused and gives back nothing more.
    second = resolve(client, mismatch["mismatch_id"], "REFUND", str(uuid.uuid4()))
    assert second.status_code == 422, second.text

    # At the PSP: the duplicate refunded once, in full; the order's own charge untouched.
    [refund] = psp.get("/v1/refunds", params={"charge": duplicate}).json()["data"]
    assert (refund["amount"], refund["status"]) == (2500, "succeeded")
    own = psp.get(f"/v1/charges/{intent['latest_charge']}").json()
    assert own["amount_refunded"] == 0
    # The order is still paid, not refunded; the seller's books did not move.
    order = client.get(f"/v1/payments/{day['twice']}").json()
    assert order["payment_order"]["status"] == "PAYMENT_ORDER_STATUS_SUCCESS", order
    assert balance(client, f"seller_payable:{day['seller']}") == seller_before
    assert balance(client, "recon_suspense") == "0.00"

    report = check(stack)
    assert report["ok"], report["violations"]
    assert report["stats"]["psp_receivable_explained"]["USD"]["duplicate_charges"] == "0.00"


def test_a_write_off_below_the_limit_is_booked_once_and_above_it_refused(stack, day) -> None:
    client = stack.client
    small = open_mismatch(client, "amount", day["small"])
    large = open_mismatch(client, "amount", day["large"])

    refused = resolve(client, large["mismatch_id"], "WRITE_OFF", str(uuid.uuid4()))
    assert refused.status_code == 422, refused.text
    assert "WRITE_OFF_ABOVE_THRESHOLD" in refused.text and USD_LIMIT in refused.text
    still = client.get(f"/v1/recon/mismatches/{large['mismatch_id']}").json()["mismatch"]
    assert still["status"] == "MISMATCH_STATUS_OPEN" and still.get("resolutions", []) == []

    key = str(uuid.uuid4())
    first = resolve(client, small["mismatch_id"], "WRITE_OFF", key)
    assert first.status_code == 200, first.text
    assert resolve(client, small["mismatch_id"], "WRITE_OFF", key).json() == first.json()
    assert resolve(client, small["mismatch_id"], "WRITE_OFF", str(uuid.uuid4())).status_code == 422
    [resolution] = first.json()["mismatch"]["resolutions"]
    assert "0.05 USD to recon_suspense" in resolution["outcome"]
    # The PSP holds 0.05 more than the books said: the receivable grew by it, against suspense.
    assert balance(client, "recon_suspense") == "0.05"

    report = check(stack)
    assert report["ok"], report["violations"]
    assert report["stats"]["recon_suspense"] == {"USD": "0.05"}
    assert report["stats"]["recon_suspense_explained"]["USD"]["write_offs"] == "0.05"
    assert report["stats"]["psp_receivable_explained"]["USD"]["write_offs"] == "0.05"
