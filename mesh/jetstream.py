"""NATS JetStream: connection, the streams of the mesh, and a durable pull consumer loop.

A message's handler either succeeds (ack), or fails:
- transiently (mesh.transient: a dependency out of reach): nak with backoff, for as long as it
  takes; never counted toward dead-lettering;
- for good (`Poison`, or the message cannot be decoded): to the dead-letter stream at once;
- unexpectedly (anything else): nak with backoff, up to the policy's `max_attempts`, then to the
  dead-letter stream (mesh.dead_letters says what a dead letter keeps).
Messages are handled side by side, up to `concurrency` at once; a slow or failing one never
holds up the ones behind it.

A handler that can apply a batch (`BatchHandler`, see mesh.consuming) with a spec whose
`batch_size` is above 1 gets up to that many messages at once, applied in one transaction and
acked together after it committed. If the batch fails, its messages are handled one by one,
each exactly as above: only the failing one is retried or dead-lettered, with its own count."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from mesh import dead_letters
from mesh.dead_letters import FailureLog, Failures, dead_letter_headers
from mesh.events import decode_envelope
from mesh.metrics import (
    CONSUMER_ACKS,
    CONSUMER_DEAD_LETTERS,
    CONSUMER_DELIVERIES,
    CONSUMER_NAKS,
    CONSUMER_REDELIVERIES,
    Children,
)
from mesh.retry import RetryPolicy, Transient, retry_after
from mesh.transient import is_transient
from paymesh.events.v1 import events_pb2

log = logging.getLogger(__name__)

# Per durable (mesh.metrics); counted where a message is delivered, acked, naked, dead-lettered.
_delivered = Children(CONSUMER_DELIVERIES)
_redelivered = Children(CONSUMER_REDELIVERIES)
_acked = Children(CONSUMER_ACKS)
_naked = Children(CONSUMER_NAKS)
_dead_lettered = Children(CONSUMER_DEAD_LETTERS)

# mesh.settings keeps the same numbers (it imports no broker); a unit test checks they agree.
DUPLICATE_WINDOW_S = 600.0
STREAM_MAX_AGE_S = 14 * 24 * 3600.0
STREAMS: dict[str, list[str]] = {
    "PAYMENT": ["payment.>"],
    "WALLET": ["wallet.>"],
    "LEDGER": ["ledger.>"],
    "PAYOUT": ["payout.>"],
    # Reconciliation's news for the marketplace (recon.mismatch.opened).
    "RECON": ["recon.>"],
    dead_letters.DLQ_STREAM: [dead_letters.DLQ_SUBJECTS],
    # Alerts on their way to the payment service's alert store (mesh.alerts).
    "OPS": ["ops.>"],
}


class Retry(Transient):
    """Transient failure: deliver the message again later (not counted toward dead-lettering)."""


class Poison(Exception):
    """Permanent failure: the message can never succeed; it goes to the dead-letter stream."""


async def connect(
    url: str, name: str, *, user: str = "", password: str = ""
) -> tuple[NatsClient, JetStreamContext]:
    """Connect as `name`; with `user`, as that NATS user (its subject permissions apply)."""
    credentials = {"user": user, "password": password} if user else {}
    nc = await nats.connect(
        servers=[url],
        name=name,
        **credentials,  # type: ignore[arg-type]
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
            max_age=STREAM_MAX_AGE_S,
            num_replicas=replicas,
        )
        try:
            await js.stream_info(name)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)


Handler = Callable[[events_pb2.Envelope], Awaitable[None]]


@runtime_checkable
class BatchHandler(Protocol):
    """A handler that can also apply many envelopes in one transaction."""

    async def __call__(self, envelope: events_pb2.Envelope) -> None: ...

    async def apply_batch(
        self, consumer: str, envelopes: Sequence[events_pb2.Envelope]
    ) -> list[int]:
        """Apply `envelopes` (of durable `consumer`) in one transaction, all or nothing;
        returns the positions of those it left out (to be handled one by one: a message it
        cannot read). Raises when the batch failed (nothing of it was applied)."""
        ...


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer: `durable` names it; `subject` filters the stream; `retry` is
    its backoff and its budget for unexpected failures (from the service's settings)."""

    stream: str
    durable: str
    subject: str
    concurrency: int = 64
    # Short, so that the messages a killed consumer held come back soon; a handler that takes
    # longer keeps its message by saying it is still working (every third of this).
    ack_wait_s: float = 15.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Messages applied in one transaction by a `BatchHandler` (1: one by one). Up to
    # `batches_in_flight` batches run at once, so the next is fetched while one commits.
    batch_size: int = 1
    batches_in_flight: int = 2


