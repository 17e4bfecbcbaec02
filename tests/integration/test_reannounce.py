"""A SUCCESS order whose ledger event was lost (deleted from the stream before the ledger read
it) is announced again by the sweeper with its original event id: the ledger books it once, the
wallet's inbox drops the copy (credited once), and the order's flags both come back.

Real parts: the payment, wallet and ledger services in-process on PostgreSQL and NATS
JetStream, the sandbox PSP through the stripe SDK."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import (
    Started,
    eventually,
    new_request_id,
    running_sandbox,
    started_ledger,
    started_service,
    started_wallet,
)

from mesh.events import PAYMENT_ORDER_SUCCEEDED, decode_envelope
from payment_svc.bootstrap import start as start_payment
from payment_svc.settings import PaymentSettings
from paymesh.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from paymesh.payment.v1 import payment_pb2, payment_pb2_grpc
from paymesh.wallet.v1 import wallet_pb2, wallet_pb2_grpc

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

API_KEY = "sk_test_reannounce"
SUCCESS = payment_pb2.PAYMENT_ORDER_STATUS_SUCCESS


@pytest.fixture
async def payment(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Started]:
    async with running_sandbox(tmp_path / "psp.jsonl") as psp_base:

        def settings(grpc_addr: str) -> PaymentSettings:
            return PaymentSettings(
                database_url=database_url,
                nats_url=nats_url,
                grpc_addr=grpc_addr,
                psp_api_base=psp_base,
                psp_api_key=API_KEY,
                executor_concurrency=4,
                db_pool_size=5,
                sweeper_interval_s=0.3,
                sweeper_reannounce_after_s=1.0,
            )

        async with started_service(
            "payment_svc", "payment", start_payment, settings, database_url, nats_url
        ) as service:
            yield service
            assert service.life.failed is None, f"a task died: {service.life.failed!r}"


async def succeeded_messages(payment: Started) -> list[tuple[int, str, str]]:
    """(stream seq, Nats-Msg-Id, envelope event id) of each payment.order.succeeded message."""
    info = await payment.js.stream_info("PAYMENT")
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            msg = await payment.js.get_msg("PAYMENT", seq)
        except Exception:  # deleted
            continue
        if msg.subject == PAYMENT_ORDER_SUCCEEDED:
            envelope = decode_envelope(msg.data)
            found.append((seq, (msg.headers or {})["Nats-Msg-Id"], envelope.event_id))
    return found


async def test_a_lost_ledger_event_is_announced_again_and_booked_once(
    payment: Started, database_url: str, nats_url: str
) -> None:
    payments = payment_pb2_grpc.PaymentServiceStub(payment.channel)
    suffix = uuid.uuid4().hex[:10]
    checkout_id, order_id = f"co_{suffix}", f"po_{suffix}"

    async def order() -> payment_pb2.PaymentOrder:
        answer = await payments.GetCheckout(
            payment_pb2.GetCheckoutRequest(checkout_id=checkout_id), timeout=5
        )
        return answer.checkout.payment_orders[0]

    async with started_wallet(database_url, nats_url) as wallet:
        await payments.CreatePayment(
            payment_pb2.CreatePaymentRequest(
                request_id=new_request_id(),
                checkout_id=checkout_id,
                buyer_info=payment_pb2.BuyerInfo(buyer_id="buyer_lost"),
                payment_method="pm_card_visa",
                payment_orders=[
                    payment_pb2.PaymentOrderInput(
                        payment_order_id=order_id,
                        seller_account="seller_lost",
                        amount="20.00",
                        currency="USD",
                    )
                ],
            ),
            timeout=10,
        )

        async def credited() -> bool:
            o = await order()
            return o.status == SUCCESS and o.wallet_updated

        await eventually(credited)
        # The ledger is not running: its event is lost before it reads it.
        [(seq, msg_id, event_id)] = await succeeded_messages(payment)
        assert msg_id == event_id
        await payment.js.delete_msg("PAYMENT", seq)

        async with started_ledger(database_url, nats_url) as ledger:

            async def booked() -> bool:
                o = await order()
                return o.ledger_updated and o.wallet_updated

            await eventually(booked, within=30)
            await asyncio.sleep(1.5)  # past another re-announce period: none once flagged

            again = await succeeded_messages(payment)
            assert len(again) >= 1
            assert all(e == event_id and m != event_id for _, m, e in again)
            assert len(again) <= 2  # at most the rounds before the ledger's flag came back

            ledger_stub = ledger_pb2_grpc.LedgerServiceStub(ledger.channel)
            trial = await ledger_stub.GetTrialBalance(ledger_pb2.GetTrialBalanceRequest())
            [usd] = trial.currencies
            assert trial.balanced and usd.debits == "20.00"  # booked once

            wallet_stub = wallet_pb2_grpc.WalletServiceStub(wallet.channel)
            balance = await wallet_stub.GetBalance(
                wallet_pb2.GetBalanceRequest(seller_account="seller_lost")
            )
            [usd_balance] = balance.balances
            assert usd_balance.total == "18.00"  # 20.00 less its 10 % fee, credited once
