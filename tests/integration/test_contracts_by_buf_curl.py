"""A client in another language calls the public RPCs from the contracts alone: `buf curl` (a Go
program, from the buf-bin wheel), knowing nothing of paymesh's Python, calls payment_svc over
plain-text gRPC, its schema learned by server reflection or from the protos compiled by protoc.
It creates a payment, reads the checkout until the mesh (payment, wallet, ledger services on
real PostgreSQL and NATS) has paid it, reads one order, and gets the contract's rich error for
a request the protovalidate rules refuse."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from harness import running_sandbox, started_ledger, started_wallet

from mesh.cards import contains_card_number
from mesh.migrations import upgrade
from mesh.runtime import Lifecycle
from payment_svc.bootstrap import start
from payment_svc.settings import PaymentSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BUF = Path(sys.executable).parent / "buf"
SERVICE = "paymesh.payment.v1.PaymentService"
PSP_KEY = "sk_test_contracts"


def request_id() -> str:
    """A UUID the card-number guard accepts (a few random UUIDs hold a Luhn-passing run)."""
    while True:
        candidate = str(uuid.uuid4())
        if not contains_card_number(candidate):
            return candidate


@pytest.fixture
async def payment_addr(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """payment_svc with reflection on, beside the wallet and ledger services; its address."""
    await asyncio.to_thread(upgrade, "payment_svc", database_url)
    async with AsyncExitStack() as stack:
        psp_base = await stack.enter_async_context(running_sandbox(tmp_path / "psp.jsonl"))
        await stack.enter_async_context(started_wallet(database_url, nats_url))
        await stack.enter_async_context(started_ledger(database_url, nats_url))
        life = Lifecycle()
        service = await start(
            life,
            PaymentSettings(
                database_url=database_url,
                nats_url=nats_url,
                grpc_addr="127.0.0.1:0",
                grpc_reflection=True,
                psp_api_base=psp_base,
                psp_api_key=PSP_KEY,
                db_pool_size=4,
            ),
        )
        stack.push_async_callback(service)
        yield f"127.0.0.1:{service.grpc_port}"
        assert life.failed is None, f"a background task of the service died: {life.failed!r}"


@pytest.fixture(scope="module")
def schema_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The protos compiled by protoc into an image (`buf curl --schema`), as CI builds it."""
    image = tmp_path_factory.mktemp("schema") / "image.binpb"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--image", str(image)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return image


async def buf_curl(
    addr: str, method: str, body: dict, *extra: str
) -> tuple[int, dict | list | None, str]:
    """`buf curl` of `SERVICE/method` with `body`: its exit code, its answer (the error's JSON
    on a failure) and what it printed on stderr."""
    proc = await asyncio.create_subprocess_exec(
        str(BUF),
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--timeout",
        "20s",
        *extra,
        "--data",
        json.dumps(body),
        f"http://{addr}/{SERVICE}/{method}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = (out or err).decode()
    answer = json.loads(text) if text.strip().startswith("{") else None
    return proc.returncode or 0, answer, err.decode()


async def test_buf_curl_pays_and_reads_over_reflection_and_from_the_protos(
    payment_addr: str, schema_image: Path
) -> None:
    suffix = uuid.uuid4().hex[:10]
    checkout_id = f"co_{suffix}"
    order_id = f"po_{suffix}"
    create = {
        "requestId": request_id(),
        "checkoutId": checkout_id,
        "buyerInfo": {"buyerId": "buyer_1", "email": "ada@example.com"},
        "paymentMethod": "pm_card_visa",
        "paymentOrders": [
            {
                "paymentOrderId": order_id,
                "sellerAccount": "seller_1",
                "amount": "12.34",
                "currency": "EUR",
            }
        ],
    }
    # Over reflection: the schema comes from the running service.
    code, answer, err = await buf_curl(payment_addr, "CreatePayment", create)
    assert code == 0, err
    assert isinstance(answer, dict)
    checkout = answer["checkout"]
    assert checkout["checkoutId"] == checkout_id
    (order,) = checkout["paymentOrders"]
    assert (order["paymentOrderId"], order["amount"], order["currency"]) == (
        order_id,
        "12.34",
        "EUR",
    )

    # From the protos alone (protoc's image, no reflection): read until the mesh paid it.
    from_protos = ("--schema", str(schema_image))
    deadline = time.monotonic() + 30
    while True:
        code, answer, err = await buf_curl(
            payment_addr, "GetCheckout", {"checkoutId": checkout_id}, *from_protos
        )
        assert code == 0, err
        assert isinstance(answer, dict)
        if answer["checkout"].get("isPaymentDone") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert answer["checkout"].get("isPaymentDone"), answer
    code, answer, err = await buf_curl(
        payment_addr, "GetPaymentOrder", {"paymentOrderId": order_id}, *from_protos
    )
    assert code == 0, err
    assert isinstance(answer, dict)
    paid = answer["paymentOrder"]
    assert paid["status"] == "PAYMENT_ORDER_STATUS_SUCCESS"
    assert paid.get("walletUpdated") and paid.get("ledgerUpdated"), paid
    assert paid["pspReference"]

    # A request the contract refuses (no request id, an amount that is not a decimal string):
    # INVALID_ARGUMENT with the AIP-193 details a client in any language can read.
    bad = {**create, "requestId": "", "checkoutId": f"co_bad_{suffix}"}
    bad["paymentOrders"] = [{**create["paymentOrders"][0], "amount": "12.3.4"}]
    code, answer, err = await buf_curl(payment_addr, "CreatePayment", bad)
    assert code != 0
    assert isinstance(answer, dict), err
    assert answer["code"] == "invalid_argument", answer
    detail_types = {detail.get("type") for detail in answer.get("details", [])}
    assert "google.rpc.BadRequest" in detail_types, answer
