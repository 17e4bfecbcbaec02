"""The sandbox PSP's hosted payment page in a real browser: a checkout session made with the
stripe SDK, its page opened in headless Chromium, a test card typed into the form; the buyer
lands back at the shop with the result, the PaymentIntent is charged (or not), and a signed
webhook tells the shop."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stripe
from browser_harness import ServerThread, Shop, eventually, landed, pay_on_page

from psp_sandbox import SandboxSettings
from psp_sandbox.testing import TEST_API_KEY, served, serving

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

WEBHOOK_SECRET = "whsec_paymesh_browser_tests"


@dataclass
class Sandbox:
    base_url: str
    shop: Shop
    sdk: stripe.StripeClient

    def new_session(self, order_id: str, amount: int = 4200) -> Any:
        """A checkout session for one payment order, made as paymesh makes one."""
        return self.sdk.v1.checkout.sessions.create(
            {
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": amount,
                            "product_data": {"name": f"Order {order_id}"},
                        },
                        "quantity": 1,
                    }
                ],
                "success_url": f"{self.shop.base_url}/shop/paid?order={order_id}",
                "cancel_url": f"{self.shop.base_url}/shop/failed?order={order_id}",
                "client_reference_id": order_id,
                "metadata": {"payment_order_id": order_id},
                "payment_intent_data": {"metadata": {"checkout_id": f"co-{order_id}"}},
            },
            {"idempotency_key": order_id},
        )

    def intents_of(self, order_id: str) -> list[Any]:
        page = self.sdk.v1.payment_intents.list({"limit": 100})
        return [i for i in page.data if i.metadata.to_dict().get("payment_order_id") == order_id]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The sandbox PSP and the shop, each on its own port of 127.0.0.1; the sandbox posts its
    webhooks to the shop."""
    state = tmp_path_factory.mktemp("psp") / "psp-sandbox.jsonl"
    servers = ServerThread()
    http = stripe.HTTPXClient(timeout=10, allow_sync_methods=True)
    try:
        shop = Shop()
        shop.base_url = servers.enter(serving(shop.app()))
        settings = SandboxSettings(
            state_file=Path(state), webhook_url=shop.webhook_url, webhook_secret=WEBHOOK_SECRET
        )
        base_url = servers.enter(served(settings))
        sdk = stripe.StripeClient(
            TEST_API_KEY, base_addresses={"api": base_url}, max_network_retries=0, http_client=http
        )
        yield Sandbox(base_url, shop, sdk)
    finally:
        http.close()
        servers.close()


def new_order_id() -> str:
    return f"order-{uuid.uuid4().hex[:12]}"


def test_paying_with_4242_lands_back_paid_and_the_shop_is_told(page: Any, sandbox: Sandbox) -> None:
    order_id = new_order_id()
    session = sandbox.new_session(order_id)
    assert session.url.startswith(f"{sandbox.base_url}/pay/")

    pay_on_page(page, session.url, "4242 4242 4242 4242")

    query = landed(page, "/shop/paid")
    assert query["order"] == order_id and query["result"] == "succeeded"
    assert query["session_id"] == session.id
    assert query["payment_intent"].startswith("pi_")
    assert "Payment succeeded" in page.find_element("id", "result").text
    intent = sandbox.sdk.v1.payment_intents.retrieve(query["payment_intent"])
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 4200, "usd")
    assert intent.metadata["payment_order_id"] == order_id
    assert intent.metadata["checkout_id"] == f"co-{order_id}"
    done = sandbox.sdk.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.payment_status, done.payment_intent) == (
        "complete",
        "paid",
        intent.id,
    )
    event = sandbox.shop.wait_for_event(WEBHOOK_SECRET, "payment_intent.succeeded", intent.id)
    assert event.data.object.metadata["payment_order_id"] == order_id
    assert [i.id for i in sandbox.intents_of(order_id)] == [intent.id]


def test_a_declined_card_lands_back_failed_with_the_reason_and_nothing_is_charged(
    page: Any, sandbox: Sandbox
) -> None:
    order_id = new_order_id()
    session = sandbox.new_session(order_id)

    pay_on_page(page, session.url, "4000000000000002")

    query = landed(page, "/shop/failed")
    assert query["order"] == order_id
    assert (query["result"], query["decline_code"]) == ("failed", "generic_decline")
    assert "Payment failed" in page.find_element("id", "result").text
    intent = sandbox.sdk.v1.payment_intents.retrieve(query["payment_intent"])
    assert intent.status == "requires_payment_method"
    assert intent.amount_received == 0
    assert intent.last_payment_error.decline_code == "generic_decline"
    assert intent.metadata["payment_order_id"] == order_id
    assert sandbox.sdk.v1.checkout.sessions.retrieve(session.id).status == "open"
    event = sandbox.shop.wait_for_event(WEBHOOK_SECRET, "payment_intent.payment_failed", intent.id)
    assert event.data.object.last_payment_error.decline_code == "generic_decline"
    succeeded = [
        e
        for e in sandbox.shop.events(WEBHOOK_SECRET)
        if e.type in ("payment_intent.succeeded", "charge.succeeded")
        and e.data.object.metadata.to_dict().get("payment_order_id") == order_id
    ]
    assert succeeded == []
    balance = sandbox.sdk.v1.balance_transactions.list({"limit": 100}).data
    assert intent.latest_charge not in {t.source for t in balance}


def test_a_card_number_failing_luhn_is_refused_on_the_page_and_nothing_is_charged(
    page: Any, sandbox: Sandbox
) -> None:
    order_id = new_order_id()
    session = sandbox.new_session(order_id)

    pay_on_page(page, session.url, "4242 4242 4242 4241")

    alert = eventually(lambda: page.find_elements("css selector", "[role=alert]"), "an error")
    assert alert[0].text == "Your card number is invalid."
    assert page.current_url == session.url  # still on the payment page
    assert page.find_element("name", "card_number").get_attribute("value") == ""
    assert sandbox.sdk.v1.checkout.sessions.retrieve(session.id).payment_intent is None
    assert sandbox.intents_of(order_id) == []
