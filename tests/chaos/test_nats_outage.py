"""The short form of an outage (`paymesh chaos --outage`, whose long runs are `make
chaos-outage`): NATS stopped for 20 s while checkouts keep coming, under payment, wallet and
ledger services in-process on real PostgreSQL and the sandbox PSP. Checkouts are accepted
meanwhile (their events wait in the outbox); when NATS is back every order settles without an
operator, nothing is dead-lettered, each SUCCESS order is charged once, and `paymesh check`'s
invariants hold."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import grpc
import nats
import pytest
from integration.harness import (
    new_request_id,
    running_sandbox,
    started_ledger,
    started_service,
)
from sqlalchemy import text

from mesh.dead_letters import read_dead_letters
from payment_svc.adapters.stripe_psp import list_charges_by_order
from payment_svc.bootstrap import start as start_payment
from payment_svc.settings import PaymentSettings
from paymesh.payment.v1 import payment_pb2, payment_pb2_grpc
from paymesh_cli.invariants import run_checks
from paymesh_cli.stack import free_port
from paymesh_cli.stack.nats import NatsServer
from wallet_svc.bootstrap import start as start_wallet
from wallet_svc.settings import WalletSettings

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

API_KEY = "sk_test_nats_outage"
OUTAGE_S = 20.0
CHECKOUTS = 24  # one every 0.5 s from 5 s before the outage to after it


def checkout(n: int) -> payment_pb2.CreatePaymentRequest:
    suffix = uuid.uuid4().hex[:8]
    return payment_pb2.CreatePaymentRequest(
        request_id=new_request_id(),
        checkout_id=f"co_outage_{n}_{suffix}",
        buyer_info=payment_pb2.BuyerInfo(buyer_id=f"buyer_{n}"),
        payment_method="pm_card_visa",
        payment_orders=[
            payment_pb2.PaymentOrderInput(
                payment_order_id=f"po_outage_{n}_{i}_{suffix}",
                seller_account=f"seller_{i}",
                amount="10.00",
                currency="USD",
            )
            for i in range(2)
        ],
    )


async def unsettled(engine) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                text(
                    "SELECT count(*) FROM payment_orders WHERE status <> 'SUCCESS'"
                    " OR NOT (wallet_updated AND ledger_updated)"
                )
            )
            or 0
        )


@pytest.mark.timeout(300)
async def test_nats_down_20s_during_traffic_loses_nothing(database_url: str, tmp_path: Path):
    server = NatsServer(tmp_path / "nats", free_port(), log_file=tmp_path / "nats.log")
    server.start()
    try:
        async with running_sandbox(tmp_path / "psp.jsonl") as psp_base:

            def payment_settings(grpc_addr: str) -> PaymentSettings:
                return PaymentSettings(
                    database_url=database_url,
                    nats_url=server.url,
                    grpc_addr=grpc_addr,
                    psp_api_base=psp_base,
                    psp_api_key=API_KEY,
                    executor_concurrency=8,
                    flags_concurrency=8,
                    db_pool_size=6,
                )

            def wallet_settings(grpc_addr: str) -> WalletSettings:
                return WalletSettings(
                    database_url=database_url,
                    nats_url=server.url,
                    grpc_addr=grpc_addr,
                    consumer_concurrency=8,
                    db_pool_size=4,
                )

            async with (
                started_service(
                    "payment_svc",
                    "payment",
                    start_payment,
                    payment_settings,
                    database_url,
                    server.url,
                ) as payment,
                started_service(
                    "wallet_svc",
                    "wallet",
                    start_wallet,
                    wallet_settings,
                    database_url,
                    server.url,
                ),
                started_ledger(database_url, server.url),
            ):
                stub = payment_pb2_grpc.PaymentServiceStub(payment.channel)
                accepted: list[str] = []

                async def traffic() -> None:
                    for n in range(CHECKOUTS):
                        request = checkout(n)
                        while True:  # a client retries the same request, as real ones do
                            try:
                                await stub.CreatePayment(request, timeout=10)
                                break
                            except grpc.aio.AioRpcError as err:
                                assert err.code() in (
                                    grpc.StatusCode.UNAVAILABLE,
                                    grpc.StatusCode.DEADLINE_EXCEEDED,
                                ), err
                                await asyncio.sleep(0.5)
                        accepted.append(request.checkout_id)
                        await asyncio.sleep(0.5)

                clients = asyncio.create_task(traffic())
                await asyncio.sleep(5.0)
                server.process.kill()  # type: ignore[union-attr]  # kill -9, no goodbye
                server.process.wait()  # type: ignore[union-attr]
                during = len(accepted)
                await asyncio.sleep(OUTAGE_S)
                accepted_while_down = len(accepted) - during
                await asyncio.to_thread(server.start)  # same port, same JetStream store
                back = time.monotonic()
                await clients
                assert len(accepted) == CHECKOUTS
                assert accepted_while_down > 0, "checkouts were refused while NATS was down"

                deadline = time.monotonic() + 180
                while (left := await unsettled(payment.engine)) and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
                assert left == 0, f"{left} orders not settled 180 s after NATS came back"
                print(f"settled {time.monotonic() - back:.1f}s after NATS was back")

                nc = await nats.connect(server.url)
                try:
                    assert await read_dead_letters(nc.jetstream()) == []
                finally:
                    await nc.close()
                charges = await list_charges_by_order(API_KEY, psp_base)
                assert len(charges) == 2 * CHECKOUTS and set(charges.values()) == {1}

                async def charged() -> dict[str, int]:
                    return charges

                report = await run_checks(database_url, charged)
                assert report.ok, report.violations
    finally:
        server.stop()
