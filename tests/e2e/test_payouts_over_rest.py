"""Pay-out as a marketplace makes it: `paymesh dev` starts every process (payout_svc among them,
the sandbox as Stripe Connect); we pay in, release the order, register the seller and pay it
out, all over REST, with the wallet's buckets and the ledger's accounts agreeing after every
step; the hold period releases without a call; refusals are clear 422s. The payout statuses
arrive by the sandbox's signed Connect webhooks (`payout.*`): payout_svc's sweeper runs only
when it starts in this stack, so a payout that reaches PAID got there by webhook; one the bank
returns after it was paid comes back to `available` once, however often its event is
delivered. `paymesh check` passes after each test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from devstack import PAYMESH, check, dev_stack, pay, start_process, wait_done

from psp_sandbox.webhooks import signature_header

pytestmark = pytest.mark.e2e

HOLD_PERIOD_S = 20


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The stack, and a seller paid in as soon as it is ready (`stack.held`), left to the hold
    period: its wait overlaps the tests before the one that pays it out."""
    env = {
        "WALLET_HOLD_PERIOD_S": str(HOLD_PERIOD_S),
        "WALLET_RELEASE_INTERVAL_S": "1",
        # The sweeper looks once, at start (a payout stuck for 1 s then is asked about):
        # statuses come by webhook.
        "PAYOUT_SWEEP_INTERVAL_S": "3600",
        "PAYOUT_STUCK_AFTER_S": "1",
    }
    with dev_stack(tmp_path_factory.mktemp("stack") / "data", env) as running:
        seller, _ = paid_in(running.client, "20.00")
        wait_buckets(running.client, seller, pending="18.00")
        running.held = seller  # type: ignore[attr-defined]
        yield running


@pytest.fixture(autouse=True)
def money_invariants_hold_after_each_test(stack):
    yield
    report = check(stack)
    assert report["ok"], report["violations"]


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def reason_of(response) -> str:
    details = response.json()["error"]["details"]
    return next(d["reason"] for d in details if d["@type"].endswith("ErrorInfo"))


def buckets(client, seller: str) -> dict[str, str]:
    """The wallet's buckets in USD, and the ledger's account of each."""
    resp = client.get(f"/v1/wallets/{seller}", params={"currency": "USD"})
    assert resp.status_code == 200, resp.text
    [wallet] = resp.json()["balances"]
    found = {b: wallet[b] for b in ("pending", "available", "reserved", "debt")}
    for bucket, account in (
        ("pending", f"seller_payable:{seller}"),
        ("available", f"seller_payable_available:{seller}"),
        ("reserved", f"seller_payable_reserved:{seller}"),
    ):
        ledger = client.get(f"/v1/ledger/accounts/{account}", params={"currency": "USD"})
        found[f"ledger_{bucket}"] = (
            ledger.json()["balances"][0]["balance"] if ledger.status_code == 200 else "0.00"
        )
    return found


def wait_buckets(client, seller: str, timeout: float = 30.0, **expected: str) -> None:
    """Until every bucket reads as expected (others 0.00) in the wallet and in the ledger."""
    want = {b: expected.get(b, "0.00") for b in ("pending", "available", "reserved", "debt")}
    want.update({f"ledger_{b}": want[b] for b in ("pending", "available", "reserved")})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = buckets(client, seller)
        if found == want:
            return
        time.sleep(0.2)
    pytest.fail(f"{seller}: {found}, expected {want}")


def paid_in(client, amount: str = "100.00") -> tuple[str, str]:
    seller, order_id = f"seller-{uuid.uuid4().hex[:8]}", f"po-{uuid.uuid4().hex[:12]}"
    body, resp = pay(
        client,
        [
            {
                "payment_order_id": order_id,
                "seller_account": seller,
                "amount": amount,
                "currency": "USD",
            }
        ],
    )
    assert resp.status_code == 202, resp.text
    wait_done(client, body["checkout_id"])
    return seller, order_id


