"""The wallet's composition root: database, NATS, outbox relay, the `wallet-credit` consumer
and the gRPC server, and the stop that takes them down in order."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.db import make_engine
from mesh.grpc_server import GrpcServer
from mesh.jetstream import connect, ensure_streams, run_consumer
from mesh.outbox import OutboxRelay
from mesh.runtime import Lifecycle, run
from paymesh.wallet.v1 import wallet_pb2_grpc
from wallet_svc.adapters.sql import SqlWalletUnitOfWork
from wallet_svc.entrypoints.consumer import consumer_spec, credit_handler
from wallet_svc.entrypoints.grpc_servicer import SERVICE_NAME, WalletServicer
from wallet_svc.entrypoints.outgoing import encode_event
from wallet_svc.settings import WalletSettings

SERVICE = "wallet_svc"
SCHEMA = "wallet"

log = logging.getLogger(__name__)


async def start(
    life: Lifecycle, settings: WalletSettings | None = None
) -> Callable[[], Awaitable[None]]:
    """Start the service; returns its `stop()`."""
    settings = settings or WalletSettings.from_env()
    engine = make_engine(
        settings.database_url, SCHEMA, pool_size=settings.db_pool_size, application_name=SERVICE
    )
    nc: NatsClient | None = None
    server: GrpcServer | None = None
    try:
        nc, js = await connect(settings.nats_url, SERVICE)
        await ensure_streams(js)
        relay = OutboxRelay(engine, js)

        def new_uow() -> SqlWalletUnitOfWork:
            return SqlWalletUnitOfWork(engine, encode_event, after_commit=relay.wake)

        life.spawn("wallet-outbox-relay", relay.run())
        life.spawn(
            "wallet-credit-consumer",
            run_consumer(js, consumer_spec(settings.consumer_concurrency), credit_handler(new_uow)),
        )
        server = GrpcServer(
            settings.grpc_addr,
            [
                (
                    wallet_pb2_grpc.add_WalletServiceServicer_to_server,
                    WalletServicer(new_uow),
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
    settings = WalletSettings.from_env()
    return run(SERVICE, settings.log_level, lambda life: start(life, settings))
