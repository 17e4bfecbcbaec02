"""The outbox relay (mesh.outbox) against real PostgreSQL and NATS JetStream: a crash between
publish and mark-sent, rows whose ids commit out of order, and two relays at once.

The relay under test reads an outbox of the test's own (schema `relay_test`), so no service's
relay competes for its rows; it carries `payment.order.succeeded` events, which the real
wallet and ledger services consume when a test starts them."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from harness import (
    Started,
    consumer_drained,
    eventually,
    started_ledger,
    started_wallet,
    stream_messages,
    succeeded,
)
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck
from sqlalchemy import MetaData, Table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mesh.db import make_engine
from mesh.events import PAYMENT_ORDER_SUCCEEDED, unpack
from mesh.jetstream import connect, ensure_streams
from mesh.outbox import OutboxRelay, enqueue, outbox_table
from paymesh.events.v1 import events_pb2
from paymesh.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from paymesh.wallet.v1 import wallet_pb2, wallet_pb2_grpc

pytestmark = pytest.mark.integration

SCHEMA = "relay_test"
RELAY_APP = "outbox-relay-under-test"  # application_name of the relay's connections
SELLER = "seller-relay"
WALLET_CONSUMER = "wallet-credit"
LEDGER_CONSUMER = "ledger-post"


# --- the outbox under test ----------------------------------------------------------------


@dataclass
class Outbox:
    """The test's outbox: rows added in transactions the test controls, relays over it."""

    database_url: str
    engine: AsyncEngine  # the test's own view (application_name differs from the relay's)
    table: Table
    nc: NatsClient
    js: JetStreamContext
    engines: list[AsyncEngine] = field(default_factory=list)

    async def add(self, conn: AsyncConnection, order_id: str, amount: str = "10.00") -> str:
        """Enqueue `payment.order.succeeded` for `order_id` (net 9/10 of `amount`) in the
        caller's transaction; returns its event id."""
        fee = str(Decimal(amount) / 10)
        payload = unpack(succeeded(order_id, SELLER, amount, fee), events_pb2.PaymentOrderSucceeded)
        return await enqueue(conn, self.table, PAYMENT_ORDER_SUCCEEDED, order_id, payload)

    async def add_committed(self, count: int) -> list[str]:
        """`count` orders of 10.00 each, committed together; their event ids."""
        async with self.engine.begin() as conn:
            return [await self.add(conn, f"po-{uuid.uuid4().hex[:8]}") for _ in range(count)]

    def relay(self, js: Any = None, *, batch: int = 256) -> OutboxRelay:
        """A relay as a freshly started process has it: its own engine (connections named
        RELAY_APP) and the given JetStream context (the real one unless told)."""
        engine = make_engine(self.database_url, SCHEMA, pool_size=2, application_name=RELAY_APP)
        self.engines.append(engine)
        return OutboxRelay(engine, js or self.js, batch=batch)

    async def unpublished(self) -> int:
        async with self.engine.connect() as conn:
            return await conn.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))

    async def published_ids(self) -> list[str]:
        """Event ids of the `payment.order.succeeded` messages in the stream, in stream order."""
        info = await self.js.stream_info("PAYMENT")
        ids = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await self.js.get_msg("PAYMENT", seq)
            if msg.subject == PAYMENT_ORDER_SUCCEEDED:
                assert msg.headers is not None
                ids.append(msg.headers["Nats-Msg-Id"])
        return ids if info.state.messages else []


