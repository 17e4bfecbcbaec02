"""`paymesh dlq` against real NATS and PostgreSQL: an event the wallet's credit consumer
refused (a bug, say) is dead-lettered with its metadata, listed, shown, replayed after the fix
and applied once; replayed again, it changes nothing (the inbox); discarded ones are gone; both
actions are in the audit log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from click.testing import CliRunner, Result
from harness import eventually, stream_messages, succeeded
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import mesh.migrations
from gateway.audit import recent_entries
from mesh.db import make_engine
from mesh.dead_letters import DLQ_STREAM
from mesh.jetstream import Poison, connect, ensure_streams, run_consumer
from mesh.retry import RetryPolicy
from paymesh.events.v1 import events_pb2
from paymesh_cli.main import cli
from wallet_svc.adapters.sql import SqlWalletUnitOfWork
from wallet_svc.entrypoints.consumer import consumer_spec, credit_handler
from wallet_svc.entrypoints.outgoing import encode_event

pytestmark = pytest.mark.integration


@dataclass
class Wallet:
    js: JetStreamContext
    engine: AsyncEngine
    nats_url: str
    database_url: str
    broken: set[str]  # orders the "buggy" release refuses

    async def credits(self, order_id: str) -> int:
        async with self.engine.connect() as conn:
            return await conn.scalar(
                text("SELECT count(*) FROM wallet_credits WHERE payment_order_id = :o"),
                {"o": order_id},
            )

    async def pending(self, seller: str) -> str:
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                text("SELECT pending FROM balances WHERE seller_account = :s"), {"s": seller}
            )
        return str(value)

    async def dlq(self, *args: str) -> Result:
        audited = ["--database-url", self.database_url] if args[0] in ("replay", "discard") else []
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, ["dlq", *args, "--nats-url", self.nats_url, *audited]
        )
        assert result.exit_code == 0, result.output
        return result

    async def publish(self, env: events_pb2.Envelope) -> None:
        await self.js.publish(
            env.event_type, env.SerializeToString(), headers={"Nats-Msg-Id": env.event_id}
        )


@pytest.fixture
async def wallet(database_url: str, nats_url: str) -> AsyncIterator[Wallet]:
    """The wallet's real credit handler and SQL inbox, behind a release that refuses the
    orders in `broken` (until the test "deploys the fix" by emptying it)."""
    await asyncio.to_thread(mesh.migrations.upgrade, "wallet_svc", database_url)
    await asyncio.to_thread(mesh.migrations.upgrade, "gateway", database_url)  # the audit log
    engine = make_engine(database_url, "wallet", pool_size=4)
    nc, js = await connect(nats_url, "dlq-tests")
    await ensure_streams(js)
    real = credit_handler(lambda: SqlWalletUnitOfWork(engine, encode_event))
    broken: set[str] = set()

    async def handler(env: events_pb2.Envelope) -> None:
        if env.aggregate_id in broken:
            raise Poison(f"release 1.2.3 refuses {env.aggregate_id}")
        await real(env)

    spec = consumer_spec(8, RetryPolicy(base_s=0.02, cap_s=0.1, max_attempts=2))
    task = asyncio.create_task(run_consumer(js, spec, handler))
    try:
        yield Wallet(js, engine, nats_url, database_url, broken)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await nc.close()
        await engine.dispose()


async def test_a_dead_letter_is_listed_replayed_after_the_fix_and_applied_once(
    wallet: Wallet,
) -> None:
    wallet.broken.add("po-2")
    first = succeeded("po-2", "seller-9", "50.00", "5.00")
    await wallet.publish(first)
    await wallet.publish(succeeded("po-3", "seller-9", "10.00", "1.00"))
    await eventually(lambda: _dead(wallet.js, 1))
    await eventually(lambda: _equals(wallet.credits("po-3"), 1))  # the one behind it went on

    listed = json.loads((await wallet.dlq("list", "--json")).output)["dead_letters"]
    [letter] = listed
    assert letter["consumer"] == "wallet-credit"
    assert letter["subject"] == "payment.order.succeeded"
    assert letter["event"]["event_id"] == first.event_id
    assert letter["original_msg_id"] == first.event_id
    assert letter["attempts"] == 1
    assert letter["first_error"] == letter["last_error"] == "release 1.2.3 refuses po-2"
    assert letter["reason"].startswith("poison")
    table = (await wallet.dlq("list", "--consumer", "wallet-credit")).output
    assert "wallet-credit" in table and "payment.order.succeeded" in table
    assert "no dead letters" in (await wallet.dlq("list", "--consumer", "ledger-post")).output
    shown = json.loads((await wallet.dlq("show", str(letter["seq"]))).output)
    assert shown["event"]["aggregate_id"] == "po-2"

    # Keep a copy, as if it had been dead-lettered twice (two replicas, a crash before term).
    copy = await wallet.js.get_msg(DLQ_STREAM, letter["seq"])
    await wallet.js.publish(
        "dlq.wallet-credit",
        copy.data,
        headers={**(copy.headers or {}), "Nats-Msg-Id": "copy-of-dead-letter"},
    )
    assert await wallet.credits("po-2") == 0

    wallet.broken.clear()  # the fix is deployed
    out = (await wallet.dlq("replay", "--consumer", "wallet-credit")).output
    assert "2 dead letter(s) replayed" in out
    await eventually(lambda: _equals(wallet.credits("po-2"), 1))
    await asyncio.sleep(0.5)  # the second replay has been through the consumer too
    assert await wallet.credits("po-2") == 1
    assert await wallet.pending("seller-9") == "54.0000"  # 45.00 + 9.00, once each
    assert await stream_messages(wallet.js, DLQ_STREAM) == 0
    assert "no dead letters" in (await wallet.dlq("list")).output
    entries = await recent_entries(wallet.database_url, 10)
    assert [(e["action"], e["outcome"]) for e in entries] == [("dlq.replay", 200)] * 2
    assert all(e["key_id"].startswith("cli") for e in entries)
    assert {e["resource"] for e in entries} == {
        f"dlq/{letter['seq']}/wallet-credit/{first.event_id}",
        f"dlq/{letter['seq'] + 1}/wallet-credit/{first.event_id}",
    }


async def test_discard_deletes_without_replaying(wallet: Wallet) -> None:
    wallet.broken.update({"po-5", "po-6"})
    await wallet.publish(succeeded("po-5", "seller-5", "20.00", "2.00"))
    await wallet.publish(succeeded("po-6", "seller-5", "20.00", "2.00"))
    await eventually(lambda: _dead(wallet.js, 2))
    listed = json.loads((await wallet.dlq("list", "--json")).output)["dead_letters"]
    wallet.broken.clear()
    await wallet.dlq("discard", str(listed[0]["seq"]))
    assert len(json.loads((await wallet.dlq("list", "--json")).output)["dead_letters"]) == 1
    await wallet.dlq("discard", "--all")
    await asyncio.sleep(0.3)
    assert await wallet.credits("po-5") == await wallet.credits("po-6") == 0
    assert [e["action"] for e in await recent_entries(wallet.database_url, 10)] == [
        "dlq.discard"
    ] * 2
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["dlq", "replay", "--nats-url", wallet.nats_url, "--database-url", wallet.database_url],
    )
    assert result.exit_code != 0 and "one of them" in result.output


async def _dead(js: JetStreamContext, n: int) -> bool:
    return await stream_messages(js, DLQ_STREAM) == n


async def _equals(value, expected) -> bool:  # type: ignore[no-untyped-def]
    return (await value) == expected
