"""The composition every service's bootstrap shares: its database engine, NATS with the mesh's
streams, the outbox relay, its JetStream consumers and its gRPC server, started in a
`Lifecycle`, and the stop that takes them down in order. A bootstrap supplies only what is its
own, through a `wire(engine, relay)` function that returns its `Wiring`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh import tracing
from mesh.alerts import OUTBOX_STUCK, STANDARD_KINDS, AlertReporter, Watch, standard_alerts
from mesh.db import make_engine
from mesh.grpc_server import GrpcServer, Registrar
from mesh.jetstream import (
    BatchHandler,
    ConsumerSpec,
    Handler,
    connect,
    ensure_streams,
    run_consumer,
)
from mesh.metrics import MetricsListener, serve_metrics
from mesh.outbox import OutboxRelay
from mesh.periodic import every
from mesh.retention import RetentionRule, inbox_rule, outbox_rule, purge_all
from mesh.runtime import Lifecycle
from mesh.samplers import (
    SAMPLE_INTERVAL_S,
    sample_consumer_lag,
    sample_dead_letters,
    sample_outbox,
)
from mesh.settings import ServiceSettings

log = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[None]]
# A background loop of the service's own (a sweeper, a purge), run until the service stops.
Task = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Consumer:
    """A JetStream consumer, run as the background task named `task`. A handler that can
    batch (mesh.consuming.Applier) applies up to the settings' `consumer_batch_size`
    messages in one transaction."""

    task: str
    spec: ConsumerSpec
    handler: Handler


@dataclass(frozen=True)
class Wiring:
    """What a service plugs into the mesh: its gRPC servicers (register function, servicer,
    full service name), its consumers, its own background loops (by task name), the
    resources of its own to close at stop (after the background tasks, before NATS and the
    pool), in order, and the retention of tables of its own (the outbox's and inbox's is
    added by the mesh)."""

    servicers: Sequence[tuple[Registrar, Any, str]]
    consumers: Sequence[Consumer] = ()
    tasks: Sequence[tuple[str, Task]] = ()
    closers: Sequence[Closer] = ()
    retention: Sequence[RetentionRule] = ()
    # Checks of its own that raise alerts (mesh.alerts), run with the mesh's own every round.
    alerts: Sequence[Watch] = ()


Wire = Callable[[AsyncEngine, OutboxRelay], Wiring]


@dataclass(eq=False)
class RunningService:
    """A started service. Await it (`await running()`) to stop it; stopping twice is a no-op."""

    settings: ServiceSettings
    life: Lifecycle
    engine: AsyncEngine
    nc: NatsClient
    js: JetStreamContext
    relay: OutboxRelay
    server: GrpcServer
    closers: Sequence[Closer] = ()
    metrics: MetricsListener | None = None  # its /metrics listener, when one is served
    _stopped: bool = field(default=False, init=False, repr=False)

    @property
    def grpc_port(self) -> int:
        return self.server.port

    @property
    def metrics_url(self) -> str | None:
        return self.metrics.url if self.metrics is not None else None

    async def __call__(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        await _shutdown(self.life, self.server, self.closers, self.nc, self.engine)


async def start_service(
    life: Lifecycle, settings: ServiceSettings, *, name: str, schema: str, wire: Wire
) -> RunningService:
    """Start the service `name` (its NATS client name and database application_name) on its
    database `schema`; the outbox relay runs as the task `<schema>-outbox-relay`, the samplers
    of its consumers' lag and its outbox backlog as `<schema>-metrics-sampler`, the purge of
    expired outbox, inbox (and the service's own) rows as `<schema>-retention`, and its figures
    are served on `settings.metrics_addr` (mesh.metrics). If start-up fails half-way, what was
    started is stopped before the error propagates."""
    engine = make_engine(
        settings.database_url, schema, pool_size=settings.db_pool_size, application_name=name
    )
    nc: NatsClient | None = None
    server: GrpcServer | None = None
    closers: Sequence[Closer] = ()
    metrics: MetricsListener | None = None
    try:
        metrics = serve_metrics(settings.metrics_addr)
        if metrics is not None:
            closers = [_closer(metrics)]
        nc, js = await connect(
            settings.nats_url, name, user=settings.nats_user, password=settings.nats_password
        )
        await ensure_streams(js, settings.nats_stream_replicas)
        relay = OutboxRelay(engine, js)
        wiring = wire(engine, relay)
        closers = [*wiring.closers, *closers]
        server = GrpcServer(
            settings.grpc_addr,
            wiring.servicers,
            tls=settings.tls,
            reflection_enabled=settings.grpc_reflection,
            allowed_callers=settings.grpc_allowed_callers,
            health_addr=settings.grpc_health_addr,
        )
        life.spawn(f"{schema}-outbox-relay", relay.run())
        for consumer in wiring.consumers:
            spec = consumer.spec
            if isinstance(consumer.handler, BatchHandler):
                spec = replace(spec, batch_size=settings.consumer_batch_size)
            handler = tracing.consuming(spec.durable, consumer.handler)  # span, request id
            life.spawn(consumer.task, run_consumer(js, spec, handler))
        for task_name, task in wiring.tasks:
            life.spawn(task_name, task())
        specs = [consumer.spec for consumer in wiring.consumers]
        reporter = AlertReporter(js, name)

        async def sample() -> None:
            lag = await sample_consumer_lag(js, specs)
            dead = await sample_dead_letters(js, [spec.durable for spec in specs])
            try:
                outbox: tuple[int, float] | None = await sample_outbox(relay, schema)
            except Exception as err:  # the database away: the other checks still run
                log.warning("outbox sample of %s failed: %s", schema, err)
                outbox = None
            found = standard_alerts(
                settings.alerts, schema=schema, outbox=outbox, lag=lag, dead_letters=dead
            )
            # An outbox that could not be read is neither raised nor cleared this round.
            kinds = STANDARD_KINDS if outbox is not None else STANDARD_KINDS - {OUTBOX_STUCK}
            await reporter.report(kinds, found)
            for watch in wiring.alerts:
                await reporter.report(watch.kinds, await watch.check())

        life.spawn(f"{schema}-metrics-sampler", every(SAMPLE_INTERVAL_S, sample, "metrics sampler"))
        life.spawn(f"{schema}-retention", _retention_loop(engine, settings, wiring.retention))
        await server.start()
    except BaseException:
        await _shutdown(life, server, closers, nc, engine)
        raise
    return RunningService(settings, life, engine, nc, js, relay, server, closers, metrics)


def _closer(metrics: MetricsListener) -> Closer:
    async def close() -> None:
        await asyncio.to_thread(metrics.close)  # waits for the listener's thread to end

    return close


async def _retention_loop(
    engine: AsyncEngine, settings: ServiceSettings, own: Sequence[RetentionRule]
) -> None:
    keep = settings.retention
    rules = [outbox_rule(keep.outbox_s), inbox_rule(keep.inbox_s), *own]
    job = partial(purge_all, engine, rules, batch=keep.batch)
    await every(keep.interval_s, job, "retention purge")


async def _shutdown(
    life: Lifecycle,
    server: GrpcServer | None,
    closers: Sequence[Closer],
    nc: NatsClient | None,
    engine: AsyncEngine,
) -> None:
    """gRPC first (no new calls, calls in flight finish), then background tasks, then the
    service's own resources, NATS and the pool."""
    try:
        if server is not None:
            await server.stop()
    finally:
        await life.cancel_all()
        for close in closers:
            await close()
        if nc is not None and not nc.is_closed:
            # Not drain(): the consumers are already cancelled and their subscriptions would wait
            # for messages nobody will handle (JetStream redelivers them). Flush sends the last
            # acks.
            try:
                await nc.flush(timeout=2)
            except Exception as err:
                log.warning("NATS flush at stop failed: %s", err)
            await nc.close()
        await engine.dispose()
