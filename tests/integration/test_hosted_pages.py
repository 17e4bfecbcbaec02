"""The hosted flow against the sandbox PSP over HTTP: CreatePayment answers with a page per
order made at the PSP; the buyer pays there (the form posted as a browser would); with no
webhook coming, the sweeper's poll finds the payment by the order id and settles the order."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from test_payment_svc import (
    FAILED,
    SUCCESS,
    assert_invariants,
    create_request,
    eventually,
    get_checkout,
    payment_env,
)

from paymesh.payment.v1 import payment_pb2

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

PENDING = payment_pb2.PAYMENT_ORDER_STATUS_PENDING
CARDS = {"4242424242424242": SUCCESS, "4000000000000002": FAILED}


def hosted_request() -> payment_pb2.CreatePaymentRequest:
    request = create_request(amounts=("12.34", "56.78"))
    request.payment_method = ""
    request.flow = payment_pb2.PAYMENT_FLOW_HOSTED
    request.redirect_url = "https://shop.example/checkout/done"
    return request


async def test_pages_are_made_before_the_answer_and_a_paid_order_is_found_by_polling(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with payment_env(
        database_url, nats_url, tmp_path, sweeper_interval_s=0.2, sweeper_stuck_after_s=0.1
    ) as env:
        request = hosted_request()
        answer = await env.stub.CreatePayment(request, timeout=10)

        orders = answer.checkout.payment_orders
        assert answer.checkout.flow == payment_pb2.PAYMENT_FLOW_HOSTED
        assert all(o.status == PENDING and o.payment_page_url for o in orders)
        assert len({o.payment_page_url for o in orders}) == 2
        async with httpx.AsyncClient(timeout=10) as browser:
            for order, card in zip(orders, CARDS, strict=True):
                page = await browser.get(order.payment_page_url)
                assert page.status_code == 200 and "card_number" in page.text
                paid = await browser.post(
                    order.payment_page_url,
                    data={"card_number": card, "expiry": "12 / 34", "cvc": "123"},
                )
                assert paid.status_code == 303
                assert paid.headers["location"].startswith(request.redirect_url)

        done = await eventually(
            lambda: get_checkout(env, request.checkout_id),
            lambda c: all(o.status in (SUCCESS, FAILED) for o in c.payment_orders),
            "the sweeper to settle both hosted orders",
        )
        assert [o.status for o in done.payment_orders] == list(CARDS.values())
        assert done.payment_orders[0].psp_reference.startswith("pi_")
        assert done.payment_orders[1].failure_reason
        await assert_invariants(env)
