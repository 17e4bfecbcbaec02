"""The Stripe adapter, through the real stripe SDK, against the sandbox PSP served over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from harness import running_sandbox

from payment_svc.adapters.stripe_psp import (
    StripePaymentProvider,
    list_charges_by_order,
    list_refunds_by_id,
)
from payment_svc.domain.psp import ChargeRequest, ChargeStatus, PspRejected, PspUnavailable
from payment_svc.domain.psp_refunds import RefundOutcomeStatus, RefundRequest

pytestmark = [
    pytest.mark.integration,
    # The stripe SDK hands httpx its form body as `data=`; that is the SDK's business, not ours.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

API_KEY = "sk_test_integration"
REQUEST = ChargeRequest(
    payment_order_id="po_1",
    amount=Decimal("12.34"),
    currency="USD",
    payment_method="pm_card_visa",
    buyer_id="buyer_1",
    checkout_id="co_1",
)


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "psp-sandbox.jsonl"


@pytest.fixture
async def sandbox(state_file: Path) -> AsyncIterator[str]:
    async with running_sandbox(state_file) as base:
        yield base


@pytest.fixture
async def psp(sandbox: str) -> AsyncIterator[StripePaymentProvider]:
    async with StripePaymentProvider(API_KEY, sandbox, timeout_s=5) as provider:
        yield provider


async def test_a_visa_charge_succeeds(psp: StripePaymentProvider) -> None:
    outcome = await psp.charge(REQUEST)

    assert outcome.status is ChargeStatus.SUCCEEDED
    assert outcome.psp_reference.startswith("pi_")
    assert outcome.decline_reason == ""
    assert await psp.retrieve(outcome.psp_reference) == outcome


async def test_a_decline_carries_its_reason(psp: StripePaymentProvider) -> None:
    request = replace(REQUEST, payment_method="pm_card_chargeDeclinedInsufficientFunds")

    outcome = await psp.charge(request)

    assert outcome.status is ChargeStatus.DECLINED
    assert outcome.decline_reason == "insufficient_funds"
    assert outcome.psp_reference.startswith("pi_")
    assert await psp.retrieve(outcome.psp_reference) == outcome


async def test_three_d_secure_is_pending(psp: StripePaymentProvider) -> None:
    outcome = await psp.charge(replace(REQUEST, payment_method="pm_card_threeDSecure2Required"))

    assert outcome.status is ChargeStatus.PENDING
    assert outcome.psp_reference.startswith("pi_")
    assert (await psp.retrieve(outcome.psp_reference)).status is ChargeStatus.PENDING


async def test_one_order_charged_twice_is_one_payment(
    psp: StripePaymentProvider, sandbox: str
) -> None:
    first = await psp.charge(REQUEST)
    # The same amount written differently is the same request once in minor units.
    again = await psp.charge(replace(REQUEST, amount=Decimal("12.340")))
    other = await psp.charge(replace(REQUEST, payment_order_id="po_2"))

    assert again == first
    assert other.psp_reference != first.psp_reference
    assert await list_charges_by_order(API_KEY, sandbox) == {"po_1": 1, "po_2": 1}


async def test_a_charge_is_found_by_its_payment_order_id_without_its_reference(
    psp: StripePaymentProvider,
) -> None:
    charged = await psp.charge(REQUEST)
    declined = await psp.charge(
        replace(REQUEST, payment_order_id="po-2", payment_method="pm_card_chargeDeclined")
    )

    assert await psp.find_charge("po_1") == charged
    assert await psp.find_charge("po-2") == declined
    assert await psp.find_charge("po_never_charged") is None
    assert await psp.find_charge("po_") is None  # no prefix matching


async def test_one_order_with_another_amount_is_rejected(psp: StripePaymentProvider) -> None:
    await psp.charge(REQUEST)

    with pytest.raises(PspRejected):
        await psp.charge(replace(REQUEST, amount=Decimal("12.35")))


async def test_zero_decimal_currency_is_charged_in_whole_units(
    psp: StripePaymentProvider,
) -> None:
    yen = replace(REQUEST, amount=Decimal("500"), currency="JPY")
    await psp.charge(yen)

    # 500 JPY went out as 500, so 5.00 (also 500 minor units in USD terms) is another request.
    with pytest.raises(PspRejected):
        await psp.charge(replace(yen, amount=Decimal("5.00")))
    with pytest.raises(PspRejected):
        await psp.charge(replace(REQUEST, payment_order_id="po_3", amount=Decimal("0.001")))


async def test_unknown_payment_method_and_unknown_reference_are_rejected(
    psp: StripePaymentProvider,
) -> None:
    with pytest.raises(PspRejected):
        await psp.charge(replace(REQUEST, payment_method="pm_card_nonsense"))
    with pytest.raises(PspRejected):
        await psp.retrieve("pi_missing")


async def test_a_wrong_api_key_is_rejected(sandbox: str) -> None:
    async with StripePaymentProvider("sk_live_wrong", sandbox) as psp:
        with pytest.raises(PspRejected):
            await psp.charge(REQUEST)


async def test_list_charges_by_order_pages_through_everything(
    psp: StripePaymentProvider, sandbox: str
) -> None:
    orders = [f"po_{number:03d}" for number in range(105)]  # two pages of at most 100
    await asyncio.gather(*(psp.charge(replace(REQUEST, payment_order_id=o)) for o in orders))
    await psp.charge(
        replace(REQUEST, payment_order_id="po_declined", payment_method="pm_card_chargeDeclined")
    )

    counts = await list_charges_by_order(API_KEY, sandbox)

    assert counts == dict.fromkeys(orders, 1)


async def test_the_payment_outlives_a_sandbox_restart(state_file: Path) -> None:
    async with running_sandbox(state_file) as base:
        port = int(base.rsplit(":", 1)[1])
        async with StripePaymentProvider(API_KEY, base) as psp:
            first = await psp.charge(REQUEST)

    async with running_sandbox(state_file, port) as base:
        async with StripePaymentProvider(API_KEY, base) as psp:
            assert await psp.retrieve(first.psp_reference) == first
            assert await psp.charge(REQUEST) == first
            with pytest.raises(PspRejected):
                await psp.charge(replace(REQUEST, amount=Decimal("1.00")))
        assert await list_charges_by_order(API_KEY, base) == {"po_1": 1}


async def test_a_sandbox_that_is_down_is_unavailable(state_file: Path) -> None:
    async with running_sandbox(state_file) as base:
        pass  # the port was just released: nothing listens there now

    async with StripePaymentProvider(API_KEY, base, timeout_s=2) as psp:
        with pytest.raises(PspUnavailable):
            await psp.charge(REQUEST)
        with pytest.raises(PspUnavailable):
            await psp.retrieve("pi_any")
    with pytest.raises(PspUnavailable):
        await list_charges_by_order(API_KEY, base)


@dataclass
class ScriptedPsp:
    base: str
    requests: int = 0


@asynccontextmanager
async def scripted_psp(answer: bytes | None) -> AsyncIterator[ScriptedPsp]:
    """A PSP that reads a request and sends `answer`, or never answers when it is None."""
    psp = ScriptedPsp("")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        psp.requests += 1
        if answer is None:
            await reader.read()  # hold the connection open until the client gives up
        else:
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    psp.base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield psp
    finally:
        server.close()
        await server.wait_closed()


def http_answer(status: str, body: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


@pytest.mark.parametrize(
    "answer",
    [
        http_answer("500 Internal Server Error", b'{"error":{"type":"api_error","message":"x"}}'),
        http_answer("503 Service Unavailable", b"<html>maintenance</html>"),
        http_answer("429 Too Many Requests", b'{"error":{"type":"invalid_request_error"}}'),
        http_answer("409 Conflict", b'{"error":{"type":"idempotency_error","message":"busy"}}'),
    ],
    ids=["500", "503-html", "429", "409-key-in-use"],
)
async def test_psp_errors_that_may_pass_are_unavailable_and_not_retried_here(
    answer: bytes,
) -> None:
    async with scripted_psp(answer) as scripted:
        async with StripePaymentProvider(API_KEY, scripted.base) as psp:
            with pytest.raises(PspUnavailable):
                await psp.charge(REQUEST)

    assert scripted.requests == 1  # retrying, with the same key, is the executor's call


async def test_a_psp_that_never_answers_times_out_as_unavailable() -> None:
    async with scripted_psp(None) as scripted:
        async with StripePaymentProvider(API_KEY, scripted.base, timeout_s=0.3) as psp:
            async with asyncio.timeout(5):
                with pytest.raises(PspUnavailable):
                    await psp.charge(REQUEST)

    assert scripted.requests == 1


# --- refunds ------------------------------------------------------------------------------


def refund_request(reference: str, refund_id: str, amount: str) -> RefundRequest:
    return RefundRequest(refund_id, "po_1", reference, Decimal(amount), "USD")


async def test_refunds_are_made_once_per_refund_id_and_never_beyond_the_charge(
    psp: StripePaymentProvider, sandbox: str
) -> None:
    charge = await psp.charge(REQUEST)  # 12.34 USD
    first = await psp.refund(refund_request(charge.psp_reference, "rf_1", "10.00"))
    again = await psp.refund(refund_request(charge.psp_reference, "rf_1", "10.00"))

    assert first.status is RefundOutcomeStatus.SUCCEEDED
    assert first.psp_reference.startswith("re_") and again == first
    assert await psp.find_refund(charge.psp_reference, "rf_1") == first
    assert await psp.find_refund(charge.psp_reference, "rf_other") is None
    with pytest.raises(PspRejected):  # 10.00 + 2.35 > 12.34
        await psp.refund(refund_request(charge.psp_reference, "rf_2", "2.35"))
    assert await list_refunds_by_id(API_KEY, sandbox) == {"rf_1": [("succeeded", 1000, "USD")]}


async def test_a_refund_whose_answer_was_lost_is_found_by_its_refund_id(
    psp: StripePaymentProvider, sandbox: str
) -> None:
    charge = await psp.charge(REQUEST)
    auth = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=sandbox, headers=auth) as client:
        faults = {"seed": 1, "lost_response_rate": 1.0, "lost_response_mode": "disconnect"}
        (await client.post("/_sandbox/faults", json=faults)).raise_for_status()
        try:
            with pytest.raises(PspUnavailable):
                await psp.refund(refund_request(charge.psp_reference, "rf_lost", "1.00"))
        finally:
            (await client.delete("/_sandbox/faults")).raise_for_status()

    found = await psp.find_refund(charge.psp_reference, "rf_lost")
    assert found is not None and found.status is RefundOutcomeStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("500", "JPY", 500),
        ("12.34", "USD", 1234),
        ("5.120", "KWD", 5120),
        ("500", "ISK", 50000),  # ISO: no decimals; Stripe: two, whole krónur only
        ("12", "MGA", 12),  # ISO: two decimals; Stripe: none
    ],
)
async def test_the_psp_is_sent_its_own_minor_units(
    psp: StripePaymentProvider, sandbox: str, amount: str, currency: str, minor: int
) -> None:
    outcome = await psp.charge(replace(REQUEST, amount=Decimal(amount), currency=currency))
    assert outcome.status is ChargeStatus.SUCCEEDED
    async with httpx.AsyncClient(base_url=sandbox, auth=(API_KEY, "")) as client:
        intent = (await client.get(f"/v1/payment_intents/{outcome.psp_reference}")).json()
    assert (intent["amount"], intent["currency"]) == (minor, currency.lower())
