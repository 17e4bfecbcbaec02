"""The wallet's composition root: the `wallet-credit`, `wallet-refund` and `wallet-release`
consumers, the auto-release loop and the gRPC servicer over its SQL unit of work, plugged
into the mesh's start and ordered stop (mesh.service)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.outbox import OutboxRelay
from mesh.periodic import every
from mesh.runtime import Lifecycle, run
from mesh.service import Consumer, Wiring, start_service
from paymesh.wallet.v1 import wallet_pb2_grpc
from wallet_svc.adapters.sql import SqlWalletUnitOfWork
from wallet_svc.entrypoints.consumer import consumer_spec, credit_handler
from wallet_svc.entrypoints.grpc_servicer import SERVICE_NAME, WalletServicer
from wallet_svc.entrypoints.outgoing import encode_event
from wallet_svc.entrypoints.refund_consumer import refund_consumer_spec, refund_handler
from wallet_svc.entrypoints.release_consumer import release_consumer_spec, release_handler
from wallet_svc.service_layer.releases import release_due
from wallet_svc.settings import WalletSettings

SERVICE = "wallet_svc"
SCHEMA = "wallet"


async def start(
    life: Lifecycle, settings: WalletSettings | None = None
) -> Callable[[], Awaitable[None]]:
    """Start the service; returns its `stop()`."""
    config = settings or WalletSettings.from_env()

    def wire(engine: AsyncEngine, relay: OutboxRelay) -> Wiring:
        def new_uow() -> SqlWalletUnitOfWork:
            return SqlWalletUnitOfWork(engine, encode_event, after_commit=relay.wake)

        return Wiring(
            servicers=[
                (
                    wallet_pb2_grpc.add_WalletServiceServicer_to_server,
                    WalletServicer(new_uow),
                    SERVICE_NAME,
                )
            ],
            consumers=[
                Consumer(
                    "wallet-credit-consumer",
                    consumer_spec(config.consumer_concurrency, config.retry),
                    credit_handler(new_uow),
                ),
                Consumer(
                    "wallet-refund-consumer",
                    refund_consumer_spec(config.consumer_concurrency, config.retry),
                    refund_handler(new_uow),
                ),
                Consumer(
                    "wallet-release-consumer",
                    release_consumer_spec(config.consumer_concurrency),
                    release_handler(new_uow),
                ),
            ],
            tasks=[
                (
                    "wallet-auto-release",
                    partial(
                        every,
                        config.release_interval_s,
                        partial(release_due, new_uow, config.hold_period_s),
                        "auto-release",
                    ),
                )
            ],
        )

    return await start_service(life, config, name=SERVICE, schema=SCHEMA, wire=wire)


def main() -> int:
    settings = WalletSettings.from_env()
    return run(SERVICE, settings.log_level, lambda life: start(life, settings))