@pytest.fixture
async def outbox(database_url: str, nats_url: str) -> AsyncIterator[Outbox]:
    engine = make_engine(database_url, SCHEMA, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    table = outbox_table(MetaData())
    async with engine.begin() as conn:
        await conn.run_sync(table.create)
    nc, js = await connect(nats_url, "outbox-relay-tests")
    await ensure_streams(js)
    box = Outbox(database_url, engine, table, nc, js)
    try:
        yield box
    finally:
        await nc.close()
        for relay_engine in box.engines:
            await relay_engine.dispose()
        await engine.dispose()


@dataclass
class Consumers:
    """The wallet and the ledger, the two consumers of `payment.order.succeeded`."""

    wallet: Started
    ledger: Started

    async def drained(self) -> None:
        await consumer_drained(self.wallet.js, "PAYMENT", WALLET_CONSUMER)
        await consumer_drained(self.ledger.js, "PAYMENT", LEDGER_CONSUMER)

    async def pending_balance(self) -> str:
        stub = wallet_pb2_grpc.WalletServiceStub(self.wallet.channel)
        response = await stub.GetBalance(
            wallet_pb2.GetBalanceRequest(seller_account=SELLER, currency="USD"), timeout=5
        )
        return response.balances[0].pending

    async def ledger_payable(self) -> str:
        stub = ledger_pb2_grpc.LedgerServiceStub(self.ledger.channel)
        response = await stub.GetAccountBalance(
            ledger_pb2.GetAccountBalanceRequest(account=f"seller_payable:{SELLER}"), timeout=5
        )
        return response.balances[0].balance

    async def transactions_per_order(self) -> dict[str, int]:
        async with self.ledger.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT payment_order_id, count(*) FROM transactions GROUP BY 1")
            )
            return {order_id: n for order_id, n in rows}

    async def dead_letters(self) -> int:
        return await stream_messages(self.wallet.js, "DLQ")


@pytest.fixture
async def consumers(database_url: str, nats_url: str) -> AsyncIterator[Consumers]:
    async with (
        started_wallet(database_url, nats_url) as wallet,
        started_ledger(database_url, nats_url) as ledger,
    ):
        yield Consumers(wallet, ledger)
        assert wallet.life.failed is None and ledger.life.failed is None


# --- JetStream contexts the relay is handed -----------------------------------------------


@dataclass
class ConnectionLostAfterPublish:
    """Every publish reaches the stream; once `batch` have, the relay's database connection is
    terminated by the server, so the relay's UPDATE ... published_at fails: a crash between
    publish and mark-sent, with no fake of PostgreSQL or NATS."""

    js: JetStreamContext
    admin: AsyncEngine
    batch: int
    published: int = 0

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> PubAck:
        ack = await self.js.publish(subject, payload, headers=headers)
        self.published += 1
        if self.published == self.batch:
            async with self.admin.connect() as conn:
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :app AND datname = current_database()"
                    ),
                    {"app": RELAY_APP},
                )
        return ack


Hook = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


@dataclass
class CountingPublishes:
    """Counts what a relay publishes, per Nats-Msg-Id, before the stream's dedup can hide a
    second publish; `before` and `after` run around each publish."""

    js: JetStreamContext
    counts: Counter[str]
    before: Hook = _nothing
    after: Hook = _nothing

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> PubAck:
        await self.before()
        ack = await self.js.publish(subject, payload, headers=headers)
        self.counts[headers["Nats-Msg-Id"]] += 1
        await self.after()
        return ack


async def crash_between_publish_and_mark_sent(outbox: Outbox, rows: int) -> None:
    crashing = outbox.relay(ConnectionLostAfterPublish(outbox.js, outbox.engine, rows))
    with pytest.raises(DBAPIError):
        await crashing.publish_pending()
    assert await outbox.unpublished() == rows, "the crashed relay marked nothing sent"


async def duplicate_window_passed(js: JetStreamContext, stream: str) -> None:
    """Wait until a message id published now is no longer a duplicate in `stream`: then ids
    published before it are out of the window too."""
    probe = {"Nats-Msg-Id": f"window-probe-{uuid.uuid4()}"}
    subject = "payment.relay_test.window_probe"  # in the stream, taken by no consumer
    await js.publish(subject, b"", stream=stream, headers=probe)

    async def passed() -> bool:
        return not (await js.publish(subject, b"", stream=stream, headers=probe)).duplicate

    await eventually(passed)


async def shrink_duplicate_window(js: JetStreamContext, stream: str, seconds: float) -> None:
    config = (await js.stream_info(stream)).config
    config.duplicate_window = seconds
    await js.update_stream(config)


