"""The figures against real parts: a durable consumer's deliveries, redeliveries, acks, naks and
dead letters as it settles messages on NATS JetStream, its lag as the sampler reads it from the
consumer info, the outbox's backlog and oldest age in PostgreSQL, and the PSP calls and decline
codes of the Stripe adapter (the real stripe SDK against the sandbox PSP)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from harness import eventually, running_sandbox
from nats.js import JetStreamContext
from prometheus_client import REGISTRY
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.db import make_engine
from mesh.events import new_envelope
from mesh.jetstream import ConsumerSpec, Poison, connect, ensure_streams, run_consumer
from mesh.outbox import OutboxRelay, enqueue, outbox_table
from mesh.retry import RetryPolicy
from mesh.samplers import sample_consumer_lag, sample_outbox
from payment_svc.adapters.stripe_psp import StripePaymentProvider
from payment_svc.domain.psp import ChargeRequest, ChargeStatus, PspRejected
from paymesh.events.v1 import events_pb2

pytestmark = [
    pytest.mark.integration,
    # The stripe SDK hands httpx its form body as `data=`; that is the SDK's business, not ours.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

SCHEMA = "metrics_test"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc, js = await connect(nats_url, "metrics-tests")
    await ensure_streams(js)
    yield js
    await nc.close()


def envelope(kind: str) -> bytes:
    """An event whose aggregate id tells the test handler what to do with it."""
    payload = events_pb2.Envelope(event_id="inner")  # any message will do as the payload
    return new_envelope("payment.metrics_test", kind, payload).SerializeToString()


async def test_a_consumer_counts_what_it_does_with_each_message(js: JetStreamContext) -> None:
    durable = f"metrics-{uuid.uuid4().hex[:8]}"
    subject = f"payment.metrics_test.{durable}"
    spec = ConsumerSpec(
        stream="PAYMENT",
        durable=durable,
        subject=subject,
        retry=RetryPolicy(base_s=0.01, max_attempts=3),
    )
    failed_once: set[str] = set()

    async def handler(env: events_pb2.Envelope) -> None:
        if env.aggregate_id == "poison":
            raise Poison("cannot be applied")
        if env.aggregate_id == "flaky" and env.event_id not in failed_once:
            failed_once.add(env.event_id)
            raise RuntimeError("database blip")
        if env.aggregate_id == "broken":
            raise RuntimeError("always fails")

    for kind in ("ok", "ok", "flaky", "poison", "broken"):
        await js.publish(subject, envelope(kind))
    await js.publish(subject, b"not an envelope")
    # Six messages wait before the consumer runs: its lag, as the sampler reads it.
    await js.add_consumer(
        "PAYMENT", durable_name=durable, filter_subject=subject, ack_policy="explicit"
    )
    await sample_consumer_lag(js, [spec])
    assert sample("paymesh_consumer_pending_messages", durable=durable) == 6

    task = asyncio.create_task(run_consumer(js, spec, handler))
    try:
        # ok twice and flaky (at its second delivery) acked; poison, broken (after 3 tries) and the
        # undecodable one dead-lettered.
        async def settled() -> bool:
            return (
                sample("paymesh_consumer_acks_total", durable=durable) == 3
                and sum(
                    sample("paymesh_consumer_dead_letters_total", durable=durable, reason=r)
                    for r in ("poison", "retries_exhausted", "undecodable")
                )
                == 3
            )

        await eventually(settled, within=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert sample("paymesh_consumer_dead_letters_total", durable=durable, reason="poison") == 1
    assert (
        sample("paymesh_consumer_dead_letters_total", durable=durable, reason="retries_exhausted")
        == 1
    )
    assert sample("paymesh_consumer_dead_letters_total", durable=durable, reason="undecodable") == 1
    # flaky once, broken twice before its third and last delivery.
    assert sample("paymesh_consumer_naks_total", durable=durable) == 3
    assert sample("paymesh_consumer_redeliveries_total", durable=durable) == 3
    # 6 first deliveries and 3 redeliveries, the undecodable one never reaching the handler
    # is counted too: it was delivered.
    assert sample("paymesh_consumer_deliveries_total", durable=durable) == 9
    await sample_consumer_lag(js, [spec])
    assert sample("paymesh_consumer_pending_messages", durable=durable) == 0
    assert sample("paymesh_consumer_ack_pending_messages", durable=durable) == 0


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, SCHEMA, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    yield engine
    await engine.dispose()


async def test_the_outbox_backlog_and_its_oldest_age(engine: AsyncEngine, js) -> None:
    table = outbox_table(MetaData())
    async with engine.begin() as conn:
        await conn.run_sync(table.create)
    relay = OutboxRelay(engine, js)
    await sample_outbox(relay, SCHEMA)
    assert sample("paymesh_outbox_backlog_events", schema=SCHEMA) == 0
    assert sample("paymesh_outbox_oldest_age_seconds", schema=SCHEMA) == 0

    async with engine.begin() as conn:
        for i in range(3):
            payload = events_pb2.Envelope(event_id=f"e{i}")
            await enqueue(conn, table, "payment.metrics_test.outbox", f"agg-{i}", payload)
        await conn.execute(text("UPDATE outbox SET created_at = now() - interval '90 seconds'"))
    await sample_outbox(relay, SCHEMA)
    assert sample("paymesh_outbox_backlog_events", schema=SCHEMA) == 3
    assert 90 <= sample("paymesh_outbox_oldest_age_seconds", schema=SCHEMA) < 120

    assert await relay.publish_pending() == 3
    await sample_outbox(relay, SCHEMA)
    assert sample("paymesh_outbox_backlog_events", schema=SCHEMA) == 0
    assert sample("paymesh_outbox_oldest_age_seconds", schema=SCHEMA) == 0


def charge(payment_method: str, amount: str = "12.34") -> ChargeRequest:
    return ChargeRequest(
        payment_order_id=f"po-{uuid.uuid4().hex[:12]}",
        amount=Decimal(amount),
        currency="USD",
        payment_method=payment_method,
        buyer_id="buyer-1",
        checkout_id="co-1",
    )


async def test_psp_calls_count_by_kind_and_outcome_and_declines_by_code(tmp_path: Path) -> None:
    def calls(kind: str, outcome: str) -> float:
        return sample("paymesh_psp_requests_total", kind=kind, outcome=outcome)

    before = {
        "charge ok": calls("charge", "ok"),
        "charge declined": calls("charge", "declined"),
        "retrieve rejected": calls("retrieve", "rejected"),
        "insufficient_funds": sample("paymesh_psp_declines_total", code="insufficient_funds"),
        "latency": sample("paymesh_psp_request_duration_seconds_count", kind="charge"),
    }
    async with (
        running_sandbox(tmp_path / "psp.jsonl") as base,
        StripePaymentProvider("sk_test_metrics", base, timeout_s=5) as psp,
    ):
        assert (await psp.charge(charge("pm_card_visa"))).status is ChargeStatus.SUCCEEDED
        declined = await psp.charge(charge("pm_card_chargeDeclinedInsufficientFunds"))
        assert declined.decline_reason == "insufficient_funds"
        with pytest.raises(PspRejected):
            await psp.retrieve("pi_does_not_exist")

    assert calls("charge", "ok") == before["charge ok"] + 1
    assert calls("charge", "declined") == before["charge declined"] + 1
    assert calls("retrieve", "rejected") == before["retrieve rejected"] + 1
    assert (
        sample("paymesh_psp_declines_total", code="insufficient_funds")
        == before["insufficient_funds"] + 1
    )
    assert sample("paymesh_psp_request_duration_seconds_count", kind="charge") == (
        before["latency"] + 2
    )
