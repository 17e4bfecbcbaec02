"""A hosted checkout through the whole stack, as a buyer lives it: `paymesh dev` runs as a
process; the shop posts a hosted checkout to the REST API and gets a payment page per order; the
buyer pays each page in headless Chromium (one card succeeds, one is declined) and is sent back
to the shop; the sandbox's signed webhooks reach the gateway, and the orders end SUCCESS and
FAILED, with `paymesh check` passing afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_harness import ServerThread, Shop, eventually, landed, pay_on_page
from devstack import DevStack, check, dev_stack

from mesh.cards import contains_card_number
from psp_sandbox.testing import serving

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

SETTLE_TIMEOUT_S = 60.0
SUCCESS = "PAYMENT_ORDER_STATUS_SUCCESS"
FAILED = "PAYMENT_ORDER_STATUS_FAILED"


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
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """`paymesh dev` on a free port with a fresh data dir (its sandbox posts its webhooks to the
    gateway, as Stripe would to paymesh); stopped with SIGTERM at the end."""
    with dev_stack(tmp_path_factory.mktemp("stack") / "data") as running:
        yield running


def order(order_id: str, seller: str, amount: str) -> dict[str, str]:
    return {
        "payment_order_id": order_id,
        "seller_account": seller,
        "amount": amount,
        "currency": "USD",
    }


def test_a_hosted_checkout_paid_in_the_browser_ends_success_and_failed(
    page: Any, shop: Shop, stack: DevStack
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

    assert check(stack)["ok"]
