"""Two replicas of payment_svc, wallet_svc and ledger_svc (`paymesh dev --replicas`), as on
Kubernetes with two pods each: checkouts paid through REST (some refunded) all settle, the
replicas share the gRPC calls and the durable consumers' messages, the PSP charged each order
exactly once, and `paymesh check` holds; one payment replica is killed with SIGKILL while the
checkouts come in, and nothing is lost or done twice."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
from devstack import check, dev_stack, new_order, wait_done

from payment_svc.adapters.stripe_psp import list_charges_by_order

pytestmark = pytest.mark.e2e

REPLICAS = "payment_svc=2,wallet_svc=2,ledger_svc=2"
CHECKOUTS = 36
REFUND_EVERY = 4  # the first order of every 4th checkout is refunded
SUCCESS = "PAYMENT_ORDER_STATUS_SUCCESS"
HANDLED = "paymesh_grpc_server_handled_total"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with dev_stack(
        tmp_path_factory.mktemp("replicas") / "data", args=("--replicas", REPLICAS)
    ) as running:
        # What `paymesh dev` says after it is ready (a replica restarted), read as it comes.
        assert running.proc.stdout is not None
        threading.Thread(
            target=lambda: running.started.extend(running.proc.stdout), daemon=True
        ).start()
        yield running


def _counter(stack, process: str, name: str, label: str) -> float:
    """A counter of a process's /metrics, summed over the series whose labels hold `label`."""
    text = httpx.get(stack.metrics_url(process), timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and label in line
    )


def _pay_until_accepted(client: httpx.Client, body: dict) -> None:
    """POST the checkout, again with the same key while a replica is down (a 5xx while the
    gateway's channel finds the other one), as a shop's retrying client would."""
    key = str(uuid.uuid4())
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            response = client.post("/v1/payments", json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == 202:
            return
        assert response is None or response.status_code in (429, 502, 503, 504), response.text
        time.sleep(0.2)
    pytest.fail(f"checkout {body['checkout_id']} never accepted")


def _kill_a_payment_replica(stack) -> int:
    children = psutil.Process(stack.proc.pid).children()
    replicas = [c for c in children if c.cmdline()[-2:] == ["-m", "payment_svc"]]
    assert len(replicas) == 2, "two payment_svc processes run"
    victim = replicas[-1]
    victim.send_signal(signal.SIGKILL)
    return victim.pid


def test_replicas_share_the_work_and_a_killed_one_loses_nothing(stack):
    bodies = [
        {
            "checkout_id": f"co-{uuid.uuid4().hex[:12]}",
            "buyer_info": {"buyer_id": f"buyer-{i}", "email": "buyer@example.com"},
            "payment_method": "pm_card_visa",
            "payment_orders": [new_order("seller-r1", "12.00"), new_order("seller-r2", "8.50")],
        }
        for i in range(CHECKOUTS)
    ]
    with ThreadPoolExecutor(4) as pool:
        sent = [pool.submit(_pay_until_accepted, stack.client, b) for b in bodies[: CHECKOUTS // 3]]
        for future in sent:
            future.result()
        # A third of the checkouts in, a replica dies with whatever it was doing.
        killed = _kill_a_payment_replica(stack)
        for future in [
            pool.submit(_pay_until_accepted, stack.client, b) for b in bodies[len(sent) :]
        ]:
            future.result()

    checkouts = [wait_done(stack.client, b["checkout_id"], timeout=120) for b in bodies]
    orders = [o for c in checkouts for o in c["payment_orders"]]
    assert {o["status"] for o in orders} == {SUCCESS}
    assert all(o["wallet_updated"] and o["ledger_updated"] for o in orders)

    refunded = [c["payment_orders"][0]["payment_order_id"] for c in checkouts[::REFUND_EVERY]]
    refund_ids = []
    for order_id in refunded:
        response = stack.client.post(
            "/v1/refunds",
            json={"payment_order_id": order_id},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 202, response.text
        refund_ids.append(response.json()["refund"]["refund_id"])
    for refund_id in refund_ids:
        deadline = time.monotonic() + 60
        while (status := _refund_status(stack, refund_id)) == "REFUND_STATUS_PENDING":
            assert time.monotonic() < deadline, f"refund {refund_id} still pending"
            time.sleep(0.2)
        assert status == "REFUND_STATUS_SUCCEEDED"

    # The PSP charged every order once: no replica, and no redelivery after the kill, charged
    # one a second time.
    info = stack.stack_info()
    charges = asyncio.run(list_charges_by_order(info["psp_api_key"], info["psp_api_base"]))
    assert {o["payment_order_id"]: 1 for o in orders} == {
        oid: n for oid, n in charges.items() if oid in {o["payment_order_id"] for o in orders}
    }

    # The killed replica was started again by `paymesh dev`, and every replica did its share:
    # gRPC calls spread round robin, consumer messages spread by JetStream.
    deadline = time.monotonic() + 90
    while not any(line.startswith("payment_svc-2 restarted") for line in stack.started):
        assert time.monotonic() < deadline, f"replica {killed} not restarted: {stack.started}"
        time.sleep(0.5)
    assert _counter(stack, "payment_svc", HANDLED, "CreatePayment") > 0
    for service, durable, path, rpc in (
        ("wallet_svc", "wallet-credit", "/v1/wallets/seller-r1", "GetBalance"),
        ("ledger_svc", "ledger-post", "/v1/ledger/trial-balance", "GetTrialBalance"),
    ):
        replicas = (service, f"{service}-2")
        for process in replicas:
            acked = _counter(stack, process, "paymesh_consumer_acks_total", durable)
            assert acked > 0, f"{process} took no {durable} message"
        # Reads through the gateway reach both (the gateway's channel connects to the second
        # while the first answers; until then the calls go to the one that is ready).
        deadline = time.monotonic() + 60
        while not all(_counter(stack, p, HANDLED, rpc) > 0 for p in replicas):
            assert time.monotonic() < deadline, f"{rpc} calls did not reach both {service}s"
            assert stack.client.get(path).status_code == 200
            time.sleep(0.1)

    report = check(stack, settle_timeout=60)
    assert report["ok"], report["violations"]
    assert report["stats"]["psp_charged_orders"] == len(orders)


def _refund_status(stack, refund_id: str) -> str:
    found = stack.client.get(f"/v1/refunds/{refund_id}")
    assert found.status_code == 200, found.text
    return str(found.json()["refund"]["status"])
