"""NATS JetStream: connection, the streams of the mesh, and a durable pull consumer loop with
retry (nak with exponential backoff and jitter) and a dead-letter stream for messages that
cannot be decoded or keep failing."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from mesh.events import decode_envelope
from mesh.metrics import (
    CONSUMER_ACKS,
    CONSUMER_DEAD_LETTERS,
    CONSUMER_DELIVERIES,
    CONSUMER_NAKS,
    CONSUMER_REDELIVERIES,
    Children,
)
from paymesh.events.v1 import events_pb2

log = logging.getLogger(__name__)

# Per durable (mesh.metrics); counted where a message is delivered, acked, naked, dead-lettered.
_delivered = Children(CONSUMER_DELIVERIES)
_redelivered = Children(CONSUMER_REDELIVERIES)
_acked = Children(CONSUMER_ACKS)
_naked = Children(CONSUMER_NAKS)
_dead_lettered = Children(CONSUMER_DEAD_LETTERS)

DUPLICATE_WINDOW_S = 600.0
STREAMS: dict[str, list[str]] = {
    "PAYMENT": ["payment.>"],
    "WALLET": ["wallet.>"],
    "LEDGER": ["ledger.>"],
    "DLQ": ["dlq.>"],
}


class Retry(Exception):
    """Transient failure: deliver the message again later."""


class Poison(Exception):
    """Permanent failure: the message can never succeed; it goes to the dead-letter stream."""


async def connect(url: str, name: str) -> tuple[NatsClient, JetStreamContext]:
    nc = await nats.connect(
        servers=[url],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
    )
    return nc, nc.jetstream(timeout=10)


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create or update the mesh's streams (idempotent; safe from every service at start).
    `replicas` copies of each are kept by a NATS cluster (NATS_STREAM_REPLICAS: 3 in k8s/)."""
    for name, subjects in STREAMS.items():
        config = api.StreamConfig(
            name=name,
            subjects=subjects,
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            duplicate_window=DUPLICATE_WINDOW_S,
            max_age=14 * 24 * 3600.0,
            num_replicas=replicas,
        )
        try:
            await js.stream_info(name)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)


Handler = Callable[[events_pb2.Envelope], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer: `durable` names it; `subject` filters the stream."""

    stream: str
    durable: str
    subject: str
    concurrency: int = 64
    max_deliver: int = 12
    # Short, so that the messages a killed consumer held come back soon; a handler that takes
    # longer keeps its message by saying it is still working (every third of this).
    ack_wait_s: float = 15.0
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 30.0


def backoff_delay(spec: ConsumerSpec, attempt: int) -> float:
    """Exponential backoff with full jitter for the `attempt`-th redelivery (1-based)."""
    ceiling = min(spec.backoff_cap_s, spec.backoff_base_s * 2 ** max(0, attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


async def dead_letter(js: JetStreamContext, spec: ConsumerSpec, msg: Msg, reason: str) -> None:
    headers = {
        "Paymesh-Dlq-Reason": reason[:500],
        "Paymesh-Dlq-Consumer": spec.durable,
        "Paymesh-Dlq-Subject": msg.subject,
        "Paymesh-Dlq-Deliveries": str(msg.metadata.num_delivered),
        "Nats-Msg-Id": f"dlq:{spec.durable}:{msg.metadata.stream}:{msg.metadata.sequence.stream}",
    }
    await js.publish(f"dlq.{spec.durable}", msg.data, headers=headers)
    # By the reason's fixed head: "undecodable", "poison", "retries exhausted".
    _dead_lettered(spec.durable, reason.split(":", 1)[0].replace(" ", "_")).inc()


async def _process(js: JetStreamContext, spec: ConsumerSpec, handler: Handler, msg: Msg) -> None:
    delivered = msg.metadata.num_delivered or 1
    _delivered(spec.durable).inc()
    if delivered > 1:
        _redelivered(spec.durable).inc()
    try:
        envelope = decode_envelope(msg.data)
    except Exception as err:
        log.error("poison message on %s: %s", msg.subject, err)
        await dead_letter(js, spec, msg, f"undecodable: {err}")
        await msg.term()
        return
    heartbeat = asyncio.create_task(_keep_working(msg, spec.ack_wait_s / 3))
    try:
        await handler(envelope)
    except Poison as err:
        log.error("event %s rejected by %s: %s", envelope.event_id, spec.durable, err)
        await dead_letter(js, spec, msg, f"poison: {err}")
        await msg.term()
        return
    except asyncio.CancelledError:
        raise
    except Exception as err:
        if delivered >= spec.max_deliver:
            log.error(
                "event %s failed %d times in %s, dead-lettered: %s",
                envelope.event_id,
                delivered,
                spec.durable,
                err,
            )
            await dead_letter(js, spec, msg, f"retries exhausted: {err}")
            await msg.term()
            return
        delay = backoff_delay(spec, delivered)
        log.warning(
            "event %s failed in %s (attempt %d), retry in %.2fs: %s",
            envelope.event_id,
            spec.durable,
            delivered,
            delay,
            err,
        )
        await msg.nak(delay=delay)
        _naked(spec.durable).inc()
        return
    finally:
        heartbeat.cancel()
    await msg.ack()
    _acked(spec.durable).inc()


async def _keep_working(msg: Msg, every_s: float) -> None:
    """Tell JetStream every `every_s` that the message is still being handled, so that it is
    not delivered to another consumer meanwhile (a dead process stops telling)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await msg.in_progress()
        except Exception as err:  # the connection is down: the ack or nak will tell
            log.debug("in-progress for %s failed: %s", msg.subject, err)


async def run_consumer(js: JetStreamContext, spec: ConsumerSpec, handler: Handler) -> None:
    """Consume until cancelled. Each message is acked only after its handler committed."""
    config = api.ConsumerConfig(
        durable_name=spec.durable,
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_wait=spec.ack_wait_s,
        max_ack_pending=spec.concurrency * 8,
        filter_subject=spec.subject,
    )
    sub = await js.pull_subscribe(
        spec.subject, durable=spec.durable, stream=spec.stream, config=config
    )
    log.info("consumer %s on %s ready", spec.durable, spec.subject)
    while True:
        try:
            msgs = await sub.fetch(spec.concurrency, timeout=1.0)
        except TimeoutError:
            continue
        except nats.errors.ConnectionClosedError:
            raise
        except Exception as err:  # reconnecting, server restarting: wait and pull again
            log.warning("fetch on %s failed: %s", spec.durable, err)
            await asyncio.sleep(0.5)
            continue
        outcomes = await asyncio.gather(
            *(_process(js, spec, handler, m) for m in msgs), return_exceptions=True
        )
        for outcome in outcomes:
            # An ack, nak or dead-letter publish that failed (NATS restarting) must not end the
            # consumer, and with it the service: the message was not acked, so it comes back.
            if isinstance(outcome, Exception):
                log.warning("settling a message on %s failed: %s", spec.durable, outcome)
