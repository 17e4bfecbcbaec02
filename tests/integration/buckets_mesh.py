"""A mesh of payment, wallet and ledger services in-process with the sandbox PSP, and the reads
the balance and payout tests make on it (wallet buckets and the ledger accounts that mirror
them)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from harness import (
    Started,
    eventually,
    new_request_id,
    running_sandbox,
    started_ledger,
    started_service,
)
from sqlalchemy import text

from payment_svc.bootstrap import start as start_payment
from payment_svc.settings import PaymentSettings
from paymesh.payment.v1 import payment_pb2, payment_pb2_grpc, refunds_pb2, refunds_pb2_grpc
from paymesh.wallet.v1 import wallet_pb2_grpc
from wallet_svc.bootstrap import start as start_wallet
from wallet_svc.settings import WalletSettings

API_KEY = "sk_test_buckets"
D = Decimal
BUCKETS = ("pending", "available", "reserved", "debt")


@dataclass
class Mesh:
    payment: Started
    wallet: Started
    ledger: Started
    psp_base: str
    database_url: str

    @property
    def payments(self) -> payment_pb2_grpc.PaymentServiceStub:
        return payment_pb2_grpc.PaymentServiceStub(self.payment.channel)

    @property
    def wallets(self) -> wallet_pb2_grpc.WalletServiceStub:
        return wallet_pb2_grpc.WalletServiceStub(self.wallet.channel)

    async def pay(self, seller: str, amount: str) -> str:
        """A paid order of `amount` USD for `seller`, once credited and booked."""
        suffix = uuid.uuid4().hex[:10]
        request = payment_pb2.CreatePaymentRequest(
            request_id=new_request_id(),
            checkout_id=f"co_{suffix}",
            buyer_info=payment_pb2.BuyerInfo(buyer_id="buyer_1"),
            payment_method="pm_card_visa",
            payment_orders=[
                payment_pb2.PaymentOrderInput(
                    payment_order_id=f"po_{suffix}",
                    seller_account=seller,
                    amount=amount,
                    currency="USD",
                )
            ],
        )
        await self.payments.CreatePayment(request, timeout=10)

        async def done() -> bool:
            reply = await self.payments.GetCheckout(
                payment_pb2.GetCheckoutRequest(checkout_id=request.checkout_id), timeout=10
            )
            return reply.checkout.is_payment_done

        await eventually(done)
        return f"po_{suffix}"

    async def release(self, order_id: str) -> payment_pb2.ReleasePaymentOrderResponse:
        return await self.payments.ReleasePaymentOrder(
            payment_pb2.ReleasePaymentOrderRequest(
                request_id=new_request_id(), payment_order_id=order_id
            ),
            timeout=10,
        )

    async def refund(self, order_id: str, amount: str = "") -> None:
        stub = refunds_pb2_grpc.RefundServiceStub(self.payment.channel)
        reply = await stub.CreateRefund(
            refunds_pb2.CreateRefundRequest(
                request_id=new_request_id(), payment_order_id=order_id, amount=amount
            ),
            timeout=10,
        )

        async def debited() -> bool:
            async with self.wallet.engine.connect() as conn:
                found = await conn.scalar(
                    text("SELECT count(*) FROM wallet_refund_debits WHERE refund_id = :r"),
                    {"r": reply.refund.refund_id},
                )
            return bool(found)

        await eventually(debited)

    async def buckets(self, seller: str) -> dict[str, Decimal]:
        async with self.wallet.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT pending, available, reserved, debt FROM balances"
                        " WHERE seller_account = :s AND currency = 'USD'"
                    ),
                    {"s": seller},
                )
            ).first()
        return dict(zip(BUCKETS, row, strict=True)) if row else {}

    async def ledger_buckets(self, seller: str) -> dict[str, Decimal]:
        families = {
            "pending": f"seller_payable:{seller}",
            "available": f"seller_payable_available:{seller}",
            "reserved": f"seller_payable_reserved:{seller}",
        }
        found = {}
        async with self.ledger.engine.connect() as conn:
            for bucket, account in families.items():
                found[bucket] = await conn.scalar(
                    text(
                        "SELECT coalesce(sum(credits - debits), 0) FROM account_balances"
                        " WHERE account = :a AND currency = 'USD'"
                    ),
                    {"a": account},
                )
            found["debt"] = await conn.scalar(
                text(
                    "SELECT coalesce(sum(debits - credits), 0) FROM account_balances"
                    " WHERE account = :a AND currency = 'USD'"
                ),
                {"a": f"seller_debt:{seller}"},
            )
        return found

    async def settled_at(self, seller: str, **expected: str) -> None:
        """Wallet buckets as `expected` (the others zero) and the ledger agreeing, bucket by
        bucket, once every move has been posted."""
        want = {b: D(expected.get(b, "0")) for b in BUCKETS}

        async def agree() -> bool:
            return await self.buckets(seller) == want == await self.ledger_buckets(seller)

        try:
            await eventually(agree)
        except AssertionError:
            raise AssertionError(
                f"want {want}, wallet {await self.buckets(seller)}, "
                f"ledger {await self.ledger_buckets(seller)}"
            ) from None


@asynccontextmanager
async def running_mesh(
    database_url: str, nats_url: str, tmp_path: Path, hold_period_s: float = 3600.0
) -> AsyncIterator[Mesh]:
    async with running_sandbox(tmp_path / "psp.jsonl") as psp_base:

        def payment_settings(grpc_addr: str) -> PaymentSettings:
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

        def wallet_settings(grpc_addr: str) -> WalletSettings:
            return WalletSettings(
                database_url=database_url,
                nats_url=nats_url,
                grpc_addr=grpc_addr,
                consumer_concurrency=16,
                db_pool_size=8,
                hold_period_s=hold_period_s,
                release_interval_s=0.2,
            )

        async with (
            started_service(
                "payment_svc", "payment", start_payment, payment_settings, database_url, nats_url
            ) as payment,
            started_service(
                "wallet_svc", "wallet", start_wallet, wallet_settings, database_url, nats_url
            ) as wallet,
            started_ledger(database_url, nats_url) as ledger,
        ):
            yield Mesh(payment, wallet, ledger, psp_base, database_url)
            for service in (payment, wallet, ledger):
                assert service.life.failed is None, f"a task died: {service.life.failed!r}"
