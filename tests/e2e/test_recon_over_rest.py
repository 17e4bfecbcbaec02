"""Reconciliation as finance uses it: `paymesh dev` starts every process (recon_svc among them,
reading the sandbox's settlement report and the payment schema as its own database role); a
day of pay-ins, a refund and a seller's payout over REST, a charge at the PSP that names
nothing of ours, a run started by `paymesh recon run --json` (REST underneath), the queue over
REST, the stray charge resolved once under an Idempotency-Key, and a second run that changes
nothing. `paymesh check` passes after."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from devstack import PAYMESH, check, dev_stack, new_order, pay, wait_done

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with dev_stack(tmp_path_factory.mktemp("stack") / "data") as running:
        yield running


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def stray_charge(stack, cents: int) -> str:
    """A charge made in the PSP's dashboard, without paymesh's metadata."""
    info = stack.stack_info()
    reply = httpx.post(
        f"{info['psp_api_base']}/v1/payment_intents",
        data={
            "amount": str(cents),
            "currency": "usd",
            "confirm": "true",
            "payment_method": "pm_card_visa",
        },
        headers={"Authorization": f"Bearer {info['psp_api_key']}"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["id"])


def refunded(client, order_id: str, amount: str) -> None:
    reply = client.post(
        "/v1/refunds",
        json={"payment_order_id": order_id, "amount": amount},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert reply.status_code == 202, reply.text
    refund_id = reply.json()["refund"]["refund_id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = client.get(f"/v1/refunds/{refund_id}").json()["refund"]["status"]
        if status == "REFUND_STATUS_SUCCEEDED":
            return
        time.sleep(0.1)
    pytest.fail(f"refund {refund_id} not settled")


def paid_out(stack, seller: str, order_id: str, amount: str) -> None:
    """The order released, the seller registered with a connected account at the sandbox, and
    `amount` paid out to it, all over REST, until the payout is PAID."""
    client = stack.client
    key = {"Idempotency-Key": str(uuid.uuid4())}
    released = client.post(f"/v1/payments/{order_id}/release", json={}, headers=key)
    assert released.status_code == 202, released.text
    info = stack.stack_info()
    account = httpx.post(
        f"{info['psp_api_base']}/v1/accounts",
        data={"type": "express", "country": "US"},
        headers={"Authorization": f"Bearer {info['psp_api_key']}"},
        timeout=30,
    )
    assert account.status_code == 200, account.text
    registered = client.post(
        "/v1/sellers",
        json={"seller_account": seller, "destination": account.json()["id"]},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert registered.status_code == 200, registered.text
    payout_id = f"payout-{uuid.uuid4().hex[:12]}"
    body = {"payout_id": payout_id, "seller_account": seller, "amount": amount, "currency": "USD"}
    deadline = time.monotonic() + 30
    while True:  # the release reaches the wallet's available bucket asynchronously
        accepted = client.post(
            "/v1/payouts", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        if accepted.status_code == 202 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 60
    while (payout := client.get(f"/v1/payouts/{payout_id}").json()["payout"])["status"] != (
        "PAYOUT_STATUS_PAID"
    ):
        assert time.monotonic() < deadline, payout
        time.sleep(0.3)


def recon_run_cli(stack) -> dict:
    out = subprocess.run(
        [*PAYMESH, "recon", "run", "--date", today(), "--json", "--data-dir", str(stack.data_dir)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_a_day_reconciled_over_rest_with_one_stray_charge_resolved(stack) -> None:
    client = stack.client
    seller = f"seller-{uuid.uuid4().hex[:8]}"
    orders = []
    for amount in ("25.00", "40.00"):
        order = new_order(seller, amount)
        body, reply = pay(client, [order])
        assert reply.status_code == 202, reply.text
        wait_done(client, body["checkout_id"])
        orders.append(order["payment_order_id"])
    refunded(client, orders[1], "15.00")
    # The seller paid out part of the first order (22.50 after the platform's fee): a transfer
    # to its connected account, which is no mismatch of the run's (paymesh check compares
    # payouts with the provider's), so the report below is the same as without it.
    paid_out(stack, seller, orders[0], "20.00")
    stray = stray_charge(stack, 1234)

    run = recon_run_cli(stack)
    assert run["status"] == "RUN_STATUS_SUCCEEDED", run
    report = run["report"]
    assert report["mismatched_by_type"] == {"unmatched_psp": "1"}
    assert report["mismatched_by_class"] == {"3": "1"} and report["new_mismatches"] == "1"
    assert report["matched"] == {"psp_id": "3"}  # two charges and the refund, by their ids
    # The PSP's fee of each of the three charges, booked in the ledger by the run (class 1).
    assert report["fixes"] == {"book_psp_fee": "3"}
    [usd] = report["totals"]
    assert (usd["ours"], usd["theirs"], usd["difference"]) == ("50.00", "62.34", "12.34")
    assert client.get(f"/v1/recon/runs/{run['run_id']}").json()["run"] == run

    queue = client.get(
        "/v1/recon/mismatches",
        params={
            "status": "MISMATCH_STATUS_OPEN",
            "mismatch_class": "MISMATCH_CLASS_UNCLASSIFIABLE",
        },
    )
    assert queue.status_code == 200, queue.text
    [found] = queue.json()["mismatches"]
    assert (found["type"], found["suggested_action"]) == ("unmatched_psp", "investigate")
    assert found["evidence"]["psp_payment_intent"] == stray

    key = str(uuid.uuid4())
    body = {"action": "RESOLUTION_ACTION_ACCEPT", "note": "a manual charge for a phone order"}
    path = f"/v1/recon/mismatches/{found['mismatch_id']}/resolve"
    first = client.post(path, json=body, headers={"Idempotency-Key": key})
    again = client.post(path, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json()
    resolved = first.json()["mismatch"]
    assert resolved["status"] == "MISMATCH_STATUS_RESOLVED"
    [resolution] = resolved["resolutions"]
    assert resolution["action"] == "RESOLUTION_ACTION_ACCEPT" and resolution["resolved_by"]
    refused = client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert refused.status_code == 422, refused.text
    no_key = client.post(path, json=body)
    assert no_key.status_code == 400, no_key.text

    # The same day again: the stray charge is known (and resolved), nothing is new.
    second = client.post(
        "/v1/recon/runs", json={"period": today()}, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert second.status_code == 202, second.text
    run_id = second.json()["run"]["run_id"]
    deadline = time.monotonic() + 60
    while (got := client.get(f"/v1/recon/runs/{run_id}").json()["run"])["status"] == (
        "RUN_STATUS_RUNNING"
    ):
        assert time.monotonic() < deadline, got
        time.sleep(0.2)
    assert got["status"] == "RUN_STATUS_SUCCEEDED" and got["report"]["new_mismatches"] == "0"
    assert got["report"].get("fixes", {}) == {}  # the fees were booked once
    assert client.get("/v1/recon/mismatches").json()["mismatches"] == [
        {**resolved, "resolutions": [], "last_run_id": run_id}
    ]
    report_after = check(stack)
    assert report_after["ok"], report_after["violations"]
