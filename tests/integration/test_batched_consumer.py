"""The batched consumer (mesh.consuming.Applier over mesh.sql_uow.SqlUnitOfWork.batch, run by
mesh.jetstream) against real PostgreSQL and NATS JetStream.

A batch is applied in one transaction and acked after it committed; what fails in it is handled
one by one, exactly as without batching. The consumer's effect has no unique key of its own
(one row per applied delivery), so only the inbox stands between a duplicate and a second
effect, here claimed for the whole batch in one statement.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from harness import eventually
from nats.js.errors import NotFoundError
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mesh.consuming import Applier, event_id, open_envelope
from mesh.db import make_engine
from mesh.dead_letters import read_dead_letters
from mesh.events import PAYMENT_ORDER_SUCCEEDED, new_envelope
from mesh.inbox import inbox_table
from mesh.jetstream import ConsumerSpec, connect, ensure_streams, run_consumer
from mesh.outbox import outbox_table
from mesh.retry import RetryPolicy
from mesh.sql_uow import AtCommit, SqlUnitOfWork
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2

pytestmark = pytest.mark.integration

SCHEMA = "batch_test"
FAST = RetryPolicy(base_s=0.05, cap_s=0.2, max_attempts=3, jitter=0)

metadata = MetaData()
inbox = inbox_table(metadata)
outbox = outbox_table(metadata)
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
    engine = make_engine(database_url, SCHEMA, pool_size=4)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
            await conn.run_sync(metadata.create_all)
        yield engine
    finally:
        await engine.dispose()


class CounterUnitOfWork(SqlUnitOfWork[str]):
    outbox_table = outbox

    def open_repositories(self, conn: AsyncConnection, at_commit: AtCommit) -> None:
        pass


@dataclass(frozen=True)
class Count:
    event_id: str
    payment_order_id: str


def to_count(envelope: events_pb2.Envelope) -> Count:
    event = open_envelope(envelope, PAYMENT_ORDER_SUCCEEDED, events_pb2.PaymentOrderSucceeded)
    return Count(event_id(envelope), event.payment_order_id)


@dataclass
class Counter:
    """The use case: claim, add a row, publish an event, commit. Orders named in `failing`
    fail that many times before they succeed; the batches it ran in are counted."""

    consumer: str
    failing: dict[str, int] = field(default_factory=dict)
    batches: int = 0

    async def __call__(self, uow: CounterUnitOfWork, cmd: Count) -> None:
        async with uow:
            if not await uow.claim_event(self.consumer, cmd.event_id):
                return
            if self.failing.get(cmd.payment_order_id, 0) > 0:
                self.failing[cmd.payment_order_id] -= 1
                raise RuntimeError(f"{cmd.payment_order_id} fails this time")
            await uow.conn.execute(
                deliveries.insert().values(
                    event_id=cmd.event_id, payment_order_id=cmd.payment_order_id
                )
            )
            await uow.publish(cmd.payment_order_id)
            await uow.commit()


def encode(order_id: str) -> tuple[str, str, events_pb2.Envelope]:
    return "batch.test.counted", order_id, new_envelope("batch.test.counted", order_id, payload())


def payload(order_id: str = "po") -> events_pb2.PaymentOrderSucceeded:
    return events_pb2.PaymentOrderSucceeded(
        payment_order_id=order_id,
        checkout_id=f"co-{order_id}",
        seller_account="seller-batch",
        amount=money_pb2.Money(amount="10.00", currency="USD"),
        fee=money_pb2.Money(amount="1.00", currency="USD"),
    )


async def applied(engine: AsyncEngine, *, event: str = "", order: str = "") -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(
            text(
                "SELECT count(*) FROM deliveries WHERE event_id = CAST(:e AS uuid)"
                " OR payment_order_id = :o"
            ),
            {"e": event or str(uuid.UUID(int=0)), "o": order},
        )
    return int(count or 0)


async def outbox_rows(engine: AsyncEngine, order: str) -> int:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT payload FROM outbox"))
        return sum(order.encode() in bytes(r[0]) for r in rows)


async def run_batches(
    engine: AsyncEngine, nats_url: str, counter: Counter, envelopes: list[tuple[bytes, str]]
) -> list[str]:
    """Publish `envelopes` (data, msg id) on a subject of this run, consume them in batches
    until all are settled; returns the reasons of the run's dead letters."""
    nc, js = await connect(nats_url, "batch-tests")
    subject = f"payment.batchtest.{counter.consumer}"
    spec = ConsumerSpec(
        stream="PAYMENT", durable=counter.consumer, subject=subject, retry=FAST, batch_size=50
    )
    handler = Applier(to_count, counter, lambda: CounterUnitOfWork(engine, encode))
    original = handler.apply_batch

    async def counting(consumer: str, batch: object) -> list[int]:
        counter.batches += 1
        return await original(consumer, batch)  # type: ignore[arg-type]

    handler.apply_batch = counting  # type: ignore[method-assign]
    task = None
    try:
        await ensure_streams(js)
        # Published before the consumer starts, so that they come in one fetch.
        for data, msg_id in envelopes:
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
        task = asyncio.create_task(run_consumer(js, spec, handler))

        async def settled() -> bool:
            try:
                info = await js.consumer_info("PAYMENT", counter.consumer)
            except NotFoundError:  # not created yet
                return False
            done = info.num_pending == 0 and info.num_ack_pending == 0
            return done and info.delivered.stream_seq > 0

        await eventually(settled)
        letters = await read_dead_letters(js, counter.consumer)
        return [letter.reason for letter in letters]
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await nc.close()


