"""Webhooks to the marketplace as a marketplace lives them: `paymesh dev` starts every process
(notify_svc included); over REST we register an endpoint, pay a checkout of two sellers, and
receive its signed `order.succeeded` and `checkout.done` events on a receiver of our own on
127.0.0.1, verified with the Standard Webhooks reference library; then read the delivery log,
redeliver one by hand and disable the endpoint."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from devstack import check, dev_stack, new_order, pay, wait_done
from standardwebhooks.webhooks import Webhook

pytestmark = pytest.mark.e2e


@dataclass
class Inbox:
    """What the marketplace's receiver got: (headers, body) per POST."""

    url: str = ""
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 60.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.posts) >= count:
                    return list(self.posts)
            time.sleep(0.1)
        pytest.fail(f"{len(self.posts)} webhooks received, expected {count}")


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    received = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with received.lock:
                received.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.url = f"http://127.0.0.1:{server.server_address[1]}/paymesh-events"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with dev_stack(tmp_path_factory.mktemp("stack") / "data") as running:
        yield running


def post(client, path: str, body: dict) -> Any:
    response = client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_paid_checkout_reaches_the_marketplace_signed(stack, inbox: Inbox) -> None:
    client = stack["client"]
    created = post(
        client,
        "/v1/webhook-endpoints",
        {"url": inbox.url, "event_types": ["order.succeeded", "checkout.done"]},
    )
    secret, endpoint = created["signing_secret"], created["endpoint"]
    assert secret.startswith("whsec_") and endpoint["enabled"]

    orders = [new_order("seller-a", "120.00"), new_order("seller-b", "35.50")]
    body, accepted = pay(client, orders)
    assert accepted.status_code == 202, accepted.text
    wait_done(client, body["checkout_id"])

    events: dict[str, dict[str, Any]] = {}
    for headers, raw in inbox.wait_for(3):
        event = Webhook(secret).verify(raw, headers)  # raises unless signed with our secret
        events[headers["webhook-id"]] = event
    by_type = sorted((e["type"], e["data"].get("payment_order_id", "")) for e in events.values())
    assert by_type == sorted(
        [("checkout.done", "")] + [("order.succeeded", o["payment_order_id"]) for o in orders]
    )
    [(done_id, done)] = [(i, e) for i, e in events.items() if e["type"] == "checkout.done"]
    assert done["data"]["checkout_id"] == body["checkout_id"]
    assert sorted(o["status"] for o in done["data"]["orders"]) == ["SUCCESS", "SUCCESS"]
    paid = next(e for e in events.values() if e["data"].get("seller_account") == "seller-a")
    assert paid["data"]["amount"] == {"amount": "120.00", "currency": "USD"}
    assert paid["data"]["fee"] == {"amount": "12.00", "currency": "USD"}

    # The delivery log, and the secret never shown again.
    log = client.get(f"/v1/webhook-events/{done_id}/deliveries")
    assert log.status_code == 200, log.text
    [delivery] = log.json()["deliveries"]
    assert delivery["endpoint_id"] == endpoint["endpoint_id"]
    assert delivery["status"] == "DELIVERY_STATUS_SUCCEEDED"
    assert [(a["attempt"], a["http_status"]) for a in delivery["attempts"]] == [(1, 204)]
    listed = client.get("/v1/webhook-endpoints")
    assert listed.status_code == 200 and secret not in listed.text

    # A redelivery by hand arrives again, with the same id.
    post(client, f"/v1/webhook-events/{done_id}:redeliver", {})
    headers, raw = inbox.wait_for(4)[-1]
    assert headers["webhook-id"] == done_id
    assert Webhook(secret).verify(raw, headers)["type"] == "checkout.done"

    # Disabled, it hears nothing more.
    disabled = post(client, f"/v1/webhook-endpoints/{endpoint['endpoint_id']}:disable", {})
    assert disabled["endpoint"]["enabled"] is False
    body, accepted = pay(client, [new_order("seller-a", "5.00")])
    wait_done(client, body["checkout_id"])
    time.sleep(1.0)
    assert len(inbox.posts) == 4

    report = check(stack)
    assert report["ok"], report["violations"]
