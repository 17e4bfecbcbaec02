"""Refunds through the whole mesh in-process (payment, wallet and ledger services, the sandbox
PSP over HTTP) on real PostgreSQL and NATS JetStream: refunded at the PSP once, reversed once in
the wallet and the ledger, never beyond the order, even when asked concurrently or told twice.
The autouse check of the money invariants runs after each test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from harness import (
    Started,
    consumer_idle,
    eventually,
    new_request_id,
    rich_status,
    running_sandbox,
    started_ledger,
    started_service,
    started_wallet,
)
from psycopg.errors import CheckViolation
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from mesh.events import PAYMENT_REFUND_SUCCEEDED, decode_envelope
from payment_svc.adapters.stripe_psp import list_charges_by_order, list_refunds_by_id
from payment_svc.bootstrap import start as start_payment
from payment_svc.settings import PaymentSettings
from paymesh.ops.v1 import ops_pb2, ops_pb2_grpc
from paymesh.payment.v1 import payment_pb2, payment_pb2_grpc, refunds_pb2, refunds_pb2_grpc
from paymesh_cli.invariants import run_checks

pytestmark = [
    pytest.mark.integration,
    # The stripe SDK hands httpx its form body as `data=`; that is the SDK's business.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

API_KEY = "sk_test_refunds"
D = Decimal
SUCCEEDED = refunds_pb2.REFUND_STATUS_SUCCEEDED


@dataclass
class Mesh:
    payment: Started
    wallet: Started
    ledger: Started
    psp_base: str
    database_url: str

    @property
    def refunds(self) -> refunds_pb2_grpc.RefundServiceStub:
        return refunds_pb2_grpc.RefundServiceStub(self.payment.channel)

    async def pay(self, *amounts: str) -> list[str]:
        """A paid checkout with one order per amount (seller `seller_<i>` of this test); the
        order ids, once the checkout is done (charged, credited, booked)."""
        suffix = uuid.uuid4().hex[:10]
        request = payment_pb2.CreatePaymentRequest(
            request_id=new_request_id(),
            checkout_id=f"co_{suffix}",
            buyer_info=payment_pb2.BuyerInfo(buyer_id="buyer_1"),
            payment_method="pm_card_visa",
            payment_orders=[
                payment_pb2.PaymentOrderInput(
                    payment_order_id=f"po_{suffix}_{i}",
                    seller_account=f"seller_{suffix}_{i}",
                    amount=amount,
                    currency="USD",
                )
                for i, amount in enumerate(amounts)
            ],
        )
        stub = payment_pb2_grpc.PaymentServiceStub(self.payment.channel)
        await stub.CreatePayment(request, timeout=10)

        async def done() -> bool:
            reply = await stub.GetCheckout(
                payment_pb2.GetCheckoutRequest(checkout_id=request.checkout_id), timeout=10
            )
            return reply.checkout.is_payment_done

        await eventually(done)
        return [o.payment_order_id for o in request.payment_orders]

    async def refund(self, order_id: str, amount: str = "") -> refunds_pb2.Refund:
        request = refunds_pb2.CreateRefundRequest(
            request_id=new_request_id(), payment_order_id=order_id, amount=amount
        )
        return (await self.refunds.CreateRefund(request, timeout=10)).refund

    async def settled(self, refund_id: str) -> refunds_pb2.Refund:
        """The refund once SUCCEEDED and reversed in both wallet and ledger."""

        async def probe() -> refunds_pb2.Refund | None:
            reply = await self.refunds.GetRefund(
                refunds_pb2.GetRefundRequest(refund_id=refund_id), timeout=10
            )
            if reply.refund.status != SUCCEEDED:
                return None
            return reply.refund if await self.reversals(refund_id) == (1, 1) else None

        return await eventually(probe)

    async def reversals(self, refund_id: str) -> tuple[int, int]:
        """(wallet debits, ledger transactions) of the refund."""
        async with self.payment.engine.connect() as conn:
            debits = await conn.scalar(
                text("SELECT count(*) FROM wallet.wallet_refund_debits WHERE refund_id = :r"),
                {"r": refund_id},
            )
            postings = await conn.scalar(
                text("SELECT count(*) FROM ledger.transactions WHERE refund_id = :r"),
                {"r": refund_id},
            )
        return int(debits or 0), int(postings or 0)

    async def owed(self, order_id: str) -> tuple[Decimal, Decimal]:
        """The seller's wallet total and ledger payable for the seller of the order."""
        seller = "seller_" + order_id.removeprefix("po_")
        async with self.payment.engine.connect() as conn:
            wallet = await conn.scalar(
                text(
                    "SELECT pending + available + reserved FROM wallet.balances"
                    " WHERE seller_account = :s"
                ),
                {"s": seller},
            )
            ledger = await conn.scalar(
                text("SELECT credits - debits FROM ledger.account_balances WHERE account = :a"),
                {"a": f"seller_payable:{seller}"},
            )
        return wallet, ledger


