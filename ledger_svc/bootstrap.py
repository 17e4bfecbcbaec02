"""The ledger's composition root: database, NATS, outbox relay, the `ledger-post` consumer
and the gRPC server, and the stop that takes them down in order."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger_svc.adapters.sql import SqlLedgerUnitOfWork
from ledger_svc.entrypoints.consumer import consumer_spec, post_handler
from ledger_svc.entrypoints.grpc_servicer import SERVICE_NAME, LedgerServicer
from ledger_svc.entrypoints.outgoing import encode_event
from ledger_svc.settings import LedgerSettings
from mesh.db import make_engine
from mesh.grpc_server import GrpcServer
from mesh.jetstream import connect, ensure_streams, run_consumer
from mesh.outbox import OutboxRelay
from mesh.runtime import Lifecycle, run
from paymesh.ledger.v1 import ledger_pb2_grpc

SERVICE = "ledger_svc"
SCHEMA = "ledger"

log = logging.getLogger(__name__)


async def start(
    life: Lifecycle, settings: LedgerSettings | None = None
) -> Callable[[], Awaitable[None]]:
    """Start the service; returns its `stop()`."""
    settings = settings or LedgerSettings.from_env()
    engine = make_engine(
        settings.database_url, SCHEMA, pool_size=settings.db_pool_size, application_name=SERVICE
    )
    nc: NatsClient | None = None
    server: GrpcServer | None = None
    try:
        nc, js = await connect(settings.nats_url, SERVICE)
        await ensure_streams(js)
        relay = OutboxRelay(engine, js)

        def new_uow() -> SqlLedgerUnitOfWork:
            return SqlLedgerUnitOfWork(engine, encode_event, after_commit=relay.wake)

        life.spawn("ledger-outbox-relay", relay.run())
        life.spawn(
            "ledger-post-consumer",
            run_consumer(js, consumer_spec(settings.consumer_concurrency), post_handler(new_uow)),
        )
        server = GrpcServer(
            settings.grpc_addr,
            [
                (
                    ledger_pb2_grpc.add_LedgerServiceServicer_to_server,
                    LedgerServicer(new_uow),
                    SERVICE_NAME,
                )
            ],
        )
        await server.start()
    except BaseException:
        await _shutdown(life, server, nc, engine)
        raise

    stopped = False

    async def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            await _shutdown(life, server, nc, engine)

    return stop


async def _shutdown(
    life: Lifecycle, server: GrpcServer | None, nc: NatsClient | None, engine: AsyncEngine
) -> None:
    """gRPC first (no new calls), then background tasks, then NATS and the pool."""
    if server is not None:
        await server.stop()
    await life.cancel_all()
    if nc is not None and not nc.is_closed:
        # Not drain(): the consumer is already cancelled and its subscription would wait for
        # messages nobody will handle (JetStream redelivers them). Flush sends the last acks.
        try:
            await nc.flush(timeout=2)
        except Exception as err:
            log.warning("NATS flush at stop failed: %s", err)
        await nc.close()
    await engine.dispose()


def main() -> int:
    settings = LedgerSettings.from_env()
    return run(SERVICE, settings.log_level, lambda life: start(life, settings))