async def dead_letter(
    js: JetStreamContext, spec: ConsumerSpec, msg: Msg, reason: str, failures: Failures
) -> None:
    """Publish `msg` to `dlq.<durable>` with what an operator needs (mesh.dead_letters), then
    take it out of the consumer (term)."""
    headers = dead_letter_headers(
        msg.headers,
        reason=reason,
        subject=msg.subject,
        stream=msg.metadata.stream,
        stream_seq=msg.metadata.sequence.stream,
        consumer=spec.durable,
        attempts=msg.metadata.num_delivered or 1,
        failures=failures,
    )
    await js.publish(dead_letters.dlq_subject(spec.durable), msg.data, headers=headers)
    await msg.term()
    # By kind: "undecodable", "poison", "retries_exhausted" (mesh.metrics).
    _dead_lettered(spec.durable, reason.replace("-", "_")).inc()


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _count_delivery(spec: ConsumerSpec, msg: Msg) -> None:
    _delivered(spec.durable).inc()
    if (msg.metadata.num_delivered or 1) > 1:
        _redelivered(spec.durable).inc()


async def _process(
    js: JetStreamContext,
    spec: ConsumerSpec,
    handler: Handler,
    msg: Msg,
    history: FailureLog,
    *,
    counted: bool = False,
) -> None:
    seq = msg.metadata.sequence.stream
    delivered = msg.metadata.num_delivered or 1
    if not counted:
        _count_delivery(spec, msg)
    try:
        envelope = decode_envelope(msg.data)
    except Exception as err:
        log.error("undecodable message on %s in %s: %s", msg.subject, spec.durable, err)
        await dead_letter(js, spec, msg, "undecodable", history.record(seq, str(err), counted=True))
        history.forget(seq)
        return
    heartbeat = asyncio.create_task(_keep_working(msg, spec.ack_wait_s / 3))
    try:
        await handler(envelope)
    except Poison as err:
        log.error("event %s refused by %s: %s", envelope.event_id, spec.durable, err)
        await dead_letter(js, spec, msg, "poison", history.record(seq, str(err), counted=True))
        history.forget(seq)
        return
    except asyncio.CancelledError:
        raise
    except Exception as err:
        transient = is_transient(err)
        failures = history.record(seq, _describe(err), counted=not transient)
        if not transient and failures.counted >= spec.retry.max_attempts:
            log.error(
                "event %s failed %d times in %s, dead-lettered: %s",
                envelope.event_id,
                failures.counted,
                spec.durable,
                err,
            )
            await dead_letter(js, spec, msg, "retries-exhausted", failures)
            history.forget(seq)
            return
        # An outage backs off with every delivery (up to the cap) and never runs out; an
        # unexpected failure backs off with its own count.
        asked = retry_after(err) if transient else None
        if asked is not None:  # a PSP's Retry-After, a breaker's open time: honoured
            delay = spec.retry.delay_after(asked)
        else:
            delay = spec.retry.delay(delivered if transient else failures.counted)
        log.warning(
            "event %s failed in %s (%s, delivery %d), retry in %.2fs: %s",
            envelope.event_id,
            spec.durable,
            "dependency unavailable" if transient else f"failure {failures.counted}",
            delivered,
            delay,
            _describe(err),
        )
        await msg.nak(delay=delay)
        _naked(spec.durable).inc()
        return
    finally:
        heartbeat.cancel()
    await msg.ack()
    _acked(spec.durable).inc()
    history.forget(seq)


