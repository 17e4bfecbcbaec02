"""The wallet service for real: its migrations on PostgreSQL, the service started in-process
on NATS JetStream, events published to the PAYMENT stream, answers read through gRPC and the
WALLET stream. After each test the wallet's own money invariant is checked in the database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

import grpc
import pytest
from google.rpc import error_details_pb2
from harness import (
    ServiceHarness,
    eventually,
    migrations_diff,
    rich_status,
    started_service,
    succeeded,
)
from psycopg.errors import CheckViolation
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.events import WALLET_CREDITED
from mesh.money import Money
from paymesh.events.v1 import events_pb2
from paymesh.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from wallet_svc.adapters import tables
from wallet_svc.adapters.sql import SqlWalletUnitOfWork
from wallet_svc.bootstrap import start
from wallet_svc.domain import Credit
from wallet_svc.entrypoints.outgoing import encode_event
from wallet_svc.settings import WalletSettings

D = Decimal
DURABLE = "wallet-credit"


@dataclass
class Wallet(ServiceHarness):
    durable: ClassVar[str] = DURABLE

    stub: wallet_pb2_grpc.WalletServiceStub

    async def credited_events(self) -> list[events_pb2.WalletCredited]:
        return await self.published("WALLET", WALLET_CREDITED, events_pb2.WalletCredited)

    async def balance(self, seller: str, currency: str = "") -> wallet_pb2.GetBalanceResponse:
        return await self.stub.GetBalance(
            wallet_pb2.GetBalanceRequest(seller_account=seller, currency=currency), timeout=5
        )

    async def pending_reaches(self, seller: str, currency: str, amount: str) -> None:
        async def reached() -> bool:
            try:
                response = await self.balance(seller, currency)
            except grpc.aio.AioRpcError as err:
                if err.code() is grpc.StatusCode.NOT_FOUND:
                    return False
                raise
            return response.balances[0].pending == amount

        await eventually(reached)


async def assert_wallet_invariants(engine: AsyncEngine, credited_events: int) -> None:
    """Sum of credits == balance per (seller, currency); one credit per order; one
    `wallet.credited` event per credit."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT coalesce(c.seller_account, b.seller_account), "
                    "coalesce(c.currency, b.currency), c.credited, b.total "
                    "FROM (SELECT seller_account, currency, sum(amount) AS credited "
                    "      FROM wallet_credits GROUP BY seller_account, currency) c "
                    "FULL JOIN (SELECT seller_account, currency, "
                    "           pending + available + reserved AS total FROM balances) b "
                    "USING (seller_account, currency)"
                )
            )
        ).all()
        credits = await conn.scalar(text("SELECT count(*) FROM wallet_credits"))
    for seller, currency, net, total in rows:
        assert net == total, f"{seller}/{currency}: credits {net} != balance {total}"
    assert credits == credited_events


@pytest.fixture
async def wallet(database_url: str, nats_url: str) -> AsyncIterator[Wallet]:
    def settings(grpc_addr: str) -> WalletSettings:
        return WalletSettings(
            database_url=database_url,
            nats_url=nats_url,
            grpc_addr=grpc_addr,
            log_level="INFO",
            consumer_concurrency=16,
            db_pool_size=4,
        )

    async with started_service(
        "wallet_svc", "wallet", start, settings, database_url, nats_url
    ) as service:
        harness = Wallet(
            service.js,
            service.engine,
            service.life,
            wallet_pb2_grpc.WalletServiceStub(service.channel),
        )
        yield harness
        # The money invariant, whatever the test did.
        await assert_wallet_invariants(service.engine, len(await harness.credited_events()))
        assert service.life.failed is None, f"a background task died: {service.life.failed!r}"


async def test_a_succeeded_order_credits_the_seller_net_of_fee(wallet: Wallet) -> None:
    await wallet.publish(succeeded("po-1", "seller-1", "100.00", "2.90"))
    await wallet.publish(succeeded("po-2", "seller-1", "1000", "0", "JPY"))
    await wallet.publish(succeeded("po-3", "seller-1", "50.00", "0.50"))
    await wallet.pending_reaches("seller-1", "USD", "146.60")
    await wallet.pending_reaches("seller-1", "JPY", "1000")

    response = await wallet.balance("seller-1")
    assert response.seller_account == "seller-1"
    assert [
        (b.currency, b.pending, b.available, b.reserved, b.total) for b in response.balances
    ] == [
        ("JPY", "1000", "0", "0", "1000"),
        ("USD", "146.60", "0.00", "0.00", "146.60"),
    ]

    events = await wallet.credited_events()
    by_order = {e.payment_order_id: e for e in events}
    assert sorted(by_order) == ["po-1", "po-2", "po-3"]
    assert (by_order["po-1"].net.amount, by_order["po-1"].net.currency) == ("97.10", "USD")
    assert by_order["po-2"].net.amount == "1000"
    assert by_order["po-1"].seller_account == "seller-1"


