"""The stack as a user runs it: `paymesh dev` starts every process; we pay through HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import httpx
import pytest

pytestmark = pytest.mark.e2e

PAYMESH = [sys.executable, "-m", "paymesh_cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("stack") / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    proc = subprocess.Popen(
        [*PAYMESH, "dev", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 180
    url = None
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("paymesh ready:"):
            url = line.split()[2]
            break
    if url is None:
        proc.kill()
        pytest.fail("paymesh dev did not get ready:\n" + "".join(lines[-60:]))
    key = (data_dir / "dev-api-key").read_text().strip()
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    yield {"proc": proc, "url": url, "client": client, "data_dir": data_dir}
    client.close()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def check(stack) -> dict:
    out = subprocess.run(
        [
            *PAYMESH,
            "check",
            "--json",
            "--data-dir",
            str(stack["data_dir"]),
            "--settle-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    return report


@pytest.fixture(autouse=True)
def money_invariants_hold_after_each_test(stack):
    yield
    if stack["proc"].poll() is not None:
        return  # the stack was stopped by the test itself, which checked before stopping
    report = check(stack)
    assert report["ok"], report["violations"]


def pay(client, orders, payment_method="pm_card_visa", key=None, checkout_id=None):
    body = {
        "checkout_id": checkout_id or f"co-{uuid.uuid4().hex[:12]}",
        "buyer_info": {"buyer_id": "buyer-1", "email": "buyer@example.com"},
        "payment_method": payment_method,
        "payment_orders": orders,
    }
    return body, client.post(
        "/v1/payments", json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())}
    )


def wait_done(client, checkout_id, timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = client.get(f"/v1/checkouts/{checkout_id}")
        assert resp.status_code == 200, resp.text
        checkout = resp.json()["checkout"]
        if checkout["is_payment_done"]:
            return checkout
        time.sleep(0.1)
    pytest.fail(f"checkout {checkout_id} not done in {timeout}s: {checkout}")


def balance(client, path, currency="USD") -> dict:
    resp = client.get(path)
    assert resp.status_code == 200, resp.text
    return next(b for b in resp.json()["balances"] if b["currency"] == currency)


def test_a_two_seller_checkout_is_charged_credited_and_booked(stack):
    client = stack["client"]
    s1, s2 = f"seller-{uuid.uuid4().hex[:8]}", f"seller-{uuid.uuid4().hex[:8]}"
    trial_before = client.get("/v1/ledger/trial-balance").json()
    body, resp = pay(
        client,
        [
            {
                "payment_order_id": f"po-{uuid.uuid4().hex[:12]}",
                "seller_account": s1,
                "amount": "120.00",
                "currency": "USD",
            },
            {
                "payment_order_id": f"po-{uuid.uuid4().hex[:12]}",
                "seller_account": s2,
                "amount": "35.50",
                "currency": "USD",
            },
        ],
    )
    assert resp.status_code == 202, resp.text
    accepted = resp.json()["checkout"]
    assert [o["status"] for o in accepted["payment_orders"]] == [
        "PAYMENT_ORDER_STATUS_NOT_STARTED"
    ] * 2

    checkout = wait_done(client, body["checkout_id"])
    for order in checkout["payment_orders"]:
        assert order["status"] == "PAYMENT_ORDER_STATUS_SUCCESS"
        assert order["wallet_updated"] and order["ledger_updated"]
        assert order["psp_reference"].startswith("pi_")
        statuses = [h["to_status"] for h in order["history"]]
        assert statuses == [
            "PAYMENT_ORDER_STATUS_NOT_STARTED",
            "PAYMENT_ORDER_STATUS_EXECUTING",
            "PAYMENT_ORDER_STATUS_SUCCESS",
        ]
        single = client.get(f"/v1/payments/{order['payment_order_id']}").json()["payment_order"]
        assert single["status"] == "PAYMENT_ORDER_STATUS_SUCCESS"

    # Platform fee 10 %: sellers are owed 108.00 and 31.95, pending until release.
    w1, w2 = balance(client, f"/v1/wallets/{s1}"), balance(client, f"/v1/wallets/{s2}")
    assert (w1["pending"], w1["total"]) == ("108.00", "108.00")
    assert (w2["pending"], w2["total"]) == ("31.95", "31.95")
    assert balance(client, f"/v1/ledger/accounts/seller_payable:{s1}")["balance"] == "108.00"
    assert balance(client, f"/v1/ledger/accounts/seller_payable:{s2}")["balance"] == "31.95"

    entries = client.get(f"/v1/ledger/accounts/seller_payable:{s1}/entries").json()["entries"]
    assert len(entries) == 1 and entries[0]["side"] == "SIDE_CREDIT"

    trial = client.get("/v1/ledger/trial-balance").json()
    assert trial["balanced"] is True
    usd = next(c for c in trial["currencies"] if c["currency"] == "USD")
    before = next((c for c in trial_before["currencies"] if c["currency"] == "USD"), None)
    grown = Decimal(usd["debits"]) - Decimal(before["debits"] if before else "0")
    assert grown == Decimal("155.50")


def test_a_replayed_request_answers_the_same_and_charges_once(stack):
    client = stack["client"]
    key = str(uuid.uuid4())
    order = {
        "payment_order_id": f"po-{uuid.uuid4().hex[:12]}",
        "seller_account": "seller-r",
        "amount": "10.00",
        "currency": "USD",
    }
    body, first = pay(client, [order], key=key)
    assert first.status_code == 202
    _, again = pay(client, [order], key=key, checkout_id=body["checkout_id"])
    assert again.status_code == 202
    assert again.json()["checkout"]["checkout_id"] == body["checkout_id"]
    wait_done(client, body["checkout_id"])
    _, changed = pay(
        client, [{**order, "amount": "11.00"}], key=key, checkout_id=body["checkout_id"]
    )
    assert changed.status_code == 422, changed.text


def test_a_declined_card_fails_the_order_with_its_reason(stack):
    client = stack["client"]
    body, resp = pay(
        client,
        [
            {
                "payment_order_id": f"po-{uuid.uuid4().hex[:12]}",
                "seller_account": "seller-d",
                "amount": "10.00",
                "currency": "USD",
            }
        ],
        payment_method="pm_card_chargeDeclinedInsufficientFunds",
    )
    assert resp.status_code == 202
    checkout = wait_done(client, body["checkout_id"])
    order = checkout["payment_orders"][0]
    assert order["status"] == "PAYMENT_ORDER_STATUS_FAILED"
    assert "insufficient_funds" in order["failure_reason"]
    assert not order["wallet_updated"] and not order["ledger_updated"]


def test_bad_input_gets_a_clear_400_and_nothing_is_stored(stack):
    client = stack["client"]
    checkout_id = f"co-{uuid.uuid4().hex[:12]}"
    _, resp = pay(
        client,
        [
            {
                "payment_order_id": "po-x",
                "seller_account": "s",
                "amount": "10.001",
                "currency": "USD",
            }
        ],
        checkout_id=checkout_id,
    )
    assert resp.status_code == 400
    detail = resp.json()["error"]
    assert any(
        v["field"] == "payment_orders[0].amount"
        for d in detail["details"]
        for v in d.get("fieldViolations", [])
    )
    assert client.get(f"/v1/checkouts/{checkout_id}").status_code == 404
    assert httpx.get(f"{stack['url']}/v1/ledger/trial-balance").status_code == 401


def test_sigterm_stops_every_process(stack):
    # Runs last in this module (pytest keeps file order): stop the stack as an operator would.
    proc = stack["proc"]
    check(stack)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    leftover = subprocess.run(
        ["pgrep", "-f", str(stack["data_dir"])], capture_output=True, text=True
    ).stdout.strip()
    assert leftover == "", f"processes left behind: {leftover}"
