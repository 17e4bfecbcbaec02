"""The stack as a user runs it: `paymesh dev` starts every process; we pay through HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from devstack import PAYMESH, check, dev_stack, new_order, pay, wait_done

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with dev_stack(tmp_path_factory.mktemp("stack") / "data") as running:
        yield running


@pytest.fixture(autouse=True)
def money_invariants_hold_after_each_test(stack):
    yield
    if stack["proc"].poll() is not None:
        return  # the stack was stopped by the test itself, which checked before stopping
    report = check(stack)
    assert report["ok"], report["violations"]


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


def reason_of(response: httpx.Response) -> str:
    details = response.json()["error"]["details"]
    return next(d["reason"] for d in details if d["@type"].endswith("ErrorInfo"))


def test_each_idempotency_rule_holds_over_rest(stack):
    client = stack["client"]
    key, order = str(uuid.uuid4()), new_order()
    body, first = pay(client, [order], key=key)
    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers

    # The same key and body: the stored answer, marked as such.
    _, again = pay(client, [order], key=key, checkout_id=body["checkout_id"])
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (202, "true")
    assert again.json() == first.json()

    # The same key, another body: 422, nothing processed.
    _, changed = pay(
        client, [{**order, "amount": "11.00"}], key=key, checkout_id=body["checkout_id"]
    )
    assert (changed.status_code, reason_of(changed)) == (422, "IDEMPOTENCY_KEY_REUSED")

    # A new key for an order id or a checkout id already taken: 409, never executed twice.
    _, same_order = pay(client, [order])
    _, same_checkout = pay(client, [new_order()], checkout_id=body["checkout_id"])
    for refused in (same_order, same_checkout):
        assert (refused.status_code, reason_of(refused)) == (409, "ALREADY_EXISTS")

    # No key on a mutating route: 400.
    missing = client.post("/v1/payments", json={**body, "payment_orders": [new_order()]})
    assert missing.status_code == 400
    assert "Idempotency-Key" in missing.json()["error"]["message"]

    wait_done(client, body["checkout_id"])
    check(stack)


def test_a_concurrent_burst_with_one_key_is_processed_once(stack):
    key, order, checkout_id = str(uuid.uuid4()), new_order(), f"co-{uuid.uuid4().hex[:12]}"
    start = threading.Barrier(6)
    api_key = stack["client"].headers["Authorization"]

    def send(_: int) -> httpx.Response:
        with httpx.Client(
            base_url=stack["url"], headers={"Authorization": api_key}, timeout=30
        ) as client:
            start.wait()
            return pay(client, [order], key=key, checkout_id=checkout_id)[1]

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(send, range(6)))

    fresh = [
        r for r in responses if r.status_code == 202 and "Idempotent-Replayed" not in r.headers
    ]
    assert len(fresh) == 1, [(r.status_code, dict(r.headers)) for r in responses]
    for r in responses:
        if r.status_code == 202:
            assert r.json() == fresh[0].json()
        else:
            assert (r.status_code, reason_of(r)) == (429, "IDEMPOTENCY_KEY_IN_USE")
            assert r.headers["Retry-After"] == "1"
    wait_done(stack["client"], checkout_id)
    check(stack)


def test_idempotency_keys_belong_to_the_api_key_that_sent_them(stack):
    made = subprocess.run(
        [
            *PAYMESH,
            *("api-key", "create", "--name", "second shop", "--scope", "payments:write"),
            *("--data-dir", str(stack["data_dir"])),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    other = httpx.Client(
        base_url=stack["url"],
        headers={"Authorization": f"Bearer {made.stdout.strip()}"},
        timeout=30,
    )
    shared_key = str(uuid.uuid4())
    with other:
        mine, theirs = (
            pay(stack["client"], [new_order()], key=shared_key),
            pay(other, [new_order()], key=shared_key),
        )
    for body, response in (mine, theirs):
        assert response.status_code == 202, response.text
        assert "Idempotent-Replayed" not in response.headers
        wait_done(stack["client"], body["checkout_id"])
    check(stack)


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


def test_the_open_loop_benchmark_settles_everything_and_says_where_the_cpu_went(stack):
    """The short form of `paymesh bench --rate R --duration S --baseline`: arrivals on a
    schedule, every order settled, CPU per order for each process of the stack, pgbench's tps
    on the same PostgreSQL and the ratio, and the invariants after."""
    result = subprocess.run(
        [
            *PAYMESH,
            "bench",
            "--data-dir",
            str(stack["data_dir"]),
            "--rate",
            "10",
            "--duration",
            "1",
            "--baseline",
            "--baseline-seconds",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)
    assert figures["mode"] == "open loop"
    assert figures["settled_orders"] == 20 and figures["errors"] == {}
    assert figures["queued_orders_at_load_end"] >= 0
    cpu = figures["cpu_ms_per_settled_order"]
    assert {"gateway", "payment_svc", "wallet_svc", "ledger_svc", "psp_sandbox"} <= set(
        cpu["per_process"]
    )
    assert {"postgresql", "nats"} <= set(cpu["per_process"])
    assert cpu["per_process"]["payment_svc"] > 0
    assert cpu["paymesh_total"] < sum(cpu["per_process"].values())  # the sandbox left out
    assert figures["baseline"]["pgbench_tps"] > 0
    assert figures["ratio_to_pgbench"] > 0
    assert figures["check"]["ok"]


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