def test_pay_in_release_payout_paid_with_wallet_and_ledger_agreeing(stack):
    client = stack["client"]
    seller, order_id = paid_in(client)
    wait_buckets(client, seller, pending="90.00")

    released = client.post(f"/v1/payments/{order_id}/release", json={}, headers=key())
    assert released.status_code == 202, released.text
    assert (
        client.post(f"/v1/payments/{order_id}/release", json={}, headers=key()).status_code == 202
    )
    wait_buckets(client, seller, available="90.00")

    with sandbox(stack) as psp:
        account = psp.post("/v1/accounts", data={"type": "express", "country": "US"})
        assert account.status_code == 200, account.text
        destination = account.json()["id"]
    created = client.post(
        "/v1/sellers", json={"seller_account": seller, "destination": destination}, headers=key()
    )
    assert created.status_code == 200, created.text
    assert client.get(f"/v1/sellers/{seller}").json()["seller"]["destination"] == destination

    payout_id = f"payout-{uuid.uuid4().hex[:12]}"
    body = {"payout_id": payout_id, "seller_account": seller, "amount": "60.00", "currency": "USD"}
    accepted = client.post("/v1/payouts", json=body, headers=key())
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["payout"]["status"] == "PAYOUT_STATUS_RESERVED"
    wait_buckets(client, seller, available="30.00", reserved="60.00")

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        payout = client.get(f"/v1/payouts/{payout_id}").json()["payout"]
        if payout["status"] == "PAYOUT_STATUS_PAID":
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"payout not paid: {payout}")
    history = [h["to_status"].removeprefix("PAYOUT_STATUS_") for h in payout["history"]]
    assert history[:2] == ["REQUESTED", "RESERVED"] and history[-1] == "PAID"
    wait_buckets(client, seller, available="30.00")
    listed = client.get(f"/v1/sellers/{seller}/payouts").json()
    assert [p["payout_id"] for p in listed["payouts"]] == [payout_id]


def test_payout_refusals_are_422_and_reserve_nothing(stack):
    client = stack["client"]
    seller, order_id = paid_in(client, "50.00")
    client.post(f"/v1/payments/{order_id}/release", json={}, headers=key())
    wait_buckets(client, seller, available="45.00")
    assert client.post("/v1/sellers", json={"seller_account": seller}, headers=key()).is_success
    body = {"payout_id": f"p-{uuid.uuid4().hex[:8]}", "seller_account": seller, "currency": "USD"}

    no_destination = client.post("/v1/payouts", json=body, headers=key())
    assert no_destination.status_code == 422, no_destination.text
    assert reason_of(no_destination) == "NO_PAYOUT_DESTINATION"

    patched = client.patch(f"/v1/sellers/{seller}", json={"destination": "acct_x1"}, headers=key())
    assert patched.status_code == 200, patched.text
    too_much = client.post("/v1/payouts", json={**body, "amount": "45.01"}, headers=key())
    assert too_much.status_code == 422, too_much.text
    assert reason_of(too_much) == "INSUFFICIENT_FUNDS"
    info = next(d for d in too_much.json()["error"]["details"] if "metadata" in d)
    assert info["metadata"]["available"] == "45.00"
    bad = client.post("/v1/payouts", json={**body, "amount": "-1"}, headers=key())
    assert bad.status_code == 400
    unreleasable = client.post("/v1/payments/po-nobody/release", json={}, headers=key())
    assert unreleasable.status_code == 404
    wait_buckets(client, seller, available="45.00")