async def test_the_same_event_delivered_twice_credits_once(wallet: Wallet) -> None:
    env = succeeded("po-1", "seller-1", "10.00", "1.00")
    await wallet.publish(env)
    seq = await wallet.publish(env, msg_id=f"again-{uuid.uuid4()}")  # not deduplicated by NATS
    assert seq == 2
    await wallet.processed(seq)

    [usd] = (await wallet.balance("seller-1")).balances
    assert usd.pending == "9.00"
    assert len(await wallet.credited_events()) == 1


async def test_another_event_for_a_credited_order_has_no_effect(wallet: Wallet) -> None:
    await wallet.publish(succeeded("po-1", "seller-1", "10.00", "1.00"))
    await wallet.pending_reaches("seller-1", "USD", "9.00")
    seq = await wallet.publish(succeeded("po-1", "seller-1", "500.00", "1.00"))
    await wallet.processed(seq)

    [usd] = (await wallet.balance("seller-1")).balances
    assert usd.pending == "9.00"
    assert len(await wallet.credited_events()) == 1
    async with wallet.engine.connect() as conn:
        handled = await conn.scalar(text("SELECT count(*) FROM inbox"))
    assert handled == 2  # both events are handled; only the first had an effect


async def test_concurrent_credits_of_one_seller_all_count(wallet: Wallet) -> None:
    for i in range(60):
        await wallet.publish(succeeded(f"po-{i}", "busy-seller", "1.25", "0.05"))
    await wallet.pending_reaches("busy-seller", "USD", "72.00")
    assert len(await wallet.credited_events()) == 60


async def test_an_event_breaking_the_credit_rule_goes_to_the_dead_letter_stream(
    wallet: Wallet,
) -> None:
    seq = await wallet.publish(succeeded("po-1", "seller-1", "10.00", "10.01"))
    await wallet.publish(succeeded("po-2", "seller-1", "10.00", "1.00", fee_currency="EUR"))
    last = await wallet.publish(succeeded("po-3", "seller-1", "10.00", "1.00"))
    await wallet.processed(last)

    [usd] = (await wallet.balance("seller-1")).balances
    assert usd.pending == "9.00"
    dead = await wallet.events("DLQ", f"dlq.{DURABLE}")
    assert [env.aggregate_id for _, env in dead] == ["po-1", "po-2"]
    reasons = [msg.headers["Paymesh-Dlq-Reason"] for msg, _ in dead]
    assert "net would be negative" in reasons[0]
    assert "currency" in reasons[1]
    assert seq == 1


async def test_an_unknown_seller_is_not_found(wallet: Wallet) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await wallet.balance("nobody")
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    status = rich_status(info.value)
    error = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(error)
    assert error.reason == "NOT_FOUND"


async def test_a_bad_request_is_an_invalid_argument(wallet: Wallet) -> None:
    await wallet.publish(succeeded("po-1", "seller-1", "10.00", "1.00"))
    await wallet.pending_reaches("seller-1", "USD", "9.00")
    for seller, currency, field in [
        ("bad seller", "", "seller_account"),
        ("seller-1", "usd", "currency"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await wallet.balance(seller, currency)
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        bad_request = error_details_pb2.BadRequest()
        assert rich_status(info.value).details[1].Unpack(bad_request)
        assert bad_request.field_violations[0].field == field
    # A currency the seller does not hold reads as zero.
    [eur] = (await wallet.balance("seller-1", "EUR")).balances
    assert (eur.currency, eur.total) == ("EUR", "0.00")


async def test_a_failure_at_commit_leaves_nothing_behind(wallet: Wallet) -> None:
    # The balance upsert rides with the COMMIT; when it fails, the whole credit is undone and
    # the connection goes back to the pool in a usable state.
    for i in range(3):  # more attempts than the test engine has pooled connections
        uow = SqlWalletUnitOfWork(wallet.engine, encode_event)
        credit = Credit(f"po-doomed-{i}", "seller-1", Money(D("5.00"), "USD"), Money(D(0), "USD"))
        with pytest.raises(CheckViolation, match="balances_not_negative"):
            async with uow:
                assert await uow.claim_event("test", str(uuid.uuid4()))
                assert await uow.wallets.add_credit(credit, str(uuid.uuid4()))
                await uow.wallets.add_pending("seller-1", Money(D("-1.00"), "USD"))
                await uow.commit()
    async with wallet.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM wallet_credits")) == 0
        assert await conn.scalar(text("SELECT count(*) FROM inbox")) == 0

    await wallet.publish(succeeded("po-1", "seller-1", "10.00", "1.00"))
    await wallet.pending_reaches("seller-1", "USD", "9.00")


async def test_the_tables_module_matches_the_migrations(database_url: str) -> None:
    assert await migrations_diff("wallet_svc", "wallet", tables.metadata, database_url) == []