async def _keep_working(msg: Msg, every_s: float) -> None:
    """Tell JetStream every `every_s` that the message is still being handled, so that it is
    not delivered to another consumer meanwhile (a dead process stops telling)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await msg.in_progress()
        except Exception as err:  # the connection is down: the ack or nak will tell
            log.debug("in-progress for %s failed: %s", msg.subject, err)


async def _settle(
    js: JetStreamContext,
    spec: ConsumerSpec,
    handler: Handler,
    msg: Msg,
    history: FailureLog,
    *,
    counted: bool = False,
) -> None:
    try:
        await _process(js, spec, handler, msg, history, counted=counted)
    except asyncio.CancelledError:
        raise
    except Exception as err:
        # An ack, nak or dead-letter publish that failed (NATS restarting) must not end the
        # consumer, and with it the service: the message was not acked, so it comes back.
        log.warning("settling a message on %s failed: %s", spec.durable, err)


async def _keep_all_working(msgs: Sequence[Msg], every_s: float) -> None:
    """`_keep_working` for every message of a batch."""
    while True:
        await asyncio.sleep(every_s)
        for msg in msgs:
            try:
                await msg.in_progress()
            except Exception as err:
                log.debug("in-progress for %s failed: %s", msg.subject, err)


async def _process_batch(
    js: JetStreamContext,
    spec: ConsumerSpec,
    handler: BatchHandler,
    msgs: Sequence[Msg],
    history: FailureLog,
) -> None:
    """Apply `msgs` in one transaction and ack them all after it committed; a message that
    cannot be decoded, or that the handler leaves out, and every message of a batch that
    failed, is handled on its own (`_process`), exactly as without batching."""
    for msg in msgs:
        _count_delivery(spec, msg)
    batch: list[Msg] = []
    envelopes: list[events_pb2.Envelope] = []
    alone: list[Msg] = []
    for msg in msgs:
        try:
            envelopes.append(decode_envelope(msg.data))
            batch.append(msg)
        except Exception:
            alone.append(msg)  # _process dead-letters it
    if len(batch) > 1:
        heartbeat = asyncio.create_task(_keep_all_working(batch, spec.ack_wait_s / 3))
        try:
            left_out = await handler.apply_batch(spec.durable, envelopes)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.info(
                "batch of %d in %s failed, handling them one by one: %s",
                len(batch),
                spec.durable,
                _describe(err),
            )
            alone.extend(batch)
        else:
            skipped = set(left_out)
            alone.extend(batch[i] for i in sorted(skipped))
            applied = [msg for i, msg in enumerate(batch) if i not in skipped]
            await asyncio.gather(*(msg.ack() for msg in applied))
            for msg in applied:
                _acked(spec.durable).inc()
                history.forget(msg.metadata.sequence.stream)
        finally:
            heartbeat.cancel()
    else:
        alone.extend(batch)
    await asyncio.gather(*(_settle(js, spec, handler, m, history, counted=True) for m in alone))


async def _settle_batch(
    js: JetStreamContext,
    spec: ConsumerSpec,
    handler: BatchHandler,
    msgs: Sequence[Msg],
    history: FailureLog,
) -> None:
    try:
        await _process_batch(js, spec, handler, msgs, history)
    except asyncio.CancelledError:
        raise
    except Exception as err:  # an ack that failed: the messages come back (see _settle)
        log.warning("settling a batch on %s failed: %s", spec.durable, err)


async def run_consumer(js: JetStreamContext, spec: ConsumerSpec, handler: Handler) -> None:
    """Consume until cancelled. Each message is acked only after its handler committed.

    Up to `spec.concurrency` messages are handled at once, each on its own: as soon as one is
    settled, another is pulled, so a message that is slow (a PSP timing out) or failing never
    holds up those behind it."""
    config = api.ConsumerConfig(
        durable_name=spec.durable,
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_wait=spec.ack_wait_s,
        max_ack_pending=max(spec.concurrency * 8, spec.batch_size * spec.batches_in_flight * 2),
        filter_subject=spec.subject,
    )
    sub = await js.pull_subscribe(
        spec.subject, durable=spec.durable, stream=spec.stream, config=config
    )
    log.info("consumer %s on %s ready", spec.durable, spec.subject)
    failures = FailureLog()
    in_flight: set[asyncio.Task[None]] = set()
    batched = spec.batch_size > 1 and isinstance(handler, BatchHandler)
    try:
        while True:
            if batched:
                free = spec.batch_size if len(in_flight) < spec.batches_in_flight else 0
            else:
                free = spec.concurrency - len(in_flight)
            if free <= 0:
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                msgs = await sub.fetch(free, timeout=1.0)
            except TimeoutError:
                continue
            except nats.errors.ConnectionClosedError:
                raise
            except Exception as err:  # reconnecting, server restarting: wait and pull again
                log.warning("fetch on %s failed: %s", spec.durable, err)
                await asyncio.sleep(0.5)
                continue
            if batched:
                assert isinstance(handler, BatchHandler)
                task = asyncio.create_task(_settle_batch(js, spec, handler, msgs, failures))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                continue
            for msg in msgs:
                task = asyncio.create_task(_settle(js, spec, handler, msg, failures))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
    finally:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