@pytest.fixture
async def mesh(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Mesh]:
    async with running_sandbox(tmp_path / "psp.jsonl") as psp_base:

        def settings(grpc_addr: str) -> PaymentSettings:
            return PaymentSettings(
                database_url=database_url,
                nats_url=nats_url,
                grpc_addr=grpc_addr,
                psp_api_base=psp_base,
                psp_api_key=API_KEY,
                psp_timeout_s=5.0,
                executor_concurrency=8,
                flags_concurrency=8,
                db_pool_size=6,
            )

        async with (
            started_service(
                "payment_svc", "payment", start_payment, settings, database_url, nats_url
            ) as payment,
            started_wallet(database_url, nats_url) as wallet,
            started_ledger(database_url, nats_url) as ledger,
        ):
            yield Mesh(payment, wallet, ledger, psp_base, database_url)
            for service in (payment, wallet, ledger):
                assert service.life.failed is None, f"a task died: {service.life.failed!r}"


def reason_of(err: grpc.aio.AioRpcError) -> str:
    info = error_details_pb2.ErrorInfo()
    assert rich_status(err).details[0].Unpack(info)
    return info.reason


async def test_full_and_partial_refunds_settle_in_wallet_ledger_and_at_the_psp(mesh: Mesh) -> None:
    full, partial = await mesh.pay("100.00", "50.00")
    assert await mesh.owed(full) == (D("90.00"), D("90.00"))

    first = await mesh.refund(full, "30.00")
    rest = await mesh.refund(full)  # all that remains
    part = await mesh.refund(partial, "10.00")
    assert (first.amount, first.fee_refunded, rest.amount, rest.fee_refunded) == (
        "30.00",
        "3.00",
        "70.00",
        "7.00",
    )
    assert first.status == refunds_pb2.REFUND_STATUS_PENDING
    for refund in (first, rest, part):
        settled = await mesh.settled(refund.refund_id)
        assert settled.psp_reference.startswith("re_")

    # The operator console finds the checkout by a refund's PSP id, with all three refunds.
    ops = ops_pb2_grpc.OpsServiceStub(mesh.payment.channel)
    found = await ops.LookupPayment(
        ops_pb2.LookupPaymentRequest(query=settled.psp_reference), timeout=10
    )
    assert found.matched_by == "refund_psp_reference"
    assert [o.payment_order_id for o in found.checkout.payment_orders] == [full, partial]
    assert {r.refund_id for r in found.refunds} == {first.refund_id, rest.refund_id, part.refund_id}
    # ...and counts both orders, SUCCESS, in the figures per minute, with their PSP latency.
    stats = (await ops.GetPaymentStats(ops_pb2.GetPaymentStatsRequest(minutes=10))).minutes
    assert len(stats) == 10
    assert sum(m.orders_by_status.get("SUCCESS", 0) for m in stats) >= 2
    assert sum(m.psp_answers for m in stats) >= 2
    assert all(m.psp_latency_max_ms >= m.psp_latency_p50_ms > 0 for m in stats if m.psp_answers)

    assert await mesh.owed(full) == (D("0.00"), D("0.00"))
    assert await mesh.owed(partial) == (D("36.00"), D("36.00"))  # 45.00 - (10.00 - 1.00)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await mesh.refund(full, "0.01")
    assert (refused.value.code(), reason_of(refused.value)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "REFUND_EXCEEDS_REMAINING",
    )

    # The PSP refunded each once, for its amount; paymesh check agrees with everything.
    at_psp = await list_refunds_by_id(API_KEY, mesh.psp_base)
    assert [at_psp[r.refund_id] for r in (first, rest, part)] == [
        [("succeeded", 3000, "USD")],
        [("succeeded", 7000, "USD")],
        [("succeeded", 1000, "USD")],
    ]
    report = await run_checks(
        mesh.database_url,
        lambda: list_charges_by_order(API_KEY, mesh.psp_base),
        refunds_at_psp=lambda: list_refunds_by_id(API_KEY, mesh.psp_base),
    )
    assert report.ok, report.violations
    assert report.stats["refunds_by_status"] == {"SUCCEEDED": 3}


