"""A hosted checkout through the whole stack, as a buyer lives it: `paymesh dev` runs as a
process; the shop posts a hosted checkout to the REST API and gets a payment page per order; the
buyer pays each page in headless Chromium (one card succeeds, one is declined) and is sent back
to the shop; the sandbox's signed webhooks reach the gateway, and the orders end SUCCESS and
FAILED, with `paymesh check` passing afterwards."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_harness import ServerThread, Shop, eventually, landed, pay_on_page

from mesh.cards import contains_card_number
from psp_sandbox.testing import serving

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

PAYMESH = [sys.executable, "-m", "paymesh_cli.main"]
READY_TIMEOUT_S = 180.0
SETTLE_TIMEOUT_S = 60.0
SUCCESS = "PAYMENT_ORDER_STATUS_SUCCESS"
FAILED = "PAYMENT_ORDER_STATUS_FAILED"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def idempotency_key() -> str:
    """A UUID the card-number guard accepts (a few random ones hold a Luhn-valid digit run)."""
    while True:
        key = str(uuid.uuid4())
        if not contains_card_number(key):
            return key


@pytest.fixture(scope="module")
def shop() -> Iterator[Shop]:
    """Where the buyer's browser is sent back to, on 127.0.0.1."""
    servers = ServerThread()
    try:
        shop = Shop()
        shop.base_url = servers.enter(serving(shop.app()))
        yield shop
    finally:
        servers.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`paymesh dev` on a free port with a fresh data dir; the sandbox PSP posts its webhooks
    to the gateway, as Stripe would to paymesh. Stopped (SIGTERM) at the end."""
    data_dir = tmp_path_factory.mktemp("stack") / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env["PSP_SANDBOX_WEBHOOK_URL"] = f"http://127.0.0.1:{port}/v1/webhooks/stripe"
    output = data_dir.parent / "paymesh-dev.out"
    with output.open("w") as out:
        proc = subprocess.Popen(
            [*PAYMESH, "dev", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    try:
        url = eventually(
            lambda: _ready_url(output, proc), "paymesh dev to be ready", within=READY_TIMEOUT_S
        )
    except AssertionError:
        _stop(proc)
        pytest.fail("paymesh dev did not get ready:\n" + output.read_text()[-6000:])
    key = (data_dir / "dev-api-key").read_text().strip()
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    try:
        yield {"proc": proc, "client": client, "data_dir": data_dir, "output": output}
    finally:
        client.close()
        _stop(proc)


def _ready_url(output: Path, proc: subprocess.Popen[str]) -> str | None:
    for line in output.read_text().splitlines():
        if line.startswith("paymesh ready:"):
            return line.split()[2]
    if proc.poll() is not None:
        pytest.fail(f"paymesh dev exited with {proc.returncode}:\n{output.read_text()[-6000:]}")
    return None


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def order(order_id: str, seller: str, amount: str) -> dict[str, str]:
    return {
        "payment_order_id": order_id,
        "seller_account": seller,
        "amount": amount,
        "currency": "USD",
    }


def test_a_hosted_checkout_paid_in_the_browser_ends_success_and_failed(
    page: Any, shop: Shop, stack: dict[str, Any]
) -> None:
    client: httpx.Client = stack["client"]
    run = uuid.uuid4().hex[:10]
    paid_id, declined_id = f"po-{run}-paid", f"po-{run}-declined"
    body = {
        "checkout_id": f"co-{run}",
        "buyer_info": {"buyer_id": "buyer-browser", "email": "buyer@example.com"},
        "flow": "PAYMENT_FLOW_HOSTED",
        "redirect_url": f"{shop.base_url}/shop/return?checkout=co-{run}",
        "payment_orders": [
            order(paid_id, f"seller-a-{run}", "42.00"),
            order(declined_id, f"seller-b-{run}", "17.50"),
        ],
    }
    accepted = client.post(
        "/v1/payments", json=body, headers={"Idempotency-Key": idempotency_key()}
    )
    assert accepted.status_code == 202, accepted.text
    orders = {o["payment_order_id"]: o for o in accepted.json()["checkout"]["payment_orders"]}
    pages = {order_id: orders[order_id].get("payment_page_url", "") for order_id in orders}
    assert all(pages.values()) and len(set(pages.values())) == 2, orders

    pay_on_page(page, pages[paid_id], "4242 4242 4242 4242")
    back = landed(page, "/shop/return")
    assert (back["checkout"], back["result"]) == (f"co-{run}", "succeeded")
    assert "Payment succeeded" in page.find_element("id", "result").text

    pay_on_page(page, pages[declined_id], "4000000000000002")
    back = landed(page, "/shop/return")
    assert (back["result"], back["decline_code"]) == ("failed", "generic_decline")
    assert "Payment failed" in page.find_element("id", "result").text

    def settled(order_id: str) -> dict[str, Any] | None:
        answer = client.get(f"/v1/payments/{order_id}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()["payment_order"]
        return found if found["status"] in (SUCCESS, FAILED) else None

    paid = eventually(lambda: settled(paid_id), f"{paid_id} settled", within=SETTLE_TIMEOUT_S)
    declined = eventually(
        lambda: settled(declined_id), f"{declined_id} settled", within=SETTLE_TIMEOUT_S
    )
    assert paid["status"] == SUCCESS, paid
    assert paid["psp_reference"].startswith("pi_")
    assert declined["status"] == FAILED, declined
    assert declined["failure_reason"], declined
    done = eventually(
        lambda: (
            (c := client.get(f"/v1/checkouts/co-{run}").json()["checkout"])["is_payment_done"] and c
        ),
        "the checkout to be done",
        within=SETTLE_TIMEOUT_S,
    )
    ours = {o["payment_order_id"]: o for o in done["payment_orders"]}
    assert ours[paid_id]["wallet_updated"] and ours[paid_id]["ledger_updated"]

    checked = subprocess.run(
        [*PAYMESH, "check", "--json", "--data-dir", str(stack["data_dir"])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["ok"], checked.stdout
