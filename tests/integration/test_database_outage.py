"""PostgreSQL stopped under a running wallet service for longer than the retry budget: the
events that arrive meanwhile are not dead-lettered; they are applied once, without an operator,
when the database is back. Runs on a PostgreSQL of its own (the session's is shared)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import ServiceHarness, eventually, started_service, stream_messages, succeeded
from sqlalchemy import text

from mesh.dead_letters import DLQ_STREAM
from mesh.retry import RetryPolicy
from paymesh_cli.invariants import run_checks
from paymesh_cli.stack import EmbeddedPostgres, free_port
from wallet_svc.bootstrap import start as start_wallet
from wallet_svc.settings import WalletSettings

pytestmark = pytest.mark.integration

RETRY = RetryPolicy(base_s=0.05, cap_s=0.4, max_attempts=2)


class Wallet(ServiceHarness):
    durable = "wallet-credit"


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path / "pg", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_events_that_arrive_while_postgres_is_down_are_applied_once_when_it_is_back(
    own_postgres: EmbeddedPostgres, nats_url: str
) -> None:
    database_url = own_postgres.url

    def settings(grpc_addr: str) -> WalletSettings:
        return WalletSettings(
            database_url=database_url,
            nats_url=nats_url,
            grpc_addr=grpc_addr,
            consumer_concurrency=8,
            db_pool_size=4,
            retry=RETRY,
        )

    async with started_service(
        "wallet_svc", "wallet", start_wallet, settings, database_url, nats_url
    ) as service:
        wallet = Wallet(service.js, service.engine, service.life)
        await wallet.processed(
            await wallet.publish(succeeded("po-before", "seller-1", "10.00", "1.00"))
        )

        await asyncio.to_thread(own_postgres.stop)
        await wallet.publish(succeeded("po-during-1", "seller-1", "20.00", "2.00"))
        await wallet.publish(succeeded("po-during-2", "seller-2", "30.00", "3.00"))

        async def delivered_many_times() -> bool:
            info = await service.js.consumer_info("PAYMENT", "wallet-credit")
            # Every delivery counts here: well past twice the budget of each message.
            return (info.delivered.consumer_seq or 0) >= 1 + 2 * 3 * RETRY.max_attempts

        await eventually(delivered_many_times, within=30)
        assert await stream_messages(service.js, DLQ_STREAM) == 0

        await asyncio.to_thread(own_postgres.start)

        async def credited() -> bool:
            try:
                async with service.engine.connect() as conn:
                    return await conn.scalar(text("SELECT count(*) FROM wallet_credits")) == 3
            except Exception:
                return False

        await eventually(credited, within=30)
        last = await wallet.publish(succeeded("po-after", "seller-2", "1.00", "0.10"))
        await wallet.processed(last)
        async with service.engine.connect() as conn:
            rows = dict(
                (
                    await conn.execute(text("SELECT seller_account, pending::text FROM balances"))
                ).all()
            )
        assert rows == {"seller-1": "27.0000", "seller-2": "27.9000"}  # each order once
        assert await stream_messages(service.js, DLQ_STREAM) == 0
        assert service.life.failed is None

    report = await run_checks(database_url)
    assert report.ok, report.violations