async def test_a_batch_applies_each_event_once_and_dead_letters_only_the_poison(
    engine: AsyncEngine, nats_url: str
) -> None:
    counter = Counter(f"batch-once-{uuid.uuid4().hex[:8]}")
    run = uuid.uuid4().hex[:8]
    events = [
        new_envelope(PAYMENT_ORDER_SUCCEEDED, f"{run}-{i:03d}", payload(f"{run}-{i:03d}"))
        for i in range(20)
    ]
    sent = [(e.SerializeToString(), str(uuid.uuid4())) for e in events]
    # The same event three more times (what the relay sends again after the duplicate
    # window), and one message whose payload is not what the consumer reads.
    sent += [(events[3].SerializeToString(), str(uuid.uuid4())) for _ in range(3)]
    poison = new_envelope(PAYMENT_ORDER_SUCCEEDED, "poison", events_pb2.LedgerPosted())
    sent.append((poison.SerializeToString(), str(uuid.uuid4())))

    reasons = await run_batches(engine, nats_url, counter, sent)

    for event in events:
        assert await applied(engine, event=event.event_id) == 1
        assert await outbox_rows(engine, event.aggregate_id) == 1  # written with the batch
    assert len(reasons) == 1 and reasons[0].startswith("poison")
    assert counter.batches >= 1


async def test_a_failing_event_is_retried_alone_and_the_rest_applied_once(
    engine: AsyncEngine, nats_url: str
) -> None:
    run = uuid.uuid4().hex[:8]
    flaky, broken = f"{run}-flaky", f"{run}-broken"
    # `flaky` fails twice (within the budget of 3), `broken` every time (dead-lettered).
    counter = Counter(f"batch-fail-{run}", failing={flaky: 2, broken: 99})
    orders = [f"{run}-{i:03d}" for i in range(10)] + [flaky, broken]
    sent = [
        (
            new_envelope(PAYMENT_ORDER_SUCCEEDED, o, payload(o)).SerializeToString(),
            str(uuid.uuid4()),
        )
        for o in orders
    ]

    reasons = await run_batches(engine, nats_url, counter, sent)

    for order in orders[:-1]:
        assert await applied(engine, order=order) == 1, order
    assert await applied(engine, order=broken) == 0
    assert len(reasons) == 1 and reasons[0].startswith("retries-exhausted")
    assert await outbox_rows(engine, broken) == 0  # its batch's events were rolled back