async def test_concurrent_refunds_never_exceed_the_order(mesh: Mesh) -> None:
    [order] = await mesh.pay("100.00")
    results = await asyncio.gather(
        *(mesh.refund(order, "30.00") for _ in range(5)), return_exceptions=True
    )
    accepted = [r for r in results if isinstance(r, refunds_pb2.Refund)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert (len(accepted), len(refused)) == (3, 2), results
    assert {reason_of(err) for err in refused} == {"REFUND_EXCEEDS_REMAINING"}
    for refund in accepted:
        await mesh.settled(refund.refund_id)
    assert await mesh.owed(order) == (D("9.00"), D("9.00"))  # 90.00 - 3 * 27.00

    # The database refuses it too, whoever writes: one cent over is a check violation.
    with pytest.raises(IntegrityError) as info:
        async with mesh.payment.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO refunds (refund_id, payment_order_id, seller_account, amount,"
                    " fee_refunded, currency, status, created_at, updated_at)"
                    " VALUES ('rf_sneaky', :o, 's', 10.01, 0, 'USD', 'PENDING', now(), now())"
                ),
                {"o": order},
            )
    assert isinstance(info.value.orig, CheckViolation)
    assert "refunds_within_order_amount" in str(info.value.orig)


async def test_a_refund_event_delivered_again_has_one_effect(mesh: Mesh) -> None:
    [order] = await mesh.pay("80.00")
    refund = await mesh.refund(order, "20.00")
    await mesh.settled(refund.refund_id)
    owed = await mesh.owed(order)
    assert owed == (D("54.00"), D("54.00"))  # 72.00 - 18.00

    js = mesh.payment.js
    info = await js.stream_info("PAYMENT")
    copies = 0
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg("PAYMENT", seq)
        if msg.subject == PAYMENT_REFUND_SUCCEEDED:
            assert decode_envelope(msg.data).aggregate_id == refund.refund_id
            # A fresh Nats-Msg-Id: past the stream's duplicate window, only the inboxes stop it.
            for _ in range(2):
                await js.publish(msg.subject, msg.data, headers={"Nats-Msg-Id": str(uuid.uuid4())})
                copies += 1
    assert copies == 2

    async def all_handled() -> bool:
        return all(
            [
                await consumer_idle(js, "PAYMENT", "wallet-refund"),
                await consumer_idle(js, "PAYMENT", "ledger-refund"),
            ]
        )

    await eventually(all_handled)
    assert await mesh.reversals(refund.refund_id) == (1, 1)
    assert await mesh.owed(order) == owed
