"""The trace context across the outbox, on real PostgreSQL and NATS JetStream: an event written
inside a span keeps that span's W3C traceparent in its envelope, in the outbox row, and the relay
publishes it in the NATS message's headers too; with tracing off, the message carries only its
Nats-Msg-Id (and the envelope only the request id)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh import tracing
from mesh.db import make_engine
from mesh.events import PAYMENT_ORDER_CREATED, decode_envelope
from mesh.jetstream import connect, ensure_streams
from mesh.outbox import OutboxRelay, enqueue, outbox_table
from mesh.request_ids import current_request_id
from paymesh.events.v1 import events_pb2

pytestmark = pytest.mark.integration

SCHEMA = "trace_outbox_test"


@dataclass
class Outbox:
    engine: AsyncEngine
    table: Table
    nc: NatsClient
    js: JetStreamContext

    async def write(self, order_id: str) -> str:
        """A `payment.order.created` event for `order_id`, committed; its event id."""
        async with self.engine.begin() as conn:
            return await enqueue(
                conn,
                self.table,
                PAYMENT_ORDER_CREATED,
                order_id,
                events_pb2.PaymentOrderCreated(payment_order_id=order_id, checkout_id="co_1"),
            )

    async def stored(self, event_id: str) -> events_pb2.Envelope:
        async with self.engine.connect() as conn:
            payload = await conn.scalar(
                text("SELECT payload FROM outbox WHERE event_id = CAST(:id AS uuid)"),
                {"id": event_id},
            )
        return decode_envelope(bytes(payload))

    async def published_headers(self, event_id: str) -> dict[str, str]:
        """The NATS headers of the message published for `event_id`."""
        assert await OutboxRelay(self.engine, self.js).publish_pending() >= 1
        info = await self.js.stream_info("PAYMENT")
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await self.js.get_msg("PAYMENT", seq)
            if msg.headers and msg.headers.get("Nats-Msg-Id") == event_id:
                return dict(msg.headers)
        raise AssertionError(f"event {event_id} not in the PAYMENT stream")


@pytest.fixture
async def outbox(database_url: str, nats_url: str) -> AsyncIterator[Outbox]:
    engine = make_engine(database_url, SCHEMA, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    table = outbox_table(MetaData())
    async with engine.begin() as conn:
        await conn.run_sync(table.create)
    nc, js = await connect(nats_url, "trace-outbox-tests")
    await ensure_streams(js)
    try:
        yield Outbox(engine, table, nc, js)
    finally:
        await nc.close()
        await engine.dispose()


@pytest.fixture
def tracing_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[TracerProvider]:
    """Tracing on for this test, with a provider of its own (no exporter: nothing leaves)."""
    provider = TracerProvider()
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    yield provider
    provider.shutdown()


async def test_the_traceparent_is_stored_with_the_row_and_published_in_the_nats_headers(
    outbox: Outbox, tracing_on: TracerProvider
) -> None:
    tracer = tracing_on.get_tracer("test")
    token = current_request_id.set("req-trace-1")
    try:
        with tracer.start_as_current_span("CreatePayment") as span:
            event_id = await outbox.write(f"po_{uuid.uuid4().hex[:8]}")
    finally:
        current_request_id.reset(token)
    trace_id = format(span.get_span_context().trace_id, "032x")

    stored = await outbox.stored(event_id)
    traceparent = stored.headers["traceparent"]
    version, stored_trace_id, producer_span_id, flags = traceparent.split("-")
    assert (version, stored_trace_id) == ("00", trace_id)
    assert int(flags, 16) & 1  # sampled
    # The producer span's own id, a child of the span that wrote the event, not that span.
    assert producer_span_id != format(span.get_span_context().span_id, "016x")
    assert stored.headers["request-id"] == "req-trace-1"

    headers = await outbox.published_headers(event_id)
    assert headers["traceparent"] == traceparent
    assert headers["request-id"] == "req-trace-1"


async def test_off_the_message_carries_no_trace_context(outbox: Outbox) -> None:
    assert not tracing.enabled()
    event_id = await outbox.write(f"po_{uuid.uuid4().hex[:8]}")
    assert dict((await outbox.stored(event_id)).headers) == {}
    assert await outbox.published_headers(event_id) == {"Nats-Msg-Id": event_id}
