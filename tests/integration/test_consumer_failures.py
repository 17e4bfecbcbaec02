"""The consumer loop on a real NATS JetStream: what is poison goes to the dead-letter stream
without holding up what follows it; an outage is waited out however long it lasts; an
unexpected failure is retried a bounded number of times, then dead-lettered with its history."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from harness import eventually, stream_messages
from nats.js import JetStreamContext
from sqlalchemy.exc import OperationalError

from mesh import dead_letters as dl
from mesh.events import PAYMENT_ORDER_CREATED, new_envelope
from mesh.jetstream import ConsumerSpec, Poison, connect, ensure_streams, run_consumer
from mesh.retry import RetryPolicy
from paymesh.events.v1 import events_pb2

pytestmark = pytest.mark.integration

FAST = RetryPolicy(base_s=0.02, cap_s=0.1, max_attempts=3, jitter=0.5)


def spec(durable: str, concurrency: int = 8, retry: RetryPolicy = FAST) -> ConsumerSpec:
    return ConsumerSpec(
        stream="PAYMENT",
        durable=durable,
        subject=PAYMENT_ORDER_CREATED,
        concurrency=concurrency,
        retry=retry,
    )


def envelope(order_id: str) -> events_pb2.Envelope:
    return new_envelope(
        PAYMENT_ORDER_CREATED, order_id, events_pb2.PaymentOrderCreated(payment_order_id=order_id)
    )


async def publish(js: JetStreamContext, order_id: str, headers: dict[str, str] | None = None):
    env = envelope(order_id)
    return await js.publish(
        PAYMENT_ORDER_CREATED,
        env.SerializeToString(),
        headers={"Nats-Msg-Id": env.event_id, **(headers or {})},
    )


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc, js = await connect(nats_url, "consumer-failures-tests")
    await ensure_streams(js)
    yield js
    await nc.close()


@asynccontextmanager
async def consuming(
    js: JetStreamContext,
    consumer: ConsumerSpec,
    handler: Callable[[events_pb2.Envelope], Awaitable[None]],
) -> AsyncIterator[None]:
    task = asyncio.create_task(run_consumer(js, consumer, handler))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert not task.done() or task.cancelled() or task.exception() is None


async def dead_letters(js: JetStreamContext) -> list[dl.DeadLetter]:
    info = await js.stream_info(dl.DLQ_STREAM)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        msg = await js.get_msg(dl.DLQ_STREAM, seq)
        out.append(dl.DeadLetter.from_stream(seq, msg.headers, msg.data, msg.time))
    return out


async def test_poison_is_dead_lettered_while_the_messages_behind_it_are_handled(
    js: JetStreamContext,
) -> None:
    handled: list[str] = []

    async def handler(env: events_pb2.Envelope) -> None:
        if env.aggregate_id == "po-poison":
            raise Poison("seller unknown for good")
        handled.append(env.aggregate_id)

    async with consuming(js, spec("failures-poison"), handler):
        await publish(js, "po-0")
        await publish(js, "po-poison", headers={"Traceparent": "00-trace-span-01"})
        await js.publish(PAYMENT_ORDER_CREATED, b"\xff not an envelope")
        for i in range(1, 20):
            await publish(js, f"po-{i}")
        await eventually(lambda: _async(len(handled) == 20))
        await eventually(lambda: stream_count(js, 2))

    assert sorted(handled) == sorted(f"po-{i}" for i in range(20))
    letters = {d.reason.split(":")[0]: d for d in await dead_letters(js)}
    assert set(letters) == {"poison", "undecodable"}
    poison = letters["poison"]
    assert poison.subject == PAYMENT_ORDER_CREATED
    assert poison.consumer == "failures-poison"
    assert poison.original_stream == "PAYMENT"
    assert poison.attempts == 1 and poison.failures == 1
    assert poison.first_error == poison.last_error == "seller unknown for good"
    assert poison.first_failed_at and poison.last_failed_at
    assert poison.headers == {"Traceparent": "00-trace-span-01"}  # the original's own
    assert events_pb2.Envelope.FromString(poison.payload).aggregate_id == "po-poison"
    assert letters["undecodable"].payload == b"\xff not an envelope"


async def test_a_slow_message_does_not_hold_up_the_ones_behind_it(js: JetStreamContext) -> None:
    release = asyncio.Event()
    handled: list[str] = []

    async def handler(env: events_pb2.Envelope) -> None:
        if env.aggregate_id == "po-slow":
            await release.wait()  # a PSP call that hangs
        handled.append(env.aggregate_id)

    async with consuming(js, spec("failures-slow", concurrency=4), handler):
        await publish(js, "po-slow")
        for i in range(30):
            await publish(js, f"po-{i}")
        # Far more than one batch of four gets through while the slow one is still going.
        await eventually(lambda: _async(len(handled) == 30))
        assert "po-slow" not in handled
        release.set()
        await eventually(lambda: _async("po-slow" in handled))
    assert await stream_messages(js, dl.DLQ_STREAM) == 0


async def test_an_outage_longer_than_the_retry_budget_is_waited_out_and_applied_once(
    js: JetStreamContext,
) -> None:
    calls: Counter[str] = Counter()
    applied: Counter[str] = Counter()
    database_up = asyncio.Event()

    async def handler(env: events_pb2.Envelope) -> None:
        calls[env.aggregate_id] += 1
        if not database_up.is_set():
            raise OperationalError("INSERT ...", {}, Exception("connection refused"))
        applied[env.aggregate_id] += 1

    async with consuming(js, spec("failures-outage"), handler):
        await publish(js, "po-1")
        await publish(js, "po-2")
        # Four times the budget of unexpected failures (3), then the database comes back.
        await eventually(lambda: _async(min(calls["po-1"], calls["po-2"]) > 4 * FAST.max_attempts))
        assert await stream_messages(js, dl.DLQ_STREAM) == 0
        database_up.set()
        await eventually(lambda: _async(applied == Counter({"po-1": 1, "po-2": 1})))
        await asyncio.sleep(0.3)  # nothing more comes
    assert applied == Counter({"po-1": 1, "po-2": 1})
    assert await stream_messages(js, dl.DLQ_STREAM) == 0


async def test_an_unexpected_failure_is_retried_a_bounded_number_of_times_then_dead_lettered(
    js: JetStreamContext,
) -> None:
    calls: Counter[str] = Counter()

    async def handler(env: events_pb2.Envelope) -> None:
        calls[env.aggregate_id] += 1
        if calls[env.aggregate_id] == 1:
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        raise KeyError(f"a bug, call {calls[env.aggregate_id]}")

    async with consuming(js, spec("failures-bug"), handler):
        await publish(js, "po-bug")
        await eventually(lambda: stream_count(js, 1))
        await asyncio.sleep(0.3)
    # One outage (not counted) and three failures of its own.
    assert calls["po-bug"] == 1 + FAST.max_attempts
    [letter] = await dead_letters(js)
    assert letter.reason.startswith("retries-exhausted")
    assert (letter.attempts, letter.failures) == (4, 3)
    assert letter.first_error.startswith("OperationalError")
    assert letter.last_error == "KeyError: 'a bug, call 4'"
    assert letter.first_failed_at <= letter.last_failed_at


async def _async(value: bool) -> bool:
    return value


async def stream_count(js: JetStreamContext, n: int) -> bool:
    return await stream_messages(js, dl.DLQ_STREAM) == n
