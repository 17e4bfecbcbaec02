"""The inbox (mesh.inbox) on its own, against real PostgreSQL and NATS JetStream.

Every consumer of the mesh relies on it, but the real consumers' effects also carry natural
unique keys (one credit per order, one ledger transaction per order), which catch a duplicate
even when the inbox lets it through. The consumer here has no such key: each delivery it
applies adds a row, so only the inbox stands between a redelivered event and a second effect.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from harness import eventually
from nats.js.errors import NotFoundError
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mesh.consuming import applying, event_id, open_envelope
from mesh.db import make_engine
from mesh.events import PAYMENT_ORDER_SUCCEEDED, new_envelope
from mesh.inbox import claim, inbox_table
from mesh.jetstream import ConsumerSpec, connect, ensure_streams, run_consumer
from mesh.outbox import outbox_table
from mesh.sql_uow import SqlUnitOfWork
from mesh.uow import UnitOfWork
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2

pytestmark = pytest.mark.integration

SCHEMA = "inbox_test"
CONSUMER = "delivery-counter"

metadata = MetaData()
inbox = inbox_table(metadata)
outbox = outbox_table(metadata)
# The consumer's effect: one row per applied delivery. No unique key on purpose.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=False), nullable=False),
    Column("payment_order_id", Text, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The test's schema: an inbox, an outbox and the counter's table."""
    engine = make_engine(database_url, SCHEMA, pool_size=4)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
            await conn.run_sync(metadata.create_all)
        yield engine
    finally:
        await engine.dispose()


async def applied(engine: AsyncEngine, event: str) -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM deliveries WHERE event_id = CAST(:e AS uuid)"), {"e": event}
        )
    return int(count or 0)


# --- a consumer built with the mesh's consumer machinery ----------------------------------


class CounterUnitOfWork(SqlUnitOfWork[None]):
    outbox_table = outbox

    def open_repositories(self, conn: AsyncConnection, at_commit: list) -> None:  # type: ignore[type-arg]
        pass


@dataclass(frozen=True)
class Count:
    event_id: str
    payment_order_id: str


def to_count(envelope: events_pb2.Envelope) -> Count:
    event = open_envelope(envelope, PAYMENT_ORDER_SUCCEEDED, events_pb2.PaymentOrderSucceeded)
    return Count(event_id(envelope), event.payment_order_id)


async def count_delivery(uow: UnitOfWork[None], cmd: Count) -> None:
    """The use case: claim the event, add a row, commit, as every consumer of the mesh does."""
    assert isinstance(uow, CounterUnitOfWork)
    async with uow:
        if not await uow.claim_event(CONSUMER, cmd.event_id):
            return
        await uow.conn.execute(
            deliveries.insert().values(event_id=cmd.event_id, payment_order_id=cmd.payment_order_id)
        )
        await uow.commit()


def order_succeeded(order_id: str) -> events_pb2.Envelope:
    payload = events_pb2.PaymentOrderSucceeded(
        payment_order_id=order_id,
        checkout_id=f"co-{order_id}",
        seller_account="seller-inbox",
        amount=money_pb2.Money(amount="10.00", currency="USD"),
        fee=money_pb2.Money(amount="1.00", currency="USD"),
        psp_reference=f"ch_{order_id}",
    )
    return new_envelope(PAYMENT_ORDER_SUCCEEDED, order_id, payload)


async def test_an_event_delivered_again_has_no_second_effect_without_a_natural_key(
    engine: AsyncEngine, nats_url: str
) -> None:
    nc, js = await connect(nats_url, "inbox-tests")
    spec = ConsumerSpec(stream="PAYMENT", durable=CONSUMER, subject=PAYMENT_ORDER_SUCCEEDED)
    handler = applying(to_count, count_delivery, lambda: CounterUnitOfWork(engine, encode), ())
    consumer = None
    try:
        await ensure_streams(js)
        consumer = asyncio.create_task(run_consumer(js, spec, handler))
        once, thrice = order_succeeded("po-once"), order_succeeded("po-thrice")
        data = thrice.SerializeToString()
        await js.publish(once.event_type, once.SerializeToString())
        # The same event three times, each with its own Nats-Msg-Id: what the relay sends
        # again after the stream's duplicate window, or after a crash before marking it sent.
        for _ in range(3):
            await js.publish(thrice.event_type, data, headers={"Nats-Msg-Id": str(uuid.uuid4())})

        async def all_handled() -> bool:
            try:
                info = await js.consumer_info("PAYMENT", CONSUMER)
            except NotFoundError:  # the consumer task has not created it yet
                return False
            settled = info.num_pending == 0 and info.num_ack_pending == 0
            return settled and info.delivered.stream_seq >= 4

        await eventually(all_handled)
        assert await applied(engine, once.event_id) == 1
        assert await applied(engine, thrice.event_id) == 1
    finally:
        if consumer is not None:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
        await nc.close()


def encode(event: None) -> tuple[str, str, events_pb2.Envelope]:
    raise AssertionError("the counter publishes nothing")


# --- claim itself -------------------------------------------------------------------------


async def claim_in(engine: AsyncEngine, consumer: str, event: str) -> bool:
    async with engine.begin() as conn:
        return await claim(conn, consumer, event)


async def test_claim_is_true_once_per_consumer_and_event(engine: AsyncEngine) -> None:
    event, other_event = str(uuid.uuid4()), str(uuid.uuid4())

    assert await claim_in(engine, "wallet-credit", event) is True
    assert await claim_in(engine, "wallet-credit", event) is False
    assert await claim_in(engine, "wallet-credit", event.upper()) is False  # the same UUID
    assert await claim_in(engine, "ledger-post", event) is True  # each consumer has its own
    assert await claim_in(engine, "wallet-credit", other_event) is True


async def test_a_claim_rolled_back_with_its_effect_is_not_held(engine: AsyncEngine) -> None:
    event = str(uuid.uuid4())
    async with engine.connect() as conn:
        async with conn.begin() as tx:
            assert await claim(conn, CONSUMER, event) is True
            await tx.rollback()  # the effect failed: the event must be handled again

    assert await claim_in(engine, CONSUMER, event) is True


async def test_two_deliveries_at_once_are_claimed_once(engine: AsyncEngine) -> None:
    """A redelivery racing the first delivery waits for its transaction: it is told "seen"
    when the first commits, and "first time" only if the first rolls back."""
    for first_commits in (True, False):
        event = str(uuid.uuid4())
        async with engine.connect() as first, engine.connect() as second:
            await first.begin()
            assert await claim(first, CONSUMER, event) is True
            await second.begin()
            racing = asyncio.create_task(claim(second, CONSUMER, event))
            await asyncio.sleep(0.2)
            assert not racing.done(), "the second claim waits for the first transaction"
            await (first.commit() if first_commits else first.rollback())
            assert await asyncio.wait_for(racing, 10) is (not first_commits)
            await second.commit()