# --- tests ----------------------------------------------------------------------------------


async def test_a_crash_between_publish_and_mark_sent_is_absorbed_by_the_stream_window(
    outbox: Outbox, consumers: Consumers
) -> None:
    event_ids = await outbox.add_committed(5)
    await crash_between_publish_and_mark_sent(outbox, rows=5)
    assert sorted(await outbox.published_ids()) == sorted(event_ids)

    assert await outbox.relay().publish_pending() == 5  # a fresh relay publishes all again

    assert await outbox.unpublished() == 0
    assert sorted(await outbox.published_ids()) == sorted(event_ids), "duplicates kept"
    await consumers.drained()
    assert await consumers.pending_balance() == "45.00"  # 5 x 9.00, credited once each
    assert await consumers.ledger_payable() == "45.00"
    assert set((await consumers.transactions_per_order()).values()) == {1}
    assert await consumers.dead_letters() == 0


async def test_past_the_window_the_inboxes_drop_what_the_relay_publishes_again(
    outbox: Outbox, consumers: Consumers
) -> None:
    await shrink_duplicate_window(outbox.js, "PAYMENT", 0.2)
    event_ids = await outbox.add_committed(3)
    await crash_between_publish_and_mark_sent(outbox, rows=3)
    await consumers.drained()
    assert await consumers.pending_balance() == "27.00"
    await duplicate_window_passed(outbox.js, "PAYMENT")

    assert await outbox.relay().publish_pending() == 3

    assert await outbox.unpublished() == 0
    # This time the stream kept the second copies: only the consumers can drop them.
    assert sorted(await outbox.published_ids()) == sorted(event_ids * 2)
    await consumers.drained()
    assert await consumers.pending_balance() == "27.00"
    assert await consumers.ledger_payable() == "27.00"
    assert set((await consumers.transactions_per_order()).values()) == {1}
    assert await consumers.dead_letters() == 0


async def test_a_row_committed_after_a_higher_id_is_published_not_skipped(
    outbox: Outbox,
) -> None:
    relay = outbox.relay()
    async with outbox.engine.connect() as first:
        await first.begin()
        early = await outbox.add(first, "po-early")  # takes the lower id, commits last
        async with outbox.engine.begin() as second:
            late = await outbox.add(second, "po-late")

        assert await relay.publish_pending() == 1
        assert await outbox.published_ids() == [late]

        await first.commit()
    assert await relay.publish_pending() == 1

    assert await outbox.published_ids() == [late, early]
    assert await outbox.unpublished() == 0
    async with outbox.engine.connect() as conn:
        ids = dict((await conn.execute(text("SELECT event_id::text, id FROM outbox"))).all())
    assert ids[early] < ids[late]


async def test_two_relays_never_publish_the_same_row(outbox: Outbox) -> None:
    event_ids = await outbox.add_committed(40)
    counts: Counter[str] = Counter()
    first_holds_its_rows = asyncio.Event()
    second_published = asyncio.Event()

    async def hold_until_the_second_published() -> None:
        first_holds_its_rows.set()
        await second_published.wait()

    async def say_published() -> None:
        second_published.set()

    first = outbox.relay(
        CountingPublishes(outbox.js, counts, before=hold_until_the_second_published), batch=5
    )
    second = outbox.relay(CountingPublishes(outbox.js, counts, after=say_published), batch=5)

    async with asyncio.timeout(10):  # without SKIP LOCKED the second relay would wait forever
        holding = asyncio.create_task(first.publish_pending())
        await first_holds_its_rows.wait()
        # The first relay holds rows 1-5 and has published none: the second takes others.
        assert await second.publish_pending() == 5
        assert await holding == 5

        async def drain(relay: OutboxRelay) -> None:
            while await relay.publish_pending():
                pass

        await asyncio.gather(drain(first), drain(second))

    assert sorted(counts) == sorted(event_ids)
    assert [n for n in counts.values() if n > 1] == [], "a row was published twice"
    assert await outbox.unpublished() == 0
    assert await stream_messages(outbox.js, "PAYMENT") == 40