def wait_payout(client, payout_id: str, status: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    payout: dict = {}
    while time.monotonic() < deadline:
        resp = client.get(f"/v1/payouts/{payout_id}")
        if resp.status_code == 200:  # else payout_svc is starting again (a 503): ask again
            payout = resp.json()["payout"]
            if payout["status"] == f"PAYOUT_STATUS_{status}":
                return payout
        time.sleep(0.2)
    pytest.fail(f"payout not {status}: {payout}")


def sandbox(stack) -> httpx.Client:
    info = stack.stack_info()
    return httpx.Client(
        base_url=info["psp_api_base"],
        headers={"Authorization": f"Bearer {info['psp_api_key']}"},
        timeout=30,
    )


def released_seller(client, destination: str, amount: str = "100.00") -> str:
    """A seller paid in `amount`, released (90 % available), registered with `destination`."""
    seller, order_id = paid_in(client, amount)
    released = client.post(f"/v1/payments/{order_id}/release", json={}, headers=key())
    assert released.status_code == 202, released.text
    created = client.post(
        "/v1/sellers", json={"seller_account": seller, "destination": destination}, headers=key()
    )
    assert created.status_code == 200, created.text
    return seller


@pytest.fixture
def marketplace():
    """The marketplace's webhook receiver: the bodies POSTed to it."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("content-length", 0))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/paymesh", bodies
    server.shutdown()
    server.server_close()


def test_a_payout_returned_after_paid_comes_back_once_by_webhook(stack, marketplace):
    client = stack["client"]
    url, told = marketplace
    endpoint = client.post(
        "/v1/webhook-endpoints",
        json={"url": url, "event_types": ["payout.paid", "payout.failed"]},
        headers=key(),
    )
    assert endpoint.status_code == 200, endpoint.text
    destination = f"acct_sandboxReturns{uuid.uuid4().hex[:8]}"
    seller = released_seller(client, destination)
    wait_buckets(client, seller, available="90.00")
    payout_id = f"payout-{uuid.uuid4().hex[:12]}"
    body = {"payout_id": payout_id, "seller_account": seller, "amount": "90.00", "currency": "USD"}
    assert client.post("/v1/payouts", json=body, headers=key()).status_code == 202

    wait_payout(client, payout_id, "PAID")
    wait_buckets(client, seller)
    returned = wait_payout(client, payout_id, "FAILED")
    assert [h["to_status"].removeprefix("PAYOUT_STATUS_") for h in returned["history"]][-2:] == [
        "PAID",
        "FAILED",
    ]
    assert returned["failure_reason"] == "account_closed"
    wait_buckets(client, seller, available="90.00")
    deadline = time.monotonic() + 60
    while len(told) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    events = sorted((e["type"], e["data"]["status"]) for e in map(json.loads, told))
    assert events == [("payout.failed", "FAILED"), ("payout.paid", "PAID")], told
    assert {json.loads(b)["data"]["payout_id"] for b in told} == {payout_id}

    with sandbox(stack) as psp:
        at_provider = psp.get(
            "/v1/payouts", params={"limit": 100}, headers={"Stripe-Account": destination}
        ).json()["data"]
        assert [(p["status"], p["amount"]) for p in at_provider] == [("failed", 9000)]
        failed = psp.get("/v1/events", params={"type": "payout.failed", "limit": 100}).json()
    [event] = [e for e in failed["data"] if e.get("account") == destination]
    # The provider delivers the same event again (as Stripe does, at least once): a duplicate.
    payload = json.dumps(event)
    again = client.post(
        "/v1/webhooks/stripe-connect",
        content=payload,
        headers={
            "Stripe-Signature": signature_header(
                payload, "whsec_paymesh_sandbox_connect_dev", int(time.time())
            ),
            "Content-Type": "application/json",
        },
    )
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "PAYOUT_WEBHOOK_OUTCOME_DUPLICATE"
    forged = client.post(
        "/v1/webhooks/stripe-connect",
        content=payload,
        headers={"Stripe-Signature": signature_header(payload, "whsec_forged", int(time.time()))},
    )
    assert forged.status_code == 400, forged.text
    wait_buckets(client, seller, available="90.00")


def test_the_hold_period_releases_without_a_call_and_the_seller_is_paid(stack):
    client = stack["client"]
    seller = stack.held  # paid in 20.00 when the stack started; pending 18.00 was seen then
    wait_buckets(client, seller, timeout=HOLD_PERIOD_S + 30, available="18.00")
    with sandbox(stack) as psp:
        destination = psp.post("/v1/accounts", data={"type": "express"}).json()["id"]
    created = client.post(
        "/v1/sellers", json={"seller_account": seller, "destination": destination}, headers=key()
    )
    assert created.status_code == 200, created.text
    payout_id = f"payout-{uuid.uuid4().hex[:12]}"
    body = {"payout_id": payout_id, "seller_account": seller, "currency": "USD"}  # everything
    accepted = client.post("/v1/payouts", json=body, headers=key())
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["payout"]["amount"] == "18.00"
    wait_buckets(client, seller, reserved="18.00")
    wait_payout(client, payout_id, "PAID")
    wait_buckets(client, seller)


def test_two_payout_runs_at_once_from_two_processes_pay_each_seller_once(stack):
    client = stack["client"]
    with sandbox(stack) as psp:
        destination = psp.post("/v1/accounts", data={"type": "express"}).json()["id"]
    seller = released_seller(client, destination, "40.00")
    wait_buckets(client, seller, available="36.00")
    daily = {"schedule": "PAYOUT_SCHEDULE_DAILY", "minimums": [{"currency": "USD", "amount": "10"}]}
    assert client.patch(f"/v1/sellers/{seller}", json=daily, headers=key()).status_code == 200
    day = time.strftime("%Y-%m-%d", time.gmtime())
    argv = [*PAYMESH, "payouts", "run", "--date", day, "--json", "--data-dir", str(stack.data_dir)]
    runs = [
        start_process(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outs
    mine = [
        (p["payout_id"], p["amount"])
        for out, _ in outs
        for p in json.loads(out)["payouts"]
        if p["seller_account"] == seller
    ]
    # Both runs name the one run payout when they overlap; a run that comes after the other
    # reserved everything finds nothing left to pay (the seller's available is 0). Either way:
    # one payout id, of the whole amount, and one payout at the provider.
    assert len(set(mine)) == 1, mine
    wait_payout(client, mine[0][0], "PAID")
    wait_buckets(client, seller)
    with sandbox(stack) as psp:
        at_provider = psp.get(
            "/v1/payouts", params={"limit": 100}, headers={"Stripe-Account": destination}
        ).json()["data"]
    assert [(p["amount"], p["metadata"]["payout_id"]) for p in at_provider] == [(3600, mine[0][0])]


def payout_svc_pid(stack) -> int | None:
    """The pid of the stack's payout_svc process (a child of `paymesh dev`), None if none."""
    for task in Path("/proc").iterdir():
        if not task.name.isdigit():
            continue
        try:
            ppid = int((task / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (task / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == stack.proc.pid and b"payout_svc" in cmdline:
            return int(task.name)
    return None


def test_payout_svc_killed_mid_payout_resolves_it_by_asking_the_provider(stack):
    client = stack["client"]
    # The provider takes 2 s to answer the transfer: the call is in flight at the kill.
    destination = f"acct_sandboxSlow{uuid.uuid4().hex[:8]}"
    seller = released_seller(client, destination, "50.00")
    wait_buckets(client, seller, available="45.00")
    victim = payout_svc_pid(stack)
    assert victim is not None
    payout_id = f"payout-{uuid.uuid4().hex[:12]}"
    body = {"payout_id": payout_id, "seller_account": seller, "amount": "30.00", "currency": "USD"}
    accepted = client.post("/v1/payouts", json=body, headers=key())
    assert accepted.status_code == 202, accepted.text
    time.sleep(0.5)
    os.kill(victim, signal.SIGKILL)

    deadline = time.monotonic() + 120
    while (payout_svc_pid(stack) in (None, victim)) and time.monotonic() < deadline:
        time.sleep(0.2)  # `paymesh dev` starts it again, as an orchestrator would
    paid = wait_payout(client, payout_id, "PAID", timeout=120)
    assert paid["amount"] == "30.00"
    wait_buckets(client, seller, available="15.00")
    with sandbox(stack) as psp:
        at_provider = psp.get(
            "/v1/payouts", params={"limit": 100}, headers={"Stripe-Account": destination}
        ).json()["data"]
    assert [(p["amount"], p["metadata"]["payout_id"]) for p in at_provider] == [(3000, payout_id)]
